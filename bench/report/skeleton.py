"""Drawing an 18-point pose as a skeleton image (the "target pose" column of qualitative grids)::

    from bench.report.skeleton import draw_skeleton
    img = draw_skeleton(kpts, size=(128, 64))      # uint8 (128, 64, 3), limbs on black

Limbs are PATN's mask limbs (:data:`bench.keypoints.MASK_LIMBS`, the torso closed), each in a
colour of its own; joints are white-rimmed dots. Missing joints (-1) and limbs touching one are
not drawn. Drawn at 4x and downsampled, so thin lines stay smooth at 64 pixels wide.
"""

from __future__ import annotations

import colorsys

import numpy as np
from PIL import Image, ImageDraw

from bench.keypoints import MASK_LIMBS, NUM_JOINTS, present

SUPERSAMPLE = 4
BACKGROUND = (0, 0, 0)


def limb_colours(n: int = len(MASK_LIMBS)) -> list[tuple[int, int, int]]:
    """Evenly spaced hues: neighbouring limbs are told apart, the palette encodes no data."""
    return [tuple(int(255 * c) for c in colorsys.hsv_to_rgb(i / n, 0.85, 1.0)) for i in range(n)]


def draw_skeleton(kpts: np.ndarray, size: tuple[int, int],
                  background: tuple[int, int, int] = BACKGROUND) -> np.ndarray:
    """(18, 2) (x, y) keypoints in image pixels -> uint8 (H, W, 3) skeleton image."""
    kpts = np.asarray(kpts, dtype=np.float64)
    if kpts.shape != (NUM_JOINTS, 2):
        raise ValueError(f"expected keypoints of shape ({NUM_JOINTS}, 2), got {kpts.shape}")
    h, w = size
    s = SUPERSAMPLE
    canvas = Image.new("RGB", (w * s, h * s), background)
    draw = ImageDraw.Draw(canvas)
    ok = present(kpts)
    width = max(1, round(h / 64)) * s
    pts = (kpts + 0.5) * s
    for (a, b), colour in zip(MASK_LIMBS, limb_colours(), strict=True):
        if ok[a] and ok[b]:
            draw.line([tuple(pts[a]), tuple(pts[b])], fill=colour, width=width)
    radius = width * 0.9
    for j in np.flatnonzero(ok):
        x, y = pts[j]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 255, 255))
    return np.asarray(canvas.resize((w, h), Image.Resampling.LANCZOS), dtype=np.uint8)
