"""A training-free pose estimator for the synthetic dataset: find each joint's colour marker.

Pixels within ``tolerance`` (RGB distance) of a joint colour, and nearer to it than to any
other marker colour, are candidates with weight ``(1 - distance / tolerance) ** 2`` (pure
marker pixels count fully, anti-aliased or blurred ones little); candidates are grouped into
8-connected blobs per joint, the blob with the largest total weight wins, and its weighted
centroid is the keypoint. A blob touching a heavier blob of another colour and without any
pixel within ``tolerance / 2`` of its own colour is the rim of that other marker, not a
marker, and is ignored. Joints whose best blob weighs less than ``min_weight`` are missing
(-1). The renderer keeps skin, hair, clothes and backgrounds ``MARKER_CLEARANCE`` (80) away
from every marker, so on rendered images only markers match; on generated images, blurred
markers lose weight and eventually go missing. JPEG's 4:2:0 chroma subsampling washes out
the small face markers at 128x64 (PATN's JPEG strips): score PNGs with this detector::

    from bench.pose import ESTIMATORS
    detector = ESTIMATORS.get("markers")()
    keypoints = detector.estimate(images)       # (N, H, W, 3) uint8 -> (N, 18, 2) float32

Vectorised over a chunk of images: one distance computation on the few saturated pixels,
one connected-component labelling, bincounts for the blob statistics.
"""

from __future__ import annotations

import numpy as np
from skimage.measure import label

from bench.data.synthetic.palette import MARKER_RGB
from bench.keypoints import MISSING, NUM_JOINTS
from bench.pose.base import PoseEstimator


class MarkerDetector(PoseEstimator):
    name = "markers"
    version = "1"

    def __init__(
        self,
        tolerance: float = 60.0,
        min_weight: float | None = None,
        colors: np.ndarray = MARKER_RGB,
        chunk: int = 64,
    ) -> None:
        """``min_weight`` (sum of squared pixel weights of a blob) defaults to
        ``0.25 * (H / 128) ** 2``: a few percent of a body marker's weight, enough to keep
        markers that blur or JPEG have washed out, and more than stray mixed pixels weigh."""
        self.colors = np.asarray(colors, dtype=np.float32).reshape(NUM_JOINTS, 3)
        self.tolerance = float(tolerance)
        self.core_distance = 0.5 * self.tolerance
        self.min_weight = min_weight
        self.chunk = int(chunk)
        # a pixel within ``tolerance`` of a marker has chroma >= this (chroma moves at most
        # 2 per unit of RGB distance): a cheap first filter
        chroma = self.colors.max(axis=1) - self.colors.min(axis=1)
        self._min_chroma = max(0.0, float(chroma.min()) - 2.0 * self.tolerance)

    def estimate(self, images: np.ndarray, keys=None) -> np.ndarray:
        images = self.check_images(images)
        out = np.full((len(images), NUM_JOINTS, 2), MISSING, dtype=np.float32)
        h = images.shape[1]
        min_weight = self.min_weight if self.min_weight is not None else 0.25 * (h / 128.0) ** 2
        for start in range(0, len(images), self.chunk):
            part = images[start : start + self.chunk]
            out[start : start + len(part)] = self._estimate_chunk(part, min_weight)
        return out

    # ------------------------------------------------------------------------------------
    def _estimate_chunk(self, images: np.ndarray, min_weight: float) -> np.ndarray:
        n, h, w, _ = images.shape
        out = np.full((n, NUM_JOINTS, 2), MISSING, dtype=np.float32)
        r, g, b = images[..., 0], images[..., 1], images[..., 2]
        chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
        cand = np.flatnonzero(chroma >= self._min_chroma)  # flat indices into (n, h, w)
        if cand.size == 0:
            return out
        pix = images.reshape(-1, 3)[cand].astype(np.float32)  # (K, 3)
        # squared distances to the marker colours, without BLAS (deterministic, tiny K x 3)
        d2 = ((pix[:, None, :] - self.colors[None, :, :]) ** 2).sum(axis=2)  # (K, 18)
        joint = d2.argmin(axis=1)
        dist = np.sqrt(d2[np.arange(len(cand)), joint])
        keep = dist < self.tolerance
        if not keep.any():
            return out
        cand, joint, dist = cand[keep], joint[keep], dist[keep]
        weight = (1.0 - dist / self.tolerance) ** 2  # mixed edge pixels count little
        img, rem = np.divmod(cand, h * w)
        ys, xs = np.divmod(rem, w)
        # 8-connected blobs of equal joint id; a blank row between images keeps them apart
        ids = np.zeros((n, h + 1, w), dtype=np.int32)
        ids[img, ys, xs] = joint + 1
        blobs = label(ids.reshape(n * (h + 1), w), background=0, connectivity=2)
        blobs = blobs.reshape(n, h + 1, w)
        blob = blobs[img, ys, xs]  # (K,) blob id of each candidate
        count = int(blob.max()) + 1
        mass = np.bincount(blob, weights=weight, minlength=count)
        sum_x = np.bincount(blob, weights=weight * xs, minlength=count)
        sum_y = np.bincount(blob, weights=weight * ys, minlength=count)
        key = np.full(count, -1, dtype=np.int64)  # (image, joint) of each blob
        key[blob] = img * NUM_JOINTS + joint
        usable = key >= 0
        usable[self._rims(blobs, img, ys, xs, blob, dist, mass)] = False
        candidates = np.flatnonzero(usable)
        # heaviest blob per (image, joint)
        order = candidates[np.lexsort((-mass[candidates], key[candidates]))]
        _, first = np.unique(key[order], return_index=True)
        best = order[first]
        best = best[mass[best] >= min_weight]
        k_img, k_joint = np.divmod(key[best], NUM_JOINTS)
        out[k_img, k_joint, 0] = sum_x[best] / mass[best]
        out[k_img, k_joint, 1] = sum_y[best] / mass[best]
        return out

    def _rims(self, blobs, img, ys, xs, blob, dist, mass) -> np.ndarray:
        """Ids of blobs that are only the anti-aliased rim of a heavier marker of another
        colour: touching it, and without a pixel near their own colour (a rim mixing marker A
        with the clothing under it can look like marker B)."""
        closest = np.full(len(mass), np.inf)
        np.minimum.at(closest, blob, dist)
        padded = np.pad(blobs, ((0, 0), (1, 1), (1, 1)))
        rim = np.zeros(len(mass), dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                other = padded[img, ys + 1 + dy, xs + 1 + dx]
                touch = (other > 0) & (other != blob)
                touch[touch] = mass[other[touch]] > mass[blob[touch]]
                rim[blob[touch]] = True
        return np.flatnonzero(rim & (closest > self.core_distance))
