"""Pose estimators by name: the keypoints PCKh compares, re-estimated on generated images.

    from bench.pose import ESTIMATORS
    ESTIMATORS.names()                         # ['markers', 'keypointrcnn']
    detector = ESTIMATORS.get("markers")()     # bench.pose.markers.MarkerDetector
    keypoints = detector.estimate(images)      # (N, H, W, 3) uint8 -> (N, 18, 2) (x, y), -1

Keypoints estimated elsewhere (PATN's OpenPose scripts) are read by
:class:`bench.pose.precomputed.PrecomputedKeypoints` (``--keypoints MODEL=CSV``).
"""

from __future__ import annotations

from bench.pose.base import PoseEstimator
from bench.registry import Registry

ESTIMATORS: Registry[type[PoseEstimator]] = Registry("pose estimator")
ESTIMATORS.register_lazy("markers", "bench.pose.markers:MarkerDetector")
ESTIMATORS.register_lazy("keypointrcnn", "bench.pose.keypointrcnn:KeypointRCNN")

__all__ = ["ESTIMATORS", "PoseEstimator"]
