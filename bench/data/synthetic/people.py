"""Who is in the picture: body proportions and looks of one synthetic identity.

Every identity is drawn from its own random stream, so identity 7 looks the same whichever
split or image count it is generated with. Lengths are in units of the standing height::

    from bench.data.synthetic.people import sample_identity
    person = sample_identity(seed=0, pid=7)
    person.body.upper_arm, person.top.pattern, person.hair_style     # 0.17.., 'stripes', 'long'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.data.synthetic.palette import (
    HAIR_COLORS,
    SKIN_TONES,
    clothing_color,
    jittered,
    shoe_color,
)

PATTERNS = ("solid", "hstripes", "vstripes", "checks")
HAIR_STYLES = ("bald", "short", "medium", "long")
SLEEVES = ("none", "short", "long")
BOTTOMS = ("pants", "shorts", "skirt")


@dataclass(frozen=True, eq=False)
class Body:
    """Proportions as fractions of the standing height (feet at 0, crown at ~1)."""

    height: float  # relative size of this person (multiplies the framing)
    shoulder_y: float
    hip_y: float
    shoulder_half: float  # half the distance between the shoulder joints
    hip_half: float
    neck_len: float
    head_rx: float  # head half-width
    head_ry: float  # head half-height
    upper_arm: float
    forearm: float
    thigh: float
    shin: float
    foot: float
    arm_r: float  # capsule radii
    forearm_r: float
    thigh_r: float
    shin_r: float
    neck_r: float
    chest_half: float  # torso half-width at the shoulders (x) ...
    waist_half: float
    pelvis_half: float
    torso_depth: float  # ... and half-depth (z)


@dataclass(frozen=True, eq=False)
class Garment:
    color: np.ndarray  # float32 (3,) 0..255
    color2: np.ndarray  # second colour of stripes / checks
    pattern: str  # one of PATTERNS
    period: float  # pattern period in height units


@dataclass(frozen=True, eq=False)
class Identity:
    pid: int
    body: Body
    skin: np.ndarray
    hair: np.ndarray
    hair_style: str
    top: Garment
    sleeves: str
    bottom: Garment
    bottom_kind: str
    shoes: np.ndarray
    arm_swing: float  # this person's arm swing relative to the stride


def _sample_body(rng: np.random.Generator) -> Body:
    build = rng.uniform(0.82, 1.3)  # slim .. broad
    limbs = rng.uniform(0.94, 1.06)
    legs = rng.uniform(0.95, 1.05)
    shoulder_y = 0.818 + rng.uniform(-0.012, 0.012)
    shin = 0.235 * legs * rng.uniform(0.97, 1.03)
    thigh = 0.24 * legs * rng.uniform(0.97, 1.03)
    ankle_y = 0.045
    hip_y = ankle_y + thigh + shin
    head_ry = 0.064 * rng.uniform(0.93, 1.08)
    shoulder_half = 0.105 * rng.uniform(0.9, 1.1) * (0.92 + 0.08 * build)
    return Body(
        height=float(rng.uniform(0.94, 1.05)),
        shoulder_y=shoulder_y,
        hip_y=hip_y,
        shoulder_half=shoulder_half,
        hip_half=0.058 * rng.uniform(0.9, 1.12) * (0.9 + 0.1 * build),
        neck_len=0.03 * rng.uniform(0.8, 1.2),
        head_rx=head_ry * rng.uniform(0.76, 0.86),
        head_ry=head_ry,
        upper_arm=0.165 * limbs,
        forearm=0.15 * limbs,
        thigh=thigh,
        shin=shin,
        foot=0.055 * rng.uniform(0.9, 1.1),
        arm_r=0.026 * build,
        forearm_r=0.021 * build,
        thigh_r=0.043 * build,
        shin_r=0.031 * build,
        neck_r=0.024 * (0.9 + 0.1 * build),
        chest_half=shoulder_half + 0.02 * build,
        waist_half=0.082 * build,
        pelvis_half=0.092 * build * rng.uniform(0.95, 1.1),
        torso_depth=0.058 * build,
    )


def _sample_garment(rng: np.random.Generator, patterns: tuple[float, ...]) -> Garment:
    color = clothing_color(rng)
    color2 = clothing_color(rng)
    for _ in range(8):  # patterns need two colours that read as different
        if np.abs(color2 - color).sum() > 120:
            break
        color2 = clothing_color(rng)
    pattern = PATTERNS[int(rng.choice(len(PATTERNS), p=patterns))]
    return Garment(color=color, color2=color2, pattern=pattern, period=float(rng.uniform(0.03, 0.06)))


def identity_rng(seed: int, pid: int) -> np.random.Generator:
    """The random stream of identity ``pid`` (independent of splits and image counts)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1, pid]))


def sample_identity(seed: int, pid: int) -> Identity:
    """The identity ``pid`` of the dataset with ``seed``: proportions, skin, hair, clothes."""
    rng = identity_rng(seed, pid)
    body = _sample_body(rng)
    skin = jittered(rng, SKIN_TONES[int(rng.integers(len(SKIN_TONES)))], 0.035)
    hair = jittered(rng, HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))], 0.1)
    hair_style = HAIR_STYLES[int(rng.choice(4, p=(0.08, 0.42, 0.25, 0.25)))]
    top = _sample_garment(rng, (0.45, 0.25, 0.12, 0.18))
    bottom = _sample_garment(rng, (0.75, 0.05, 0.05, 0.15))
    sleeves = SLEEVES[int(rng.choice(3, p=(0.15, 0.45, 0.4)))]
    bottom_kind = BOTTOMS[int(rng.choice(3, p=(0.6, 0.22, 0.18)))]
    return Identity(
        pid=pid,
        body=body,
        skin=skin,
        hair=hair,
        hair_style=hair_style,
        top=top,
        sleeves=sleeves,
        bottom=bottom,
        bottom_kind=bottom_kind,
        shoes=shoe_color(rng),
        arm_swing=float(rng.uniform(0.6, 1.2)),
    )
