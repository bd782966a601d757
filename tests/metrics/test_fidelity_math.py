"""The mathematics of IS, FID and KID against independent references (no network)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg

from bench.metrics.fidelity import (
    fid_torch_fidelity,
    frechet_distance,
    frechet_distance_of_features,
    inception_score,
    kid,
    moments,
)


def _features(seed, n=300, d=24, shift=0.0, scale=1.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix * scale + shift).astype(np.float32)


def _scipy_fid(x, y):
    mu1, mu2 = x.mean(0, dtype=np.float64), y.mean(0, dtype=np.float64)
    s1, s2 = np.cov(x.astype(np.float64), rowvar=False), np.cov(y.astype(np.float64), rowvar=False)
    covmean = scipy.linalg.sqrtm(s1 @ s2).real
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


@pytest.mark.parametrize("shift,scale", [(0.0, 1.0), (0.3, 1.0), (0.0, 1.7), (1.0, 0.5)])
def test_frechet_distance_matches_scipy(shift, scale):
    x, y = _features(0), _features(1, shift=shift, scale=scale)
    expected = _scipy_fid(x, y)
    assert fid_torch_fidelity(x, y) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    mu1, s1 = moments(x)
    mu2, s2 = moments(y)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(expected, rel=1e-6, abs=1e-8)


def test_frechet_distance_rank_deficient_sets_and_identity():
    x, y = _features(2, n=10, d=40), _features(3, n=12, d=40, shift=0.2)  # n < d
    mu1, s1 = moments(x)
    mu2, s2 = moments(y)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(_scipy_fid(x, y), rel=1e-5)
    assert abs(frechet_distance(mu1, s1, mu1, s1)) < 1e-6 * np.trace(s1)


@pytest.mark.parametrize("n1,n2,d", [(10, 12, 40), (6, 300, 40), (300, 250, 24)])
def test_frechet_distance_of_features_in_either_space_matches_scipy(n1, n2, d):
    """Few rows: the n1 x n2 nuclear norm (what bootstrap resamples of small sets use); many:
    the d x d moments. Repeated rows (a bootstrap resample) included."""
    x, y = _features(6, n=n1, d=d), _features(7, n=n2, d=d, shift=0.1, scale=1.3)
    x = x[np.random.default_rng(0).integers(0, n1, n1)]
    expected = _scipy_fid(x, y)
    assert frechet_distance_of_features(x, y) == pytest.approx(expected, rel=1e-6, abs=1e-8)
    assert abs(frechet_distance_of_features(x, x.copy())) < 1e-8 * np.trace(moments(x)[1])


def _patn_is(logits, splits):
    """PATN's tool/inception_score.py formula on softmax probabilities, in file order."""
    p = np.exp(logits - logits.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    scores = []
    for i in range(splits):
        part = p[i * len(p) // splits:(i + 1) * len(p) // splits]
        kl = part * (np.log(part) - np.log(part.mean(0, keepdims=True)))
        scores.append(np.exp(kl.sum(1).mean()))
    return np.mean(scores), np.std(scores)


def test_inception_score_on_known_logits():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (200, 1008))
    mean, std = inception_score(logits, splits=10, seed=0, shuffle=False)
    assert (mean, std) == pytest.approx(_patn_is(logits, 10), rel=1e-9)
    # confident and evenly spread over K classes: IS = K; all alike: IS = 1
    k = 8
    onehot = np.full((10 * k * 5, 1008), -60.0)
    onehot[np.arange(len(onehot)), np.arange(len(onehot)) % k] = 60.0
    assert inception_score(onehot, 10, 0, shuffle=False)[0] == pytest.approx(k, rel=1e-6)
    assert inception_score(np.tile(logits[:1], (50, 1)), 10, 0)[0] == pytest.approx(1.0)
    # shuffling with a seed is a permutation: same multiset, deterministic per seed
    assert inception_score(logits, 10, 5) == inception_score(logits, 10, 5)
    assert inception_score(logits, 1, 5)[0] == pytest.approx(_patn_is(logits, 1)[0], rel=1e-9)


def test_kid_equals_a_direct_polynomial_kernel_mmd():
    x, y = _features(4, n=80), _features(5, n=80, shift=0.25)
    d = x.shape[1]
    xd, yd = x.astype(np.float64), y.astype(np.float64)
    kxx, kyy, kxy = (((a @ b.T) / d + 1) ** 3 for a, b in ((xd, xd), (yd, yd), (xd, yd)))
    m = len(x)
    direct = ((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
              - 2 * kxy.mean())
    # one subset of the full size is a permutation of the whole sets: the same estimate
    mean, std = kid(x, y, subsets=1, subset_size=m, seed=0)
    assert mean == pytest.approx(direct, rel=1e-6) and std == 0
    assert kid(x, x.copy(), 1, m, 0)[0] == pytest.approx(
        2 * (kxx.sum() - np.trace(kxx)) / (m * (m - 1)) - 2 * kxx.mean(), rel=1e-6)
