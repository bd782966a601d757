"""bench.models.pose_maps: PATN's Gaussian keypoint heatmaps."""

from __future__ import annotations

import numpy as np
import torch

from bench.models.pose_maps import gaussian_heatmaps


def _patn_reference(kpts_xy: np.ndarray, size, sigma=6.0) -> np.ndarray:
    """PATN's cords_to_map as described in PROTOCOL.md 3.1, written independently with loops."""
    h, w = size
    out = np.zeros((len(kpts_xy), h, w), dtype=np.float64)
    for k, (x, y) in enumerate(kpts_xy):
        if x == -1 or y == -1:
            continue
        for r in range(h):
            for c in range(w):
                out[k, r, c] = np.exp(-((r - y) ** 2 + (c - x) ** 2) / (2 * sigma**2))
    return out


def test_matches_patn_maps_including_missing_and_off_frame_joints():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 30, size=(18, 2)).round()
    kpts[3] = -1  # missing
    kpts[5] = (20.0, -1)  # one coordinate missing counts as missing
    kpts[7] = (-4.0, 10.0)  # left of the frame: its tail still shows
    maps = gaussian_heatmaps(torch.from_numpy(kpts)[None].float(), (32, 16))
    assert maps.shape == (1, 18, 32, 16) and maps.dtype == torch.float32
    np.testing.assert_allclose(maps[0].numpy(), _patn_reference(kpts, (32, 16)), atol=1e-6)
    assert maps[0, 3].abs().sum() == 0 and maps[0, 5].abs().sum() == 0
    assert maps[0, 7].max() > 0


def test_peak_is_one_at_the_joint_and_non_finite_is_missing():
    kpts = torch.full((2, 18, 2), -1.0)
    kpts[0, 0] = torch.tensor([5.0, 9.0])
    kpts[1, 0] = torch.tensor([float("nan"), 3.0])
    maps = gaussian_heatmaps(kpts, (16, 8), sigma=2.0)
    assert maps[0, 0, 9, 5] == 1.0 and maps[0, 0].argmax() == 9 * 8 + 5
    assert torch.isfinite(maps).all() and maps[1].sum() == 0
