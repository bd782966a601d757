"""IS, mask-IS, FID and KID of the generated set, computed by torch-fidelity's own functions on
features from one shared Inception pass (:mod:`bench.metrics.inception`).

=========  ===================================================================================
``is``     Inception Score of the generated images (PATN ``tool/inception_score.py``, PROTOCOL.md
           3.5): softmax of the bias-free 1008-way logits, ``splits`` (10) equal parts, mean over
           parts of ``exp(mean KL(p(y|x) || p(y)))``. torch-fidelity shuffles the set with a
           fixed seed before splitting (PATN split in ``os.listdir`` order); splits, shuffle,
           seed and the std over splits go on the record.
``mask_is`` the same on the generated images multiplied by the pose mask of the target
           keypoints (:mod:`bench.metrics.masks`, as mask-SSIM; PROTOCOL.md 3.4).
``fid``    Frechet distance between Gaussian fits of the 2048-d pool features of the generated
           set and the protocol's real set: the target images of the same pairs (``patn``,
           ``modern``, ``fair``) or a training-image folder; ``fid_train`` / ``kid_train``
           always use the training folder (``fair`` reports both).
``kid``    Kernel Inception Distance (unbiased MMD^2, cubic polynomial kernel
           ``(x.y / d + 1)^3``), mean over ``kid_subsets`` random subsets of ``kid_subset_size``
           (capped at the set sizes); the std over subsets goes on the record.
=========  ===================================================================================

Usage (the run loop does this; ``shared`` carries the settings and the network)::

    from bench.metrics.fidelity import FID, InceptionScore
    metrics = [InceptionScore(shared), FID(shared)]
    for fake, batch in batches:
        for m in metrics:
            m.update(fake, batch)            # one Inception pass per batch, whatever the count
    [m.compute() for m in metrics]           # {"is": ...}, {"fid": ...}

Set-level metrics have no per-pair values; ``compute_on(positions)`` recomputes on a resample
of the pairs (bootstrap intervals, paired comparisons). The point estimates come from
torch-fidelity; the bootstrap FID uses :func:`frechet_distance_of_features` (same value: a
symmetric eigen-solver, or the n x n nuclear norm when a resample has fewer rows than the 2048
feature dimensions, much faster).
"""

from __future__ import annotations

import numpy as np
import torch

from bench.metrics.base import FeatureRows, check_update_args
from bench.metrics.inception import _torch_fidelity, shared_inception, shared_real_set
from bench.metrics.settings import settings_of
from bench.types import Metric, PairBatch

KID_BOOTSTRAP_SUBSETS = 10  # subsets per bootstrap resample of KID (each costs 3 kernels)


# -- the mathematics (torch-fidelity's, plus a fast Frechet distance) ----------------------


def inception_score(logits: np.ndarray, splits: int, seed: int, shuffle: bool = True
                    ) -> tuple[float, float]:
    """(mean, std) over splits; torch-fidelity's ``isc_features_to_metric``."""
    from torch_fidelity.metric_isc import isc_features_to_metric

    out = isc_features_to_metric(torch.from_numpy(np.asarray(logits)), splits=splits,
                                 shuffle=shuffle, rng_seed=seed)
    return out["inception_score_mean"], out["inception_score_std"]


def fid_torch_fidelity(fake: np.ndarray, real: np.ndarray) -> float:
    """torch-fidelity's statistics and Frechet distance (eigenvalues of sigma1 @ sigma2)."""
    from torch_fidelity.metric_fid import fid_features_to_statistics, fid_statistics_to_metric

    s1 = fid_features_to_statistics(torch.from_numpy(np.asarray(fake)))
    s2 = fid_features_to_statistics(torch.from_numpy(np.asarray(real)))
    return fid_statistics_to_metric(s1, s2, verbose=False)["frechet_inception_distance"]


def moments(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sample covariance (ddof 1) in float64."""
    x = np.asarray(features, dtype=np.float64)
    mu = x.mean(axis=0)
    xc = x - mu
    return mu, xc.T @ xc / (len(x) - 1)


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """``|mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr sqrt(S1 S2)``, with ``tr sqrt(S1 S2)`` from the
    eigenvalues of the symmetric ``R S2 R`` (``R`` the PSD square root of S1)."""
    s1 = torch.as_tensor(np.asarray(sigma1), dtype=torch.float64)
    s2 = torch.as_tensor(np.asarray(sigma2), dtype=torch.float64)
    w, v = torch.linalg.eigh(s1)
    root = (v * w.clamp_min(0).sqrt()) @ v.T
    m = root @ s2 @ root
    ev = torch.linalg.eigvalsh((m + m.T) / 2).clamp_min(0)
    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    return float(diff @ diff + s1.trace() + s2.trace() - 2 * ev.sqrt().sum())


def frechet_distance_of_features(x: np.ndarray, y: np.ndarray) -> float:
    """:func:`frechet_distance` of the Gaussian fits (mean, covariance ddof 1) of two feature
    sets, in whichever space is cheaper. With fewer rows than dimensions (a bootstrap resample
    of a small set: 2048-d features) ``tr sqrt(S1 S2)`` is exactly the nuclear norm of
    ``A B^T / sqrt((n1 - 1)(n2 - 1))`` (A, B the centred rows: the nonzero eigenvalues of
    ``S1 S2`` are the squared singular values of that n1 x n2 matrix), and ``tr S`` is the
    squared Frobenius norm of the centred rows over n - 1: no d x d matrix is formed."""
    n1, d = np.shape(x)
    n2 = len(y)
    if n1 * n2 > d * (n1 + n2 + d):  # many rows: the d x d moments are cheaper
        return frechet_distance(*moments(x), *moments(y))
    a = torch.as_tensor(np.asarray(x), dtype=torch.float64)
    b = torch.as_tensor(np.asarray(y), dtype=torch.float64)
    mu_a, mu_b = a.mean(dim=0), b.mean(dim=0)
    a, b = a - mu_a, b - mu_b
    nuclear = torch.linalg.svdvals(a @ b.T).sum() / float(np.sqrt((n1 - 1) * (n2 - 1)))
    diff = mu_a - mu_b
    return float(diff @ diff + (a * a).sum() / (n1 - 1) + (b * b).sum() / (n2 - 1)
                 - 2 * nuclear)


def kid(fake: np.ndarray, real: np.ndarray, subsets: int, subset_size: int, seed: int
        ) -> tuple[float, float]:
    """(mean, std) of the unbiased polynomial-kernel MMD^2 over subsets; torch-fidelity's
    ``kid_features_to_metric``."""
    from torch_fidelity.metric_kid import kid_features_to_metric

    out = kid_features_to_metric(torch.from_numpy(np.asarray(fake)),
                                 torch.from_numpy(np.asarray(real)), kid_subsets=subsets,
                                 kid_subset_size=subset_size, rng_seed=seed, verbose=False)
    return out["kernel_inception_distance_mean"], out["kernel_inception_distance_std"]


# -- the metrics ---------------------------------------------------------------------------


class _SetMetric(FeatureRows, Metric):
    """Accumulates per-image features of the generated set (and the real set's rows)."""

    per_pair = False
    precision = 3

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        _torch_fidelity()
        self.settings = settings_of(shared)
        self.inception = shared_inception(shared)
        super().__init__(shared, model)

    def reset(self) -> None:
        self._parts: list[np.ndarray] = []
        self._names: list[str] = []

    def _features(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.empty((0, 0), np.float32)

    def n_items(self) -> int:
        return int(sum(len(p) for p in self._parts))

    def weights_used(self) -> dict[str, dict]:
        used = self.inception.weights_used
        return {used.network: used.record()}


class InceptionScore(_SetMetric):
    """PATN's Inception Score on the generated set (torch-fidelity, TF-compatible Inception)."""

    name = "is"
    version = "torch-fidelity-isc-tf-inception-2015-12-05"
    higher_is_better = True
    description = "Inception Score (10 splits, bias-free logits), PATN protocol"
    masked = False

    def update(self, fake: np.ndarray, batch: PairBatch) -> None:
        check_update_args(fake, batch)
        _, logits = self.inception.fake_features(fake, batch, masked=self.masked)
        self._parts.append(logits)

    def _splits(self, n: int) -> int:
        return max(1, min(self.settings.is_splits, n))

    def compute(self) -> dict[str, float]:
        logits = self._features()
        if len(logits) == 0:
            return {self.name: float("nan")}
        mean, std = inception_score(logits, self._splits(len(logits)), self.settings.seed)
        self._std = std
        return {self.name: mean}

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        logits = self._features()[np.asarray(positions, dtype=np.intp)]
        return {self.name: inception_score(logits, self._splits(len(logits)),
                                           self.settings.seed)[0]}

    def summary_extra(self) -> dict:
        n = self.n_items()
        return {"is_std": getattr(self, "_std", None), "splits": self._splits(n),
                "shuffle": True, "seed": self.settings.seed, "images": n,
                "extractor": self.inception.extractor_id}


class MaskInceptionScore(InceptionScore):
    """``is`` on the generated images multiplied by PATN's pose mask of the target keypoints."""

    name = "mask_is"
    version = "torch-fidelity-isc-tf-inception-2015-12-05+ma_mask-r4"
    description = "Inception Score of pose-masked generated images (PATN mask-IS)"
    masked = True


class _AgainstReal(_SetMetric):
    """FID / KID: the generated set against the protocol's real set (or ``reference``)."""

    reference: str | None = None  # None: the protocol's; "train": the training folder

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        super().__init__(shared, model)
        self.real = shared_real_set(shared, model, self.reference)

    def update(self, fake: np.ndarray, batch: PairBatch) -> None:
        check_update_args(fake, batch)
        pool, _ = self.inception.fake_features(fake, batch)
        self.real.add(batch)
        self._parts.append(pool)
        self._names.extend(p.tgt for p in batch.pairs)

    def state(self) -> dict[str, np.ndarray]:
        state = super().state()
        if self.real.reference == "targets":  # the rows this unit's pairs compare with
            names = list(dict.fromkeys(self._names))
            state.update(real_names=np.asarray(names, dtype=str),
                         real_features=self.real.features(names),
                         real_first=self.real.owned(names))
        return state

    def load_states(self, states) -> None:
        super().load_states(states)
        if self.real.reference == "targets":
            for s in states:
                self.real.adopt([str(n) for n in s["real_names"]], s["real_features"],
                                s["real_first"])

    def _real(self, positions: np.ndarray | None = None) -> np.ndarray:
        if self.real.reference == "train":
            return self.real.pool()
        names = self._names if positions is None else [self._names[i] for i in positions]
        return self.real.features(names)

    def _save_real(self) -> None:
        if self.real.reference == "targets":
            self.real.save()  # once every target of the run is known

    def summary_extra(self) -> dict:
        return {"reference": self.real.reference, "fake_images": self.n_items(),
                "real_images": len(self._real()) if self.n_items() else 0,
                "real_cache": self.real.cache_state, "real_computed": self.real.computed,
                "extractor": self.inception.extractor_id}


class FID(_AgainstReal):
    """Frechet Inception Distance (torch-fidelity statistics and distance)."""

    name = "fid"
    version = "torch-fidelity-fid-tf-inception-2015-12-05"
    higher_is_better = False
    description = "Frechet Inception Distance against the protocol's real set"

    def compute(self) -> dict[str, float]:
        fake = self._features()
        self._save_real()
        if len(fake) < 2:
            return {self.name: float("nan")}
        return {self.name: fid_torch_fidelity(fake, self._real())}

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        positions = np.asarray(positions, dtype=np.intp)
        real = self._real(positions) if self.real.reference == "targets" else self._real()
        return {self.name: frechet_distance_of_features(self._features()[positions], real)}


class KID(_AgainstReal):
    """Kernel Inception Distance (torch-fidelity: unbiased MMD^2, cubic polynomial kernel)."""

    name = "kid"
    version = "torch-fidelity-kid-poly3-tf-inception-2015-12-05"
    higher_is_better = False
    precision = 5
    description = "Kernel Inception Distance against the protocol's real set"

    def _subset_size(self, n_fake: int, n_real: int) -> int:
        return max(2, min(self.settings.kid_subset_size, n_fake, n_real))

    def compute(self) -> dict[str, float]:
        fake, real = self._features(), self._real()
        self._save_real()
        if len(fake) < 2:
            return {self.name: float("nan")}
        mean, std = kid(fake, real, self.settings.kid_subsets,
                        self._subset_size(len(fake), len(real)), self.settings.seed)
        self._std = std
        return {self.name: mean}

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        positions = np.asarray(positions, dtype=np.intp)
        fake = self._features()[positions]
        real = self._real(positions) if self.real.reference == "targets" else self._real()
        return {self.name: kid(fake, real, KID_BOOTSTRAP_SUBSETS,
                               self._subset_size(len(fake), len(real)), self.settings.seed)[0]}

    def summary_extra(self) -> dict:
        extra = super().summary_extra()
        n_real = extra["real_images"]
        extra.update(kid_std=getattr(self, "_std", None), subsets=self.settings.kid_subsets,
                     subset_size=self._subset_size(self.n_items(), n_real) if n_real else None,
                     seed=self.settings.seed, kernel="poly degree 3, gamma 1/d, coef0 1",
                     bootstrap_subsets=KID_BOOTSTRAP_SUBSETS)
        return extra


class FIDTrain(FID):
    """``fid`` against the training folder (``--train-folder``) whatever the protocol's real
    set: the ``fair`` protocol reports both."""

    name = "fid_train"
    reference = "train"
    description = "Frechet Inception Distance against the training folder"


class KIDTrain(KID):
    """``kid`` against the training folder (``--train-folder``)."""

    name = "kid_train"
    reference = "train"
    description = "Kernel Inception Distance against the training folder"
