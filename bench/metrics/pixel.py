"""Per-pixel scores of generated vs target images: PATN's "L1 score" and PSNR.

Both are computed per pair on the uint8 images with exact integer sums and averaged over
pairs::

    from bench.metrics.pixel import L1, PSNR
    l1, psnr = L1(), PSNR()
    l1.update(fake, batch)      # {"l1": per-pair values}; fake (N, H, W, 3) uint8
    l1.compute()                # {"l1": mean over pairs}, lower is better
    psnr.compute()              # {"psnr": mean over pairs in dB}; +inf if a pair is identical

* ``l1``: mean over pixels and channels of ``|2 (ref/255 - 0.5) - 2 (gen/255 - 0.5)|``, i.e. the
  absolute difference on the [-1, 1] scale (PATN ``getMetrics``; computed as
  ``2 * sum|ref - gen| / (255 * pixels)``).
* ``psnr``: ``10 log10(255^2 / MSE)`` with the MSE over pixels and channels
  (``skimage.metrics.peak_signal_noise_ratio(ref, gen, data_range=255)``). Identical images give
  ``+inf``, kept as is: the mean over pairs is then ``+inf`` too.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import PerPairMean
from bench.types import PairBatch


def abs_diff_sums(ref: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Per-image ``sum |ref - gen|`` of uint8 (N, ...) arrays, exact (int64)."""
    diff = np.maximum(ref, gen)
    diff -= np.minimum(ref, gen)  # |a - b| without leaving uint8
    return diff.reshape(len(diff), -1).sum(axis=1, dtype=np.int64)


def squared_diff_sums(ref: np.ndarray, gen: np.ndarray) -> np.ndarray:
    """Per-image ``sum (ref - gen)^2`` of uint8 (N, ...) arrays, exact (int64)."""
    diff = np.maximum(ref, gen)
    diff -= np.minimum(ref, gen)
    d = diff.reshape(len(diff), -1).astype(np.int32)
    return np.einsum("ij,ij->i", d, d, dtype=np.int64)


class L1(PerPairMean):
    """PATN's L1 score: per pair mean ``|2 (ref/255 - 0.5) - 2 (gen/255 - 0.5)|`` over pixels and
    channels (values in [0, 2]); mean over pairs; lower is better."""

    name = "l1"
    version = "patn-l1"
    higher_is_better = False
    description = "mean absolute difference on the [-1, 1] scale (PATN 'L1 score')"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        pixels = int(np.prod(fake.shape[1:]))
        return abs_diff_sums(batch.tgt_img, fake) * (2.0 / 255.0) / pixels


class PSNR(PerPairMean):
    """Per pair ``10 log10(255^2 / MSE)`` (scikit-image ``peak_signal_noise_ratio`` with
    ``data_range=255``); mean over pairs; +inf for identical images (not clamped)."""

    name = "psnr"
    version = "skimage-psnr-range255"
    higher_is_better = True
    unit = "dB"
    description = "peak signal-to-noise ratio, data range 255"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        pixels = int(np.prod(fake.shape[1:]))
        mse = squared_diff_sums(batch.tgt_img, fake) / pixels
        values = np.full(len(mse), np.inf)
        nz = mse > 0
        values[nz] = 10 * np.log10((255.0**2) / mse[nz])
        return values
