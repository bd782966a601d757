"""FID as the post-2020 scripts computed it: which images enter, the statistics, the distance.

GFLA's ``script/metrics.py`` (and DPTN's, PIDM's copies) pass images in batches of 64 with
``n_batches = n // 64``: the last incomplete batch is dropped (a set smaller than 64 is one
batch of all its images). Their file list is unsorted ``glob`` order, so *which* images were
dropped depended on the directory; here the list is sorted by file name and the dropped names
are returned for the record. CFLD drops nothing (``drop_last=False``)::

    from bench.gfla.frechet import batch_plan, statistics, frechet_distance
    plan = batch_plan(names)                  # plan.used, plan.dropped (sorted file order)
    mu, sigma = statistics(features)          # float64 mean and np.cov(rowvar=False)
    result = frechet_distance(mu_real, sigma_real, mu_fake, sigma_fake)
    result.value, result.retried, result.warnings

The distance is the scripts' numpy/scipy code: ``sqrtm(sigma1 . sigma2)``; if that is not
finite, 1e-6 * I is added to both covariances and it is computed again; a complex result whose
diagonal imaginary parts are within 1e-3 of 0 is replaced by its real part, otherwise it is an
error. The scripts called ``sqrtm(..., disp=False)`` and ignored the error estimate it returned;
the matrix is the same with ``disp`` left out, which is how it is called here (SciPy >= 1.16
deprecates the argument). SciPy 1.16 replaced the algorithm (a compiled Schur method that keeps
real square roots real) so the last digits of an FID depend on the SciPy version: the record
names it. SciPy's warnings about a singular or ill-conditioned product are collected on the
result rather than printed.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import linalg

from bench.errors import BenchError

SCRIPT_BATCH = 64
EPS = 1e-6
IMAG_ATOL = 1e-3


class FrechetError(BenchError):
    """The Fréchet distance is undefined for these statistics (as the scripts would stop)."""


@dataclass(frozen=True)
class BatchPlan:
    """The images a script's FID uses, in the order it passes them."""

    batch_size: int  # the batch the script ends up with (n itself when n < 64)
    used: tuple[str, ...]  # sorted names of the images passed through the network
    dropped: tuple[str, ...]  # sorted names left out by the remainder rule

    @property
    def n_batches(self) -> int:
        return len(self.used) // self.batch_size if self.batch_size else 0


def batch_plan(names: Sequence[str], *, batch_size: int = SCRIPT_BATCH,
               drop_remainder: bool = True) -> BatchPlan:
    """Which of ``names`` a script's FID keeps: sorted, ``n // batch`` full batches (the batch
    shrinks to ``n`` when fewer images than a batch; ``drop_remainder=False``: all, CFLD)."""
    order = sorted(names)
    if len(set(order)) != len(order):
        raise ValueError("image names for the FID must be distinct")
    if not order:
        raise ValueError("no images for the FID (an empty folder or no matching files)")
    size = min(batch_size, len(order))
    n_used = (len(order) // size) * size if drop_remainder else len(order)
    return BatchPlan(batch_size=size, used=tuple(order[:n_used]), dropped=tuple(order[n_used:]))


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``mu = mean(axis=0)``, ``sigma = np.cov(rowvar=False)`` of the features in float64
    (the scripts store float32 network outputs in a float64 array first)."""
    act = np.asarray(features, dtype=np.float64)
    if act.ndim != 2 or len(act) < 2:
        raise ValueError(f"FID statistics need at least 2 feature rows (N, D), found shape "
                         f"{act.shape}")
    if not np.isfinite(act).all():
        raise FrechetError(f"{int((~np.isfinite(act)).sum())} Inception features are not finite")
    return np.mean(act, axis=0), np.cov(act, rowvar=False)


@dataclass(frozen=True)
class FrechetResult:
    value: float
    retried: bool  # the 1e-6 * I offset was needed
    max_imag: float  # largest |imaginary part| discarded (0.0 for a real square root)
    warnings: tuple[str, ...]  # SciPy's warnings (singular / ill-conditioned product)


def _sqrtm(a: np.ndarray, caught: list[str]) -> np.ndarray:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        root = linalg.sqrtm(a)
    caught.extend(f"{w.category.__name__}: {w.message}" for w in seen)
    return root


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray,
                     eps: float = EPS) -> FrechetResult:
    """The scripts' ``calculate_frechet_distance(mu1, sigma1, mu2, sigma2)`` (real first)."""
    mu1, mu2 = np.atleast_1d(mu1), np.atleast_1d(mu2)
    sigma1, sigma2 = np.atleast_2d(sigma1), np.atleast_2d(sigma2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"mean vectors differ in length: {mu1.shape} vs {mu2.shape}")
    if sigma1.shape != sigma2.shape:
        raise ValueError(f"covariances differ in shape: {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    caught: list[str] = []
    covmean = _sqrtm(sigma1.dot(sigma2), caught)
    retried = False
    if not np.isfinite(covmean).all():
        retried = True
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = _sqrtm((sigma1 + offset).dot(sigma2 + offset), caught)
    max_imag = 0.0
    if np.iscomplexobj(covmean):
        max_imag = float(np.max(np.abs(covmean.imag)))
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAG_ATOL):
            raise FrechetError(f"the square root of the covariance product has an imaginary "
                               f"component of {max_imag:g} (the scripts stop here too)")
        covmean = covmean.real
    if not np.isfinite(covmean).all():
        raise FrechetError("the square root of the covariance product is not finite, even "
                           f"with {eps:g} added to the diagonals")
    tr_covmean = np.trace(covmean)
    value = diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * tr_covmean
    return FrechetResult(value=float(value), retried=retried, max_imag=max_imag,
                         warnings=tuple(caught))
