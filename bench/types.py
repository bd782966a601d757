"""The data that flows between the parts of the harness, and the two plug-in interfaces.

Conventions (DESIGN.md "Interfaces"):

* images handed to generators: torch float32, NCHW, RGB, values in [0, 1];
* images handed to metrics: what would be saved to disk, numpy uint8 NHWC RGB, so a score never
  depends on whether the images were kept in memory or read back from files;
* keypoints: float32 (N, 18, 2) pixel (x, y), -1 for missing (:mod:`bench.keypoints`).

A metric sees a :class:`PairBatch` and the generated images; a generator never sees the target
image (capability flags are the only exceptions: ``sees_target`` (``oracle``) is handed
``tgt_img=``, ``sees_pairs`` (results folders, :mod:`bench.models.folder`) is handed ``pairs=``,
the pair names, and may return a :class:`Generated` instead of a tensor; ``takes_arrays``
(results folders) is handed the batch's numpy arrays instead of tensors, so a run of them
never imports torch)::

    class MyGenerator:
        name = "mine"
        module = torch.nn.Identity()
        def generate(self, src_img, src_kpts, tgt_kpts):
            return src_img                       # (N, 3, H, W) float32 in [0, 1]

    class MyMetric(Metric):
        name, version, higher_is_better = "mean_abs", "1", False
        def reset(self):
            self._sum, self._n = 0.0, 0
        def update(self, fake, batch):
            per_pair = np.abs(fake.astype(float) - batch.tgt_img).mean(axis=(1, 2, 3))
            self._sum += per_pair.sum(); self._n += len(per_pair)
            return {"mean_abs": per_pair}
        def compute(self):
            return {"mean_abs": self._sum / self._n}

(per-pair means like this one derive from :class:`bench.metrics.base.PerPairMean`).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class Pair:
    """One ordered (source -> target) pair of image file names, as in the pairs CSV."""

    src: str
    tgt: str
    index: int  # position in the evaluated pair list (stable order)

    @property
    def key(self) -> str:
        """Pair identifier used in file names and per-pair tables: ``{from}___{to}`` (PATN)."""
        return f"{self.src}___{self.tgt}"


@dataclass(frozen=True, eq=False)
class PairBatch:
    """A batch of pairs with decoded images and keypoints (numpy; see module docstring)."""

    pairs: tuple[Pair, ...]
    # (N, H, W, 3) uint8. None only in a run without dataset images (protocol patn-strips,
    # every model a results folder): metrics then see the strips' own panels instead.
    src_img: np.ndarray | None
    tgt_img: np.ndarray | None  # metrics only, never handed to generators (but oracle)
    src_kpts: np.ndarray  # (N, 18, 2) float32 (x, y), -1 missing
    tgt_kpts: np.ndarray  # (N, 18, 2) float32 (x, y), -1 missing

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def size(self) -> tuple[int, int]:
        """(H, W) of the images."""
        return int(self.tgt_img.shape[1]), int(self.tgt_img.shape[2])

    def rows(self, start: int, stop: int) -> PairBatch:
        """Pairs ``start`` to ``stop`` of the batch (views of its arrays)."""
        return PairBatch(
            pairs=self.pairs[start:stop],
            src_img=None if self.src_img is None else self.src_img[start:stop],
            tgt_img=None if self.tgt_img is None else self.tgt_img[start:stop],
            src_kpts=self.src_kpts[start:stop],
            tgt_kpts=self.tgt_kpts[start:stop],
        )

    def select(self, keep: np.ndarray) -> PairBatch:
        """The sub-batch of pairs where the boolean ``keep`` is true."""
        idx = np.flatnonzero(keep)
        return PairBatch(
            pairs=tuple(self.pairs[i] for i in idx),
            src_img=None if self.src_img is None else self.src_img[idx],
            tgt_img=None if self.tgt_img is None else self.tgt_img[idx],
            src_kpts=self.src_kpts[idx],
            tgt_kpts=self.tgt_kpts[idx],
        )


@dataclass(frozen=True, eq=False)
class Generated:
    """What a generator may return instead of a tensor: images as read, with per-pair problems.

    Results folders return one: their images are files already quantised (uint8, exactly as
    scored), some pairs have no readable file, and strips carry their own ground truth::

        Generated(images=u8, problems={3: ("no file for this pair", "/r/a___b.png")},
                  targets=strip_targets)
    """

    images: np.ndarray  # (N, H, W, 3) uint8; rows listed in ``problems`` are ignored
    problems: dict[int, tuple[str, str | None]]  # row -> (message, file or None)
    targets: np.ndarray | None = None  # (N, H, W, 3) uint8 ground truth saved with the results
    sources: np.ndarray | None = None  # (N, H, W, 3) uint8 source image saved with the results


@runtime_checkable
class Generator(Protocol):
    """A pose-transfer model as the harness sees it (an adapter around a network)."""

    name: str

    def generate(self, src_img, src_kpts, tgt_kpts):  # tensors -> (N, 3, H, W) in [0, 1]
        ...

    @property
    def module(self):  # the torch.nn.Module that efficiency probes measure
        ...


class Metric(ABC):
    """Streaming metric: ``reset()``, ``update(fake, batch)``, ``compute()``.

    ``update`` receives the generated images as uint8 NHWC and the batch (targets, keypoints).
    It returns per-pair values ``{key: array of len(batch)}`` (or ``None`` for set-level metrics);
    the harness writes them to the per-pair table. ``compute`` returns ``{key: value}`` from
    sufficient statistics accumulated so far. Keys, units and directions are declared on the
    class, not in side tables.
    """

    name: str = ""
    version: str = "1"
    higher_is_better: bool = True
    unit: str | None = None
    keys: tuple[str, ...] = ()  # result keys ``compute`` returns; defaults to (name,)
    per_pair: bool = True  # ``update`` returns per-pair values (False for FID-like set metrics)
    precision: int = 4  # decimals shown in tables (rendering only; records stay raw)
    description: str = ""

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        # ``shared`` is one dict per run for expensive things several metrics reuse
        # (filtered SSIM maps of the current batch, Inception features, the run's
        # bench.metrics.settings.MetricSettings); ``model`` names the model being scored (a
        # metric may need per-model inputs, e.g. PCKh's precomputed keypoints).
        self.shared = {} if shared is None else shared
        self.model = model
        self.reset()

    @abstractmethod
    def reset(self) -> None:
        """Forget everything accumulated."""

    @abstractmethod
    def update(self, fake: np.ndarray, batch: PairBatch) -> dict[str, np.ndarray] | None:
        """Accumulate a batch; return per-pair values ``{key: (N,) array}`` or None."""

    @abstractmethod
    def compute(self) -> dict[str, float]:
        """``{key: value}`` over everything accumulated since ``reset``."""

    def result_keys(self) -> tuple[str, ...]:
        return self.keys or (self.name,)

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        """``compute()`` over the items at ``positions`` (indices into what ``update`` saw, in
        order, repeats allowed): what bootstrap intervals and paired comparisons resample.
        Metrics that cannot recompute on a resample leave this unimplemented."""
        raise NotImplementedError(f"{type(self).__name__} cannot recompute on a resample")

    def n_items(self) -> int:
        """How many items ``compute_on`` positions index (0 if it is not implemented)."""
        return 0

    def summary_extra(self) -> dict:
        """Settings and side figures that go on the metric's records (splits, seeds, stds)."""
        return {}

    def state(self) -> dict[str, np.ndarray]:
        """Everything ``update`` accumulated since ``reset``, as named numpy arrays (no objects:
        a work unit's file is read with ``allow_pickle=False``, :mod:`bench.units`)."""
        raise NotImplementedError(
            f"{type(self).__name__} cannot save its state: a run keeps each work unit's "
            "results on disk, so a metric implements state() and load_states() "
            "(bench.types.Metric; bench.metrics.base.PerPairMean does both for per-pair means)")

    def load_states(self, states) -> None:
        """Become what ``update`` would have made of the batches behind ``states`` (a sequence
        of :meth:`state` results, in pair order), bit for bit: the merge of a sharded run."""
        raise NotImplementedError(f"{type(self).__name__} cannot load saved states")

    def weights_used(self) -> dict[str, dict]:
        """The pretrained files behind the values: ``{network: {"file", "sha256",
        "published"}}`` (:meth:`bench.weights.WeightsUsed.record`), put on every record as
        ``extra["weights"]`` (:mod:`bench.provenance`); empty for metrics without a network."""
        return {}
