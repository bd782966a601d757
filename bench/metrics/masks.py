"""Pose masks for mask-SSIM / mask-IS, pixel for pixel as PATN's ``produce_ma_mask`` drew them.

PROTOCOL.md 3.4: for every limb of :data:`bench.keypoints.MASK_LIMBS` with both ends present, a
filled quadrilateral of half-width ``radius`` around the segment; a filled disk of ``radius`` at
every present joint; then a closing (dilation, then erosion) with a 5x5 square. PATN ran this
with scikit-image 0.14.2, and the rasterisation rules of that version are reproduced exactly::

    from bench.metrics.masks import pose_mask, pose_masks
    mask = pose_mask(kpts_xy, (128, 64))          # (128, 64) bool, kpts_xy float32 (18, 2) (x, y)
    masks = pose_masks(batch.tgt_kpts, (128, 64))  # (N, 128, 64) bool, cached per keypoint set

Exactness notes (what PATN computed, with its (y, x) keypoint arrays):

* Limb quadrilateral: ``n = radius * (-(x_f - x_t), y_f - y_t) / |.|`` in (y, x) order and the
  vertices ``[f + n, f - n, t - n, t + n]``, in float64 in the same expression order.
* Polygon fill: scikit-image <= 0.17 (and so 0.14.2) used the half-open crossing-number test
  ``(yp[i] <= y < yp[j] or yp[j] <= y < yp[i]) and x < (xp[j]-xp[i])*(y-yp[i])/(yp[j]-yp[i])
  + xp[i]`` over the integer pixels of the polygon's bounding box clipped to the image. Points
  on the right/bottom boundary are therefore outside. Since scikit-image 0.18 (PR #5029)
  ``skimage.draw.polygon`` also returns boundary points, so today's library draws a slightly
  different mask whenever a pixel centre lies exactly on a limb edge (axis-aligned limbs with
  integer keypoints). This module keeps the 0.14.2 rule (the published numbers used it).
* Zero-length limb (both ends at the same pixel): the original divides 0 by 0 and gets NaN
  vertices. scikit-image 0.14.2's Cython ``_polygon`` casts ``ceil(nan)`` to ``Py_ssize_t``
  (``INT64_MIN`` on x86-64), so the row loop is empty, and every comparison with NaN is false
  anyway: nothing is drawn for that limb (no crash); the joint disks are still drawn.
* Disk: ``skimage.draw.circle`` (now ``disk``), i.e. the pixels with
  ``((r - r0) / radius)**2 + ((c - c0) / radius)**2 < 1`` inside the image.
* Closing: ``skimage.morphology.dilation`` then ``erosion`` with ``square(5)`` go through
  ``scipy.ndimage.grey_dilation/grey_erosion`` in mode 'reflect'; on a boolean image that is
  the max / min over the 5x5 window clipped to the image.

Each polygon and disk is turned into per-row column intervals (float64, the expressions of
the original, in their order) and set, then closed, in one compiled loop per mask
(:mod:`bench.metrics.mask_kernel`, about 8x faster than the vectorised numpy it replaced).
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import numpy as np

from bench.keypoints import MASK_LIMBS, MISSING, NUM_JOINTS

CLOSING_SIZE = 5  # the square(5) footprint of produce_ma_mask
_LIMB_FROM = np.array([a for a, _ in MASK_LIMBS], dtype=np.int64)
_LIMB_TO = np.array([b for _, b in MASK_LIMBS], dtype=np.int64)


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"size must be (H, W), found {size!r}") from None
    if h <= 0 or w <= 0:
        raise ValueError(f"size must be positive (H, W), found {size!r}")
    return h, w


def _check_kpts(kpts: np.ndarray) -> np.ndarray:
    kpts = np.asarray(kpts)
    if kpts.ndim != 3 or kpts.shape[1:] != (NUM_JOINTS, 2):
        raise ValueError(
            f"keypoints must have shape (N, {NUM_JOINTS}, 2) (x, y), found {kpts.shape}"
        )
    if not np.issubdtype(kpts.dtype, np.number) or np.issubdtype(kpts.dtype, np.complexfloating):
        raise ValueError(f"keypoints must be a real numeric array, found dtype {kpts.dtype}")
    if not np.all(np.isfinite(kpts)):
        raise ValueError("keypoints must be finite (use -1 for a missing joint)")
    return kpts


def _draw(kpts: np.ndarray, h: int, w: int, radius: float, closing: bool) -> np.ndarray:
    from bench.metrics.mask_kernel import draw  # numba: loaded when first used

    masks = np.zeros((kpts.shape[0], h, w), dtype=bool)
    draw(np.ascontiguousarray(kpts, dtype=np.float32), h, w, float(radius), closing,
         CLOSING_SIZE // 2, _LIMB_FROM, _LIMB_TO, float(MISSING), masks.view(np.uint8))
    return masks


class _MaskCache:
    """Least-recently-used (bit-packed) masks keyed by (size, radius, closing, keypoint bytes)."""

    def __init__(self, max_bytes: int = 16 * 2**20) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = Lock()

    def get(self, key):
        with self._lock:
            mask = self._items.get(key)
            if mask is not None:
                self._items.move_to_end(key)
            return mask

    def put(self, key, mask: np.ndarray) -> None:
        if mask.nbytes > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = mask
            self._bytes += mask.nbytes
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0


_CACHE = _MaskCache()


def pose_masks(
    kpts: np.ndarray,
    size: tuple[int, int],
    radius: float = 4,
    *,
    closing: bool = True,
    cache: bool = True,
) -> np.ndarray:
    """Masks of a batch of keypoint sets: ``(N, 18, 2)`` (x, y), -1 missing -> ``(N, H, W)`` bool.

    ``closing=False`` returns the union of quadrilaterals and disks before the 5x5 closing
    (for diagnostics). Masks are cached by the exact keypoint bytes, since target images repeat
    across pairs (least recently used, 16 MiB of bit-packed masks: every target of Market's
    test split); returned arrays are fresh.
    """
    kpts = _check_kpts(kpts)
    h, w = _check_size(size)
    radius = float(radius)
    if not radius > 0:
        raise ValueError(f"radius must be positive, found {radius}")
    kpts = np.ascontiguousarray(kpts, dtype=np.float32)
    n = kpts.shape[0]
    out = np.empty((n, h, w), dtype=bool)
    if n == 0:
        return out
    if not cache:
        out[:] = _draw(kpts, h, w, radius, closing)
        return out
    keys = [(h, w, radius, closing, kpts[i].tobytes()) for i in range(n)]
    todo: dict[tuple, list[int]] = {}
    for i, key in enumerate(keys):
        hit = _CACHE.get(key)
        if hit is None:
            todo.setdefault(key, []).append(i)
        else:
            out[i] = np.unpackbits(hit, count=h * w).view(bool).reshape(h, w)
    if todo:
        first = [idx[0] for idx in todo.values()]
        drawn = _draw(kpts[first], h, w, radius, closing)
        for (key, idx), mask in zip(todo.items(), drawn, strict=True):
            out[idx] = mask
            _CACHE.put(key, np.packbits(mask))  # a bit per pixel: ~16,000 masks at 128x64
    return out


def pose_mask(kpts_xy: np.ndarray, size: tuple[int, int], radius: float = 4) -> np.ndarray:
    """PATN's ``produce_ma_mask`` for one keypoint set ``(18, 2)`` (x, y) -> ``(H, W)`` bool."""
    kpts_xy = np.asarray(kpts_xy)
    if kpts_xy.shape != (NUM_JOINTS, 2):
        raise ValueError(f"keypoints must have shape ({NUM_JOINTS}, 2) (x, y), found {kpts_xy.shape}")
    return pose_masks(kpts_xy[None], size, radius)[0]


def warm_masks(size: tuple[int, int] = (16, 16)) -> np.ndarray:
    """A mask drawn by the compiled loop straight away (loading it), outside the cache."""
    return _draw(np.full((1, NUM_JOINTS, 2), 8, np.float32), size[0], size[1], 4.0, True)


def clear_mask_cache() -> None:
    """Drop all cached masks."""
    _CACHE.clear()
