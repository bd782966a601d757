"""Pose encodings that generators take as input, computed from (N, 18, 2) keypoints.

PATN, 2s-ATN and CTAT feed 18 Gaussian heatmaps, one channel per joint (PROTOCOL.md 3.1,
PATN tool/generate_pose_map_market.py)::

    from bench.models.pose_maps import gaussian_heatmaps
    maps = gaussian_heatmaps(kpts, size=(128, 64))   # (N, 18, 128, 64) float32 in [0, 1]

Channel k is ``exp(-((y - y_k)^2 + (x - x_k)^2) / (2 sigma^2))`` over the integer pixel grid,
sigma 6 px; a missing joint (either coordinate -1) or a non-finite coordinate gives an all-zero
channel. Coordinates outside the frame still contribute their tail inside it, as in PATN.
"""

from __future__ import annotations

import torch

from bench.keypoints import MISSING

HEATMAP_SIGMA = 6.0  # PATN's sigma for Market and DeepFashion (PROTOCOL.md 3.1)


def gaussian_heatmaps(
    kpts: torch.Tensor, size: tuple[int, int], sigma: float = HEATMAP_SIGMA
) -> torch.Tensor:
    """(N, J, 2) (x, y) keypoints -> (N, J, H, W) float32 Gaussian heatmaps on kpts' device."""
    if kpts.ndim != 3 or kpts.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, J, 2) (x, y), got {tuple(kpts.shape)}")
    if sigma <= 0:
        raise ValueError(f"sigma must be positive, got {sigma}")
    h, w = size
    kpts = kpts.to(torch.float32)
    x, y = kpts[..., 0], kpts[..., 1]
    present = torch.isfinite(kpts).all(-1) & (x != MISSING) & (y != MISSING)
    x = torch.where(present, x, torch.zeros_like(x))
    y = torch.where(present, y, torch.zeros_like(y))
    ys = torch.arange(h, dtype=torch.float32, device=kpts.device)
    xs = torch.arange(w, dtype=torch.float32, device=kpts.device)
    # separable: exp(-(dy^2 + dx^2) / 2s^2) = exp(-dy^2 / 2s^2) * exp(-dx^2 / 2s^2)
    gy = torch.exp(-((ys[None, None, :] - y[..., None]) ** 2) / (2 * sigma**2))  # (N, J, H)
    gx = torch.exp(-((xs[None, None, :] - x[..., None]) ** 2) / (2 * sigma**2))  # (N, J, W)
    maps = gy[..., :, None] * gx[..., None, :]
    return maps * present[..., None, None].to(maps.dtype)


DISK_RADIUS = 4  # PG2's pose_sparse_r4 (PROTOCOL.md 4.2)


def disk_maps(kpts: torch.Tensor, size: tuple[int, int], radius: int = DISK_RADIUS) -> torch.Tensor:
    """(N, J, 2) (x, y) keypoints -> (N, J, H, W) float32 binary solid disks (PG2's pose input).

    PG2 (utils.py ``_getSparseKeypoint``, mode 'Solid') truncates a joint to the integer pixel
    (row ``int(y)``, column ``int(x)``) and sets every in-frame pixel at offset (i, j) with
    ``sqrt(i^2 + j^2) <= radius`` to 1, everything else 0::

        from bench.models.pose_maps import disk_maps
        maps = disk_maps(kpts, size=(128, 64))        # (N, 18, 128, 64) in {0, 1}
        pose = maps * 2 - 1                           # PG2 feeds them rescaled to [-1, 1]

    A missing joint (either coordinate -1) or a non-finite coordinate gives an all-zero channel;
    a joint near or beyond the border keeps the part of its disk that lies inside the frame.
    """
    if kpts.ndim != 3 or kpts.shape[-1] != 2:
        raise ValueError(f"keypoints must be (N, J, 2) (x, y), got {tuple(kpts.shape)}")
    if isinstance(radius, bool) or int(radius) != radius or radius < 0:
        raise ValueError(f"radius must be a non-negative integer, got {radius!r}")
    radius = int(radius)
    h, w = size
    kpts = kpts.to(torch.float64)
    x, y = kpts[..., 0], kpts[..., 1]
    present = torch.isfinite(kpts).all(-1) & (x != MISSING) & (y != MISSING)
    # int() in the original truncates towards zero; off-frame joints stay off-frame
    col = torch.where(present, torch.trunc(x), torch.zeros_like(x))
    row = torch.where(present, torch.trunc(y), torch.zeros_like(y))
    ys = torch.arange(h, dtype=torch.float64, device=kpts.device)
    xs = torch.arange(w, dtype=torch.float64, device=kpts.device)
    dy2 = (ys[None, None, :] - row[..., None]) ** 2  # (N, J, H)
    dx2 = (xs[None, None, :] - col[..., None]) ** 2  # (N, J, W)
    inside = (dy2[..., :, None] + dx2[..., None, :]) <= radius * radius
    return (inside & present[..., None, None]).to(torch.float32)


class HeatmapPoseGenerator:
    """What a generator fed (image, source heatmaps, target heatmaps) shares (CTAT, PATN):
    the heatmaps of its keypoints, the harness convention, deterministic example inputs.

    The class sets ``self.size`` (H, W), ``self.config`` (with ``pose_channels``,
    ``heatmap_sigma`` and ``label``) and ``forward(src_img, src_pose, tgt_pose)`` in [-1, 1]::

        fake01 = net.render(src_img01, src_kpts, tgt_kpts)   # [0, 1] in, [0, 1] out
        out = net(*net.example_inputs(batch=2))             # shapes for probes and tests
    """

    def pose_maps(self, kpts: torch.Tensor) -> torch.Tensor:
        """(N, 18, 2) (x, y) keypoints, -1 missing -> (N, 18, H, W) Gaussian heatmaps."""
        return gaussian_heatmaps(kpts, self.size, self.config.heatmap_sigma)

    def render(self, src_img: torch.Tensor, src_kpts: torch.Tensor,
               tgt_kpts: torch.Tensor) -> torch.Tensor:
        """The harness convention: [0, 1] images and keypoints in, [0, 1] images out."""
        size = tuple(src_img.shape[-2:])
        if size != self.size:
            raise ValueError(f"{self.config.label} was built for {self.size[0]}x{self.size[1]} "
                             f"images, got {size[0]}x{size[1]}")
        out = self(src_img * 2 - 1, self.pose_maps(src_kpts), self.pose_maps(tgt_kpts))
        return ((out + 1) / 2).clamp(0, 1)

    def example_inputs(self, batch: int = 1, device: str | torch.device = "cpu"):
        """Deterministic inputs of the right shapes (for shape checks and efficiency probes)."""
        g = torch.Generator().manual_seed(0)
        h, w = self.size
        p = self.config.pose_channels
        return (
            (torch.rand(batch, 3, h, w, generator=g) * 2 - 1).to(device),
            torch.rand(batch, p, h, w, generator=g).to(device),
            torch.rand(batch, p, h, w, generator=g).to(device),
        )
