"""SSIM metrics vs references, on the published Def-GAN results (PROTOCOL.md 3.3, 3.4).

* legacy (``ssim``): a deliberately simple per-image transcription of scikit-image 0.14.2's
  ``compare_ssim`` (scipy ``gaussian_filter`` with its defaults, i.e. 13 taps) written below;
* modern (``ssim_skimage``, ``ssim_fixed``): today's ``skimage.metrics.structural_similarity``.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.metrics import structural_similarity

from bench.metrics import ssim as ssim_module
from bench.metrics.masks import pose_masks
from bench.metrics.ssim import (
    SSIM,
    MaskSSIM,
    MaskSSIMFixed,
    MaskSSIMSkimage,
    SSIMEngine,
    SSIMFixed,
    SSIMSkimage,
    ssim_per_pair,
)
from bench.types import Pair, PairBatch

TOL = 1e-12  # observed ~1e-14


# -- references --------------------------------------------------------------------------------
def legacy_ssim(ref: np.ndarray, gen: np.ndarray) -> float:
    """scikit-image 0.14.2 compare_ssim(ref, gen, gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False, multichannel=True, data_range=gen.max() - gen.min())."""
    data_range = gen.max() - gen.min()  # uint8 arithmetic, as in PATN
    per_channel = []
    for ch in range(ref.shape[-1]):
        x = ref[..., ch].astype(np.float64)
        y = gen[..., ch].astype(np.float64)
        ux, uy = ndi.gaussian_filter(x, sigma=1.5), ndi.gaussian_filter(y, sigma=1.5)
        uxx = ndi.gaussian_filter(x * x, sigma=1.5)
        uyy = ndi.gaussian_filter(y * y, sigma=1.5)
        uxy = ndi.gaussian_filter(x * y, sigma=1.5)
        vx, vy, vxy = uxx - ux * ux, uyy - uy * uy, uxy - ux * uy
        c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
        a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
        b1, b2 = ux**2 + uy**2 + c1, vx + vy + c2
        s = (a1 * a2) / (b1 * b2)
        per_channel.append(s[5:-5, 5:-5].mean())  # crop (win_size - 1) // 2 = 5
    return float(np.mean(per_channel))


def modern_ssim(ref: np.ndarray, gen: np.ndarray, data_range=None) -> float:
    if data_range is None:
        data_range = gen.max() - gen.min()
    return float(structural_similarity(ref, gen, gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, channel_axis=-1,
                                       data_range=data_range))


REFERENCES = {
    SSIM: legacy_ssim,
    SSIMSkimage: modern_ssim,
    SSIMFixed: lambda ref, gen: modern_ssim(ref, gen, 255),
}
MASKED = {MaskSSIM: SSIM, MaskSSIMSkimage: SSIMSkimage, MaskSSIMFixed: SSIMFixed}


def make_batch(tgt: np.ndarray, kpts: np.ndarray | None = None) -> PairBatch:
    n = len(tgt)
    if kpts is None:
        kpts = np.full((n, 18, 2), -1, dtype=np.float32)
    return PairBatch(
        pairs=tuple(Pair(f"s{i}.jpg", f"t{i}.jpg", i) for i in range(n)),
        src_img=tgt, tgt_img=tgt, src_kpts=kpts, tgt_kpts=kpts,
    )


def test_masks_of_any_extent_match_reference(market_strips):
    """The engine skips what masking makes exactly zero: masks that are empty, touch a border,
    are a sliver or cover everything give the reference's values all the same."""
    _, tgt, gen, _ = market_strips
    h, w = 128, 64
    masks = np.zeros((8, h, w), dtype=bool)
    masks[1] = True                                   # everything
    masks[2, 40:90, 20:44] = True                     # inside, away from the borders
    masks[3, :, :5] = True                            # left border
    masks[4, 100:, 50:] = True                        # bottom-right corner
    masks[5, 60:61, 31:32] = True                     # one pixel
    masks[6, 10:120, 2:62:7] = True                   # columns across the width
    masks[7, 0:3, 6:58] = True                        # top border rows
    ref, out = tgt[:8] * masks[..., None], gen[:8] * masks[..., None]
    values = SSIMEngine((h, w), 3).mean_ssim(tgt[:8], gen[:8], ["generated"], masks)[0]
    assert np.isnan(values[0])  # an empty mask leaves a flat image: undefined
    expected = np.array([legacy_ssim(r, g) for r, g in zip(ref[1:], out[1:], strict=True)])
    assert np.abs(values[1:] - expected).max() < TOL


# -- accuracy on real images -------------------------------------------------------------------
@pytest.mark.parametrize("cls", list(REFERENCES), ids=lambda c: c.name)
def test_market_matches_reference(market_strips, cls):
    _, tgt, gen, kpts = market_strips
    values = cls().update(gen, make_batch(tgt, kpts))[cls.name]
    expected = np.array([REFERENCES[cls](t, g) for t, g in zip(tgt, gen, strict=True)])
    assert np.abs(values - expected).max() < TOL
    assert 0.1 < expected.mean() < 0.9


@pytest.mark.parametrize("cls", list(MASKED), ids=lambda c: c.name)
def test_market_masked_matches_reference(market_strips, cls):
    _, tgt, gen, kpts = market_strips
    masks = pose_masks(kpts, (128, 64))[..., None]
    assert masks.mean() > 0.2
    values = cls().update(gen, make_batch(tgt, kpts))[cls.name]
    ref = REFERENCES[MASKED[cls]]
    expected = np.array([ref(t, g) for t, g in zip(tgt * masks, gen * masks, strict=True)])
    assert np.abs(values - expected).max() < TOL


@pytest.mark.parametrize("cls", list(REFERENCES), ids=lambda c: c.name)
def test_fashion_matches_reference(fashion_strips, cls):
    _, tgt, gen = fashion_strips
    tgt, gen = tgt[::4], gen[::4]
    values = cls().update(gen, make_batch(tgt))[cls.name]
    expected = np.array([REFERENCES[cls](t, g) for t, g in zip(tgt, gen, strict=True)])
    assert np.abs(values - expected).max() < TOL


def test_windows_differ_in_the_fourth_decimal(market_strips):
    _, tgt, gen, _ = market_strips
    legacy = ssim_per_pair(tgt, gen)
    modern = ssim_per_pair(tgt, gen, window="modern")
    assert 1e-5 < np.abs(legacy - modern).mean() < 1e-2


def test_synthetic_shapes_and_channels():
    rng = np.random.default_rng(3)
    for shape in ((11, 11, 3), (17, 40, 1), (64, 13, 2), (33, 33, 4)):
        ref = rng.integers(0, 256, (3, *shape), dtype=np.uint8)
        gen = np.clip(ref + rng.integers(-40, 40, ref.shape), 0, 255).astype(np.uint8)
        got = ssim_per_pair(ref, gen)
        assert np.abs(got - [legacy_ssim(r, g) for r, g in zip(ref, gen, strict=True)]).max() < TOL
        got = ssim_per_pair(ref, gen, window="modern")
        assert np.abs(got - [modern_ssim(r, g) for r, g in zip(ref, gen, strict=True)]).max() < TOL


# -- properties --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls", [SSIM, MaskSSIM, SSIMSkimage, SSIMFixed], ids=lambda c: c.name)
def test_oracle_scores_one(market_strips, cls):
    _, tgt, _, kpts = market_strips
    values = cls().update(tgt.copy(), make_batch(tgt, kpts))[cls.name]
    assert np.all(values == 1.0)


def test_batch_size_independence(market_strips):
    _, tgt, gen, kpts = market_strips
    for cls in (SSIM, MaskSSIMFixed):
        whole = cls().update(gen[:37], make_batch(tgt[:37], kpts[:37]))[cls.name]
        ones = np.concatenate([
            cls().update(gen[i:i + 1], make_batch(tgt[i:i + 1], kpts[i:i + 1]))[cls.name]
            for i in range(37)
        ])
        assert np.array_equal(whole, ones)


def test_threads_give_identical_values(market_strips):
    _, tgt, gen, kpts = market_strips
    rng = ssim_module.data_range(gen)
    masks = pose_masks(kpts, (128, 64))
    one = SSIMEngine((128, 64), 3, threads=1).mean_ssim(tgt, gen, [rng, "generated"], masks)
    for threads in (2, 3):  # threads take runs of CHUNK pairs in turn: 100 pairs, 25 runs
        many = SSIMEngine((128, 64), 3, threads=threads).mean_ssim(
            tgt, gen, [rng, "generated"], masks)
        for a, b in zip(one, many, strict=True):
            assert np.array_equal(a, b)


def test_engine_refuses_arrays_it_was_not_built_for(market_strips):
    """The compiled kernel reads raw memory: every shape is checked before it runs."""
    _, tgt, gen, _ = market_strips
    engine = SSIMEngine((128, 64), 3)
    with pytest.raises(ValueError, match=r"generated images must be uint8 \(4, 128, 64, 3\)"):
        engine.mean_ssim(tgt[:4], gen[:3])
    with pytest.raises(ValueError, match="reference images must be uint8"):
        engine.mean_ssim(tgt[:4].astype(np.float32), gen[:4])
    with pytest.raises(ValueError, match="uint8 \\(2, 128, 64, 3\\)"):
        SSIMEngine((128, 64), 3).mean_ssim(tgt[:2, :100], gen[:2, :100])
    with pytest.raises(ValueError, match=r"masks must be \(N, H, W\)"):
        engine.mean_ssim(tgt[:4], gen[:4], masks=np.ones((4, 128, 63), dtype=bool))
    with pytest.raises(ValueError, match="NaN"):
        engine.mean_ssim(tgt[:4], gen[:4], [np.nan])
    assert engine.mean_ssim(tgt[:0], gen[:0])[0].shape == (0,)


def test_streaming_equals_one_shot(market_strips):
    _, tgt, gen, kpts = market_strips
    one_shot = SSIM()
    one_shot.update(gen, make_batch(tgt, kpts))
    streamed = SSIM()
    for s, e in ((0, 1), (1, 30), (30, 31), (31, 100)):
        streamed.update(gen[s:e], make_batch(tgt[s:e], kpts[s:e]))
    assert streamed.compute()["ssim"] == pytest.approx(one_shot.compute()["ssim"], abs=1e-14)
    streamed.reset()
    assert np.isnan(streamed.compute()["ssim"])


def test_constant_generated_image_is_undefined(market_strips):
    _, tgt, gen, kpts = market_strips
    gen = gen[:5].copy()
    gen[2] = 0  # data range 0 (masked too): compare_ssim divides 0 by 0
    for cls in (SSIM, SSIMSkimage, MaskSSIM):
        metric = cls()
        values = metric.update(gen, make_batch(tgt[:5], kpts[:5]))[cls.name]
        assert np.isnan(values[2]) and not np.isnan(np.delete(values, 2)).any()
        assert metric.n_undefined == 1
        assert metric.compute()[cls.name] == pytest.approx(np.delete(values, 2).mean())
    fixed = SSIMFixed().update(gen, make_batch(tgt[:5]))["ssim_fixed"]
    assert not np.isnan(fixed).any()
    assert fixed[2] == pytest.approx(modern_ssim(tgt[2], gen[2], 255), abs=TOL)


def test_shared_filtering(market_strips, monkeypatch):
    _, tgt, gen, kpts = market_strips
    calls = []
    original = SSIMEngine.mean_ssim

    def counting(self, ref, g, ranges, masks=None):
        calls.append(len(ranges))
        return original(self, ref, g, ranges, masks)

    monkeypatch.setattr(SSIMEngine, "mean_ssim", counting)
    shared: dict = {}
    metrics = [SSIMSkimage(shared), SSIMFixed(shared), MaskSSIMSkimage(shared),
               MaskSSIMFixed(shared), SSIM(shared)]
    batch, fake = make_batch(tgt[:8], kpts[:8]), gen[:8]  # the same objects for every metric
    got = {m.name: m.update(fake, batch)[m.name] for m in metrics}
    assert calls == [2, 2, 1]  # one filtering per (window, masking), ranges shared
    for m in metrics:
        alone = type(m)().update(fake, batch)[m.name]
        assert np.abs(got[m.name] - alone).max() < TOL
    # a new batch object is computed afresh
    metrics[1].update(fake, make_batch(tgt[:8], kpts[:8]))
    assert calls[-1] == 2


def test_update_rejects_bad_input(market_strips):
    _, tgt, gen, _ = market_strips
    batch = make_batch(tgt[:4])
    with pytest.raises(ValueError, match="uint8"):
        SSIM().update(gen[:4].astype(np.float32), batch)
    with pytest.raises(ValueError, match=r"expected the target shape \(4, 128, 64, 3\)"):
        SSIM().update(gen[:3], batch)
    with pytest.raises(ValueError, match="uint8 \\(N, H, W, 3\\)"):
        SSIM().update(gen[0], batch)
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        ssim_per_pair(tgt[:1, :10], gen[:1, :10])
    with pytest.raises(ValueError, match="window"):
        ssim_per_pair(tgt[:1], gen[:1], window="other")


def test_empty_batch():
    empty = np.zeros((0, 128, 64, 3), np.uint8)
    metric = SSIM()
    assert metric.update(empty, make_batch(empty))["ssim"].shape == (0,)
    assert np.isnan(metric.compute()["ssim"])


def test_metric_declarations():
    for cls in (SSIM, MaskSSIM, SSIMSkimage, MaskSSIMSkimage, SSIMFixed, MaskSSIMFixed):
        assert cls.name and cls.version and cls.higher_is_better
        assert "sigma" in (cls.__doc__ or "") or "ssim" in (cls.__doc__ or "")
    assert {SSIM.version, SSIMSkimage.version, SSIMFixed.version} == {
        "skimage-0.14.2", "skimage>=0.15-gaussian11", "skimage>=0.15-gaussian11-range255"}


def test_engine_levels_box_window_and_sample_covariance(market_strips):
    """The options the GFLA-lineage SSIMs use: values from a 256-entry table, the data range
    of the generated image in those units, a box window, sample covariance."""
    _, tgt, gen, _ = market_strips
    tgt, gen = tgt[:8], gen[:8]
    levels = np.arange(256) / 255.0 * 2.0 - 1.0  # codes -> [-1, 1]
    x, y = levels[tgt], levels[gen]
    engine = SSIMEngine((128, 64), 3, window="box", win_size=7, sample_covariance=True,
                        levels=levels)
    ours = engine.mean_ssim(tgt, gen, ["generated"])[0]
    ref = [structural_similarity(a, b, win_size=7, channel_axis=-1,
                                 data_range=float(b.max() - b.min()))
           for a, b in zip(x, y, strict=True)]
    assert np.abs(ours - np.array(ref)).max() < TOL
    flat = np.full_like(gen[:1], 9)
    assert np.isnan(engine.mean_ssim(tgt[:1], flat, ["generated"])[0]).all()
    with pytest.raises(ValueError, match="256 values"):
        SSIMEngine((128, 64), 3, levels=levels[:10])
    with pytest.raises(ValueError, match="'gaussian' or 'box'"):
        SSIMEngine((128, 64), 3, window="disk")
    with pytest.raises(ValueError, match="odd size"):
        SSIMEngine((128, 64), 3, window="box", win_size=8)
