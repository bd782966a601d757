"""ssim / ssim_256 / psnr / l1 / mae of the GFLA-lineage scripts (bench.gfla.reconstruction)
against independent references on the published Def-GAN results:

* today's ``skimage.metrics.structural_similarity`` with the scripts' arguments: float64 input
  for the <= 0.18 semantics (those versions converted to float64), float32 input for >= 0.19;
* for the 0.14 Gaussian (13 taps at sigma 1.5, crop 5) a transcription with scipy written here;
* the scripts' own ``compare_l1`` / ``compare_mae`` and scikit-image's PSNR.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage as ndi
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.gfla import reconstruction as rec
from bench.gfla.prepare import pad_256, script_floats

TOL = 1e-11  # engine vs scipy filtering in float64 (observed <= 7e-13)


@pytest.fixture(scope="module")
def fashion(fashion_strips):
    _, tgt, gen = fashion_strips
    return tgt[:16], gen[:16]


@pytest.fixture(scope="module")
def market(market_strips):
    _, tgt, gen, _ = market_strips
    return tgt[:40], gen[:40]


def floats64(u8):
    return script_floats(u8).astype(np.float64)


def skimage_box(gt, pred):
    """compare_ssim(gt, pred, data_range=1, win_size=51, multichannel=True)."""
    return np.array([structural_similarity(a, b, data_range=1, win_size=51, channel_axis=-1)
                     for a, b in zip(gt, pred, strict=True)], dtype=np.float64)


def skimage_256(gt, pred, sigma):
    return np.array([structural_similarity(
        a, b, gaussian_weights=True, sigma=sigma, use_sample_covariance=False, channel_axis=-1,
        data_range=float(b.max() - b.min())) for a, b in zip(gt, pred, strict=True)],
        dtype=np.float64)


def legacy_gaussian_ssim(gt, pred, sigma):
    """scikit-image 0.14.2 compare_ssim(gaussian_weights=True, use_sample_covariance=False,
    multichannel=True, data_range=pred range) on x255 float32 images: gaussian_filter with
    scipy's default truncate (4.0), win_size 11 -> crop 5, float64."""
    out = []
    for g, p in zip(gt, pred, strict=True):
        x_all = (script_floats(g) * 255.0).astype(np.float64)
        y_all = (script_floats(p) * 255.0).astype(np.float64)
        r = float((script_floats(p) * 255.0).max() - (script_floats(p) * 255.0).min())
        c1, c2 = (0.01 * r) ** 2, (0.03 * r) ** 2
        vals = []
        for ch in range(3):
            x, y = x_all[..., ch], y_all[..., ch]
            f = lambda a: ndi.gaussian_filter(a, sigma)  # noqa: E731
            ux, uy = f(x), f(y)
            vx, vy, vxy = f(x * x) - ux * ux, f(y * y) - uy * uy, f(x * y) - ux * uy
            s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
            vals.append(s[5:-5, 5:-5].mean())
        out.append(np.mean(vals))
    return np.array(out)


# -- versions ------------------------------------------------------------------------------------
def test_version_semantics_and_tap_counts():
    old, mid, new = (rec.skimage_semantics(v) for v in ("0.14.2", "0.17.2", "0.20.0"))
    assert (old.legacy_gaussian, old.float32) == (True, False)
    assert (mid.legacy_gaussian, mid.float32) == (False, False)
    assert (new.legacy_gaussian, new.float32) == (False, True)
    assert rec.skimage_semantics("0.15.0") == rec.SkimageSSIM("0.15.0", False, False)
    assert rec.skimage_semantics("0.19").float32
    assert old.gaussian_window(1.5) == (4.0, 11)  # 13 taps (radius 6), crop 5
    assert int(4.0 * 1.5 + 0.5) == 6
    assert mid.gaussian_window(1.5) == (3.5, 11)  # 11 taps, crop 5
    assert mid.gaussian_window(1.2) == (3.5, 9)  # 9 taps, crop 4 (PIDM)
    for bad in ("1.0", "0.13.1", "latest"):
        with pytest.raises(ValueError, match="scikit-image"):
            rec.skimage_semantics(bad)


# -- box SSIM (key "ssim") -------------------------------------------------------------------------
@pytest.mark.parametrize("data", ["fashion", "market"])
def test_box_ssim_float64_versions_match_skimage(request, data):
    gt, pred = request.getfixturevalue(data)
    ref = skimage_box(floats64(gt), floats64(pred))
    for version in ("0.14.2", "0.16.2", "0.17.2"):
        ours = rec.ssim_box(gt, pred, skimage=version)
        assert np.abs(ours - ref).max() < TOL
    assert 0.3 < ref.mean() < 1.0


@pytest.mark.parametrize("data", ["fashion", "market"])
def test_box_ssim_float32_of_0_20_matches_skimage_exactly(request, data):
    gt, pred = request.getfixturevalue(data)
    ref = skimage_box(script_floats(gt), script_floats(pred))  # float32 input stays float32
    ours = rec.ssim_box(gt, pred, skimage="0.20.0")
    assert np.array_equal(ours, ref)
    # float32 arithmetic is a different number than float64 (the reason for the parameter)
    assert not np.array_equal(ours, rec.ssim_box(gt, pred, skimage="0.17.2"))


def test_box_ssim_of_dptn_padded_images(fashion):
    gt, pred = fashion
    gt_p = np.stack([pad_256(g[:, 40:216]) for g in gt[:6]])
    pred_p = np.stack([pad_256(p[:, 40:216]) for p in pred[:6]])
    ref = skimage_box(floats64(gt_p), floats64(pred_p))
    assert np.abs(rec.ssim_box(gt_p, pred_p, skimage="0.17.2") - ref).max() < TOL


# -- Gaussian SSIM (key "ssim_256") -----------------------------------------------------------------
def test_ssim_256_of_scikit_image_0_14_is_the_13_tap_transcription(fashion, market):
    for gt, pred in (fashion, market):
        ref = legacy_gaussian_ssim(gt[:8], pred[:8], 1.5)
        ours = rec.ssim_256(gt[:8], pred[:8], sigma=1.5, skimage="0.14.2")
        assert np.abs(ours - ref).max() < TOL


@pytest.mark.parametrize("sigma", [1.5, 1.2])
def test_ssim_256_of_0_15_to_0_18_matches_skimage(fashion, market, sigma):
    for gt, pred in (fashion, market):
        # the script: img * 255.0 in float32, then scikit-image converts to float64
        x255 = [(script_floats(a) * 255.0).astype(np.float64) for a in (gt, pred)]
        ref = skimage_256(*x255, sigma)
        ours = rec.ssim_256(gt, pred, sigma=sigma, skimage="0.17.2")
        assert np.abs(ours - ref).max() < TOL


@pytest.mark.parametrize("sigma", [1.5, 1.2])
def test_ssim_256_of_0_20_float32_matches_skimage_exactly(fashion, sigma):
    gt, pred = fashion
    ref = skimage_256(script_floats(gt) * 255.0, script_floats(pred) * 255.0, sigma)
    assert np.array_equal(rec.ssim_256(gt, pred, sigma=sigma, skimage="0.20.0"), ref)


def test_ssim_256_variants_give_different_numbers(fashion):
    gt, pred = fashion
    v13 = rec.ssim_256(gt, pred, sigma=1.5, skimage="0.14.2")
    v11 = rec.ssim_256(gt, pred, sigma=1.5, skimage="0.17.2")
    v9 = rec.ssim_256(gt, pred, sigma=1.2, skimage="0.17.2")
    assert np.abs(v13 - v11).max() > 1e-4 and np.abs(v11 - v9).max() > 1e-3


def test_ssim_256_of_a_flat_prediction_is_undefined(fashion):
    gt, pred = fashion
    flat = np.full_like(pred[:2], 128)
    for version in ("0.17.2", "0.20.0"):
        assert np.isnan(rec.ssim_256(gt[:2], flat, sigma=1.5, skimage=version)).all()


# -- psnr / l1 / mae -----------------------------------------------------------------------------------
def compare_l1(img_true, img_test):  # GFLA script/metrics.py
    return np.mean(np.abs(img_true.astype(np.float32) - img_test.astype(np.float32)))


def compare_mae(img_true, img_test):  # GFLA script/metrics.py
    img_true, img_test = img_true.astype(np.float32), img_test.astype(np.float32)
    return np.sum(np.abs(img_true - img_test)) / np.sum(img_true + img_test)


@pytest.mark.parametrize("data", ["fashion", "market"])
def test_pixel_scores_match_the_scripts(request, data):
    gt, pred = request.getfixturevalue(data)
    x, y = script_floats(gt), script_floats(pred)
    assert np.array_equal(rec.l1(gt, pred), [compare_l1(a, b) for a, b in zip(x, y, strict=True)])
    assert np.array_equal(rec.mae(gt, pred), [compare_mae(a, b) for a, b in zip(x, y, strict=True)])
    ref_psnr = [peak_signal_noise_ratio(a, b, data_range=1) for a, b in zip(x, y, strict=True)]
    assert np.array_equal(rec.psnr(gt, pred), ref_psnr)
    assert rec.l1(gt, pred).dtype == np.float64


def test_pixel_scores_edge_cases(fashion):
    gt, _ = fashion
    assert np.isinf(rec.psnr(gt[:2], gt[:2])).all()
    assert (rec.l1(gt[:2], gt[:2]) == 0).all()
    black = np.zeros_like(gt[:1])
    assert np.isnan(rec.mae(black, black)).all()


def test_inputs_are_checked(fashion):
    gt, pred = fashion
    with pytest.raises(ValueError, match=r"uint8 \(N, H, W, 3\)"):
        rec.ssim_box(gt.astype(np.float32), pred, skimage="0.17.2")
    with pytest.raises(ValueError, match="expected the ground-truth shape"):
        rec.psnr(gt, pred[:, :, :176])
    with pytest.raises(ValueError, match="smaller than the SSIM window"):
        rec.ssim_box(gt[:, :40, :40], pred[:, :40, :40], skimage="0.17.2")
    assert rec.ssim_box(gt[:0], pred[:0], skimage="0.17.2").shape == (0,)
