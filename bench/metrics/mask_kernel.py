"""The compiled part of :mod:`bench.metrics.masks`: intervals set into masks, and the closing.

    from bench.metrics.mask_kernel import raster
    masks = np.zeros((n, h, w), dtype=np.uint8)
    raster(mask_index, row, start, stop, h, w, 2, True, masks)   # int64 interval arrays

Numba, compiled on first use and cached on disk (as :mod:`bench.metrics.ssim_kernel`). The
masks are bytes (0/1), not booleans, so the loops vectorise; a shift by k lines of a flat mask
is a whole-image pass.
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(nogil=True, cache=True)
def combine(dst, src, union):
    """dst |= src (``union``) or dst &= src, elementwise over equal-length byte lines."""
    if union:
        for p in range(dst.shape[0]):
            dst[p] |= src[p]
    else:
        for p in range(dst.shape[0]):
            dst[p] &= src[p]


@numba.njit(nogil=True, cache=True)
def raster(m, r, a, b, h, w, half, closing, out):
    """Set the intervals [a, b) of rows ``r`` of masks ``m`` in ``out`` (N, H, W) uint8, zeroed;
    then (``closing``; the intervals already widened by ``half``: the dilation along the rows)
    the dilation along the columns and the erosion along columns then rows, each the max / min
    over +-``half`` neighbours clipped to the image."""
    for i in range(m.shape[0]):
        line = out[m[i], r[i]]
        for j in range(a[i], b[i]):
            line[j] = 1
    if not closing:
        return
    hw = h * w
    dilated = np.empty(hw, dtype=np.uint8)  # bytes, not booleans: the loops vectorise
    eroded = np.empty(hw, dtype=np.uint8)
    for q in range(out.shape[0]):
        mask = out[q].ravel()
        dilated[:] = mask
        for k in range(1, min(half, h - 1) + 1):  # rows i +- k: flat shifts by k lines
            s = k * w
            combine(dilated[s:], mask[:hw - s], 1)
            combine(dilated[:hw - s], mask[s:], 1)
        eroded[:] = dilated
        for k in range(1, min(half, h - 1) + 1):
            s = k * w
            combine(eroded[s:], dilated[:hw - s], 0)
            combine(eroded[:hw - s], dilated[s:], 0)
        mask[:] = eroded
        for i in range(h):  # columns j +- k, within the line
            e, o = eroded[i * w:(i + 1) * w], mask[i * w:(i + 1) * w]
            for k in range(1, min(half, w - 1) + 1):
                combine(o[k:], e[:w - k], 0)
                combine(o[:w - k], e[k:], 0)
