"""``warp``: a training-free piecewise-affine warping baseline for pose transfer.

Every body part (torso, head and neck, upper/lower arms and legs) is a region over the target
skeleton: a tapered box along the spine for the torso, a disc plus a neck capsule for the head,
and capsules around each bone for the limbs, with widths proportional to the body size (about
the shoulder-joint distance). For every part present in both poses a transform target ->
source is estimated from the shared joints: a least-squares affine regularised towards a
similarity for the torso, a similarity for the head, and for each limb a map of the bone onto
the bone that scales along the bone by the length ratio and across it by the body-size ratio
(so a foreshortened limb keeps its width). Target pixels are mapped back into the source and
sampled bilinearly (``grid_sample``); parts are painted back to front (torso, legs, arms,
head) with anti-aliased edges.

On the source side each pixel is owned by one part (the front-most part whose region holds
it, else the nearest), so a part never copies a neighbour's pixels; torso and legs are sampled
from a copy of the source with the arms inpainted, so an arm lying over the torso in the source
does not stay printed on it when the arm moves. A silhouette (source pixels that differ from
the estimated background) trims the parts, and within ``reach`` body scales around the parts
the nearest part carries that silhouette along (hair, loose clothes, bags).

Pixels no part covers show the source background: the source image with its body region
filled in from the surrounding pixels by push-pull inpainting. Target joints missing because
they fall outside the frame (close-ups) are placed from the source through the torso's
transform. Pairs without a shared torso joint fall back to a global similarity warp of the
whole source image over the joints the two poses share, or to the source image itself when
fewer than two joints are shared. Missing (-1), non-finite and out-of-frame keypoints are
handled; the output never contains NaN.

Usage::

    from bench.models import GENERATORS, ModelSpec

    gen = GENERATORS.get("warp")(ModelSpec(name="warp", size=(128, 64)))
    fake = gen.generate(src_img, src_kpts, tgt_kpts)  # (N, 3, 128, 64) float32 in [0, 1]

``src_img`` is a float32 (N, 3, H, W) tensor in [0, 1]; ``src_kpts`` and ``tgt_kpts`` are float32
(N, 18, 2) tensors of (x, y) pixel coordinates with -1 for a missing joint (:mod:`bench.keypoints`).
The output is deterministic and on the input's device.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from bench.keypoints import MISSING, NUM_JOINTS
from bench.models.base import ModelSpec, Provenance
from bench.models.modules import NoParameters

(NOSE, NECK, R_SHO, R_ELB, R_WRI, L_SHO, L_ELB, L_WRI, R_HIP, R_KNE, R_ANK, L_HIP, L_KNE, L_ANK,
 R_EYE, L_EYE, R_EAR, L_EAR) = range(NUM_JOINTS)

FACE = (NOSE, R_EYE, L_EYE, R_EAR, L_EAR)
HEAD_FIT = (NECK, *FACE)  # joints the head's similarity is fitted on
TORSO_FIT = (NECK, R_SHO, L_SHO, R_HIP, L_HIP)


@dataclass(frozen=True)
class _Limb:
    name: str
    a: int  # proximal joint
    b: int  # distal joint
    width: float  # half-width of the capsule, in body scales
    ext: float  # extension beyond the distal joint (hand, foot), in body scales


# Body scale s ~ the distance between the shoulder joints of a frontal person (~35 cm).
LEGS = (
    _Limb("r_thigh", R_HIP, R_KNE, 0.23, 0.0),
    _Limb("r_shin", R_KNE, R_ANK, 0.18, 0.20),
    _Limb("l_thigh", L_HIP, L_KNE, 0.23, 0.0),
    _Limb("l_shin", L_KNE, L_ANK, 0.18, 0.20),
)
ARMS = (
    _Limb("r_upper_arm", R_SHO, R_ELB, 0.16, 0.0),
    _Limb("r_forearm", R_ELB, R_WRI, 0.14, 0.22),
    _Limb("l_upper_arm", L_SHO, L_ELB, 0.16, 0.0),
    _Limb("l_forearm", L_ELB, L_WRI, 0.14, 0.22),
)

# (joint a, joint b, typical |ab| / s): estimates of the body scale from one segment. The torso
# group is preferred; the rest only where no torso segment is available.
_SCALE_TORSO = ((R_SHO, L_SHO, 1.0), (R_HIP, L_HIP, 0.6), (NECK, R_HIP, 1.5), (NECK, L_HIP, 1.5),
                (R_SHO, R_HIP, 1.45), (L_SHO, L_HIP, 1.45))
_SCALE_OTHER = ((R_SHO, R_ELB, 0.85), (L_SHO, L_ELB, 0.85), (R_ELB, R_WRI, 0.8),
                (L_ELB, L_WRI, 0.8), (R_HIP, R_KNE, 1.3), (L_HIP, L_KNE, 1.3), (R_KNE, R_ANK, 1.25),
                (L_KNE, L_ANK, 1.25), (R_EAR, L_EAR, 0.43), (NOSE, NECK, 0.7), (R_SHO, NECK, 0.5),
                (L_SHO, NECK, 0.5), (R_EYE, L_EYE, 0.19))

_ARM_NAMES = frozenset(limb.name for limb in ARMS)
_BACK_NAMES = frozenset({"torso"} | {limb.name for limb in LEGS})

# How far beyond each kind of part the source silhouette is carried, relative to ``reach``.
_REACH = {"torso": 1.0, "head": 0.8, "limb": 0.4}

_EPS = 1e-6


# --------------------------------------------------------------------------------------------
# Keypoint geometry (numpy, vectorised over the batch)
# --------------------------------------------------------------------------------------------
def _clean(kpts: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """float64 keypoints with missing/non-finite joints zeroed and wild values clipped."""
    kpts = np.asarray(kpts, dtype=np.float64)
    pres = (np.isfinite(kpts).all(-1) & (kpts[..., 0] != MISSING) & (kpts[..., 1] != MISSING))
    big = 4.0 * max(size)
    kpts = np.where(pres[..., None], np.clip(np.nan_to_num(kpts), -big, big + max(size)), 0.0)
    return kpts, pres


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt((v * v).sum(-1))


def _perp(u: np.ndarray) -> np.ndarray:
    return np.stack([-u[..., 1], u[..., 0]], -1)


def _unit(v: np.ndarray, fallback: np.ndarray, min_len: float | np.ndarray = 1e-3) -> np.ndarray:
    n = _norm(v)
    ok = n > min_len
    return np.where(ok[..., None], v / np.maximum(n, _EPS)[..., None], fallback)


def _scale_from(kp: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Body scale per pose from the joints allowed by ``m`` (0 where none allows an estimate)."""
    out = np.zeros(kp.shape[0])
    for group in (_SCALE_TORSO, _SCALE_OTHER):
        est = np.zeros(kp.shape[0])
        for a, b, ratio in group:
            ok = m[:, a] & m[:, b]
            est = np.maximum(est, np.where(ok, _norm(kp[:, a] - kp[:, b]) / ratio, 0.0))
        out = np.where(out > 0, out, est)
    return out


def _scales(kt, pt, ks, ps, size):
    """Body scales of target and source; measured on shared joints where possible."""
    h, w = size
    shared = pt & ps
    st, ss = _scale_from(kt, shared), _scale_from(ks, shared)
    both = (st > 0.5) & (ss > 0.5)
    st = np.where(both, st, _scale_from(kt, pt))
    ss = np.where(both, ss, _scale_from(ks, ps))
    default = h / 7.0
    st = np.where(st > 0.5, st, default)
    ss = np.where(ss > 0.5, ss, default)
    lo, hi = 1.5, 2.0 * max(h, w)
    return np.clip(st, lo, hi), np.clip(ss, lo, hi)


def _fit_similarity(pt, ps, w, rho, lo, hi, min_spread):
    """Weighted least-squares similarity target -> source; ``rho * I`` where under-determined.

    pt, ps: (N, K, 2), w: (N, K) weights; returns A (N, 2, 2) and the weighted means.
    """
    sw = np.maximum(w.sum(1), _EPS)
    mt = (w[..., None] * pt).sum(1) / sw[:, None]
    ms = (w[..., None] * ps).sum(1) / sw[:, None]
    xt, xs = pt - mt[:, None], ps - ms[:, None]
    den = (w * (xt * xt).sum(-1)).sum(1)
    a = (w * (xt * xs).sum(-1)).sum(1)
    b = (w * (xt[..., 0] * xs[..., 1] - xt[..., 1] * xs[..., 0])).sum(1)
    ok = den > min_spread
    a = np.where(ok, a / np.maximum(den, _EPS), rho)
    b = np.where(ok, b / np.maximum(den, _EPS), 0.0)
    sc = np.hypot(a, b)
    fac = np.where(sc > _EPS, np.clip(sc, lo * rho, hi * rho) / np.maximum(sc, _EPS), 0.0)
    a = np.where(sc > _EPS, a * fac, rho)
    b = b * fac
    A = np.stack([np.stack([a, -b], -1), np.stack([b, a], -1)], -2)
    return A, mt, ms


def _fit_affine(pt, ps, w, A0, reg):
    """Least-squares affine target -> source regularised towards ``A0`` (N, 2, 2).

    Minimises sum_k w_k |A x_t + t - x_s|^2 + lam |A - A0|^2 with lam = reg * spread, so
    directions the points do not span (collinear, coincident joints) keep ``A0``.
    """
    sw = np.maximum(w.sum(1), _EPS)
    mt = (w[..., None] * pt).sum(1) / sw[:, None]
    ms = (w[..., None] * ps).sum(1) / sw[:, None]
    xt, xs = pt - mt[:, None], ps - ms[:, None]
    ctt = np.einsum("nk,nki,nkj->nij", w, xt, xt)
    cst = np.einsum("nk,nki,nkj->nij", w, xs, xt)
    lam = reg * (ctt[:, 0, 0] + ctt[:, 1, 1]) + 1e-3
    eye = np.eye(2)[None]
    A = (cst + lam[:, None, None] * A0) @ np.linalg.inv(ctt + lam[:, None, None] * eye)
    return A, mt, ms


def _clamp_singular(A, rho, lo, hi):
    u, s, vt = np.linalg.svd(A)
    s = np.clip(s, (lo * rho)[:, None], (hi * rho)[:, None])
    return u @ (s[..., None] * vt)


def _affine(A, mt, ms):
    """(N, 2, 3) matrix of p -> A (p - mt) + ms."""
    t = ms - np.einsum("nij,nj->ni", A, mt)
    return np.concatenate([A, t[..., None]], -1)


def _torso_region(kp, pres, s, grow):
    """Tapered box along the spine: (valid, top, u, L, a0, a1, w0, w1)."""
    n = kp.shape[0]
    down = np.broadcast_to(np.array([0.0, 1.0]), (n, 2))
    rs, ls, nk = pres[:, R_SHO], pres[:, L_SHO], pres[:, NECK]
    rh, lh = pres[:, R_HIP], pres[:, L_HIP]
    sho = np.where((rs & ls)[:, None], 0.5 * (kp[:, R_SHO] + kp[:, L_SHO]),
                   np.where(rs[:, None], kp[:, R_SHO], kp[:, L_SHO]))
    top = np.where((rs & ls)[:, None] | ~nk[:, None], sho, kp[:, NECK])
    has_top = rs | ls | nk
    bot = np.where((rh & lh)[:, None], 0.5 * (kp[:, R_HIP] + kp[:, L_HIP]),
                   np.where(rh[:, None], kp[:, R_HIP], kp[:, L_HIP]))
    has_bot = rh | lh
    top = np.where(has_top[:, None], top, bot - 1.45 * s[:, None] * down)
    bot = np.where(has_bot[:, None], bot, top + 1.45 * s[:, None] * down)
    axis = bot - top
    length = _norm(axis)
    u = _unit(axis, down, 0.2 * s)
    v = _perp(u)

    def half_width(j1, j2, c, default):
        out = np.full(n, -1.0)
        for j in (j1, j2):
            out = np.where(pres[:, j], np.maximum(out, np.abs(((kp[:, j] - c) * v).sum(-1))), out)
        return np.where(out >= 0, out, default)

    w0 = np.maximum(half_width(R_SHO, L_SHO, top, 0.5 * s), 0.3 * s) + (0.05 + grow) * s
    w1 = np.maximum(half_width(R_HIP, L_HIP, bot, 0.3 * s), 0.22 * s) + (0.2 + grow) * s
    a0 = -(0.12 + grow) * s
    a1 = length + (0.15 + grow) * s
    valid = has_top | has_bot
    return dict(valid=valid, top=top, u=u, length=np.maximum(length, 1e-3), a0=a0, a1=a1,
                w0=w0, w1=w1)


def _head_region(kp, pres, s, torso_u, grow):
    """Disc around the face plus a neck capsule: (valid, c, r, neck, rn)."""
    fw = pres[:, FACE].astype(np.float64)
    nf = fw.sum(1)
    has_face = nf > 0
    nk = pres[:, NECK]
    c = (fw[..., None] * kp[:, FACE]).sum(1) / np.maximum(nf, 1)[:, None]
    c = np.where(has_face[:, None], c, kp[:, NECK] - 0.55 * s[:, None] * torso_u)
    up = _unit(c - kp[:, NECK], np.zeros_like(c))
    c = np.where((has_face & nk)[:, None], c + 0.1 * s[:, None] * up, c)
    r = 0.34 * s
    ears = pres[:, R_EAR] & pres[:, L_EAR]
    r = np.where(ears, np.maximum(r, 0.6 * _norm(kp[:, R_EAR] - kp[:, L_EAR])), r)
    r = np.minimum(r, 0.7 * s) + grow * s
    neck = np.where(nk[:, None], kp[:, NECK], c)
    rn = np.where(nk, (0.2 + grow) * s, 0.0)
    return dict(valid=has_face | nk, c=c, r=r, neck=neck, rn=rn)


def _limb_region(kp, pres, s, limb, grow):
    a, b = kp[:, limb.a], kp[:, limb.b]
    u = _unit(b - a, np.zeros_like(a))
    return dict(valid=pres[:, limb.a] & pres[:, limb.b], a=a, b=b + limb.ext * s[:, None] * u,
                r=(limb.width + grow) * s)


def _limb_transform(kt, ks, limb, rho):
    """Along-bone scale |ab|_s/|ab|_t, across-bone scale rho, joints mapped onto joints."""
    n = kt.shape[0]
    down = np.broadcast_to(np.array([0.0, 1.0]), (n, 2))
    vt, vs = kt[:, limb.b] - kt[:, limb.a], ks[:, limb.b] - ks[:, limb.a]
    lt, ls = _norm(vt), _norm(vs)
    us0 = _unit(vs, down)
    ut = _unit(vt, us0)
    us = _unit(vs, ut)
    along = np.where(lt > 1e-3, ls / np.maximum(lt, 1e-3), 4.0 * rho)
    along = np.clip(along, rho / 4.0, 4.0 * rho)
    A = (along[:, None, None] * us[:, :, None] * ut[:, None, :]
         + rho[:, None, None] * _perp(us)[:, :, None] * _perp(ut)[:, None, :])
    return _affine(A, kt[:, limb.a], ks[:, limb.a])


# Joints placed from the source when missing from the target, each after its parent:
# (joint, parent or -1 for the torso itself).
_IMPUTE = ((NECK, -1), (R_SHO, -1), (L_SHO, -1), (R_HIP, -1), (L_HIP, -1),
           (R_ELB, R_SHO), (L_ELB, L_SHO), (R_KNE, R_HIP), (L_KNE, L_HIP),
           (R_WRI, R_ELB), (L_WRI, L_ELB), (R_ANK, R_KNE), (L_ANK, L_KNE))


def _impute_out_of_frame(kt, pt, ks, ps, A, mt, ms, st, size, ok):
    """Fill in target joints that are missing because they lie outside the frame.

    A joint missing from the target but present in the source is placed by carrying the source
    joint (or its offset from its parent joint) into the target through the inverse of the
    torso's transform. It is kept only where it lands outside the frame (close-ups cut off at
    the knees): a joint that would be inside the frame is missing for another reason
    (occlusion), and stays missing.
    """
    h, w = size
    kt, pt = kt.copy(), pt.copy()
    inv = np.linalg.inv(A)
    margin = 0.15 * st
    for j, parent in _IMPUTE:
        if parent < 0:
            cand = np.einsum("nij,nj->ni", inv, ks[:, j] - ms) + mt
            avail = ok & ps[:, j]
        else:
            cand = kt[:, parent] + np.einsum("nij,nj->ni", inv, ks[:, j] - ks[:, parent])
            avail = ok & ps[:, j] & ps[:, parent] & pt[:, parent]
        outside = ((cand[:, 0] < margin) | (cand[:, 0] > w - 1 - margin)
                   | (cand[:, 1] < margin) | (cand[:, 1] > h - 1 - margin))
        use = avail & ~pt[:, j] & outside
        kt[:, j] = np.where(use[:, None], cand, kt[:, j])
        pt[:, j] = pt[:, j] | use
    return kt, pt


# --------------------------------------------------------------------------------------------
# Pixel operations (torch, vectorised over batch and pixels)
# --------------------------------------------------------------------------------------------
def _col(x: np.ndarray, dev) -> torch.Tensor:
    """(N,) numpy -> (N, 1, 1) float32 tensor."""
    return torch.as_tensor(np.asarray(x, dtype=np.float32), device=dev)[:, None, None]


def _capsule_sd(px, py, a, b, r, dev):
    """Signed distance (pixels, positive inside) to capsules of radius r around segments ab."""
    ax, ay, bx, by = (_col(v, dev) for v in (a[:, 0], a[:, 1], b[:, 0], b[:, 1]))
    ex, ey = bx - ax, by - ay
    dx, dy = px - ax, py - ay
    t = ((dx * ex + dy * ey) / (ex * ex + ey * ey).clamp_min(_EPS)).clamp(0.0, 1.0)
    qx, qy = dx - t * ex, dy - t * ey
    return _col(r, dev) - torch.sqrt(qx * qx + qy * qy)


def _torso_sd(px, py, reg, dev):
    tx, ty = _col(reg["top"][:, 0], dev), _col(reg["top"][:, 1], dev)
    ux, uy = _col(reg["u"][:, 0], dev), _col(reg["u"][:, 1], dev)
    dx, dy = px - tx, py - ty
    a = dx * ux + dy * uy
    b = (dx * uy - dy * ux).abs()
    w0, w1 = _col(reg["w0"], dev), _col(reg["w1"], dev)
    hw = w0 + (w1 - w0) * (a / _col(reg["length"], dev)).clamp(0.0, 1.0)
    return torch.minimum(torch.minimum(a - _col(reg["a0"], dev), _col(reg["a1"], dev) - a), hw - b)


def _head_sd(px, py, reg, dev):
    disc = _capsule_sd(px, py, reg["c"], reg["c"], reg["r"], dev)
    neck = _capsule_sd(px, py, reg["neck"], reg["c"], reg["rn"], dev)
    return torch.where(_col(reg["rn"], dev) > 0, torch.maximum(disc, neck), disc)


_FAR = -1e4  # signed distance of a part that is not there


def _region_sd(kind, px, py, reg, dev):
    """(N, 1, H, W) signed distance to the part's region; ``_FAR`` where the part is invalid."""
    if kind == "torso":
        sd = _torso_sd(px, py, reg, dev)
    elif kind == "head":
        sd = _head_sd(px, py, reg, dev)
    else:
        sd = _capsule_sd(px, py, reg["a"], reg["b"], reg["r"], dev)
    return torch.where(_col(reg["valid"], dev) > 0, sd, _FAR)[:, None]


def _ownership(sds: list[torch.Tensor], order, tol: float = 1.0) -> dict[int, torch.Tensor]:
    """Which source pixels each part of ``order`` owns, as float masks.

    A pixel inside some part's region belongs to the last such part of ``order`` (the
    front-most); a pixel outside all regions to the nearest part. ``tol`` pixels of overlap
    between neighbours avoid seams when the masks are resampled.
    """
    order = list(order)
    if not order:
        return {}
    suffix, top = {}, None
    for i in reversed(order):
        suffix[i] = top
        top = sds[i] if top is None else torch.maximum(top, sds[i])
    inside_any = top > 0
    own = {}
    for i in order:
        front = sds[i] > -tol
        if suffix[i] is not None:
            front = front & (suffix[i] < tol)
        own[i] = torch.where(inside_any, front, sds[i] >= top - tol).float()
    return own


def _alpha(sd):
    """Anti-aliased coverage of a region from its signed distance."""
    return (sd + 0.5).clamp(0.0, 1.0)


def _push_pull(img: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """Fill pixels where ``known`` (N, 1, H, W) in [0, 1] is low from the pixels around them."""
    colors, weights = [img * known], [known]
    while max(weights[-1].shape[-2:]) > 1:
        h, w = weights[-1].shape[-2:]
        size = ((h + 1) // 2, (w + 1) // 2)
        colors.append(F.interpolate(colors[-1], size=size, mode="area"))
        weights.append(F.interpolate(weights[-1], size=size, mode="area"))
    wsum = weights[-1]
    fill = torch.where(wsum > _EPS, colors[-1] / wsum.clamp_min(_EPS),
                       img.mean(dim=(2, 3), keepdim=True))
    for c, w in zip(reversed(colors[:-1]), reversed(weights[:-1]), strict=True):
        up = F.interpolate(fill, size=c.shape[-2:], mode="bilinear", align_corners=False)
        if c is colors[0]:
            fill = c + (1.0 - w) * up
        else:
            # Normalise the partially-known coarse pixels so the fill keeps full intensity.
            wn = w.clamp(0.0, 1.0)
            fill = wn * (c / w.clamp_min(_EPS)) + (1.0 - wn) * up
    return fill


def _sample(src4: torch.Tensor, M: np.ndarray, px, py, size, dev) -> torch.Tensor:
    """Sample the (N, C, H, W) source at M @ (x, y, 1) for every target pixel (x, y)."""
    h, w = size
    m = torch.as_tensor(M.astype(np.float32), device=dev)
    sx = m[:, 0, 0, None, None] * px + m[:, 0, 1, None, None] * py + m[:, 0, 2, None, None]
    sy = m[:, 1, 0, None, None] * px + m[:, 1, 1, None, None] * py + m[:, 1, 2, None, None]
    gx = sx * (2.0 / max(w - 1, 1)) - 1.0
    gy = sy * (2.0 / max(h - 1, 1)) - 1.0
    grid = torch.nan_to_num(torch.stack([gx, gy], -1), nan=-3.0).clamp(-3.0, 3.0)
    return F.grid_sample(src4, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


# --------------------------------------------------------------------------------------------
# The generator
# --------------------------------------------------------------------------------------------
class Warp:
    """Piecewise-affine warping of body parts from the source to the target skeleton."""

    name = "warp"
    sees_target = False
    provenance = Provenance(
        paper="training-free piecewise-affine warping baseline (this project)",
        notes="per-part affine warps of the source image over an inpainted source background",
    )

    #: pairs processed per internal chunk (bounds memory; results do not depend on it)
    chunk_pixels = 1 << 19

    def __init__(self, spec: ModelSpec, silhouette: bool = True, occlusion: bool = True,
                 reach: float = 0.3) -> None:
        self.spec = spec
        self.silhouette = silhouette  # trim parts to the source silhouette
        self.occlusion = occlusion  # sample torso and legs from a source with the arms removed
        self.reach = reach  # how far (body scales) the silhouette may extend beyond the parts
        self._module = NoParameters()

    @property
    def module(self) -> NoParameters:
        return self._module

    @torch.no_grad()
    def generate(self, src_img: torch.Tensor, src_kpts, tgt_kpts) -> torch.Tensor:
        if src_img.ndim != 4 or src_img.shape[1] != 3:
            raise ValueError(f"src_img must be (N, 3, H, W), got {tuple(src_img.shape)}")
        img = torch.nan_to_num(src_img.detach().float()).clamp(0.0, 1.0)
        ks = _to_numpy(src_kpts)
        kt = _to_numpy(tgt_kpts)
        n, _, h, w = img.shape
        if ks.shape != (n, NUM_JOINTS, 2) or kt.shape != (n, NUM_JOINTS, 2):
            raise ValueError(f"keypoints must be ({n}, {NUM_JOINTS}, 2), got {ks.shape}, {kt.shape}")
        step = max(1, self.chunk_pixels // (h * w))
        outs = [self._generate(img[i:i + step], ks[i:i + step], kt[i:i + step])
                for i in range(0, n, step)]
        if not outs:
            return img.clone()
        return torch.cat(outs).contiguous()

    def _generate(self, img: torch.Tensor, ks_raw: np.ndarray, kt_raw: np.ndarray) -> torch.Tensor:
        n, _, h, w = img.shape
        dev = img.device
        size = (h, w)
        ks, ps = _clean(ks_raw, size)
        kt, pt = _clean(kt_raw, size)
        st, ss = _scales(kt, pt, ks, ps, size)
        rho = np.clip(ss / st, 0.2, 5.0)
        shared = ps & pt

        py, px = torch.meshgrid(torch.arange(h, device=dev, dtype=torch.float32),
                                torch.arange(w, device=dev, dtype=torch.float32), indexing="ij")
        px, py = px[None], py[None]

        # ---- parts: target regions, source regions (for the background) and transforms ----
        parts = []  # (name, kind, target region, source region, target->source matrix)
        wts = shared[:, TORSO_FIT].astype(np.float64)
        A0, _, _ = _fit_similarity(kt[:, TORSO_FIT], ks[:, TORSO_FIT], wts, rho, 0.5, 2.0,
                                   (0.2 * st) ** 2)
        A, mt, ms = _fit_affine(kt[:, TORSO_FIT], ks[:, TORSO_FIT], wts, A0, 0.1)
        A = _clamp_singular(A, rho, 0.4, 2.5)
        torso_ok = wts.sum(1) > 0
        kt, pt = _impute_out_of_frame(kt, pt, ks, ps, A, mt, ms, st, size, torso_ok)
        tor_t = _torso_region(kt, pt, st, 0.0)
        tor_s = _torso_region(ks, ps, ss, 0.0)
        tor_t["valid"] = tor_t["valid"] & torso_ok
        parts.append(("torso", "torso", tor_t, tor_s, _affine(A, mt, ms)))

        for limb in (*LEGS, *ARMS):
            reg_t = _limb_region(kt, pt, st, limb, 0.0)
            reg_t["valid"] = reg_t["valid"] & ps[:, limb.a] & ps[:, limb.b] & torso_ok
            parts.append((limb.name, "limb", reg_t, _limb_region(ks, ps, ss, limb, 0.0),
                          _limb_transform(kt, ks, limb, rho)))

        head_t = _head_region(kt, pt, st, tor_t["u"], 0.0)
        head_s = _head_region(ks, ps, ss, tor_s["u"], 0.0)
        wh = shared[:, HEAD_FIT].astype(np.float64)
        A, mt, ms = _fit_similarity(kt[:, HEAD_FIT], ks[:, HEAD_FIT], wh, rho, 0.65, 1.5,
                                    (0.12 * st) ** 2)
        head_t["valid"] = head_t["valid"] & (wh.sum(1) > 0) & torso_ok
        parts.append(("head", "head", head_t, head_s, _affine(A, mt, ms)))

        # ---- source side: signed distances to the source parts, their ownership of pixels
        # (the front-most part whose region holds the pixel, else the nearest part), the
        # background with the body inpainted, and the silhouette ----
        reach_s = [_col(self.reach * _REACH[kind] * ss, dev)[:, None] for _, kind, *_ in parts]
        reach_t = [_col(self.reach * _REACH[kind] * st, dev)[:, None] for _, kind, *_ in parts]
        sd_src = [_region_sd(kind, px, py, reg_s, dev) for _, kind, _, reg_s, _ in parts]
        body = torch.zeros((n, 1, h, w), device=dev)
        for sd, reach in zip(sd_src, reach_s, strict=True):
            body = torch.maximum(body, _alpha(sd + reach))
        own_front = _ownership(sd_src, range(len(parts)))
        back = [i for i, part in enumerate(parts) if part[0] in _BACK_NAMES]
        own_back = _ownership(sd_src, back) if self.occlusion else own_front
        arms = torch.zeros((n, 1, h, w), device=dev)
        in_back = torch.zeros((n, 1, h, w), device=dev)
        for i, part in enumerate(parts):
            if part[0] in _ARM_NAMES:
                arms = torch.maximum(arms, _alpha(sd_src[i]))
            elif part[0] in _BACK_NAMES:
                in_back = torch.maximum(in_back, _alpha(sd_src[i]))

        bg = _push_pull(img, 1.0 - body)
        if self.silhouette:
            diff = (img - bg).abs().amax(1, keepdim=True)
            fg = ((diff - 0.03) / 0.07).clamp(0.0, 1.0) * body
            fg = F.max_pool2d(fg, 3, stride=1, padding=1)
            # Where the source shows background, it is a better guess than the inpainting.
            bg = img + fg * (bg - img)
        else:
            fg = body
        ones = torch.ones((n, 1, h, w), device=dev)
        img_back, fg_back = img, fg
        if self.occlusion and bool((arms > 0).any()):
            # Behind an arm the torso or a leg continues only inside its own region.
            img_back = _push_pull(img, 1.0 - arms * fg)
            fg_back = fg * (1.0 - arms * (1.0 - in_back))

        # ---- target side: the parts' regions painted back to front; around them (up to their
        # reach) the nearest part carries the source silhouette (hair, loose clothes, bags) ----
        inner_c = torch.zeros((n, 3, h, w), device=dev)  # premultiplied colour
        inner_a = torch.zeros((n, 1, h, w), device=dev)
        best_sd = torch.full((n, 1, h, w), _FAR, device=dev)
        best_c = torch.zeros((n, 3, h, w), device=dev)  # colour and silhouette of the nearest
        best_s = torch.zeros((n, 1, h, w), device=dev)
        for i, (name, kind, reg_t, _, M) in enumerate(parts):
            if not reg_t["valid"].any():
                continue
            if name in _BACK_NAMES:
                src = torch.cat([img_back, fg_back * own_back[i], ones], 1)
            else:
                src = torch.cat([img, fg * own_front[i], ones], 1)
            smp = _sample(src, M, px, py, size, dev)
            cover = smp[:, 4:5]  # < 1 where the sample falls (partly) outside the source frame
            color = smp[:, :3] / cover.clamp_min(1e-3)
            sil = smp[:, 3:4].clamp(0.0, 1.0) * (cover > 1e-3)
            sd = _region_sd(kind, px, py, reg_t, dev)
            alpha = _alpha(sd) * sil
            inner_c.mul_(1.0 - alpha).add_(alpha * color)
            inner_a.mul_(1.0 - alpha).add_(alpha)
            sd.add_(reach_t[i])
            nearer = sd > best_sd
            best_sd = torch.where(nearer, sd, best_sd)
            best_c = torch.where(nearer, color, best_c)
            best_s = torch.where(nearer, sil, best_s)
        out = bg + (best_s * _alpha(best_sd)) * (best_c - bg)
        out = inner_c + (1.0 - inner_a) * out

        # ---- pairs without a shared torso joint: global similarity, or the source itself ----
        fallback = ~torso_ok
        if fallback.any():
            wa = shared.astype(np.float64)
            A, mt, ms = _fit_similarity(kt, ks, wa, rho, 0.5, 2.0, (0.2 * st) ** 2)
            M = _affine(A, mt, ms)
            smp = _sample(torch.cat([img, torch.ones_like(img[:, :1])], 1), M, px, py, size, dev)
            glob = smp[:, :3] + (1.0 - smp[:, 3:4]).clamp(0.0, 1.0) * bg
            use_glob = fallback & (shared.sum(1) >= 2)
            out = torch.where(_col(use_glob, dev)[:, None] > 0, glob, out)
            out = torch.where(_col(fallback & ~use_glob, dev)[:, None] > 0, img, out)
        return torch.nan_to_num(out, nan=0.5).clamp(0.0, 1.0)


def _to_numpy(k) -> np.ndarray:
    if isinstance(k, torch.Tensor):
        return k.detach().to("cpu", torch.float64).numpy()
    return np.asarray(k, dtype=np.float64)
