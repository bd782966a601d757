"""L1 (PATN's 'L1 score') and PSNR vs their reference formulas on the Def-GAN results."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio

from bench.metrics.pixel import L1, PSNR
from bench.types import Pair, PairBatch


def make_batch(tgt: np.ndarray) -> PairBatch:
    kpts = np.full((len(tgt), 18, 2), -1, dtype=np.float32)
    pairs = tuple(Pair(f"s{i}.jpg", f"t{i}.jpg", i) for i in range(len(tgt)))
    return PairBatch(pairs=pairs, src_img=tgt, tgt_img=tgt, src_kpts=kpts, tgt_kpts=kpts)


def patn_l1(ref: np.ndarray, gen: np.ndarray) -> float:
    return float(np.abs(2 * (ref / 255.0 - 0.5) - 2 * (gen / 255.0 - 0.5)).mean())


@pytest.mark.parametrize("strips", ["market_strips", "fashion_strips"])
def test_l1_matches_patn(strips, request):
    tgt, gen = request.getfixturevalue(strips)[1:3]
    metric = L1()
    values = metric.update(gen, make_batch(tgt))["l1"]
    expected = np.array([patn_l1(t, g) for t, g in zip(tgt, gen, strict=True)])
    assert np.abs(values - expected).max() < 1e-14
    assert metric.compute()["l1"] == pytest.approx(expected.mean(), abs=1e-14)
    assert not L1.higher_is_better


@pytest.mark.parametrize("strips", ["market_strips", "fashion_strips"])
def test_psnr_matches_skimage(strips, request):
    tgt, gen = request.getfixturevalue(strips)[1:3]
    metric = PSNR()
    values = metric.update(gen, make_batch(tgt))["psnr"]
    expected = np.array([peak_signal_noise_ratio(t, g, data_range=255) for t, g in zip(tgt, gen, strict=True)])
    assert np.abs(values - expected).max() < 1e-12
    assert metric.compute()["psnr"] == pytest.approx(expected.mean(), abs=1e-12)
    assert PSNR.unit == "dB" and PSNR.higher_is_better


def test_identical_images(market_strips):
    tgt = market_strips[1][:3]
    fake = tgt.copy()
    fake[1, 0, 0, 0] ^= 1
    psnr = PSNR()
    values = psnr.update(fake, make_batch(tgt))["psnr"]
    assert values[0] == np.inf and values[2] == np.inf and np.isfinite(values[1])
    assert psnr.compute()["psnr"] == np.inf  # kept, not clamped
    l1 = L1()
    assert np.array_equal(l1.update(tgt.copy(), make_batch(tgt))["l1"], np.zeros(3))


def test_extremes_and_streaming():
    black = np.zeros((2, 16, 16, 3), np.uint8)
    white = np.full_like(black, 255)
    l1 = L1()
    assert np.array_equal(l1.update(white, make_batch(black))["l1"], [2.0, 2.0])
    l1.update(black, make_batch(black))
    assert l1.compute()["l1"] == 1.0
    psnr = PSNR()
    assert np.array_equal(psnr.update(white, make_batch(black))["psnr"], [0.0, 0.0])
    l1.reset()
    assert np.isnan(l1.compute()["l1"])


def test_bad_input(market_strips):
    tgt = market_strips[1][:2]
    with pytest.raises(ValueError, match="uint8"):
        L1().update(tgt.astype(np.int16), make_batch(tgt))
    with pytest.raises(ValueError, match="expected the target shape"):
        PSNR().update(tgt[:, :64], make_batch(tgt))
