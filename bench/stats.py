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

Set-level metrics (IS, FID, KID) have no per-pair values to flip; their paired comparison
recomputes both models' statistics on the same resamples of the pair positions (and so on the
same resample of the real set), and takes the percentile interval of the per-resample
difference and a two-sided bootstrap p-value from it::

    cmp = paired_set_comparison(fid_a.compute_on, fid_b.compute_on, n, fid_a.compute(),
                                fid_b.compute(), resamples=100, seed=0)["fid"]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

BLOCK = 256  # resamples drawn at once (bounded memory)
SIGN_FLIP = "paired bootstrap interval, sign-flip test"
JOINT_BOOTSTRAP = "joint bootstrap over pairs, percentile interval, bootstrap p-value"


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
    method: str = SIGN_FLIP

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


def bootstrap_p_value(differences: np.ndarray) -> float:
    """Two-sided bootstrap p-value of "no difference" from resampled differences: twice the
    smaller share of resamples at or beyond 0 on either side, with the +1 correction, capped at
    1 - the smallest alpha at which the (1 - alpha) percentile interval leaves 0 out. With B
    resamples it is at least 2 / (B + 1); NaN draws are left out (NaN if none remains)."""
    d = np.asarray(differences, dtype=np.float64)
    d = d[~np.isnan(d)]
    if d.size == 0:
        return float("nan")
    tail = min(np.count_nonzero(d <= 0), np.count_nonzero(d >= 0))
    return float(min(1.0, 2 * (tail + 1) / (d.size + 1)))


def paired_set_comparison(
    statistic_a: Callable[[np.ndarray], dict[str, float]],
    statistic_b: Callable[[np.ndarray], dict[str, float]],
    n: int,
    full_a: dict[str, float],
    full_b: dict[str, float],
    *, resamples: int = 100, seed: int = 0, level: float = 0.95, alpha: float = 0.05,
) -> dict[str, Comparison]:
    """Compare a set-level statistic of two models scored on the same ``n`` pairs.

    ``statistic_x(positions)`` recomputes model x's statistic on the pairs at ``positions``
    (a metric's ``compute_on``; a real set indexed by pair, as FID's targets, follows the same
    positions); ``full_x`` are the values on the full set (``compute()``). Every resample draws
    one set of positions and gives it to both models: the difference is paired. Per key of
    ``full_a`` and ``full_b``: the observed difference ``full_a - full_b``, the percentile
    interval of the resampled differences and :func:`bootstrap_p_value`."""
    if not 0 < level < 1:
        raise ValueError(f"confidence level must be in (0, 1), found {level}")
    keys = [k for k in full_a if k in full_b]
    draws: dict[str, list[float]] = {k: [] for k in keys}
    if n >= 2 and resamples >= 1:
        for block in resample_positions(n, resamples, seed):
            for positions in block:
                va, vb = statistic_a(positions), statistic_b(positions)
                for key in keys:
                    draws[key].append(float(va[key]) - float(vb[key]))
    out = {}
    nan = float("nan")
    for key in keys:
        a, b = float(full_a[key]), float(full_b[key])
        d = np.array(draws[key], dtype=np.float64)
        if n < 2 or d.size == 0 or not np.isfinite(a - b):
            out[key] = Comparison(n, a, b, a - b, (nan, nan), nan, alpha, level, resamples, seed,
                                  JOINT_BOOTSTRAP)
            continue
        out[key] = Comparison(n, a, b, a - b, percentile_interval(d, level),
                              bootstrap_p_value(d), alpha, level, resamples, seed,
                              JOINT_BOOTSTRAP)
    return out
