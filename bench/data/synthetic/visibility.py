"""Which joints an annotator (or a detector) would report: self-occlusion, facing, framing.

A joint is missing (-1 in the CSV) when

* it is a face point turned away from the camera (the back of the head hides nose and eyes,
  a profile hides the far eye and ear),
* it lies behind the torso, a limb or the head that covers it in the image,
* its marker would not lie entirely inside the frame, or
* its marker would overlap the marker of a nearer visible joint (a detector finds one peak)::

    from bench.data.synthetic.visibility import visible_joints
    visible = visible_joints(posed, size=(128, 64), marker_radii=1.2)   # (18,) bool
"""

from __future__ import annotations

import numpy as np

from bench.data.synthetic.shapes import head_ellipse, limb_capsules, torso_quads
from bench.data.synthetic.skeleton import (
    EAR,
    EYE,
    FACE_JOINTS,
    HIP,
    NECK,
    NOSE,
    SHOULDER,
    PosedBody,
)

# facing thresholds on the z of the face's surface normal (1 = looking at the camera)
_FACING = {NOSE: -0.2, EYE[0]: 0.25, EYE[1]: 0.25, EAR[0]: -0.35, EAR[1]: -0.35}
TORSO_MARGIN = 0.4  # a joint must lie this far (x half-width) inside the torso to be hidden
LIMB_MARGIN = 0.25  # ... this far (x radius) inside a limb
MARKER_GAP = 0.3  # pixels between two marker discs


def round_half_up(v: np.ndarray) -> np.ndarray:
    """Pixel coordinates as the CSV stores them: ints, halves rounded up."""
    return np.floor(np.asarray(v) + 0.5)


def polygon_signed_distance(points: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Signed distance (negative inside) from points p (..., 2) to a convex polygon (k, 2);
    exact inside, a lower bound outside."""
    q = np.concatenate([points[1:], points[:1]])
    ex, ey = q[:, 0] - points[:, 0], q[:, 1] - points[:, 1]
    area2 = float(np.sum(points[:, 0] * q[:, 1] - q[:, 0] * points[:, 1]))
    norm = np.hypot(ex, ey) * (1.0 if area2 >= 0 else -1.0)
    nx, ny = ey / norm, -ex / norm  # outward normals
    offsets = nx * points[:, 0] + ny * points[:, 1]
    p = np.asarray(p)[..., None, :]  # (..., 1, 2); plain products, no BLAS
    return np.max(p[..., 0] * nx + p[..., 1] * ny - offsets, axis=-1)


def _behind_torso(pb: PosedBody, joints: np.ndarray) -> np.ndarray:
    """(18,) joints that lie well inside a torso quad and behind its middle."""
    s, body = pb.scale, pb.body
    eps = np.full(18, 0.02 * s)
    eps[list(SHOULDER)] = 0.6 * s * body.shoulder_half  # the far one hides from ~35 degrees
    eps[list(HIP)] = 0.75 * s * body.hip_half  # off profile; both show at 45 degrees
    hidden = np.zeros(18, dtype=bool)
    for quad in torso_quads(pb):
        inside = -polygon_signed_distance(quad.points, joints[:, :2])
        hidden |= (inside >= TORSO_MARGIN * quad.half_width) & (joints[:, 2] < quad.depth - eps)
    hidden[NECK] = False  # on the torso's surface, between the shoulders
    return hidden


def _behind_limbs(pb: PosedBody, joints: np.ndarray) -> np.ndarray:
    """(18,) joints covered by a nearer limb capsule that does not end at them."""
    caps = limb_capsules(pb)
    a = np.array([c.a for c in caps])  # (C, 3)
    b = np.array([c.b for c in caps])
    ra = np.array([c.ra for c in caps])[:, None]
    rb = np.array([c.rb for c in caps])[:, None]
    own = np.zeros((len(caps), 18), dtype=bool)
    for k, c in enumerate(caps):
        own[k, list(c.joints)] = True
        if c.part == "upper_arm":  # detectors find the neck in profile, behind a shoulder
            own[k, NECK] = True
    ab = b - a
    ll = np.maximum(np.sum(ab[:, :2] ** 2, axis=1), 1e-9)[:, None]
    rel = joints[None, :, :2] - a[:, None, :2]  # (C, 18, 2)
    t = np.clip(np.sum(rel * ab[:, None, :2], axis=2) / ll, 0.0, 1.0)  # (C, 18)
    closest = a[:, None, :] + t[..., None] * ab[:, None, :]
    r = ra + t * (rb - ra)
    d = np.hypot(joints[None, :, 0] - closest[..., 0], joints[None, :, 1] - closest[..., 1])
    covered = (d <= (1.0 - LIMB_MARGIN) * r) & (joints[None, :, 2] < closest[..., 2] - 0.5 * r)
    return np.any(covered & ~own, axis=0)


def _behind_head(pb: PosedBody, joints: np.ndarray) -> np.ndarray:
    head = head_ellipse(pb)
    u = (joints[:, 0] - head.center[0]) / head.rx
    v = (joints[:, 1] - head.center[1]) / head.ry
    hidden = (u * u + v * v < 0.8) & (joints[:, 2] < head.depth - 0.2 * head.rx)
    hidden[list(FACE_JOINTS)] = False
    hidden[NECK] = False
    return hidden


def visible_joints(pb: PosedBody, size: tuple[int, int], marker_radii: np.ndarray) -> np.ndarray:
    """(18,) bool: the joints that get a marker and a CSV entry."""
    h, w = size
    joints = pb.joints
    visible = np.ones(18, dtype=bool)
    for j, threshold in _FACING.items():
        visible[j] = pb.face_normal_z[j] > threshold
    visible &= ~(_behind_torso(pb, joints) | _behind_limbs(pb, joints) | _behind_head(pb, joints))
    # the whole marker inside the frame (a clipped one would bias the detector's centroid)
    radii = np.broadcast_to(np.asarray(marker_radii, dtype=float), (18,))
    x, y = joints[:, 0], joints[:, 1]
    visible &= (x - radii >= -0.5) & (x + radii <= w - 0.5)
    visible &= (y - radii >= -0.5) & (y + radii <= h - 0.5)
    # one marker per place: the neck's wins (in profile the near shoulder sits on it), then
    # the nearer joint's
    min_gap = radii[:, None] + radii[None, :] + MARKER_GAP
    diff = joints[:, None, :2] - joints[None, :, :2]
    close = (np.hypot(diff[..., 0], diff[..., 1]) < min_gap).tolist()
    order = [j for j in np.argsort(-joints[:, 2], kind="stable").tolist() if j != NECK]
    kept: list[int] = []
    for j in [NECK, *order]:
        if not visible[j]:
            continue
        if any(close[j][k] for k in kept):
            visible[j] = False
        else:
            kept.append(j)
    return visible
