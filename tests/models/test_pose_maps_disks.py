"""bench.models.pose_maps.disk_maps: PG2's solid keypoint disks (pose_sparse_r4)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from bench.models.pose_maps import DISK_RADIUS, disk_maps


def _pg2_reference(kpts_xy: np.ndarray, size, radius=4) -> np.ndarray:
    """PG2's _getSparseKeypoint('Solid') as PROTOCOL.md 4.2 and utils.py describe it, written
    independently: truncate the joint to (int(y), int(x)), then loop over the square of offsets
    and keep those within the radius that land inside the frame."""
    h, w = size
    out = np.zeros((len(kpts_xy), h, w), dtype=np.float32)
    for k, (x, y) in enumerate(kpts_xy):
        if x == -1 or y == -1 or not (math.isfinite(x) and math.isfinite(y)):
            continue
        r, c = int(y), int(x)
        for i in range(-radius, radius + 1):
            for j in range(-radius, radius + 1):
                if math.sqrt(float(i * i + j * j)) <= radius and 0 <= r + i < h and 0 <= c + j < w:
                    out[k, r + i, c + j] = 1.0
    return out


def test_matches_the_loop_reference_including_borders_fractions_and_missing():
    rng = np.random.default_rng(0)
    kpts = rng.uniform(0, 40, size=(18, 2))
    kpts[:, 0] *= 0.5  # x within a 20-wide frame
    kpts[0] = (0.0, 0.0)  # corner: a quarter disk
    kpts[1] = (19.9, 39.99)  # truncated to (19, 39): the opposite corner
    kpts[2] = -1  # missing
    kpts[3] = (5.0, -1)  # one coordinate missing counts as missing
    kpts[4] = (-2.0, 10.0)  # off the left edge: its disk still reaches in
    kpts[5] = (-0.7, 10.0)  # int() truncates towards zero: column 0
    kpts[6] = (30.0, 10.0)  # far right, beyond the radius: nothing inside
    maps = disk_maps(torch.from_numpy(kpts)[None], (40, 20))
    assert maps.shape == (1, 18, 40, 20) and maps.dtype == torch.float32
    np.testing.assert_array_equal(maps[0].numpy(), _pg2_reference(kpts, (40, 20)))
    assert maps[0, 2].sum() == 0 and maps[0, 3].sum() == 0 and maps[0, 6].sum() == 0
    assert 0 < maps[0, 4].sum() < maps[0, 8].sum()


@pytest.mark.parametrize("radius", [0, 1, 2, 4, 6])
def test_a_whole_disk_has_the_lattice_point_count(radius):
    kpts = torch.full((1, 18, 2), -1.0)
    kpts[0, 0] = torch.tensor([16.0, 16.0])
    maps = disk_maps(kpts, (33, 33), radius=radius)
    expected = sum(1 for i in range(-radius, radius + 1) for j in range(-radius, radius + 1)
                   if i * i + j * j <= radius * radius)
    assert maps[0, 0].sum().item() == expected  # 49 for radius 4
    assert maps[0, 0, 16, 16] == 1 and maps[0, 1:].sum() == 0
    np.testing.assert_array_equal(maps[0].numpy(), _pg2_reference(kpts[0].numpy(), (33, 33), radius))


def test_default_radius_is_pg2s_and_batches_are_independent():
    assert DISK_RADIUS == 4
    kpts = torch.full((2, 18, 2), -1.0)
    kpts[0, 0] = torch.tensor([8.0, 8.0])
    kpts[1, 1] = torch.tensor([float("nan"), 3.0])  # non-finite: missing
    kpts[1, 2] = torch.tensor([float("inf"), 3.0])
    maps = disk_maps(kpts, (16, 16))
    assert maps[0, 0].sum() == 49 and maps[1].sum() == 0


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(N, J, 2\)"):
        disk_maps(torch.zeros(18, 2), (8, 8))
    with pytest.raises(ValueError, match="radius"):
        disk_maps(torch.zeros(1, 18, 2), (8, 8), radius=2.5)
    with pytest.raises(ValueError, match="radius"):
        disk_maps(torch.zeros(1, 18, 2), (8, 8), radius=-1)
