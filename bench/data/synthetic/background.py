"""Per-image backgrounds: gradients, colour blocks (walls, pavement) and smooth noise.

Colours come from :func:`palette.background_color`, so no background pixel looks like a
joint marker, fine sensor noise included::

    import numpy as np
    from bench.data.synthetic.background import background
    bg = background(np.random.default_rng(0), (128, 64))    # float32 (128, 64, 3) in 0..255
"""

from __future__ import annotations

import numpy as np
from PIL import Image
from scipy.special import ndtri

from bench.data.synthetic.palette import background_color

# Gaussian quantiles of the 256 byte values: noise from random bytes, 4x faster than normal()
_GAUSS_LUT = ndtri((np.arange(256) + 0.5) / 256).astype(np.float32)

KINDS = ("gradient", "blocks", "noise")


def _gradient(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    c1, c2 = background_color(rng), background_color(rng)
    angle = rng.uniform(0.0, 2.0 * np.pi)
    y = np.arange(h, dtype=np.float32)[:, None] / h
    x = np.arange(w, dtype=np.float32)[None, :] / w
    t = np.float32(np.cos(angle)) * x + np.float32(np.sin(angle)) * y
    t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
    return c1 + t[..., None] * (c2 - c1)


def _blocks(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    out = np.empty((h, w, 3), dtype=np.float32)
    out[...] = background_color(rng)
    horizon = int(h * rng.uniform(0.5, 0.85))
    out[horizon:] = background_color(rng)  # pavement
    for _ in range(int(rng.integers(1, 5))):  # walls, windows, doors, signs
        bw, bh = int(rng.integers(w // 6, w // 2 + 2)), int(rng.integers(h // 8, h // 2))
        x0, y0 = int(rng.integers(-bw // 2, w)), int(rng.integers(-bh // 2, horizon))
        out[max(0, y0) : max(0, y0 + bh), max(0, x0) : max(0, x0 + bw)] = background_color(rng)
    return out


def _smooth_noise(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    c1, c2 = background_color(rng), background_color(rng)
    gh, gw = int(rng.integers(3, 7)), int(rng.integers(2, 5))
    grid = Image.fromarray(rng.random((gh, gw), dtype=np.float32))
    t = np.asarray(grid.resize((w, h), Image.Resampling.BILINEAR), dtype=np.float32)
    return c1 + t[..., None] * (c2 - c1)


def background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A random background of ``size`` (H, W) with fine noise, float32 RGB."""
    h, w = size
    kind = KINDS[int(rng.integers(len(KINDS)))]
    base = {"gradient": _gradient, "blocks": _blocks, "noise": _smooth_noise}[kind](rng, h, w)
    sigma = np.float32(rng.uniform(1.0, 4.0))
    noise = _GAUSS_LUT[rng.integers(0, 256, (h, w, 3), dtype=np.uint8)]
    noise *= sigma
    noise += base
    return np.clip(noise, 0.0, 255.0, out=noise)
