"""The compiled part of :mod:`bench.metrics.masks`: limb quadrilaterals and joint disks as
row intervals set into masks, and the closing.

    from bench.metrics.mask_kernel import draw
    masks = np.zeros((n, h, w), dtype=np.uint8)
    draw(kpts_f32, h, w, 4.0, True, 2, limb_from, limb_to, -1.0, masks)   # (N, 18, 2) (x, y)

Numba, compiled on first use and cached on disk (as :mod:`bench.metrics.ssim_kernel`),
without fast-math: every float64 expression is evaluated as written, in the order of
:mod:`bench.metrics.masks`' notes (IEEE operations, no fused multiply-add), so the pixels are
those of scikit-image 0.14.2's rules. The masks are bytes (0/1), not booleans, so the loops
vectorise; a shift by k lines of a flat mask is a whole-image pass.
"""

from __future__ import annotations

import math

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
def _span(line, a, b, w, half, closing):
    """Set columns [a, b) of ``line``; widened by ``half`` (clipped) under ``closing``: the
    dilation along the row, done on the interval."""
    if b <= a:
        return
    if closing:
        a = max(a - half, 0)
        b = min(b + half, w)
    for j in range(a, b):
        line[j] = 1


@numba.njit(nogil=True, cache=True)
def _crossing(dx, dy, y_i, x_i, yr):
    """ceil of an edge's crossing abscissa at row ``yr``: (xj-xi)*(y-yi)/(yj-yi) + xi, in
    scikit-image 0.14.2's order (for an integer column c: c < x  <=>  c < ceil(x))."""
    return math.ceil((dx * (yr - y_i)) / dy + x_i)


@numba.njit(nogil=True, cache=True)
def _column(v, w):
    """A toggle abscissa clipped to [0, w], as an integer column."""
    return int(min(max(v, 0.0), float(w)))


@numba.njit(nogil=True, cache=True)
def draw(kpts, h, w, radius, closing, half, limb_from, limb_to, missing, out):
    """PATN's masks of keypoint sets ``kpts`` (N, J, 2) float32 (x, y) into ``out`` (N, H, W)
    uint8, zeroed: every limb (``limb_from[l]``, ``limb_to[l]``) with both ends present as a
    quadrilateral of half-width ``radius`` (half-open crossing-number fill), every present
    joint as a disk (``((r - r0) / radius)**2 + ((c - c0) / radius)**2 < 1``); then, under
    ``closing``, the closing with a (2 ``half`` + 1) square (dilation, then erosion)."""
    vy4 = np.empty(4)
    vx4 = np.empty(4)
    tog = np.empty(4)
    n_joints = kpts.shape[1]
    span = int(2 * math.ceil(radius)) + 2
    dr2 = np.empty(span)
    dc2 = np.empty(span)
    for q in range(kpts.shape[0]):
        mask = out[q]
        for limb in range(limb_from.shape[0]):
            f, t = limb_from[limb], limb_to[limb]
            if (kpts[q, f, 0] == missing or kpts[q, f, 1] == missing
                    or kpts[q, t, 0] == missing or kpts[q, t, 1] == missing):
                continue
            xf, yf = float(kpts[q, f, 0]), float(kpts[q, f, 1])
            xt, yt = float(kpts[q, t, 0]), float(kpts[q, t, 1])
            # norm_vec = kp[f] - kp[t] in (y, x); rotated to (-dx, dy); radius * v / |v|
            vy = -(xf - xt)
            vx = yf - yt
            norm = math.sqrt(vy * vy + vx * vx)
            if not norm > 0:
                continue  # zero-length limb: NaN vertices in the original, nothing drawn
            ny = radius * vy / norm
            nx = radius * vx / norm
            vy4[0], vy4[1], vy4[2], vy4[3] = yf + ny, yf - ny, yt - ny, yt + ny
            vx4[0], vx4[1], vx4[2], vx4[3] = xf + nx, xf - nx, xt - nx, xt + nx
            # edges (i, j) = (0, 3), (1, 0), (2, 1), (3, 2): j is the vertex before i
            lo_all, hi_all = np.inf, -np.inf
            for e in range(4):
                i, j = e, (e + 3) % 4
                lo_all = min(lo_all, math.ceil(min(vy4[i], vy4[j])))
                hi_all = max(hi_all, math.ceil(max(vy4[i], vy4[j])) - 1)
            lo_all = max(lo_all, 0.0)
            hi_all = min(hi_all, h - 1.0)
            if hi_all < lo_all:
                continue
            for r in range(int(lo_all), int(hi_all) + 1):
                yr = float(r)
                for e in range(4):
                    i, j = e, (e + 3) % 4
                    yi, yj = vy4[i], vy4[j]
                    # edge (i, j) straddles row r iff ceil(min) <= r <= ceil(max) - 1
                    if (yr >= math.ceil(min(yi, yj))) and (yr <= math.ceil(max(yi, yj)) - 1):
                        tog[e] = _crossing(vx4[j] - vx4[i], yj - yi, yi, vx4[i], yr)
                    else:
                        tog[e] = -np.inf
                # odd crossing count <=> c in [t0, t1) or [t2, t3) (non-straddling first)
                a0, a1 = min(tog[0], tog[1]), max(tog[0], tog[1])
                a2, a3 = min(tog[2], tog[3]), max(tog[2], tog[3])
                b0, b2 = min(a0, a2), max(a0, a2)
                b1, b3 = min(a1, a3), max(a1, a3)
                c1, c2 = min(b1, b2), max(b1, b2)
                line = mask[r]
                _span(line, _column(b0, w), _column(c1, w), w, half, closing)
                _span(line, _column(c2, w), _column(b3, w), w, half, closing)
        for jt in range(n_joints):
            if kpts[q, jt, 0] == missing or kpts[q, jt, 1] == missing:
                continue
            cx, cy = float(kpts[q, jt, 0]), float(kpts[q, jt, 1])
            # skimage.draw.ellipse's box: ceil(c - r) .. floor(c + r), clipped to the image
            top, bottom = max(math.ceil(cy - radius), 0.0), min(math.floor(cy + radius), h - 1.0)
            left, right = max(math.ceil(cx - radius), 0.0), min(math.floor(cx + radius), w - 1.0)
            if bottom < top or right < left:
                continue
            top_i, left_i = int(top), int(left)
            for o in range(span):
                dr = ((top_i + o) - cy) / radius
                dr2[o] = dr * dr if top_i + o <= bottom else np.inf
                dc = ((left_i + o) - cx) / radius
                dc2[o] = dc * dc if left_i + o <= right else np.inf
            for o in range(span):
                first, count = -1, 0
                for p in range(span):
                    if dr2[o] + dc2[p] < 1:
                        if first < 0:
                            first = p
                        count += 1
                if count:
                    _span(mask[top_i + o], left_i + first, left_i + first + count, w, half,
                          closing)
    if closing:
        close(out, h, w, half)


@numba.njit(nogil=True, cache=True)
def close(out, h, w, half):
    """The rest of the closing of masks whose intervals were widened by ``half`` (the
    dilation along the rows): the dilation along the columns and the erosion along columns
    then rows, each the max / min over +-``half`` neighbours clipped to the image."""
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
