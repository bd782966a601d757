"""torchvision's Keypoint R-CNN (ResNet-50 FPN, COCO) as a PCKh pose estimator.

The detector finds COCO's 17 keypoints; they are mapped to the 18-point OpenPose order of the
annotation files (:mod:`bench.keypoints`), the neck being the midpoint of the two shoulders when
both are found (OpenPose's COCO-18 adds the neck the same way in its training data)::

    from bench.pose.keypointrcnn import KeypointRCNN, coco17_to_18
    est = KeypointRCNN.from_settings(settings)        # weights: keypointrcnn (hub cache / path)
    est.estimate(images)                              # (N, 18, 2) (x, y), -1 missing

Per image the highest-scoring person detection is kept if its score is at least
``min_person_score``; its keypoints whose score exceeds ``min_keypoint_score`` are present.
This is not the protocol's estimator (PATN used the CMU OpenPose model): numbers from it are
labelled with this estimator on their record.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import WeightsUnavailableError
from bench.keypoints import MISSING, NUM_JOINTS
from bench.pose.base import PoseEstimator
from bench.weights import load_state_dict, resolve

# 18-point index -> COCO-17 index (neck: from the shoulders)
COCO17_FOR_18 = {0: 0, 2: 6, 3: 8, 4: 10, 5: 5, 6: 7, 7: 9, 8: 12, 9: 14, 10: 16, 11: 11,
                 12: 13, 13: 15, 14: 2, 15: 1, 16: 4, 17: 3}
COCO_L_SHOULDER, COCO_R_SHOULDER = 5, 6
NECK = 1


def coco17_to_18(kpts17: np.ndarray, present17: np.ndarray) -> np.ndarray:
    """(N, 17, 2) (x, y) and (N, 17) bool -> (N, 18, 2) in the annotation order, -1 missing."""
    kpts17 = np.asarray(kpts17, dtype=np.float32)
    present17 = np.asarray(present17, dtype=bool)
    out = np.full((len(kpts17), NUM_JOINTS, 2), MISSING, dtype=np.float32)
    for j18, j17 in COCO17_FOR_18.items():
        ok = present17[:, j17]
        out[ok, j18] = kpts17[ok, j17]
    both = present17[:, COCO_L_SHOULDER] & present17[:, COCO_R_SHOULDER]
    out[both, NECK] = (kpts17[both, COCO_L_SHOULDER] + kpts17[both, COCO_R_SHOULDER]) / 2
    return out


class KeypointRCNN(PoseEstimator):
    name = "keypointrcnn"
    version = "torchvision-keypointrcnn_resnet50_fpn-coco-v1"
    weights = "keypointrcnn"

    def __init__(self, weights_path, device: str = "cpu", min_person_score: float = 0.5,
                 min_keypoint_score: float = 0.0, batch_size: int = 8) -> None:
        import torchvision

        state, used = load_state_dict("keypointrcnn", weights_path)  # data only
        net = torchvision.models.detection.keypointrcnn_resnet50_fpn(
            weights=None, weights_backbone=None)
        try:
            net.load_state_dict(state)
        except RuntimeError as exc:
            raise WeightsUnavailableError(
                f"Keypoint R-CNN weights {weights_path} could not be loaded: "
                f"{type(exc).__name__}: {str(exc)[:300]}") from None
        self.net = net.eval().to(device)
        self.weights_used = {used.network: used}
        self.device = device
        self.min_person_score = float(min_person_score)
        self.min_keypoint_score = float(min_keypoint_score)
        self.batch_size = int(batch_size)
        self.version = (f"{self.version}-person>={self.min_person_score:g}"
                        f"-kp>{self.min_keypoint_score:g}")

    @classmethod
    def from_settings(cls, settings, sizes=None) -> KeypointRCNN:
        path = resolve("keypointrcnn", settings.weights_path("keypointrcnn"),
                       download=settings.download)
        est = cls(path, device=settings.device)
        if sizes is not None:  # images per pass: the chunk that fills the device
            size = settings.scored_size()
            est.batch_size = sizes.of("keypointrcnn", lambda k: est._most_detections(k, size),
                                      default=est.batch_size)
        return est

    def _most_detections(self, n: int, size: tuple[int, int]) -> None:
        """A pass over ``n`` blank images that keeps every detection the box head may keep
        (score threshold 0: ``detections_per_img`` each): the memory of the worst batch, since
        the keypoint head runs once per kept detection."""
        heads = self.net.roi_heads
        threshold, heads.score_thresh = heads.score_thresh, 0.0
        try:
            self._detect(np.zeros((n, *size, 3), np.uint8))
        finally:
            heads.score_thresh = threshold

    def _detect(self, part: np.ndarray) -> list[dict]:
        """torchvision's detections of uint8 (n, H, W, 3) images, one network pass."""
        x = torch.from_numpy(np.ascontiguousarray(part)).permute(0, 3, 1, 2)
        x = x.to(self.device).float().div_(255)
        with torch.inference_mode():
            return self.net(list(x))

    def estimate(self, images: np.ndarray, keys=None) -> np.ndarray:
        images = self.check_images(images)
        kpts17 = np.zeros((len(images), 17, 2), np.float32)
        present17 = np.zeros((len(images), 17), bool)
        for start in range(0, len(images), self.batch_size):
            outputs = self._detect(images[start:start + self.batch_size])
            for i, out in enumerate(outputs, start=start):
                if len(out["scores"]) == 0:
                    continue
                best = int(out["scores"].argmax())
                if float(out["scores"][best]) < self.min_person_score:
                    continue
                kpts17[i] = out["keypoints"][best, :, :2].cpu().numpy()
                present17[i] = (out["keypoints_scores"][best] > self.min_keypoint_score).cpu().numpy()
        return coco17_to_18(kpts17, present17)
