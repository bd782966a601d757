"""The pose-estimator interface: uint8 images in, (x, y) keypoints out, -1 where not found.

Every estimator (the synthetic set's marker detector, keypoints precomputed by OpenPose and
read from a CSV, Keypoint R-CNN) returns keypoints in the convention of :mod:`bench.keypoints`.
``keys`` names the pairs the images belong to (``{from}___{to}``), for estimators that look
their answers up instead of computing them::

    import numpy as np
    from bench.pose.base import PoseEstimator

    class Nothing(PoseEstimator):
        name, version = "nothing", "1"
        def estimate(self, images, keys=None):
            images = self.check_images(images)
            return np.full((len(images), 18, 2), -1, np.float32)

    Nothing().estimate(np.zeros((2, 128, 64, 3), np.uint8)).shape     # (2, 18, 2)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType

import numpy as np


class PoseEstimator(ABC):
    """Finds the 18 COCO joints of the person in each image."""

    name: str = ""
    version: str = "1"
    weights: str | None = None  # bench.weights name of the network it needs, if any
    # the files its network was loaded from: bench.weights.WeightsUsed by network name
    weights_used: Mapping = MappingProxyType({})

    @classmethod
    def from_settings(cls, settings, sizes=None) -> PoseEstimator:
        """Build from the run's :class:`bench.metrics.settings.MetricSettings` (device, weights)
        and :class:`bench.device_batch.BatchSizes` (its network's chunk of a batch);
        estimators without a network ignore them."""
        return cls()

    @abstractmethod
    def estimate(self, images: np.ndarray, keys=None) -> np.ndarray:
        """(N, H, W, 3) uint8 RGB -> (N, 18, 2) float32 (x, y); -1 in both for a missing joint.
        ``keys``: the pair keys of the images (``Pair.key``), or None."""

    @staticmethod
    def check_images(images: np.ndarray) -> np.ndarray:
        """``images`` as a (N, H, W, 3) uint8 array, or ValueError saying what is wrong."""
        if not isinstance(images, np.ndarray):
            raise ValueError(f"images must be a numpy array, got {type(images).__name__}")
        if images.dtype != np.uint8:
            raise ValueError(f"images must be uint8 (0..255, as saved to disk), got {images.dtype}")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must have shape (N, H, W, 3) RGB, got {images.shape}")
        return images
