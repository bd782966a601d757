"""Pose masks vs an independent reference of PATN's produce_ma_mask (PROTOCOL.md 3.4).

The reference follows the original line by line on (y, x) int keypoints: polygon fill by a
transcription of scikit-image 0.14.2's ``_polygon`` (Cython, half-open crossing number over the
clipped bounding box), joints by today's ``skimage.draw.disk``, closing by today's
``skimage.morphology.dilation`` / ``erosion``. Today's ``skimage.draw.polygon`` also draws
boundary points (PR #5029, scikit-image 0.18); the tests check that this is the only difference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from skimage.draw import disk, polygon
from skimage.morphology import dilation, erosion

from bench.keypoints import MASK_LIMBS
from bench.metrics.masks import clear_mask_cache, pose_mask, pose_masks

MARKET = (128, 64)
FASHION = (256, 256)
FOOTPRINT = np.ones((5, 5), dtype=bool)  # skimage.morphology.square(5)


# -- reference ---------------------------------------------------------------------------------
def polygon_0142(r: np.ndarray, c: np.ndarray, shape) -> tuple[np.ndarray, np.ndarray]:
    """scikit-image 0.14.2 ``draw.polygon``: pixels of the clipped bounding box passing
    ``point_in_polygon`` (crossing number, ``yp[i] <= y < yp[j]``, ``x < x_cross``)."""
    if np.isnan(r).any() or np.isnan(c).any():
        # Cython casts ceil(nan) to INT64_MIN: the row loop is empty (NaN compares false too).
        return np.zeros(0, int), np.zeros(0, int)
    minr = int(max(0, r.min()))
    maxr = min(shape[0] - 1, int(math.ceil(r.max())))
    minc = int(max(0, c.min()))
    maxc = min(shape[1] - 1, int(math.ceil(c.max())))
    if maxr < minr or maxc < minc:  # range(minr, maxr + 1) is empty
        return np.zeros(0, int), np.zeros(0, int)
    yy = np.arange(minr, maxr + 1, dtype=np.float64)[:, None]  # the box's rows and columns
    xx = np.arange(minc, maxc + 1, dtype=np.float64)[None, :]
    inside = np.zeros((len(yy), xx.shape[1]), dtype=bool)
    j = len(r) - 1
    with np.errstate(divide="ignore", invalid="ignore"):
        for i in range(len(r)):
            straddle = ((r[i] <= yy) & (yy < r[j])) | ((r[j] <= yy) & (yy < r[i]))
            inside ^= straddle & (xx < (c[j] - c[i]) * (yy - r[i]) / (r[j] - r[i]) + c[i])
            j = i
    rows, cols = np.nonzero(inside)
    return rows + minr, cols + minc


def polygons_0142(verts: np.ndarray, shape, chunk: int = 512) -> list[np.ndarray]:
    """:func:`polygon_0142` of many polygons at once, (P, K, 2) (y, x) vertices -> the flat
    indices (row * W + col, ascending) of each one's pixels. The same expressions on the same
    float64 values, evaluated over a batch of bounding boxes (boxes padded to the largest of
    their chunk, the padding masked off); polygons sorted by box size so padding stays small."""
    r, c = verts[..., 0].astype(np.float64), verts[..., 1].astype(np.float64)
    h, w = shape
    out = [np.zeros(0, int)] * len(verts)
    usable = ~np.isnan(verts).any(axis=(1, 2))
    with np.errstate(invalid="ignore"):
        minr = np.maximum(0, np.where(usable, r.min(1), 0)).astype(int)
        maxr = np.minimum(h - 1, np.ceil(np.where(usable, r.max(1), -1)).astype(int))
        minc = np.maximum(0, np.where(usable, c.min(1), 0)).astype(int)
        maxc = np.minimum(w - 1, np.ceil(np.where(usable, c.max(1), -1)).astype(int))
    todo = np.flatnonzero(usable & (maxr >= minr) & (maxc >= minc))
    todo = todo[np.lexsort(((maxc - minc)[todo], (maxr - minr)[todo]))]
    k = verts.shape[1]
    for start in range(0, len(todo), chunk):
        p = todo[start:start + chunk]
        hb, wb = int((maxr - minr)[p].max()) + 1, int((maxc - minc)[p].max()) + 1
        yy = (minr[p, None] + np.arange(hb)).astype(np.float64)[:, :, None]
        xx = (minc[p, None] + np.arange(wb)).astype(np.float64)[:, None, :]
        inside = np.zeros((len(p), hb, wb), dtype=bool)
        j = k - 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in range(k):
                ri, rj = r[p, i, None, None], r[p, j, None, None]
                ci, cj = c[p, i, None, None], c[p, j, None, None]
                straddle = ((ri <= yy) & (yy < rj)) | ((rj <= yy) & (yy < ri))
                inside ^= straddle & (xx < (cj - ci) * (yy - ri) / (rj - ri) + ci)
                j = i
        inside &= (yy <= maxr[p, None, None]) & (xx <= maxc[p, None, None])
        for q, idx in enumerate(p):
            rows, cols = np.nonzero(inside[q])
            out[idx] = (rows + minr[idx]) * w + cols + minc[idx]
    return out


def limb_polygons(kp: np.ndarray, radius=4):
    """PATN's quadrilateral vertices (y, x) for each drawable limb of int (18, 2) (y, x)."""
    for f, t in MASK_LIMBS:
        if -1 in kp[f] or -1 in kp[t]:
            continue
        v = kp[f] - kp[t]
        v = np.array([-v[1], v[0]])
        with np.errstate(divide="ignore", invalid="ignore"):
            v = radius * v / np.linalg.norm(v)
        yield np.array([kp[f] + v, kp[f] - v, kp[t] - v, kp[t] + v])


def all_limb_polygons(kp_rows: np.ndarray, radius=4) -> tuple[np.ndarray, np.ndarray]:
    """:func:`limb_polygons` of every row of (N, 18, 2) int (y, x) at once, in the same order,
    with the same expressions -> ((P, 4, 2) vertices, (P,) owning row)."""
    f = np.array([a for a, _ in MASK_LIMBS])
    t = np.array([b for _, b in MASK_LIMBS])
    present = (kp_rows != -1).all(-1)
    rows, limbs = np.nonzero(present[:, f] & present[:, t])
    kf, kt = kp_rows[rows, f[limbs]], kp_rows[rows, t[limbs]]
    v = kf - kt
    v = np.stack([-v[:, 1], v[:, 0]], axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        v = radius * v / np.sqrt((v * v).sum(1))[:, None]
    return np.stack([kf + v, kf - v, kt - v, kt + v], axis=1).astype(np.float64), rows


def reference_mask(kp: np.ndarray, shape, fill=polygon_0142, closing=True) -> np.ndarray:
    mask = np.zeros(shape, dtype=bool)
    for verts in limb_polygons(kp):
        yy, xx = fill(verts[:, 0], verts[:, 1], shape)
        mask[yy, xx] = True
    for joint in kp:
        if -1 in joint:
            continue
        yy, xx = disk((joint[0], joint[1]), 4, shape=shape)
        mask[yy, xx] = True
    if closing:
        mask = erosion(dilation(mask, FOOTPRINT), FOOTPRINT)
    return mask


def reference_masks(kp_rows: np.ndarray, shape) -> np.ndarray:
    """:func:`reference_mask` of each row of (N, 18, 2) int (y, x), the polygons filled in
    batches (:func:`polygons_0142`, checked equal to :func:`polygon_0142`)."""
    polys, owners = all_limb_polygons(kp_rows)
    out = np.zeros((len(kp_rows), *shape), dtype=bool)
    fills = polygons_0142(polys, shape) if len(polys) else []
    for i, flat in zip(owners, fills, strict=True):
        out[i].reshape(-1)[flat] = True
    for i, row in enumerate(kp_rows):
        for joint in row:
            if -1 in joint:
                continue
            yy, xx = disk((joint[0], joint[1]), 4, shape=shape)
            out[i, yy, xx] = True
    # the closing of each mask: a 1x5x5 footprint never reaches across masks
    return erosion(dilation(out, FOOTPRINT[None]), FOOTPRINT[None])


def as_xy(kp_yx: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(kp_yx[..., ::-1]).astype(np.float32)


def assert_rows_match(kp_yx: np.ndarray, shape) -> None:
    ours = pose_masks(as_xy(kp_yx), shape, cache=False)
    bad = []
    for start in range(0, len(kp_yx), 1000):
        rows = slice(start, start + 1000)
        same = (ours[rows] == reference_masks(kp_yx[rows], shape)).all(axis=(1, 2))
        bad += (np.flatnonzero(~same) + start).tolist()
    assert not bad, f"{len(bad)} of {len(kp_yx)} masks differ, first rows {bad[:5]}"


def interesting_rows(kp: np.ndarray, shape, every: int) -> np.ndarray:
    """Every ``every``-th annotated row plus rows with zero-length or axis-aligned limbs and
    joints on the image border."""
    present = (kp >= 0).all(-1)
    f = np.array([a for a, _ in MASK_LIMBS])
    t = np.array([b for _, b in MASK_LIMBS])
    both = present[:, f] & present[:, t]
    d = kp[:, f] - kp[:, t]
    zero = (both & (d == 0).all(-1)).any(1)
    aligned = (both & (d == 0).any(-1)).any(1)
    border = (present & ((kp == 0) | (kp == np.array(shape) - 1)).any(-1)).any(1)
    pick = set(np.flatnonzero(present.any(1))[::every]) | set(np.flatnonzero(zero))
    pick |= set(np.flatnonzero(border)[::every]) | set(np.flatnonzero(aligned)[::every])
    return np.array(sorted(pick))


# -- real annotation rows ----------------------------------------------------------------------
def test_market_rows_subset(market_rows):
    _, kp = market_rows
    rows = interesting_rows(kp, MARKET, every=60)
    assert len(rows) > 300
    assert_rows_match(kp[rows], MARKET)


def test_fashion_rows_subset(fashion_rows):
    _, kp = fashion_rows
    rows = interesting_rows(kp, FASHION, every=40)
    assert len(rows) > 90
    assert_rows_match(kp[rows], FASHION)


@pytest.mark.slow
def test_market_every_row(market_rows):
    _, kp = market_rows
    assert len(kp) == 19732
    assert_rows_match(kp, MARKET)


@pytest.mark.slow
def test_fashion_every_row(fashion_rows):
    _, kp = fashion_rows
    assert len(kp) == 4038
    assert_rows_match(kp, FASHION)


def test_empty_rows_give_empty_masks(market_rows):
    _, kp = market_rows
    empty = np.flatnonzero((kp < 0).any(-1).all(-1))
    assert len(empty) == 3445  # PROTOCOL.md 3.1
    assert not pose_masks(as_xy(kp[empty[:50]]), MARKET, cache=False).any()


# -- the polygon rule of 0.14.2 vs today's scikit-image ----------------------------------------
def on_boundary(verts: np.ndarray, pts: np.ndarray, tol=1e-9) -> np.ndarray:
    """Whether each (y, x) point lies on an edge of its polygon: ``verts`` (D, K, 2), the
    polygon of each of the D points (D, 2)."""
    a, b = verts, np.roll(verts, -1, axis=1)
    ab = b - a
    ap = pts[:, None, :] - a
    with np.errstate(divide="ignore", invalid="ignore"):
        u = np.clip((ap * ab).sum(-1) / (ab * ab).sum(-1), 0, 1)
    dist = np.linalg.norm(ap - u[..., None] * ab, axis=-1)
    return (dist <= tol).any(1)


def check_polygon_rules(kp: np.ndarray, shape) -> int:
    """The two rules disagree only on pixels on the boundary (within rounding): today's draws
    boundary points, 0.14.2 only those on its half-open side, and the two compute the crossing
    with different expressions. Returns the number of differing pixels."""
    polys, _ = all_limb_polygons(kp)
    old = polygons_0142(polys, shape)
    w = shape[1]
    owners, points = [], []
    for p, verts in enumerate(polys):
        rr, cc = polygon(verts[:, 0], verts[:, 1], shape)
        new = np.sort(rr * w + cc)  # np.unique, without its hashing
        new = new[np.concatenate(([True], new[1:] != new[:-1]))] if len(new) else new
        if len(new) == len(old[p]) and np.array_equal(new, old[p]):
            continue
        diff = np.setxor1d(old[p], new, assume_unique=True)
        owners.append(np.full(len(diff), p))
        points.append(diff)
    if not points:
        return 0
    owner, flat = np.concatenate(owners), np.concatenate(points)
    pts = np.stack([flat // w, flat % w], axis=1).astype(np.float64)
    off = ~on_boundary(polys[owner], pts)
    assert not off.any(), f"{off.sum()} differing pixels off the boundary, e.g. polygon " \
        f"{polys[owner[off][0]].tolist()} pixel {pts[off][0].tolist()}"
    return len(flat)


def test_todays_polygon_adds_only_boundary_pixels(market_rows):
    _, kp = market_rows
    rows = interesting_rows(kp, MARKET, every=300)
    assert check_polygon_rules(kp[rows], MARKET) > 0  # the rules do differ on real rows


def test_batched_transcription_equals_the_transcription(market_rows):
    """The every-row checks fill polygons in batches: the same pixels as one at a time."""
    _, kp = market_rows
    rows = interesting_rows(kp, MARKET, every=100)
    polys = np.array([v for row in kp[rows] for v in limb_polygons(row)], dtype=np.float64)
    batch, owners = all_limb_polygons(kp[rows])
    assert np.array_equal(batch, polys, equal_nan=True)  # NaN: zero-length limbs
    assert np.array_equal(owners, [i for i, row in enumerate(kp[rows])
                                   for _ in limb_polygons(row)])
    rng = np.random.default_rng(3)  # and polygons reaching out of the frame, NaN, degenerate
    odd = rng.uniform(-30, 160, (200, 4, 2))
    odd[:5] = np.nan
    odd[5:10] = odd[5:10, :1]
    polys = np.concatenate([polys, odd])
    masks = reference_masks(kp[rows[:60]], MARKET)
    for row, mask in zip(kp[rows[:60]], masks, strict=True):
        assert np.array_equal(mask, reference_mask(row, MARKET))
    for shape in (MARKET, (37, 23)):
        batched = polygons_0142(polys, shape, chunk=64)
        for verts, flat in zip(polys, batched, strict=True):
            rr, cc = polygon_0142(verts[:, 0], verts[:, 1], shape)
            assert np.array_equal(flat, rr * shape[1] + cc)


@pytest.mark.slow
def test_todays_polygon_adds_only_boundary_pixels_every_row(market_rows, fashion_rows):
    check_polygon_rules(market_rows[1], MARKET)
    check_polygon_rules(fashion_rows[1], FASHION)


def test_transcription_equals_todays_polygon_in_general_position():
    rng = np.random.default_rng(0)
    for _ in range(300):
        r = rng.uniform(-20, 150, 4) + 0.37
        c = rng.uniform(-20, 80, 4) + 0.29
        old = set(zip(*polygon_0142(r, c, MARKET), strict=True))
        new = set(zip(*polygon(r, c, MARKET), strict=True))
        assert old == new


def test_axis_aligned_limb_differs_from_todays_skimage():
    kp = np.full((18, 2), -1)
    kp[8] = (60, 20)  # r_hip (y, x)
    kp[11] = (60, 40)  # l_hip: a horizontal limb, vertices on integer pixels
    ours = pose_mask(as_xy(kp), MARKET)
    assert np.array_equal(ours, reference_mask(kp, MARKET))
    today = reference_mask(kp, MARKET, fill=polygon)
    assert not np.array_equal(ours, today)
    assert (today & ~ours).any() and not (ours & ~today).any()


# -- hand-built edge cases ---------------------------------------------------------------------
def keypoints(**joints) -> np.ndarray:
    """(18, 2) int (y, x) with the given joints (index=(y, x)), others missing."""
    kp = np.full((18, 2), -1)
    for name, yx in joints.items():
        kp[int(name[1:])] = yx
    return kp


EDGE_CASES = {
    "single joint": keypoints(j0=(50, 30)),
    "joints on the border": keypoints(j1=(0, 0), j2=(0, 63), j5=(127, 0), j8=(127, 63),
                                      j11=(64, 0), j9=(100, 63)),
    "out of frame": keypoints(j1=(-10, 30), j2=(140, 70), j5=(130, 10), j8=(60, 80),
                              j11=(60, -8), j14=(200, 200)),
    "far out of frame": keypoints(j1=(10**9, 30), j2=(-10**9, 20), j5=(60, 10**9), j8=(60, 30),
                                  j11=(-10**9, -10**9)),
    "zero-length limb": keypoints(j1=(40, 30), j2=(40, 30), j5=(60, 20), j0=(40, 30)),
    "all joints on one pixel": np.tile(np.array([[64, 32]]), (18, 1)),
    "near-vertical limbs": keypoints(j1=(10, 30), j8=(120, 31), j11=(120, 29), j2=(11, 30)),
    "all missing": keypoints(),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_edge_cases(case):
    kp = EDGE_CASES[case]
    ours = pose_mask(as_xy(kp), MARKET)
    assert ours.shape == MARKET and ours.dtype == bool
    assert np.array_equal(ours, reference_mask(kp, MARKET))
    assert np.array_equal(
        pose_masks(as_xy(kp)[None], MARKET, closing=False, cache=False)[0],
        reference_mask(kp, MARKET, closing=False),
    )


def test_zero_length_limb_draws_only_the_disks():
    kp = keypoints(j1=(40, 30), j2=(40, 30))
    assert np.array_equal(pose_mask(as_xy(kp), MARKET), pose_mask(as_xy(keypoints(j1=(40, 30))), MARKET))


def test_fractional_keypoints_match_reference():
    rng = np.random.default_rng(1)
    for _ in range(40):
        kp_xy = rng.uniform(-6, 70, (18, 2)).astype(np.float32)
        kp_xy[:, 1] *= 2
        kp_xy[rng.random(18) < 0.2] = -1
        kp_yx = kp_xy[:, ::-1].astype(np.float64)
        assert np.array_equal(pose_mask(kp_xy, MARKET), reference_mask(kp_yx, MARKET))


def test_tiny_image():
    kp = keypoints(j1=(1, 1), j2=(2, 3))
    assert np.array_equal(pose_mask(as_xy(kp), (3, 4)), reference_mask(kp, (3, 4)))


# -- batching, cache, errors -------------------------------------------------------------------
def test_batch_and_cache_consistency(market_rows):
    _, kp = market_rows
    kxy = as_xy(kp[1:60])
    clear_mask_cache()
    cold = pose_masks(kxy, MARKET)
    warm = pose_masks(kxy, MARKET)
    single = np.stack([pose_mask(k, MARKET) for k in kxy])
    assert np.array_equal(cold, warm) and np.array_equal(cold, single)
    warm[0] ^= True  # callers get copies: the cache is not modified
    assert np.array_equal(pose_masks(kxy[:1], MARKET)[0], cold[0])
    assert pose_masks(np.zeros((0, 18, 2), np.float32), MARKET).shape == (0, 128, 64)


def test_bad_input():
    with pytest.raises(ValueError, match=r"\(N, 18, 2\)"):
        pose_masks(np.zeros((2, 17, 2)), MARKET)
    with pytest.raises(ValueError, match=r"\(18, 2\)"):
        pose_mask(np.zeros((18, 3)), MARKET)
    with pytest.raises(ValueError, match="finite"):
        pose_masks(np.full((1, 18, 2), np.nan), MARKET)
    with pytest.raises(ValueError, match="size"):
        pose_masks(np.zeros((1, 18, 2)), (128,))
