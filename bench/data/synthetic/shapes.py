"""The body's surface as 2D shapes with depth: capsules for limbs, quads for the torso.

The renderer paints these shapes and the visibility model asks which of them hide a joint,
so what is drawn and what is annotated agree::

    from bench.data.synthetic.shapes import body_shapes
    shapes = body_shapes(posed)             # posed: skeleton.PosedBody
    [s.part for s in shapes][:3]            # ['chest', 'pelvis', 'upper_arm']
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.data.synthetic.skeleton import (
    ANKLE,
    ELBOW,
    HIP,
    KNEE,
    LEFT,
    NECK,
    RIGHT,
    SHOULDER,
    WRIST,
    PosedBody,
)


@dataclass(frozen=True, eq=False)
class Capsule:
    """A segment a -> b swept by a radius tapering from ra to rb (pixels)."""

    part: str
    side: int  # RIGHT, LEFT, or -1 for the body's middle
    a: np.ndarray  # (3,) x, y, depth
    b: np.ndarray
    ra: float
    rb: float
    joints: tuple[int, ...] = ()  # joints at its ends (a capsule never hides its own joints)

    @property
    def depth(self) -> float:
        return 0.5 * float(self.a[2] + self.b[2])


@dataclass(frozen=True, eq=False)
class Quad:
    """A convex quadrilateral (top-left, top-right, bottom-right, bottom-left) on the spine."""

    part: str
    points: np.ndarray  # (4, 2)
    top: np.ndarray  # (3,) spine point at the top edge
    bottom: np.ndarray  # (3,) spine point at the bottom edge
    half_width: float  # mean half-width, pixels
    depth: float
    side: int = -1


@dataclass(frozen=True, eq=False)
class Ellipse:
    part: str
    center: np.ndarray  # (3,)
    rx: float
    ry: float
    side: int = -1

    @property
    def depth(self) -> float:
        return float(self.center[2])


def _quad(part: str, top: np.ndarray, bottom: np.ndarray, w_top: float, w_bottom: float) -> Quad:
    axis = top[:2] - bottom[:2]
    n = math.hypot(axis[0], axis[1]) or 1.0
    across = np.array([axis[1], -axis[0]]) / n  # image-right when the spine points up
    points = np.array(
        [
            top[:2] - w_top * across,
            top[:2] + w_top * across,
            bottom[:2] + w_bottom * across,
            bottom[:2] - w_bottom * across,
        ]
    )
    return Quad(part, points, top, bottom, 0.5 * (w_top + w_bottom), 0.5 * float(top[2] + bottom[2]))


def _along(p: np.ndarray, q: np.ndarray, t: float) -> np.ndarray:
    return p + t * (q - p)


def torso_quads(pb: PosedBody) -> tuple[Quad, Quad]:
    """(chest, pelvis): the chest from above the shoulders to below the waist, the pelvis
    from the waist to the crotch."""
    neck, waist, crotch = pb.joints[NECK], pb.waist, pb.crotch
    chest_top = _along(waist, neck, 1.0 + 0.02 * pb.scale / max(1e-6, _dist(waist, neck)))
    chest_bottom = _along(neck, waist, 1.12)
    chest = _quad("chest", chest_top, chest_bottom, pb.chest_half, pb.waist_half)
    pelvis_top = _along(crotch, waist, 1.05)
    pelvis = _quad("pelvis", pelvis_top, crotch, pb.waist_half, pb.pelvis_half)
    return chest, pelvis


def _dist(p: np.ndarray, q: np.ndarray) -> float:
    return math.hypot(float(p[0] - q[0]), float(p[1] - q[1]))


def limb_capsules(pb: PosedBody) -> list[Capsule]:
    """Upper arms, forearms, thighs and shins, right then left."""
    b, s, j = pb.body, pb.scale, pb.joints
    out = []
    for i in (RIGHT, LEFT):
        out += [
            Capsule("upper_arm", i, j[SHOULDER[i]], j[ELBOW[i]], s * b.arm_r, s * 0.88 * b.arm_r,
                    (SHOULDER[i], ELBOW[i])),
            Capsule("forearm", i, j[ELBOW[i]], j[WRIST[i]], s * b.forearm_r, s * 0.8 * b.forearm_r,
                    (ELBOW[i], WRIST[i])),
            Capsule("thigh", i, j[HIP[i]], j[KNEE[i]], s * b.thigh_r, s * 0.78 * b.thigh_r,
                    (HIP[i], KNEE[i])),
            Capsule("shin", i, j[KNEE[i]], j[ANKLE[i]], s * b.shin_r, s * 0.7 * b.shin_r,
                    (KNEE[i], ANKLE[i])),
        ]
    return out


def head_ellipse(pb: PosedBody) -> Ellipse:
    return Ellipse("head", pb.head, pb.scale * pb.body.head_rx, pb.scale * pb.body.head_ry)


def body_shapes(pb: PosedBody) -> list[Capsule | Quad | Ellipse]:
    """Every skin/clothing shape of the body (clothing details are the renderer's)."""
    b, s = pb.body, pb.scale
    chest, pelvis = torso_quads(pb)
    neck_top = _along(pb.joints[NECK], pb.head, 0.7)
    shapes: list[Capsule | Quad | Ellipse] = [
        chest,
        pelvis,
        *limb_capsules(pb),
        Capsule("neck", -1, pb.joints[NECK], neck_top, s * b.neck_r, s * b.neck_r, (NECK,)),
        head_ellipse(pb),
    ]
    for i in (RIGHT, LEFT):
        shapes.append(Capsule("hand", i, pb.joints[WRIST[i]], pb.hand_tips[i],
                              s * 0.8 * b.forearm_r, s * 0.95 * b.forearm_r, (WRIST[i],)))
        shapes.append(Capsule("shoe", i, pb.heels[i], pb.toes[i], s * 0.028, s * 0.026,
                              (ANKLE[i],)))
    return shapes
