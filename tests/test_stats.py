"""Bootstrap intervals and the paired comparison, against direct computations."""

from __future__ import annotations

import numpy as np
import pytest

from bench.stats import bootstrap_interval, paired_comparison


def test_bootstrap_interval_of_a_mean_matches_a_direct_loop_and_covers_the_truth():
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 1.0, 400)
    got = bootstrap_interval(lambda p: {"m": values[p].mean()}, len(values), 500, seed=7)["m"]
    draws = np.random.default_rng(7).integers(0, 400, size=(500, 400))
    direct = np.percentile(values[draws].mean(axis=1), [2.5, 97.5])
    assert got == pytest.approx(tuple(direct))
    half = 1.96 / np.sqrt(400)  # the normal-theory half width for sigma = 1
    assert got[0] < values.mean() < got[1]
    assert (got[1] - got[0]) / 2 == pytest.approx(half, rel=0.2)


def test_infinite_values_give_an_interval_not_a_warning():
    values = np.array([np.inf] * 5 + [30.0] * 5)
    lo, hi = bootstrap_interval(lambda p: {"m": values[p].mean()}, 10, 200, seed=0)["m"]
    assert hi == np.inf and lo <= hi


def test_bootstrap_needs_two_items():
    assert bootstrap_interval(lambda p: {"m": 1.0}, 1, 100) == {}


def test_paired_comparison_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(0)
    base = rng.normal(0.5, 0.2, 300)  # large between-pair spread
    better = base + 0.01 + rng.normal(0, 0.005, 300)  # small consistent improvement
    c = paired_comparison(better, base, resamples=2000, seed=0)
    assert c.significant and c.p_value < 0.01
    assert c.interval[0] > 0 and c.difference == pytest.approx(np.mean(better - base))
    same = base + rng.normal(0, 0.005, 300)
    c0 = paired_comparison(same, base, resamples=2000, seed=0)
    assert c0.interval[0] < 0 < c0.interval[1] or not c0.significant
    # an unpaired view of the same numbers could not see the improvement
    assert abs(better.mean() - base.mean()) < base.std() / 5


def test_paired_comparison_leaves_out_pairs_without_values():
    a = np.array([1.0, np.nan, 3.0, 4.0])
    b = np.array([0.0, 1.0, np.nan, 2.0])
    c = paired_comparison(a, b, resamples=100)
    assert c.n == 2 and c.difference == pytest.approx(((1 - 0) + (4 - 2)) / 2)
