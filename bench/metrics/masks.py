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

Each polygon and disk is turned into per-row column intervals (vectorised numpy, float64, the
expressions of the original); setting them and the closing are a compiled loop
(:mod:`bench.metrics.mask_kernel`).
"""

from __future__ import annotations

from collections import OrderedDict
from threading import Lock

import numpy as np

from bench.keypoints import MASK_LIMBS, MISSING, NUM_JOINTS

CLOSING_SIZE = 5  # the square(5) footprint of produce_ma_mask
DRAW_PIXELS = 32 * 128 * 64  # pixels drawn per vectorised group (measured: 32 Market masks)
_LIMB_FROM = np.array([a for a, _ in MASK_LIMBS], dtype=np.intp)
_LIMB_TO = np.array([b for _, b in MASK_LIMBS], dtype=np.intp)
# Edges (i, j) in the order of the crossing-number loop: j starts at the last vertex.
_EDGES = ((0, 3), (1, 0), (2, 1), (3, 2))


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


def _row_spans(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For items with integer row ranges [lo, hi] (empty if hi < lo): (item index, row) pairs."""
    counts = np.maximum(hi - lo + 1, 0)
    item = np.repeat(np.arange(len(lo)), counts)
    starts = np.cumsum(counts) - counts
    rows = np.arange(item.size) - np.repeat(starts - lo, counts)
    return item, rows


def _sort4(a, b, c, d):
    """Elementwise sort of four arrays (a sorting network; numpy's axis sort is slow here)."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    c, d = np.minimum(c, d), np.maximum(c, d)
    a, c = np.minimum(a, c), np.maximum(a, c)
    b, d = np.minimum(b, d), np.maximum(b, d)
    b, c = np.minimum(b, c), np.maximum(b, c)
    return a, b, c, d


def _limb_intervals(y, x, present, h, w, radius):
    """Column intervals [a, b) per (mask, row) of every limb quadrilateral.

    Returns (mask index, row, a, b) arrays, two intervals per (polygon, row).
    """
    valid = present[:, _LIMB_FROM] & present[:, _LIMB_TO]
    n_idx, l_idx = np.nonzero(valid)
    f, t = _LIMB_FROM[l_idx], _LIMB_TO[l_idx]
    yf, xf = y[n_idx, f], x[n_idx, f]
    yt, xt = y[n_idx, t], x[n_idx, t]
    # norm_vec = kp[f] - kp[t] in (y, x); rotated to (-dx, dy); radius * v / |v|.
    vy = -(xf - xt)
    vx = yf - yt
    norm = np.sqrt(vy * vy + vx * vx)
    keep = norm > 0  # zero-length limb: NaN vertices in the original, nothing drawn
    if not np.all(keep):
        n_idx, yf, xf, yt, xt, vy, vx, norm = (
            a[keep] for a in (n_idx, yf, xf, yt, xt, vy, vx, norm)
        )
    ny = radius * vy / norm
    nx = radius * vx / norm
    vert_y = np.stack([yf + ny, yf - ny, yt - ny, yt + ny], axis=1)  # (P, 4)
    vert_x = np.stack([xf + nx, xf - nx, xt - nx, xt + nx], axis=1)
    ii = [i for i, _ in _EDGES]
    jj = [j for _, j in _EDGES]
    yi, yj, xi, xj = vert_y[:, ii], vert_y[:, jj], vert_x[:, ii], vert_x[:, jj]
    # Edge (i, j) straddles integer row r iff min <= r < max, i.e. ceil(min) <= r <= ceil(max)-1.
    e_lo = np.ceil(np.minimum(yi, yj))
    e_hi = np.ceil(np.maximum(yi, yj)) - 1
    # Per polygon, per edge: yi, xj - xi, yj - yi, xi, row bounds (one table, one gather).
    table = np.concatenate([yi, xj - xi, yj - yi, xi, e_lo, e_hi], axis=1)  # (P, 24)
    row_lo = np.maximum(e_lo.min(axis=1), 0).astype(np.intp)
    row_hi = np.minimum(e_hi.max(axis=1), h - 1).astype(np.intp)
    item, rows = _row_spans(row_lo, row_hi)
    g = np.take(table, item, axis=0).T  # (24, T)
    yr = rows.astype(np.float64)
    toggles = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for e in range(4):
            y_i, dx, dy, x_i, lo, hi = g[e::4]
            # Same expression order as skimage 0.14.2: (xj-xi)*(y-yi)/(yj-yi) + xi.
            x_cross = np.ceil((dx * (yr - y_i)) / dy + x_i)
            # For an integer column c: c < x_cross  <=>  c < ceil(x_cross).
            straddle = (yr >= lo) & (yr <= hi)
            toggles.append(np.where(straddle, x_cross, -np.inf))
    # Odd crossing count <=> c in [t0, t1) or [t2, t3) (non-straddling edges sort first).
    t = [np.clip(v, 0, w).astype(np.intp) for v in _sort4(*toggles)]
    masks = n_idx[item]
    return (np.concatenate([masks, masks]), np.concatenate([rows, rows]),
            np.concatenate([t[0], t[2]]), np.concatenate([t[1], t[3]]))


def _disk_intervals(y, x, present, h, w, radius):
    """Column intervals [a, b) per (mask, row) of the joint disks (skimage.draw.disk)."""
    n_idx, j_idx = np.nonzero(present)
    cy, cx = y[n_idx, j_idx], x[n_idx, j_idx]
    # skimage.draw.ellipse bounding box: ceil(c - r) .. floor(c + r), clipped to the image.
    top = np.maximum(np.ceil(cy - radius), 0).astype(np.intp)
    bottom = np.minimum(np.floor(cy + radius), h - 1).astype(np.intp)
    left = np.maximum(np.ceil(cx - radius), 0).astype(np.intp)
    right = np.minimum(np.floor(cx + radius), w - 1).astype(np.intp)
    span = int(2 * np.ceil(radius)) + 2
    offs = np.arange(span)
    rows = top[:, None] + offs  # (J, span)
    cols = left[:, None] + offs
    dr = (rows - cy[:, None]) / radius
    dc = (cols - cx[:, None]) / radius
    dr2 = np.where(rows <= bottom[:, None], dr * dr, np.inf)
    dc2 = np.where(cols <= right[:, None], dc * dc, np.inf)
    inside = dr2[:, :, None] + dc2[:, None, :] < 1  # (J, span, span)
    count = inside.sum(axis=2)  # each row's pixels are contiguous (monotone in |c - c0|)
    rowmask = count > 0
    first = left[:, None] + inside.argmax(axis=2)
    j_rep = np.nonzero(rowmask)[0]
    a = first[rowmask]
    return n_idx[j_rep], rows[rowmask], a, a + count[rowmask]


def _draw(kpts: np.ndarray, h: int, w: int, radius: float, closing: bool) -> np.ndarray:
    n = kpts.shape[0]
    k = kpts.astype(np.float64)
    x, y = k[..., 0], k[..., 1]
    present = (kpts[..., 0] != MISSING) & (kpts[..., 1] != MISSING)
    parts = [_limb_intervals(y, x, present, h, w, radius),
             _disk_intervals(y, x, present, h, w, radius)]
    m, r, a, b = (np.concatenate([p[i] for p in parts]) for i in range(4))
    half = CLOSING_SIZE // 2
    if closing:  # the dilation along rows widens every non-empty interval (clipped)
        keep = a < b
        m, r = m[keep], r[keep]
        a = np.maximum(a[keep] - half, 0)
        b = np.minimum(b[keep] + half, w)
    from bench.metrics.mask_kernel import raster  # numba: loaded when first used

    masks = np.zeros((n, h, w), dtype=bool)
    raster(m.astype(np.int64), r.astype(np.int64), a.astype(np.int64), b.astype(np.int64),
           h, w, half, closing, masks.view(np.uint8))
    return masks


def _draw_into(out: np.ndarray, kpts: np.ndarray, h: int, w: int, radius: float,
               closing: bool) -> None:
    """Draw in groups of a few masks (the temporary arrays then stay in cache)."""
    step = max(1, DRAW_PIXELS // (h * w))
    for s in range(0, len(kpts), step):
        out[s:s + step] = _draw(kpts[s:s + step], h, w, radius, closing)


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
        _draw_into(out, kpts, h, w, radius, closing)
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
        drawn = np.empty((len(first), h, w), dtype=bool)
        _draw_into(drawn, kpts[first], h, w, radius, closing)
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


def clear_mask_cache() -> None:
    """Drop all cached masks."""
    _CACHE.clear()
