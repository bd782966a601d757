"""Colours of the synthetic people: the 18 joint markers, and palettes that stay clear of them.

The markers are saturated colours (chroma >= 190 of 255) at least ~100 RGB units apart from
each other; skin, hair, clothing and background colours are drawn from muted palettes and
rejected when they come closer than :data:`MARKER_CLEARANCE` to any marker, so a pixel close
to a marker colour can only be a marker (:mod:`bench.pose.markers` relies on it)::

    import numpy as np
    from bench.data.synthetic.palette import MARKER_RGB, clothing_color
    MARKER_RGB.shape                                   # (18, 3) uint8, COCO-18 joint order
    clothing_color(np.random.default_rng(0))           # float32 (3,) in 0..255
"""

from __future__ import annotations

import colorsys

import numpy as np

# One colour per joint, in the order of bench.keypoints.JOINTS. Found by a max-min-distance
# search over RGB colours with chroma >= 190; the smallest pairwise distance is 102.
MARKER_RGB = np.array(
    [
        (255, 65, 165),  # nose
        (0, 190, 130),  # neck
        (255, 70, 55),  # r_shoulder
        (195, 255, 0),  # r_elbow
        (10, 0, 195),  # r_wrist
        (0, 255, 255),  # l_shoulder
        (190, 5, 0),  # l_elbow
        (95, 60, 250),  # l_wrist
        (255, 190, 65),  # r_hip
        (0, 110, 195),  # r_knee
        (190, 0, 110),  # r_ankle
        (0, 255, 50),  # l_hip
        (205, 65, 255),  # l_knee
        (190, 135, 0),  # l_ankle
        (65, 255, 175),  # r_eye
        (65, 170, 255),  # l_eye
        (115, 255, 65),  # r_ear
        (70, 190, 0),  # l_ear
    ],
    dtype=np.uint8,
)

# Minimum RGB distance between any palette colour and any marker colour ...
MARKER_CLEARANCE = 80.0
# ... also after the renderer's shading, which darkens surfaces by these factors at most.
SHADES = (1.0, 0.8, 0.62)

SKIN_TONES = np.array(
    [
        (250, 222, 198), (238, 200, 170), (224, 184, 150), (204, 162, 130),
        (180, 130, 95), (150, 102, 70), (118, 80, 56), (86, 60, 44),
    ],
    dtype=np.float32,
)

HAIR_COLORS = np.array(
    [
        (24, 20, 20), (48, 34, 28), (82, 58, 40), (120, 86, 56), (170, 130, 85),
        (200, 178, 135), (125, 62, 42), (140, 140, 140), (215, 212, 205),
    ],
    dtype=np.float32,
)


_MARKERS_F = MARKER_RGB.astype(np.float32)
_SHADES_F = np.array(SHADES, dtype=np.float32)[:, None, None]


def marker_distance(rgb: np.ndarray) -> float:
    """RGB distance from ``rgb`` (..., 3) to the nearest marker colour (over all of them)."""
    diff = _MARKERS_F - np.asarray(rgb, dtype=np.float32)[..., None, :]
    return float(np.sqrt((diff * diff).sum(axis=-1)).min())


def is_clear(rgb: np.ndarray) -> bool:
    """Whether ``rgb`` keeps MARKER_CLEARANCE from every marker under every shade."""
    return marker_distance(np.asarray(rgb, dtype=np.float32)[None, :] * _SHADES_F[:, 0]) >= (
        MARKER_CLEARANCE
    )


def jittered(rng: np.random.Generator, rgb: np.ndarray, spread: float) -> np.ndarray:
    """``rgb`` scaled by a random factor in [1 - spread, 1 + spread], if that stays clear."""
    out = np.minimum(rgb * np.float32(rng.uniform(1.0 - spread, 1.0 + spread)), 255.0)
    return out.astype(np.float32) if is_clear(out) else np.asarray(rgb, dtype=np.float32)


def _hsv_color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]):
    # Rejection sampling; ~95% of muted colours pass, so this loops once or twice.
    while True:
        h, s, v = rng.random(), rng.uniform(*sat), rng.uniform(*val)
        rgb = np.array(colorsys.hsv_to_rgb(h, s, v), dtype=np.float32) * 255.0
        if is_clear(rgb):
            return rgb


def clothing_color(rng: np.random.Generator) -> np.ndarray:
    """A muted garment colour (any hue, saturation <= 0.55) clear of the markers."""
    if rng.random() < 0.2:  # greys, blacks and whites are common garments
        v = rng.uniform(0.08, 0.95) * 255.0
        return np.array([v, v, v], dtype=np.float32) * rng.uniform(0.96, 1.04, 3).astype(
            np.float32
        )
    return _hsv_color(rng, (0.1, 0.55), (0.15, 0.92))


def background_color(rng: np.random.Generator) -> np.ndarray:
    """A street-scene colour (saturation <= 0.3) clear of the markers."""
    return _hsv_color(rng, (0.0, 0.3), (0.25, 0.95))


def shoe_color(rng: np.random.Generator) -> np.ndarray:
    """Dark or white shoes."""
    v = rng.choice([0.1, 0.18, 0.3, 0.9]) * 255.0
    return np.array([v, v * 0.95, v * 0.9], dtype=np.float32)
