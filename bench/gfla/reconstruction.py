"""Per-pair ``ssim``, ``ssim_256``, ``psnr``, ``l1``, ``mae`` as GFLA's ``script/metrics.py`` and
its forks (DPTN, PIDM, CFLD) computed them, for the scikit-image version each one ran.

Inputs are uint8 (N, H, W, 3) batches, ground truth first, exactly as the scripts read them
from files (after any preparation of :mod:`bench.gfla.prepare`, e.g. ``pad_256``); the scripts
then divide by 255 in float32 (:func:`bench.gfla.prepare.script_floats`), which is folded in
here. Each function returns one float64 value per pair::

    from bench.gfla.reconstruction import ssim_box, ssim_256, psnr, l1, mae
    ssim_box(gt, pred, skimage="0.17.2")          # GFLA/DPTN/PIDM key "ssim"
    ssim_box(gt, pred, skimage="0.20.0")          # CFLD (float32 arithmetic)
    ssim_256(gt, pred, sigma=1.2, skimage="0.17.2")   # PIDM key "ssim_256" (9 taps)
    ssim_256(gt, pred, sigma=1.5, skimage="0.14.2")   # GFLA read with scikit-image <= 0.14
    psnr(gt, pred); l1(gt, pred); mae(gt, pred)

* ``ssim`` (box): ``compare_ssim(gt, pred, data_range=1, win_size=51, multichannel=True)`` on
  float32 / 255 images: scipy ``uniform_filter`` (51 taps, mode reflect), sample covariance
  (NP / (NP - 1), NP = 51^2), K1 0.01, K2 0.03, SSIM map cropped by 25 px, mean per channel,
  then the mean of the channels.
* ``ssim_256``: the same call shape on the x255 images with ``gaussian_weights=True``,
  ``use_sample_covariance=False`` and ``data_range = pred.max() - pred.min()``; the Gaussian's
  taps and crop depend on the version (:class:`SkimageSSIM`).
* scikit-image <= 0.18 converts both images to float64; >= 0.19 keeps float32 input in float32
  (filters, maps and per-channel means; only the crop's mean is accumulated in float64).
* ``psnr``: ``10 log10(1 / mse)``, the difference and square in float32, the mean in float64
  (``compare_psnr`` with data_range 1); identical images give +inf.
* ``l1``: ``np.mean(|gt - pred|)`` and ``mae``: ``sum |gt - pred| / sum (gt + pred)``, both in
  float32 as the scripts' ``compare_l1`` / ``compare_mae``.

The float64 SSIMs run on the batched engine of :mod:`bench.metrics.ssim` (agreement with
scipy / scikit-image ~1e-13); the float32 ones are a per-image transcription with scipy, since
their rounding is part of the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi

from bench.metrics.ssim import K1, K2, LEGACY_TRUNCATE, MODERN_TRUNCATE, get_engine

BOX_WIN_SIZE = 51
LEGACY_GAUSSIAN_WIN = 11  # scikit-image <= 0.14: win_size 11 whatever sigma (crop 5)
# float32(code / 255) for every uint8 code: the scripts' imread(f).astype(float32) / 255.
UNIT_LEVELS_F32 = np.arange(256, dtype=np.float32) / np.float32(255.0)
UNIT_LEVELS = UNIT_LEVELS_F32.astype(np.float64)


@dataclass(frozen=True)
class SkimageSSIM:
    """The SSIM semantics of one scikit-image release line (read at tags v0.14.2, v0.15.0,
    v0.16.2, v0.17.2 and v0.20.0 of ``_structural_similarity.py``)."""

    version: str  # as given, e.g. "0.17.2"
    legacy_gaussian: bool  # <= 0.14: scipy's truncate 4.0, win_size 11 (crop 5)
    float32: bool  # >= 0.19: float32 input stays float32

    def gaussian_window(self, sigma: float) -> tuple[float, int]:
        """(truncate, win_size) of ``gaussian_weights=True`` with this sigma."""
        if self.legacy_gaussian:
            return LEGACY_TRUNCATE, LEGACY_GAUSSIAN_WIN
        radius = int(MODERN_TRUNCATE * sigma + 0.5)
        return MODERN_TRUNCATE, 2 * radius + 1


def skimage_semantics(version: str) -> SkimageSSIM:
    """``"0.14.2"`` -> legacy Gaussian, float64; 0.15-0.18 -> 3.5-sigma Gaussian, float64;
    >= 0.19 -> 3.5-sigma Gaussian, float32 kept."""
    m = re.fullmatch(r"0\.(\d+)(?:\.\d+)?", str(version).strip())
    if m is None:
        raise ValueError(f"a scikit-image version looks like '0.17.2', found {version!r}")
    minor = int(m.group(1))
    if minor < 14:
        raise ValueError(f"scikit-image {version} predates the versions these scripts ran "
                         "(0.14 to 0.20); its SSIM was not checked")
    return SkimageSSIM(version=str(version), legacy_gaussian=minor <= 14, float32=minor >= 19)


def _check(gt: np.ndarray, pred: np.ndarray) -> None:
    for name, a in (("ground-truth", gt), ("generated", pred)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 4 or a.shape[3] != 3:
            found = (f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray)
                     else type(a).__name__)
            raise ValueError(f"{name} images must be uint8 (N, H, W, 3), found {found}")
    if gt.shape != pred.shape:
        raise ValueError(f"generated images have shape {pred.shape}, expected the ground-truth "
                         f"shape {gt.shape} (the scripts compare images of one size)")


# -- SSIM ------------------------------------------------------------------------------------
def ssim_box(gt: np.ndarray, pred: np.ndarray, *, skimage: str,
             win_size: int = BOX_WIN_SIZE) -> np.ndarray:
    """Key ``ssim``: box-window SSIM, data range 1, on float32 / 255 images (module docstring)."""
    _check(gt, pred)
    sem = skimage_semantics(skimage)
    if len(gt) == 0:
        return np.empty(0)
    if sem.float32:
        x, y = UNIT_LEVELS_F32[gt], UNIT_LEVELS_F32[pred]
        return np.array([_ssim_float32(a, b, window="box", win_size=win_size, data_range=1.0)
                         for a, b in zip(x, y, strict=True)])
    engine = get_engine(gt.shape[1:3], 3, 0.0, win_size=win_size, window="box",  # no truncate
                        sample_covariance=True, levels=UNIT_LEVELS)
    return engine.mean_ssim(gt, pred, [1.0])[0]


def ssim_256(gt: np.ndarray, pred: np.ndarray, *, sigma: float, skimage: str) -> np.ndarray:
    """Key ``ssim_256``: Gaussian SSIM on the x255 images (float32(code / 255) * 255 is the
    code again, exactly), population covariance, data range of the generated image."""
    _check(gt, pred)
    sem = skimage_semantics(skimage)
    truncate, win_size = sem.gaussian_window(sigma)
    if len(gt) == 0:
        return np.empty(0)
    if sem.float32:
        out = []
        for a, b in zip(gt.astype(np.float32), pred.astype(np.float32), strict=True):
            rng = b.max() - b.min()  # float32, as the script's img_pred_256.max() - min()
            out.append(np.nan if rng == 0 else _ssim_float32(
                a, b, window="gaussian", win_size=win_size, data_range=float(rng),
                sigma=sigma, truncate=truncate))
        return np.array(out, dtype=np.float64)
    engine = get_engine(gt.shape[1:3], 3, truncate, sigma=sigma, win_size=win_size)
    return engine.mean_ssim(gt, pred, ["generated"])[0]


def _ssim_float32(x: np.ndarray, y: np.ndarray, *, window: str, win_size: int,
                  data_range: float, sigma: float = 1.5, truncate: float = MODERN_TRUNCATE
                  ) -> float:
    """scikit-image >= 0.19 ``structural_similarity`` on float32 (H, W, C) images: per channel
    in float32 (box: sample covariance; Gaussian: population), mean of the channel means."""
    if window == "box":
        def filt(a):
            return ndi.uniform_filter(a, size=win_size)
        cov_norm = win_size**2 / (win_size**2 - 1)
    else:
        def filt(a):
            return ndi.gaussian_filter(a, sigma, mode="reflect", truncate=truncate)
        cov_norm = 1.0
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    pad = (win_size - 1) // 2
    means = np.empty(x.shape[2], dtype=np.float32)
    for ch in range(x.shape[2]):
        a, b = x[..., ch], y[..., ch]
        ux, uy = filt(a), filt(b)
        uxx, uyy, uxy = filt(a * a), filt(b * b), filt(a * b)
        vx = cov_norm * (uxx - ux * ux)
        vy = cov_norm * (uyy - uy * uy)
        vxy = cov_norm * (uxy - ux * uy)
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        means[ch] = s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean(dtype=np.float64)
    return float(means.mean())


# -- pixel scores ----------------------------------------------------------------------------
def _floats(gt: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    _check(gt, pred)
    return UNIT_LEVELS_F32[gt], UNIT_LEVELS_F32[pred]


def psnr(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """``compare_psnr(gt, pred, data_range=1)`` per pair; +inf for identical images."""
    x, y = _floats(gt, pred)
    out = np.empty(len(x))
    for i, (a, b) in enumerate(zip(x, y, strict=True)):
        mse = np.mean(np.square(a - b), dtype=np.float64)
        out[i] = np.inf if mse == 0 else 10 * np.log10(1.0 / mse)
    return out


def l1(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The scripts' ``compare_l1``: ``np.mean(np.abs(gt - pred))`` in float32, per pair."""
    x, y = _floats(gt, pred)
    return np.array([np.mean(np.abs(a - b)) for a, b in zip(x, y, strict=True)],
                    dtype=np.float64)


def mae(gt: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """The scripts' ``compare_mae``: ``sum |gt - pred| / sum (gt + pred)`` in float32, per pair
    (NaN for two black images, 0 / 0 in the original)."""
    x, y = _floats(gt, pred)
    out = np.empty(len(x))
    for i, (a, b) in enumerate(zip(x, y, strict=True)):
        den = np.sum(a + b)
        out[i] = np.nan if den == 0 else np.sum(np.abs(a - b)) / den
    return out
