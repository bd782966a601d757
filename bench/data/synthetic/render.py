"""One synthetic photo: a posed, dressed person with joint markers on a random background.

    import numpy as np
    from bench.data.synthetic.people import sample_identity
    from bench.data.synthetic.render import render_image
    from bench.data.synthetic.skeleton import sample_pose
    rng = np.random.default_rng(3)
    person = sample_identity(seed=0, pid=7)
    pose = sample_pose(rng, person, (128, 64), (0.74, 0.9))
    shot = render_image(person, pose, rng, size=(128, 64))
    shot.image        # (128, 64, 3) uint8
    shot.keypoints    # (18, 2) float32 (x, y) as the CSV stores them: rounded, -1 missing

Painter's algorithm: limb chains, torso and head are drawn far to near; the markers of the
visible joints (:mod:`.visibility`) go on top, so what the CSV says is what a marker detector
can find.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import numpy as np

from bench.data.synthetic.background import background
from bench.data.synthetic.palette import MARKER_RGB
from bench.data.synthetic.people import Garment, Identity
from bench.data.synthetic.raster import Canvas, Paint, Patch
from bench.data.synthetic.shapes import Capsule, Quad, body_shapes
from bench.data.synthetic.skeleton import (
    ANKLE,
    FACE_JOINTS,
    HIP,
    KNEE,
    LEFT,
    RIGHT,
    Pose,
    PosedBody,
    pose_body,
)
from bench.data.synthetic.visibility import round_half_up, visible_joints

_MARKERS = MARKER_RGB.astype(np.float32)


@dataclass(frozen=True, eq=False)
class Shot:
    image: np.ndarray  # (H, W, 3) uint8
    keypoints: np.ndarray  # (18, 2) float32 (x, y), integers or -1
    posed: PosedBody | None  # None for background-only images


def marker_radii(scale: float) -> np.ndarray:
    """(18,) marker radii in pixels for a person ``scale`` pixels tall: large on the body
    (they survive blur), small on the crowded face."""
    radii = np.full(18, max(1.6, 0.02 * scale))
    radii[list(FACE_JOINTS)] = max(1.2, 0.012 * scale)
    return radii


def _garment_paint(g: Garment, scale: float, shade: float = 0.3) -> Paint:
    return Paint(g.color, g.color2, g.pattern, g.period * scale, shade)


def _head_paint(person: Identity, head_yaw: float):
    """Skin face, hair where the head's own frame says hair grows for this style."""
    c, s = math.cos(head_yaw), math.sin(head_yaw)
    skin, hair, style = person.skin, person.hair, person.hair_style

    def paint(patch: Patch) -> np.ndarray:
        u, v = patch.u, -patch.v  # v up
        z = np.sqrt(np.clip(1.0 - u * u - v * v, 0.0, 1.0))
        hx = u * c - z * s  # camera -> head frame
        hz = u * s + z * c
        if style == "bald":
            return skin * (1.0 - 0.22 * patch.t * patch.t)[..., None]
        if style == "short":
            mask = (v > 0.42) | ((hz < -0.1) & (v > -0.35)) | ((np.abs(hx) > 0.78) & (v > 0.05))
        elif style == "medium":
            mask = (v > 0.38) | ((hz < 0.05) & (v > -0.7)) | ((np.abs(hx) > 0.72) & (v > -0.3))
        else:
            mask = (v > 0.36) | (hz < 0.15) | (np.abs(hx) > 0.68)
        rgb = skin + mask[..., None].astype(np.float32) * (hair - skin)
        return rgb * (1.0 - 0.22 * patch.t * patch.t)[..., None]

    return paint


def _capsule(canvas: Canvas, cap: Capsule, paint, widen: float = 1.0, upto: float = 1.0) -> None:
    """Paint ``cap`` (its first ``upto`` of the length, ``widen`` times as thick)."""
    b = cap.a + upto * (cap.b - cap.a)
    rb = cap.ra + upto * (cap.rb - cap.ra)
    canvas.capsule(cap.a, b, widen * cap.ra, widen * rb, paint)


def _quad(canvas: Canvas, quad: Quad, paint) -> None:
    w_top = math.hypot(*(quad.points[1] - quad.points[0])) / 2
    w_bottom = math.hypot(*(quad.points[2] - quad.points[3])) / 2
    canvas.quad(quad.points, quad.top, quad.bottom, w_top, w_bottom, paint)


def _draw_person(canvas: Canvas, person: Identity, pb: PosedBody) -> None:
    s = pb.scale
    skin = Paint(person.skin, shade=0.25)
    top = _garment_paint(person.top, s)
    bottom = _garment_paint(person.bottom, s)
    shoes = Paint(person.shoes, shade=0.2)
    parts = {(shape.part, shape.side): shape for shape in body_shapes(pb)}
    joints = pb.joints
    layers: list[tuple[float, int, list]] = []  # (depth, tie-break, draw calls), far first
    draw = partial  # draw(fn, canvas, ...) -> a call painting one shape

    # legs: shin, shoe, thigh (with shorts or pants), behind the torso
    for i in (RIGHT, LEFT):
        thigh, shin, shoe = parts[("thigh", i)], parts[("shin", i)], parts[("shoe", i)]
        legs = bottom if person.bottom_kind == "pants" else skin
        calls = [draw(_capsule, canvas, shin, legs), draw(_capsule, canvas, shoe, shoes),
                 draw(_capsule, canvas, thigh, legs)]
        if person.bottom_kind == "shorts":
            calls.append(draw(_capsule, canvas, thigh, bottom, 1.12, 0.6))
        depth = float(np.mean(joints[[HIP[i], KNEE[i], ANKLE[i]], 2])) - 0.2 * s
        layers.append((depth, 10 + i, calls))

    # torso: pelvis (bottom garment), skirt, chest (top garment)
    chest, pelvis = parts[("chest", -1)], parts[("pelvis", -1)]
    calls = [draw(_quad, canvas, pelvis, bottom)]
    if person.bottom_kind == "skirt":
        calls.append(draw(_draw_skirt, canvas, pb, bottom))
    calls.append(draw(_quad, canvas, chest, top))
    layers.append((chest.depth, 20, calls))

    # arms: skin, then sleeves
    for i in (RIGHT, LEFT):
        upper, fore, hand = parts[("upper_arm", i)], parts[("forearm", i)], parts[("hand", i)]
        calls = [draw(_capsule, canvas, hand, skin)]
        if person.sleeves == "long":
            calls += [draw(_capsule, canvas, fore, top), draw(_capsule, canvas, upper, top, 1.06)]
        else:
            calls += [draw(_capsule, canvas, fore, skin), draw(_capsule, canvas, upper, skin)]
            if person.sleeves == "short":
                calls.append(draw(_capsule, canvas, upper, top, 1.15, 0.55))
        depth = 0.5 * (upper.depth + fore.depth) + 0.03 * s
        layers.append((depth, 30 + i, calls))

    # head: long hair behind, neck, head (skin and hair)
    head = parts[("head", -1)]
    calls = []
    if person.hair_style in ("medium", "long"):
        calls.append(draw(_draw_long_hair, canvas, person, pb, Paint(person.hair, shade=0.2)))
    calls += [
        draw(_capsule, canvas, parts[("neck", -1)], skin),
        draw(canvas.ellipse, head.center, head.rx, head.ry, _head_paint(person, pb.head_yaw)),
    ]
    layers.append((head.depth, 40, calls))

    for _, _, calls in sorted(layers, key=lambda layer: (layer[0], layer[1])):
        for call in calls:
            call()


def _draw_skirt(canvas: Canvas, pb: PosedBody, paint: Paint) -> None:
    knees = pb.joints[[KNEE[RIGHT], KNEE[LEFT]]]
    hips = pb.joints[[HIP[RIGHT], HIP[LEFT]]]
    top = pb.waist
    hem_y = float(np.mean(0.35 * hips[:, 1] + 0.65 * knees[:, 1]))
    hem_x = float(np.mean(knees[:, 0]))
    spread = max(pb.pelvis_half * 1.35, 0.5 * abs(float(knees[0, 0] - knees[1, 0])) + 0.04 * pb.scale)
    bottom = np.array([hem_x, hem_y, top[2]])
    dx = hem_x - float(top[0])
    points = np.array([
        [top[0] - pb.waist_half, top[1]], [top[0] + pb.waist_half, top[1]],
        [hem_x + spread, hem_y], [hem_x - spread, hem_y],
    ])
    if abs(dx) > 0.5 * spread:  # keep the quad convex when the hips swing far
        points[2:, 0] -= dx - math.copysign(0.5 * spread, dx)
    canvas.quad(points, top, bottom, pb.waist_half, spread, paint)


def _draw_long_hair(canvas: Canvas, person: Identity, pb: PosedBody, paint: Paint) -> None:
    s, b = pb.scale, pb.body
    back_x = -math.sin(pb.head_yaw) * b.head_rx * 0.35 * s
    length = (0.16 if person.hair_style == "long" else 0.07) * s
    a = pb.head + np.array([back_x, 0.1 * b.head_ry * s, 0.0])
    end = a + np.array([back_x * 0.5, length, 0.0])
    canvas.capsule(a, end, 0.95 * b.head_rx * s, 0.85 * b.head_rx * s, paint)


def render_image(
    person: Identity,
    pose: Pose,
    rng: np.random.Generator,
    size: tuple[int, int],
    supersample: int = 2,
) -> Shot:
    """Render ``person`` in ``pose``; ``rng`` draws the background."""
    pb = pose_body(person.body, pose)
    radii = marker_radii(pose.scale)
    visible = visible_joints(pb, size, radii)
    canvas = Canvas(background(rng, size), supersample)
    feet = 0.5 * (pb.toes + pb.heels)
    ground = float(max(pb.heels[:, 1].max(), pb.toes[:, 1].max()))
    canvas.darken((float(feet[:, 0].mean()), ground), 0.22 * pose.scale, 0.035 * pose.scale, 0.35)
    _draw_person(canvas, person, pb)
    order = np.argsort(-pb.joints[:, 2], kind="stable")[::-1]  # far to near
    for j in order:
        if visible[j]:
            canvas.disc(pb.joints[j, :2], float(radii[j]), _MARKERS[j])
    keypoints = np.full((18, 2), -1.0, dtype=np.float32)
    keypoints[visible] = round_half_up(pb.joints[visible, :2])
    return Shot(canvas.to_uint8(), keypoints, pb)


def render_background_only(rng: np.random.Generator, size: tuple[int, int]) -> Shot:
    """A junk image: background without a person, every joint missing."""
    bg = background(rng, size)
    image = np.clip(np.floor(bg + 0.5), 0, 255).astype(np.uint8)
    return Shot(image, np.full((18, 2), -1.0, dtype=np.float32), None)
