"""The 18-point keypoint convention of the Market-1501 / DeepFashion annotation files.

Keypoints flow through the harness as float32 arrays of shape (N, 18, 2) holding (x, y)
pixel coordinates, with ``MISSING`` (-1) in both coordinates for a joint the detector did not
find. The order is OpenPose COCO-18 as used by PATN / Def-GAN (PROTOCOL.md 3.1)::

    from bench.keypoints import JOINTS, present
    kpts = np.full((18, 2), -1.0); kpts[JOINTS.index("neck")] = (32, 28)
    present(kpts)            # boolean mask of shape (18,)
"""

from __future__ import annotations

import numpy as np

MISSING = -1
NUM_JOINTS = 18

# Index order of the annotation files. PATN labels 14..17 "Leye, Reye, Lear, Rear", but the
# estimator's own limb list shows 14/16 are the right eye/ear and 15/17 the left (PROTOCOL 3.1).
JOINTS: tuple[str, ...] = (
    "nose", "neck",
    "r_shoulder", "r_elbow", "r_wrist",
    "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle",
    "l_hip", "l_knee", "l_ankle",
    "r_eye", "l_eye", "r_ear", "l_ear",
)

# Limbs of PATN's pose_utils.produce_ma_mask, 0-based (PROTOCOL.md 3.4), torso closure included.
MASK_LIMBS: tuple[tuple[int, int], ...] = tuple(
    (a - 1, b - 1)
    for a, b in (
        (2, 3), (2, 6), (3, 4), (4, 5), (6, 7), (7, 8), (2, 9), (9, 10),
        (10, 11), (2, 12), (12, 13), (13, 14), (2, 1), (1, 15), (15, 17),
        (1, 16), (16, 18), (2, 17), (2, 18), (9, 12), (12, 6), (9, 3), (17, 18),
    )
)

# Joints whose bounding box is the PCKh head size (PROTOCOL.md 3.6).
HEAD_JOINTS: tuple[int, ...] = (0, 1, 14, 15, 16, 17)


def present(kpts: np.ndarray) -> np.ndarray:
    """Boolean mask of present joints for (..., 18, 2) keypoints."""
    kpts = np.asarray(kpts)
    return (kpts[..., 0] != MISSING) & (kpts[..., 1] != MISSING)
