"""The ``warp`` baseline: contract (shape, range, device, determinism, robustness) and that it
actually moves body parts to the target pose, on stick figures drawn here with numpy."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.models import GENERATORS, ModelSpec, Provenance
from bench.models.modules import NoParameters
from bench.models.warp import Warp

H, W = 128, 64

# A frontal standing person in the 128x64 frame, COCO-18 order (x, y).
BASE = np.array(
    [
        (32, 18), (32, 30), (23, 31), (20, 46), (19, 60), (41, 31), (44, 46), (45, 60),
        (27, 62), (26, 86), (26, 110), (37, 62), (38, 86), (38, 110), (30, 16), (34, 16),
        (28, 17), (36, 17),
    ],
    dtype=np.float32,
)


def _capsule(a, b, r, h=H, w=W) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    a, b = np.asarray(a, float), np.asarray(b, float)
    e = b - a
    t = np.clip(((xx - a[0]) * e[0] + (yy - a[1]) * e[1]) / max((e * e).sum(), 1e-9), 0, 1)
    return np.hypot(xx - a[0] - t * e[0], yy - a[1] - t * e[1]) <= r


def draw_person(k: np.ndarray, h: int = H, w: int = W) -> tuple[np.ndarray, np.ndarray]:
    """A stick person with differently coloured torso, limbs and head on a striped background.

    Returns the (h, w, 3) float32 image in [0, 1] and the boolean body mask.
    """
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.empty((h, w, 3), np.float32)
    img[:] = (0.55, 0.72, 0.6)
    img += (0.08 * np.sin(xx / 5.0))[..., None] * np.array([1.0, -1.0, 0.5], np.float32)
    body = np.zeros((h, w), bool)
    s = float(np.hypot(*(k[2] - k[5])))

    def put(mask, color):
        img[mask] = color
        body[mask] = True

    legs = ((8, 9, (0.2, 0.2, 0.6)), (9, 10, (0.1, 0.1, 0.4)),
            (11, 12, (0.3, 0.2, 0.65)), (12, 13, (0.15, 0.1, 0.45)))
    for a, b, color in legs:
        put(_capsule(k[a], k[b], 0.22 * s, h, w), color)
    for a, b in ((2, 5), (8, 11), (2, 8), (5, 11), (1, 8), (1, 11), (2, 11), (5, 8)):
        put(_capsule(k[a], k[b], 0.2 * s, h, w), (0.85, 0.3, 0.2))
    arms = ((2, 3, (0.9, 0.8, 0.1)), (3, 4, (0.95, 0.65, 0.5)),
            (5, 6, (0.6, 0.9, 0.1)), (6, 7, (0.95, 0.65, 0.5)))
    for a, b, color in arms:
        put(_capsule(k[a], k[b], 0.15 * s, h, w), color)
    head = k[[0, 14, 15, 16, 17]].mean(0)
    put(_capsule(k[1], head, 0.15 * s, h, w), (0.9, 0.75, 0.6))
    put(_capsule(head, head, 0.33 * s, h, w), (0.95, 0.8, 0.65))
    return np.clip(img, 0, 1), body


def rotate_joint(k: np.ndarray, center: int, joint: int, angle: float) -> np.ndarray:
    k = k.copy()
    d = k[joint] - k[center]
    c, s = np.cos(angle), np.sin(angle)
    k[joint] = k[center] + (c * d[0] - s * d[1], s * d[0] + c * d[1])
    return k


def _gen(size=(H, W)) -> Warp:
    return Warp(ModelSpec(name="warp", size=size))


def _run(gen, src_k, tgt_k, img=None):
    """Warp the stick person drawn at ``src_k`` (or ``img``) to ``tgt_k``; numpy HWC out."""
    if img is None:
        img = draw_person(src_k)[0]
    out = gen.generate(
        torch.from_numpy(img).permute(2, 0, 1)[None].contiguous(),
        torch.from_numpy(np.asarray(src_k, np.float32)[None]),
        torch.from_numpy(np.asarray(tgt_k, np.float32)[None]),
    )
    return out[0].permute(1, 2, 0).numpy()


def _batch(n=4, size=(H, W), seed=0):
    rng = np.random.default_rng(seed)
    h, w = size
    k = BASE * np.array([w / W, h / H], np.float32)
    src = torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))
    ks = torch.from_numpy((k[None] + rng.normal(0, 2, (n, 18, 2))).astype(np.float32))
    kt = torch.from_numpy((k[None] + rng.normal(0, 5, (n, 18, 2))).astype(np.float32))
    return src, ks, kt


# ------------------------------------------------------------------------------- contract
def test_registered_with_name_module_and_provenance():
    gen = GENERATORS.get("warp")(ModelSpec(name="warp", size=(H, W)))
    assert isinstance(gen, Warp)
    assert gen.name == "warp"
    assert isinstance(gen.module, NoParameters)
    assert isinstance(Warp.provenance, Provenance)
    assert "piecewise-affine" in Warp.provenance.paper
    assert not Warp.provenance.reference_bound


@pytest.mark.parametrize("size", [(128, 64), (256, 176)])
def test_shape_dtype_range_device(size):
    src, ks, kt = _batch(3, size)
    out = _gen(size).generate(src, ks, kt)
    assert out.shape == src.shape
    assert out.dtype == torch.float32
    assert out.device == src.device
    assert torch.isfinite(out).all()
    assert out.min() >= 0 and out.max() <= 1
    assert not out.requires_grad


def test_deterministic_and_independent_of_batching():
    src, ks, kt = _batch(5)
    gen = _gen()
    a = gen.generate(src, ks, kt)
    assert torch.equal(a, gen.generate(src, ks, kt))
    singles = torch.cat([gen.generate(src[i:i + 1], ks[i:i + 1], kt[i:i + 1]) for i in range(5)])
    assert torch.allclose(a, singles, atol=1e-5)
    gen.chunk_pixels = H * W * 2  # chunks of two pairs
    assert torch.allclose(a, gen.generate(src, ks, kt), atol=1e-5)


def test_accepts_numpy_and_float64_keypoints():
    src, ks, kt = _batch(2)
    gen = _gen()
    ref = gen.generate(src, ks, kt)
    assert torch.allclose(gen.generate(src, ks.numpy(), kt.double()), ref, atol=1e-5)


def test_empty_batch():
    out = _gen().generate(torch.zeros(0, 3, H, W), torch.zeros(0, 18, 2), torch.zeros(0, 18, 2))
    assert out.shape == (0, 3, H, W)


def test_rejects_bad_shapes():
    with pytest.raises(ValueError):
        _gen().generate(torch.zeros(1, 4, H, W), torch.zeros(1, 18, 2), torch.zeros(1, 18, 2))
    with pytest.raises(ValueError):
        _gen().generate(torch.zeros(2, 3, H, W), torch.zeros(1, 18, 2), torch.zeros(2, 18, 2))


# ------------------------------------------------------------------------------ robustness
def test_all_missing_returns_the_source():
    src, ks, _ = _batch(2)
    missing = torch.full((2, 18, 2), -1.0)
    gen = _gen()
    for a, b in ((ks, missing), (missing, ks), (missing, missing)):
        out = gen.generate(src, a, b)
        assert torch.allclose(out, src, atol=1e-6)


@pytest.mark.parametrize("case", ["partial", "torso_only", "no_torso", "one_joint", "limbs_only"])
def test_partially_missing_keypoints(case):
    src, ks, kt = _batch(4, seed=1)
    ks, kt = ks.clone(), kt.clone()
    rng = np.random.default_rng(2)
    if case == "partial":
        ks[torch.from_numpy(rng.random((4, 18)) < 0.4)] = -1
        kt[torch.from_numpy(rng.random((4, 18)) < 0.4)] = -1
    elif case == "torso_only":
        keep = [1, 2, 5, 8, 11]
        drop = [j for j in range(18) if j not in keep]
        ks[:, drop] = -1
        kt[:, drop] = -1
    elif case == "no_torso":
        ks[:, [1, 2, 5, 8, 11]] = -1
    elif case == "one_joint":
        ks[:, 1:] = -1
        kt[:, 1:] = -1
    else:  # a single limb shared: falls back to a global similarity
        ks[:, [0, 1, 2, 5, 8, 11, 14, 15, 16, 17]] = -1
    out = _gen().generate(src, ks, kt)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_out_of_frame_and_degenerate_keypoints():
    src, ks, kt = _batch(6, seed=3)
    ks, kt = ks.clone(), kt.clone()
    kt[0] += 500.0  # whole target far outside the frame
    kt[1, 9:14] = torch.tensor([[30.0, 200.0], [30.0, 260.0], [40.0, 200.0], [40.0, 260.0],
                                [40.0, 300.0]])  # legs below the frame
    kt[2] = kt[2, 1]  # every joint on one point
    ks[3] = ks[3, 1]
    kt[4, 3] = float("nan")
    ks[4, 6] = float("inf")
    kt[5] = -1e9
    kt[5, 1] = torch.tensor([1e9, -1e9])
    out = _gen().generate(src, ks, kt)
    assert torch.isfinite(out).all() and out.min() >= 0 and out.max() <= 1


def test_nan_image_values_do_not_leak():
    src, ks, kt = _batch(1)
    src = src.clone()
    src[0, :, 10:20, 10:20] = float("nan")
    out = _gen().generate(src, ks, kt)
    assert torch.isfinite(out).all()


def test_joints_cut_off_by_the_frame_are_still_drawn():
    # Target: the figure moved down so that the knees and ankles leave the frame.
    tgt = BASE + np.array([0, 50], np.float32)
    tgt_missing = tgt.copy()
    tgt_missing[[9, 10, 12, 13]] = -1  # the detector found no knees/ankles (out of frame)
    expected, body = draw_person(tgt)
    out = _run(_gen(), BASE, tgt_missing)
    err = np.abs(out - expected).mean(-1)
    thighs = body & (np.arange(H)[:, None] > 115)
    assert err[thighs].mean() < 0.1


# -------------------------------------------------------------------------------- quality
def test_identity_reproduces_the_source():
    img, body = draw_person(BASE)
    out = _run(_gen(), BASE, BASE)
    err = np.abs(out - img).mean(-1)
    assert err[body].mean() < 0.01
    assert err.mean() < 0.01
    assert np.quantile(err[body], 0.99) < 0.1


@pytest.mark.parametrize("shift", [(6, 5), (-8, 3), (3, -10)])
def test_translation_follows_the_keypoints(shift):
    tgt = BASE + np.asarray(shift, np.float32)
    src_img, src_body = draw_person(BASE)
    expected, tgt_body = draw_person(tgt)
    out = _run(_gen(), BASE, tgt)
    region = src_body | tgt_body
    warp_err = np.abs(out - expected).mean(-1)[region].mean()
    source_err = np.abs(src_img - expected).mean(-1)[region].mean()
    assert warp_err < 0.25 * source_err
    assert np.abs(out - expected).mean(-1)[tgt_body].mean() < 0.03


@pytest.mark.parametrize("angle", [-1.4, -0.8, 0.9])
def test_forearm_rotation(angle):
    tgt = rotate_joint(BASE, 6, 7, angle)  # left wrist about the left elbow
    src_img, _ = draw_person(BASE)
    expected, _ = draw_person(tgt)
    s = float(np.hypot(*(BASE[2] - BASE[5])))
    forearm = _capsule(tgt[6], tgt[7], 0.15 * s) & ~_capsule(tgt[6], tgt[6], 0.3 * s)
    out = _run(_gen(), BASE, tgt)
    warp_err = np.abs(out - expected).mean(-1)[forearm].mean()
    source_err = np.abs(src_img - expected).mean(-1)[forearm].mean()
    assert warp_err < 0.35 * source_err
    # and the forearm is not left behind where it was in the source
    old = _capsule(BASE[6], BASE[7], 0.1 * s) & ~_capsule(tgt[6], tgt[7], 0.4 * s)
    old &= ~_capsule(BASE[6], BASE[6], 0.3 * s)
    assert np.abs(out - expected).mean(-1)[old].mean() < 0.5 * np.abs(src_img - expected).mean(-1)[old].mean()


def test_whole_leg_rotation():
    tgt = rotate_joint(rotate_joint(BASE, 11, 12, -0.6), 11, 13, -0.6)
    src_img, src_body = draw_person(BASE)
    expected, tgt_body = draw_person(tgt)
    out = _run(_gen(), BASE, tgt)
    region = (src_body ^ tgt_body) | _capsule(tgt[11], tgt[13], 4)
    warp_err = np.abs(out - expected).mean(-1)[region].mean()
    source_err = np.abs(src_img - expected).mean(-1)[region].mean()
    assert warp_err < 0.5 * source_err


def test_scaling_follows_the_keypoints():
    center = np.array([32.0, 64.0], np.float32)
    tgt = (BASE - center) * 0.8 + center
    src_img, src_body = draw_person(BASE)
    expected, tgt_body = draw_person(tgt)
    out = _run(_gen(), BASE, tgt)
    region = src_body | tgt_body
    warp_err = np.abs(out - expected).mean(-1)[region].mean()
    source_err = np.abs(src_img - expected).mean(-1)[region].mean()
    assert warp_err < 0.4 * source_err


def test_background_is_not_black_where_the_body_was():
    tgt = BASE + np.array([14, 0], np.float32)  # person walks to the right
    src_img, src_body = draw_person(BASE)
    _, tgt_body = draw_person(tgt)
    out = _run(_gen(), BASE, tgt)
    uncovered = src_body & ~tgt_body
    bg_color = np.array([0.55, 0.72, 0.6])
    assert np.abs(out[uncovered] - bg_color).mean() < 0.1


def test_works_at_the_fashion_size():
    h, w = 256, 176
    k = BASE * np.array([w / W, h / H], np.float32)
    tgt = k + np.array([10, -6], np.float32)
    src_img, src_body = draw_person(k, h, w)
    expected, tgt_body = draw_person(tgt, h, w)
    out = _run(_gen((h, w)), k, tgt, src_img)
    region = src_body | tgt_body
    warp_err = np.abs(out - expected).mean(-1)[region].mean()
    source_err = np.abs(src_img - expected).mean(-1)[region].mean()
    assert warp_err < 0.25 * source_err
