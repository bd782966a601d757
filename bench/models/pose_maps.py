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
