"""The articulated skeleton: pose parameters -> 3D body points -> image x, y and depth.

Body frame: feet on y = 0, y up, the person faces +z, the person's left is +x (so a person
facing the camera has the left shoulder on the image's right, as annotators label it). The
view is a rotation by ``yaw`` about the vertical axis (0: facing the camera, pi: the back,
+pi/2: facing image right), then an orthographic projection scaled to pixels::

    import numpy as np
    from bench.data.synthetic.people import sample_identity
    from bench.data.synthetic.skeleton import pose_body, sample_pose
    person = sample_identity(seed=0, pid=7)
    pose = sample_pose(np.random.default_rng(1), person, size=(128, 64), person_height=(0.74, 0.9))
    body = pose_body(person.body, pose)
    body.joints          # (18, 3) float64: image x, image y, depth in px (larger = nearer)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from bench.data.synthetic.people import Body, Identity

VIEWS = ("front", "back", "side", "oblique")
RIGHT, LEFT = 0, 1  # index of the side in (right, left) pairs
_SIDE_X = (-1.0, 1.0)  # the person's right is -x

# joint indices (bench.keypoints.JOINTS)
NOSE, NECK = 0, 1
SHOULDER, ELBOW, WRIST = (2, 5), (3, 6), (4, 7)
HIP, KNEE, ANKLE = (8, 11), (9, 12), (10, 13)
EYE, EAR = (14, 15), (16, 17)
FACE_JOINTS = (NOSE, *EYE, *EAR)


@dataclass(frozen=True)
class Pose:
    """Everything that changes between two images of one person (angles in radians)."""

    view: str  # one of VIEWS, the yaw's neighbourhood
    yaw: float
    head_yaw: float  # added to ``yaw`` for the head
    phase: float  # gait phase of the left leg; the right leg is half a cycle later
    stride: float  # thigh swing amplitude
    knee_base: float
    arm_raise: tuple[float, float]  # (right, left) sideways abduction
    arm_offset: tuple[float, float]  # forward swing added to the gait swing
    elbow: tuple[float, float]  # elbow flexion
    leg_spread: float
    lean: float  # forward lean of the upper body
    scale: float  # pixels per height unit
    center_x: float  # pixel column of the body's vertical axis
    ground_y: float  # pixel row of the feet


@dataclass(frozen=True, eq=False)
class PosedBody:
    """A posed body in image space; every point is (x, y, depth) in pixels."""

    body: Body
    pose: Pose
    joints: np.ndarray  # (18, 3)
    face_normal_z: np.ndarray  # (18,) z of the surface normal at face joints (1 elsewhere)
    head: np.ndarray  # (3,) head centre
    head_yaw: float  # yaw of the head (body yaw + head turn)
    waist: np.ndarray  # (3,) spine point at the waist
    crotch: np.ndarray  # (3,) spine point below the hips
    hand_tips: np.ndarray  # (2, 3) right, left
    toes: np.ndarray  # (2, 3)
    heels: np.ndarray  # (2, 3)
    chest_half: float  # silhouette half-widths of the torso in pixels, for this yaw
    waist_half: float
    pelvis_half: float

    @property
    def scale(self) -> float:
        return self.pose.scale


# ---------------------------------------------------------------------------------- sampling
def sample_pose(
    rng: np.random.Generator,
    person: Identity,
    size: tuple[int, int],
    person_height: tuple[float, float],
) -> Pose:
    """A random walking / standing pose, view, scale and position in an (H, W) frame."""
    h, w = size
    view = VIEWS[int(rng.choice(4, p=(0.36, 0.26, 0.24, 0.14)))]
    turn = 1.0 if rng.random() < 0.5 else -1.0
    base = {
        "front": 0.0,
        "back": math.pi,
        "side": turn * math.pi / 2,
        "oblique": turn * (math.pi / 4 if rng.random() < 0.5 else 3 * math.pi / 4),
    }[view]
    yaw = base + float(rng.normal(0.0, 0.2))
    walking = rng.random() < 0.8
    stride = float(rng.uniform(0.08, 0.5) if walking else rng.uniform(0.0, 0.08))
    raise_r = float(rng.uniform(0.5, 1.5) if rng.random() < 0.12 else rng.uniform(0.07, 0.22))
    raise_l = float(rng.uniform(0.5, 1.5) if rng.random() < 0.12 else rng.uniform(0.07, 0.22))
    offsets = rng.uniform(-0.15, 0.35, 2)
    elbows = rng.uniform(0.05, 0.9, 2)
    scale = h * float(rng.uniform(*person_height)) * person.body.height
    if rng.random() < 0.08:  # feet below the frame, as in tight crops
        ground_y = h + float(rng.uniform(0.0, 0.1)) * scale
    else:
        ground_y = h * float(rng.uniform(0.94, 0.995))
    return Pose(
        view=view,
        yaw=yaw,
        head_yaw=float(np.clip(rng.normal(0.0, 0.25), -0.6, 0.6)),
        phase=float(rng.uniform(0.0, 2 * math.pi)),
        stride=stride,
        knee_base=float(rng.uniform(0.02, 0.2)),
        arm_raise=(raise_r, raise_l),
        arm_offset=(float(offsets[0]), float(offsets[1])),
        elbow=(float(elbows[0]), float(elbows[1])),
        leg_spread=float(rng.uniform(0.0, 0.12)),
        lean=float(rng.uniform(-0.04, 0.12)),
        scale=scale,
        center_x=w * (0.5 + float(rng.uniform(-0.1, 0.1))),
        ground_y=ground_y,
    )


# ------------------------------------------------------------------------------ kinematics
def _direction(side: float, swing: float, abduct: float) -> np.ndarray:
    """Unit limb direction hanging down, swung forward by ``swing`` and out by ``abduct``."""
    ca = math.cos(abduct)
    return np.array([side * math.sin(abduct), -ca * math.cos(swing), ca * math.sin(swing)])


def _rotate_yaw(p: np.ndarray, yaw: float) -> np.ndarray:
    c, s = math.cos(yaw), math.sin(yaw)
    out = p.copy()
    out[..., 0] = p[..., 0] * c + p[..., 2] * s
    out[..., 2] = -p[..., 0] * s + p[..., 2] * c
    return out


def _lean(p: np.ndarray, pivot_y: float, lean: float) -> np.ndarray:
    c, s = math.cos(lean), math.sin(lean)
    out = p.copy()
    dy = p[..., 1] - pivot_y
    out[..., 1] = pivot_y + dy * c - p[..., 2] * s
    out[..., 2] = dy * s + p[..., 2] * c
    return out


def _silhouette_half(a: float, b: float, yaw: float) -> float:
    """Half-width of an elliptic cross-section (half-axes a in x, b in z) seen at ``yaw``."""
    return math.hypot(a * math.cos(yaw), b * math.sin(yaw))


def pose_body(body: Body, pose: Pose) -> PosedBody:
    """Place the body in ``pose`` and project it into the image."""
    joints = np.zeros((18, 3))
    hand_tips = np.zeros((2, 3))
    toes = np.zeros((2, 3))
    heels = np.zeros((2, 3))
    # legs (the left leg at ``phase``, the right one half a cycle later)
    for i, phase in ((RIGHT, pose.phase + math.pi), (LEFT, pose.phase)):
        side = _SIDE_X[i]
        swing = pose.stride * math.sin(phase)
        knee = pose.knee_base + 1.4 * pose.stride * max(0.0, math.cos(phase))
        hip = np.array([side * body.hip_half, body.hip_y, 0.0])
        knee_p = hip + body.thigh * _direction(side, swing, pose.leg_spread)
        ankle = knee_p + body.shin * _direction(side, swing - knee, pose.leg_spread)
        joints[HIP[i]], joints[KNEE[i]], joints[ANKLE[i]] = hip, knee_p, ankle
        toes[i] = ankle + body.foot * np.array([0.0, -0.35, 0.94])
        heels[i] = ankle + body.foot * np.array([0.0, -0.45, -0.3])
    # arms swing against the leg of the same side
    upper = np.zeros((9, 3))  # points that lean with the upper body
    for i, phase in ((RIGHT, pose.phase + math.pi), (LEFT, pose.phase)):
        side = _SIDE_X[i]
        swing = -0.9 * pose.stride * math.sin(phase) + pose.arm_offset[i]
        flex = pose.elbow[i] + 0.6 * max(0.0, swing)
        sho = np.array([side * body.shoulder_half, body.shoulder_y - 0.006, 0.0])
        elb = sho + body.upper_arm * _direction(side, swing, pose.arm_raise[i])
        fore = _direction(side, swing + flex, pose.arm_raise[i])
        wri = elb + body.forearm * fore
        upper[3 * i : 3 * i + 3] = sho, elb, wri
        hand_tips[i] = wri + 0.045 * fore
    neck = np.array([0.0, body.shoulder_y, 0.0])
    head = np.array([0.0, body.shoulder_y + body.neck_len + 0.85 * body.head_ry, 0.006])
    waist_y = body.hip_y + 0.38 * (body.shoulder_y - body.hip_y)
    upper[6], upper[7], upper[8] = neck, head, (0.0, waist_y, 0.0)
    upper = _lean(upper, body.hip_y, pose.lean)
    hand_tips = _lean(hand_tips, body.hip_y, pose.lean)
    for i in (RIGHT, LEFT):
        joints[SHOULDER[i]], joints[ELBOW[i]], joints[WRIST[i]] = upper[3 * i : 3 * i + 3]
    joints[NECK], head, waist = upper[6], upper[7], upper[8]
    crotch = np.array([0.0, body.hip_y - 0.05, 0.0])
    # face points, in the head's own frame (turned by head_yaw), relative to the head centre
    rx, ry = body.head_rx, body.head_ry
    rz = 1.1 * rx
    face = np.array(
        [
            [0.0, -0.3 * ry, 1.0 * rz],  # nose
            [-0.36 * rx, 0.22 * ry, 0.9 * rz],  # r_eye
            [0.36 * rx, 0.22 * ry, 0.9 * rz],  # l_eye
            [-1.0 * rx, 0.02 * ry, -0.05 * rz],  # r_ear
            [1.0 * rx, 0.02 * ry, -0.05 * rz],  # l_ear
        ]
    )
    normals = face / np.array([rx, ry, rz])
    normals /= np.linalg.norm(normals, axis=1, keepdims=True)
    face = _rotate_yaw(face, pose.head_yaw)
    normals = _rotate_yaw(normals, pose.yaw + pose.head_yaw)
    joints[list(FACE_JOINTS)] = head + face
    # feet on the ground
    lift = 0.045 - min(joints[ANKLE[RIGHT], 1], joints[ANKLE[LEFT], 1])
    points = np.concatenate([joints, hand_tips, toes, heels, [head, waist, crotch]])
    points[:, 1] += lift
    # view and projection
    points = _rotate_yaw(points, pose.yaw)
    image = np.empty_like(points)
    image[:, 0] = pose.center_x + pose.scale * points[:, 0]
    image[:, 1] = pose.ground_y - pose.scale * points[:, 1]
    image[:, 2] = pose.scale * points[:, 2]
    facing = np.ones(18)
    facing[list(FACE_JOINTS)] = normals[:, 2]
    s = pose.scale
    return PosedBody(
        body=body,
        pose=pose,
        joints=image[:18],
        face_normal_z=facing,
        head=image[24],
        head_yaw=pose.yaw + pose.head_yaw,
        waist=image[25],
        crotch=image[26],
        hand_tips=image[18:20],
        toes=image[20:22],
        heels=image[22:24],
        chest_half=s * _silhouette_half(body.chest_half, body.torso_depth, pose.yaw),
        waist_half=s * _silhouette_half(body.waist_half, body.torso_depth, pose.yaw),
        pelvis_half=s * _silhouette_half(body.pelvis_half, 1.1 * body.torso_depth, pose.yaw),
    )
