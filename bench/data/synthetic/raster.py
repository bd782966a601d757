"""Anti-aliased drawing of filled shapes with signed-distance fields on a supersampled canvas.

Each shape is evaluated only inside its bounding box, with numpy broadcasting over a row and
a column of sample coordinates (no per-pixel Python). Coverage is a one-sample linear ramp of
the signed distance; :meth:`Canvas.to_uint8` area-averages the ``supersample`` x
``supersample`` samples of every pixel. Coordinates are final-image pixels, (0, 0) being the
centre of the top-left pixel::

    import numpy as np
    from bench.data.synthetic.raster import Canvas, Paint
    canvas = Canvas(np.full((128, 64, 3), 200, np.float32), supersample=2)
    canvas.capsule((20, 30), (40, 60), 4.0, 3.0, Paint(np.array([90, 60, 40], np.float32)))
    canvas.disc((32, 64), 1.2, np.array([255, 0, 0], np.float32))
    image = canvas.to_uint8()                 # (128, 64, 3) uint8
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class Patch:
    """What a paint sees of one shape: sample coordinates and shape-local coordinates."""

    x: np.ndarray  # (1, w) sample x
    y: np.ndarray  # (h, 1) sample y
    u: np.ndarray  # across the shape's axis, pixels (broadcastable to (h, w))
    v: np.ndarray  # along the shape's axis, pixels
    t: np.ndarray  # 0 on the axis .. 1 at the silhouette (drives the shading)


@dataclass(frozen=True, eq=False)
class Paint:
    """A surface: flat colour or a two-colour pattern, darkened towards the silhouette."""

    color: np.ndarray  # float32 (3,) 0..255
    color2: np.ndarray | None = None
    pattern: str = "solid"  # solid | hstripes | vstripes | checks
    period: float = 0.0  # pixels
    shade: float = 0.3

    def __call__(self, patch: Patch) -> np.ndarray:
        if self.pattern == "solid" or self.color2 is None or self.period <= 0:
            rgb = self.color
        else:
            k = 2.0 / self.period
            if self.pattern == "hstripes":
                mask = np.floor(patch.v * k) % 2
            elif self.pattern == "vstripes":
                mask = np.floor(patch.u * k) % 2
            else:
                mask = (np.floor(patch.u * k) + np.floor(patch.v * k)) % 2
            rgb = self.color + mask[..., None] * (self.color2 - self.color)
        light = 1.0 - self.shade * patch.t * patch.t
        return rgb * light[..., None]


PaintFn = Callable[[Patch], np.ndarray]


class Canvas:
    """An RGB float32 canvas at ``supersample`` times the size of the background."""

    def __init__(self, background: np.ndarray, supersample: int = 2) -> None:
        h, w, _ = background.shape
        ss = int(supersample)
        self.size = (h, w)
        self.ss = ss
        rgb = np.asarray(background, dtype=np.float32)
        self.rgb = np.repeat(np.repeat(rgb, ss, axis=0), ss, axis=1) if ss > 1 else rgb.copy()
        self.xs = ((np.arange(w * ss, dtype=np.float32) + 0.5) / ss - 0.5).astype(np.float32)
        self.ys = ((np.arange(h * ss, dtype=np.float32) + 0.5) / ss - 0.5).astype(np.float32)

    # -- helpers -----------------------------------------------------------------------
    def _window(self, x0: float, x1: float, y0: float, y1: float):
        ss = self.ss
        c0 = max(0, math.floor((x0 + 0.5) * ss) - 1)
        c1 = min(self.rgb.shape[1], math.ceil((x1 + 0.5) * ss) + 1)
        r0 = max(0, math.floor((y0 + 0.5) * ss) - 1)
        r1 = min(self.rgb.shape[0], math.ceil((y1 + 0.5) * ss) + 1)
        if c0 >= c1 or r0 >= r1:
            return None
        return r0, r1, c0, c1

    def _coverage(self, sd: np.ndarray) -> np.ndarray:
        return np.minimum(np.maximum(0.5 - sd * self.ss, 0.0), 1.0)

    def _blend(self, win, alpha: np.ndarray, rgb: np.ndarray) -> None:
        r0, r1, c0, c1 = win
        sub = self.rgb[r0:r1, c0:c1]
        sub += alpha[..., None] * (rgb - sub)

    # -- shapes ------------------------------------------------------------------------
    def capsule(self, a, b, ra: float, rb: float, paint: PaintFn) -> None:
        """Segment a -> b swept by a radius going linearly from ``ra`` to ``rb``."""
        ax, ay, bx, by = float(a[0]), float(a[1]), float(b[0]), float(b[1])
        r = max(ra, rb)
        win = self._window(min(ax, bx) - r, max(ax, bx) + r, min(ay, by) - r, max(ay, by) + r)
        if win is None:
            return
        r0, r1, c0, c1 = win
        px = self.xs[None, c0:c1] - ax
        py = self.ys[r0:r1, None] - ay
        dx, dy = bx - ax, by - ay
        length = math.hypot(dx, dy)
        if length < 1e-6:
            dx, dy, length = 0.0, 1.0, 1e-6
        ux, uy = dx / length, dy / length
        along = px * ux + py * uy  # (h, w)
        across = px * uy - py * ux
        t = np.minimum(np.maximum(along * (1.0 / length), 0.0), 1.0)
        ex = along - t * length
        dist = np.sqrt(ex * ex + across * across)
        radius = ra + (rb - ra) * t
        alpha = self._coverage(dist - radius)
        if not alpha.any():
            return
        patch = Patch(self.xs[None, c0:c1], self.ys[r0:r1, None], across, along,
                      np.minimum(dist / radius, 1.0))
        self._blend(win, alpha, paint(patch))

    def quad(self, points: np.ndarray, top, bottom, half_top: float, half_bottom: float,
             paint: PaintFn) -> None:
        """Convex polygon ``points`` with a spine from ``top`` to ``bottom`` for the paint."""
        x0, y0 = points.min(axis=0)
        x1, y1 = points.max(axis=0)
        win = self._window(float(x0), float(x1), float(y0), float(y1))
        if win is None:
            return
        r0, r1, c0, c1 = win
        x = self.xs[None, c0:c1]
        y = self.ys[r0:r1, None]
        q = np.roll(points, -1, axis=0)
        area2 = float(np.sum(points[:, 0] * q[:, 1] - q[:, 0] * points[:, 1]))
        sign = 1.0 if area2 >= 0 else -1.0
        sd = None
        for (px, py), (qx, qy) in zip(points.tolist(), q.tolist(), strict=True):
            ex, ey = qx - px, qy - py
            n = math.hypot(ex, ey) or 1.0
            nx, ny = sign * ey / n, -sign * ex / n
            d = (x - px) * nx + (y - py) * ny
            sd = d if sd is None else np.maximum(sd, d)
        alpha = self._coverage(sd)
        if not alpha.any():
            return
        tx, ty = float(top[0]), float(top[1])
        sx, sy = float(bottom[0]) - tx, float(bottom[1]) - ty
        length = math.hypot(sx, sy) or 1.0
        sx, sy = sx / length, sy / length
        v = (x - tx) * sx + (y - ty) * sy
        u = (x - tx) * -sy + (y - ty) * sx
        half = half_top + (half_bottom - half_top) * np.clip(v * (1.0 / length), 0.0, 1.0)
        patch = Patch(x, y, u, v, np.minimum(np.abs(u) / half, 1.0))
        self._blend(win, alpha, paint(patch))

    def ellipse(self, center, rx: float, ry: float, paint: PaintFn) -> None:
        """Axis-aligned ellipse; the paint gets u, v normalised to the unit circle."""
        cx, cy = float(center[0]), float(center[1])
        win = self._window(cx - rx, cx + rx, cy - ry, cy + ry)
        if win is None:
            return
        r0, r1, c0, c1 = win
        x = self.xs[None, c0:c1]
        y = self.ys[r0:r1, None]
        u = (x - cx) * (1.0 / rx)
        v = (y - cy) * (1.0 / ry)
        k2 = u * u + v * v
        # first-order distance to the ellipse: f / |grad f| with f = k2 - 1
        grad = 2.0 * np.sqrt((u * (1.0 / rx)) ** 2 + (v * (1.0 / ry)) ** 2) + 1e-6
        alpha = self._coverage((k2 - 1.0) / grad)
        if not alpha.any():
            return
        patch = Patch(x, y, u, v, np.minimum(np.sqrt(k2), 1.0))
        self._blend(win, alpha, paint(patch))

    def disc(self, center, radius: float, color: np.ndarray) -> None:
        """Flat-coloured disc (the joint markers)."""
        cx, cy = float(center[0]), float(center[1])
        win = self._window(cx - radius, cx + radius, cy - radius, cy + radius)
        if win is None:
            return
        r0, r1, c0, c1 = win
        dx = self.xs[None, c0:c1] - cx
        dy = self.ys[r0:r1, None] - cy
        alpha = self._coverage(np.sqrt(dx * dx + dy * dy) - radius)
        self._blend(win, alpha, color)

    def darken(self, center, rx: float, ry: float, strength: float) -> None:
        """Soft elliptic shadow (multiplies the canvas)."""
        cx, cy = float(center[0]), float(center[1])
        win = self._window(cx - rx, cx + rx, cy - ry, cy + ry)
        if win is None:
            return
        r0, r1, c0, c1 = win
        u = (self.xs[None, c0:c1] - cx) * (1.0 / rx)
        v = (self.ys[r0:r1, None] - cy) * (1.0 / ry)
        fall = np.clip(1.0 - (u * u + v * v), 0.0, 1.0)
        self.rgb[r0:r1, c0:c1] *= (1.0 - strength * fall)[..., None]

    # -- output ------------------------------------------------------------------------
    def to_uint8(self) -> np.ndarray:
        h, w = self.size
        ss = self.ss
        total = np.zeros((h, w, 3), dtype=np.float32)
        for dy in range(ss):  # strided sums: much faster than a mean over reshaped axes
            for dx in range(ss):
                total += self.rgb[dy::ss, dx::ss]
        total *= 1.0 / (ss * ss)
        total += 0.5
        np.floor(total, out=total)
        return np.clip(total, 0, 255).astype(np.uint8)
