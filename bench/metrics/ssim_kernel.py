"""The compiled inner loop of :class:`bench.metrics.ssim.SSIMEngine`: per-pair mean SSIM.

    from bench.metrics.ssim_kernel import mean_ssim_pairs
    out = np.empty((n, len(ranges)))
    mean_ssim_pairs(ref_lines, gen_lines, 3, masks, True, levels, False, weights, crop, 1.0,
                    0.01**2, 0.03**2, ranges, 255.0, out)  # ref_lines: uint8 (N, H, W*C)

One Numba function, compiled on first use (a few seconds) and cached on disk beside this file
(or in ``NUMBA_CACHE_DIR``), that runs without the GIL, so the engine's threads work in
parallel. Per pair it does what scikit-image's ``structural_similarity`` does, in float64 and in
the order of operations of the numpy engine it replaced (the values agree to ~1e-16):

1. the codes of both images, masked (mask 0 -> code 0), and the generated image's data range:
   max - min of its masked codes, through ``levels`` when given;
2. both images as float64 divided by the first data range (``fallback`` where that is 0), and
   the maps x, y, x^2 + y^2, x*y;
3. each map filtered by the separable window (correlation, scipy's 'reflect' boundary), along
   the rows then along the columns, only at the outputs inside the ``crop``. Map by map, so the
   lines the window slides over stay in the first-level cache. Lines are W*C interleaved: a
   vertical tap is a whole line and a horizontal tap a shift by C, so every inner loop runs
   over contiguous memory (and vectorises). Masked pairs skip what is exactly zero: along the
   rows only the columns some mask keeps within the window, along the columns only the
   outputs whose window meets them (the results are the same bits);
4. for each data range r: ``(t + C1/2)(cov + C2/2) / ((q + C1)(var + C2))`` with
   C = (K r / base)^2, t = ux*uy, q = ux^2 + uy^2; summed along each output row, then over the
   rows, times 4, averaged over the channels and divided by the pixels. NaN where r <= 0.
"""

from __future__ import annotations

import numba
import numpy as np

_JIT = dict(nogil=True, cache=True, boundscheck=False, error_model="numpy",
            fastmath={"contract"})


@numba.njit(**_JIT)
def _reflect(i, n):
    """scipy.ndimage 'reflect' (d c b a | a b c d | d c b a) for any integer index."""
    m = i % (2 * n)
    return 2 * n - 1 - m if m >= n else m


@numba.njit(**_JIT)
def mean_ssim_pairs(ref, gen, channels, masks, use_masks, levels, use_levels, weights, crop,
                    cov_norm, k1sq, k2sq, ranges, fallback, out):
    """Per-pair mean SSIM into ``out`` (N, R).

    ``ref``, ``gen``: uint8 (N, H, W*C) C-contiguous; ``masks``: uint8 (N, H, W) of 0/1, read
    only when ``use_masks``; ``levels``: float64 (256,), read only when ``use_levels``;
    ``weights``: the odd-length 1-D window; ``k1sq``, ``k2sq``: K1^2, K2^2; ``ranges``: float64
    (N, R), NaN meaning the generated image's range; ``fallback``: the scale used where the
    first range is 0.
    """
    n, h, wc = ref.shape
    c = channels
    w = wc // c
    nr = ranges.shape[1]
    t = weights.shape[0]
    rad = t // 2
    oh, ow = h - 2 * crop, w - 2 * crop
    owc = ow * c
    pw = w + 2 * rad  # a filtered line padded by its reflection, in pixels
    codes = np.empty((2, h, wc), dtype=np.uint8)
    maps = np.empty((4, h, wc))
    filt = np.empty((4, oh, owc))
    line = np.empty(pw * c)
    vals = np.empty(owc)
    grow = np.empty(wc, dtype=np.uint8)
    # Where masking leaves zeros (code 0 -> 0.0), the maps' filtered values are exact zeros
    # without computing them: per input row, the columns [first, last] the mask keeps.
    zeros_outside = use_masks and (not use_levels or levels[0] == 0.0)
    row_first = np.zeros(h, dtype=np.int64)
    row_last = np.full(h, w - 1, dtype=np.int64)
    out_first = np.empty(oh, dtype=np.int64)
    out_last = np.empty(oh, dtype=np.int64)
    src_row = np.empty((oh, t), dtype=np.int64)
    for r in range(oh):
        for k in range(t):
            src_row[r, k] = _reflect(r + crop + k - rad, h)
    pad_src = np.empty(pw, dtype=np.int64)
    for j in range(pw):
        pad_src[j] = _reflect(j - rad, w)
    rng = np.empty(nr)
    totals = np.empty(c)
    for q in range(n):
        # 1. codes (masked) and the generated image's range
        hi, lo = 0, 255
        for i in range(h):
            cx, cy = codes[0, i], codes[1, i]
            ri, gi = ref[q, i], gen[q, i]
            if use_masks:
                mi = masks[q, i]
                first, last = w, -1
                for j in range(w):
                    for ch in range(c):
                        grow[j * c + ch] = mi[j]
                    if mi[j]:
                        last = j
                        if first == w:
                            first = j
                if zeros_outside:
                    row_first[i], row_last[i] = first, last
                for m in range(wc):
                    cx[m] = ri[m] * grow[m]
                for m in range(wc):
                    cy[m] = gi[m] * grow[m]
            else:
                for m in range(wc):
                    cx[m] = ri[m]
                for m in range(wc):
                    cy[m] = gi[m]
            for m in range(wc):
                v = cy[m]
                if v > hi:
                    hi = v
                if v < lo:
                    lo = v
        gen_range = (levels[hi] - levels[lo]) if use_levels else float(hi) - float(lo)
        for k in range(nr):
            rng[k] = gen_range if np.isnan(ranges[q, k]) else ranges[q, k]
        base = rng[0] if rng[0] > 0 else fallback
        scale = 1.0 / base
        # 2. the maps
        x, y, s, p = maps[0], maps[1], maps[2], maps[3]
        for i in range(h):
            cx, cy, xi, yi = codes[0, i], codes[1, i], x[i], y[i]
            if use_levels:
                for m in range(wc):
                    xi[m] = levels[cx[m]] * scale
                for m in range(wc):
                    yi[m] = levels[cy[m]] * scale
            else:
                for m in range(wc):
                    xi[m] = cx[m] * scale
                for m in range(wc):
                    yi[m] = cy[m] * scale
            si, pi = s[i], p[i]
            for m in range(wc):
                si[m] = xi[m] * xi[m] + yi[m] * yi[m]
            for m in range(wc):
                pi[m] = xi[m] * yi[m]
        # 3. filtering, map by map; along the rows only over the columns some mask keeps in the
        # window (elsewhere the result is 0.0 either way)
        for r in range(oh):
            first, last = w, -1
            for k in range(t):
                first = min(first, row_first[src_row[r, k]])
                last = max(last, row_last[src_row[r, k]])
            out_first[r], out_last[r] = first * c, (last + 1) * c
        core = line[rad * c:(rad + w) * c]
        for mi in range(4):
            src_map, dst = maps[mi], filt[mi]
            for r in range(oh):
                core[:] = 0.0
                a, b = out_first[r], out_last[r]
                if b <= a:
                    dst[r, :] = 0.0
                    continue
                part = core[a:b]
                k = 0
                while k + 4 <= t:  # four taps per pass: fewer loads and stores per product
                    w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
                    s0, s1 = src_map[src_row[r, k]][a:b], src_map[src_row[r, k + 1]][a:b]
                    s2, s3 = src_map[src_row[r, k + 2]][a:b], src_map[src_row[r, k + 3]][a:b]
                    for m in range(b - a):
                        part[m] += w0 * s0[m] + w1 * s1[m] + w2 * s2[m] + w3 * s3[m]
                    k += 4
                while k < t:
                    wk, s0 = weights[k], src_map[src_row[r, k]][a:b]
                    for m in range(b - a):
                        part[m] += wk * s0[m]
                    k += 1
                for j in range(rad):
                    for jj in (j, pw - 1 - j):
                        sj = (rad + pad_src[jj]) * c
                        for ch in range(c):
                            line[jj * c + ch] = line[sj + ch]
                # along the columns: only the outputs whose window meets [first, last] when no
                # reflected copy of a kept column enters the padding
                j0, j1 = 0, ow
                first, last = a // c, b // c - 1
                if first >= rad and last <= w - 1 - rad:
                    j0 = max(0, rad + first - crop - t + 1)
                    j1 = min(ow, rad + last - crop + 1)
                out_row = dst[r]
                out_row[:] = 0.0
                part = out_row[j0 * c:j1 * c]
                n_out = (j1 - j0) * c
                k = 0
                while k + 4 <= t:
                    w0, w1, w2, w3 = weights[k], weights[k + 1], weights[k + 2], weights[k + 3]
                    o = (crop + k + j0) * c
                    s0, s1 = line[o:o + n_out], line[o + c:o + c + n_out]
                    s2, s3 = line[o + 2 * c:o + 2 * c + n_out], line[o + 3 * c:o + 3 * c + n_out]
                    for m in range(n_out):
                        part[m] += w0 * s0[m] + w1 * s1[m] + w2 * s2[m] + w3 * s3[m]
                    k += 4
                while k < t:
                    wk, o = weights[k], (crop + k + j0) * c
                    s0 = line[o:o + n_out]
                    for m in range(n_out):
                        part[m] += wk * s0[m]
                    k += 1
        # 4. the SSIM map's sums, per data range
        for k in range(nr):
            r_k = rng[k]
            ratio = (r_k if r_k > 0 else base) / base
            ratio = ratio * ratio
            c1 = k1sq * ratio
            c2 = k2sq * ratio
            c1h, c2h = c1 * 0.5, c2 * 0.5
            totals[:] = 0.0
            for r in range(oh):
                ux, uy, sf, pf = filt[0, r], filt[1, r], filt[2, r], filt[3, r]
                for m in range(owc):
                    tt = ux[m] * uy[m]
                    qq = ux[m] * ux[m] + uy[m] * uy[m]
                    var = (sf[m] - qq) * cov_norm
                    cov = (pf[m] - tt) * cov_norm
                    vals[m] = ((tt + c1h) * (cov + c2h)) / ((qq + c1) * (var + c2))
                for ch in range(c):
                    acc = 0.0
                    for j in range(ow):
                        acc += vals[j * c + ch]
                    totals[ch] += acc
            mean = 0.0
            for ch in range(c):
                mean += totals[ch] * 4.0
            out[q, k] = (mean / c) / (oh * ow) if r_k > 0 else np.nan
