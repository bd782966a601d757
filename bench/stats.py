"""Uncertainty of every number: percentile bootstrap intervals and paired model comparisons.

A metric that implements ``compute_on(positions)`` (every per-pair metric, and the set-level
ones, which recompute on the resampled set) gets an interval by resampling its pairs with
replacement::

    from bench.stats import bootstrap_interval, paired_comparison
    lo, hi = bootstrap_interval(metric.compute_on, metric.n_items(), resamples=1000, seed=0)["ssim"]
    cmp = paired_comparison(values_a, values_b, resamples=10000, seed=0)   # same pairs, in order
    cmp.difference, cmp.interval, cmp.p_value, cmp.significant

The paired comparison resamples pairs jointly for the interval of the mean difference (a minus
b) and uses a sign-flip permutation test for the p-value (two-sided, exact under the null of
exchangeable signs, with the +1 correction); a difference is significant when p < alpha.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BLOCK = 256  # resamples drawn at once (bounded memory)


def resample_positions(n: int, resamples: int, seed: int):
    """Blocks of (k, n) index arrays: ``resamples`` draws of n positions with replacement."""
    rng = np.random.default_rng(seed)
    done = 0
    while done < resamples:
        k = min(BLOCK, resamples - done)
        yield rng.integers(0, n, size=(k, n))
        done += k


def percentile_interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if samples.size == 0:
        return float("nan"), float("nan")
    tail = 100 * (1 - level) / 2
    # infinite values (PSNR of identical images) cannot be interpolated: nearest order statistic
    method = "linear" if np.all(np.isfinite(samples)) else "nearest"
    lo, hi = np.percentile(samples, [tail, 100 - tail], method=method)
    return float(lo), float(hi)


def bootstrap_interval(
    statistic: Callable[[np.ndarray], dict[str, float]],
    n: int,
    resamples: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile interval of each key of ``statistic(positions)`` over bootstrap resamples of
    ``n`` items (``{}`` when n < 2 or no resamples)."""
    if n < 2 or resamples < 1:
        return {}
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), found {level}")
    draws: dict[str, list[float]] = {}
    for block in resample_positions(n, resamples, seed):
        for positions in block:
            for key, value in statistic(positions).items():
                draws.setdefault(key, []).append(float(value))
    return {key: percentile_interval(np.array(v), level) for key, v in draws.items()}


@dataclass(frozen=True)
class Comparison:
    """Model a minus model b on the same pairs."""

    n: int  # pairs where both have a value
    mean_a: float
    mean_b: float
    difference: float  # mean_a - mean_b
    interval: tuple[float, float]  # bootstrap interval of the difference
    p_value: float  # sign-flip permutation test, two-sided
    alpha: float
    level: float
    resamples: int
    seed: int

    @property
    def significant(self) -> bool:
        return bool(self.p_value < self.alpha)


def paired_comparison(
    a: np.ndarray, b: np.ndarray, *, resamples: int = 10000, seed: int = 0,
    level: float = 0.95, alpha: float = 0.05,
) -> Comparison:
    """Compare per-pair values of two models on the same pairs (NaN in either: pair left out)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired values must be two 1-d arrays of one length, found {a.shape} and {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    d = a - b
    n = int(d.size)
    if n < 2 or not np.all(np.isfinite(d)):
        nan = float("nan")
        return Comparison(n, float(a.mean()) if n else nan, float(b.mean()) if n else nan,
                          float(d.mean()) if n else nan, (nan, nan), nan, alpha, level, resamples, seed)
    observed = float(d.mean())
    means = []
    for block in resample_positions(n, resamples, seed):
        means.append(d[block].mean(axis=1))
    interval = percentile_interval(np.concatenate(means), level)
    rng = np.random.default_rng(seed + 1)
    extreme = 0
    done = 0
    centred = abs(observed)
    while done < resamples:
        k = min(BLOCK, resamples - done)
        signs = rng.integers(0, 2, size=(k, n)) * 2 - 1
        flipped = np.abs((signs * d).mean(axis=1))
        extreme += int(np.count_nonzero(flipped >= centred - 1e-15 * max(1.0, centred)))
        done += k
    p_value = (extreme + 1) / (resamples + 1)
    return Comparison(n, float(a.mean()), float(b.mean()), observed, interval, p_value,
                      alpha, level, resamples, seed)
