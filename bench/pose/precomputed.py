"""Keypoints estimated outside the harness, read from a CSV: the protocol-faithful PCKh path.

PATN estimated the generated images' keypoints with the CMU OpenPose model
(``tool/compute_coordinates.py``) and wrote them in the annotation format, one row per result
image named ``{from}___{to}_vis.jpg``. Such a file (or any CSV in that format whose rows name
the pair as ``{from}___{to}``, with or without an image extension or PATN's ``_vis.jpg``
suffix) is given per model with ``--keypoints MODEL=CSV``::

    from bench.pose.precomputed import PrecomputedKeypoints
    est = PrecomputedKeypoints(Path("pckh.csv"))
    est.estimate(images, keys=[pair.key for pair in batch.pairs])  # (N, 18, 2); NaN: no row

Names are matched by the stems of both images, so ``a.jpg___b.jpg_vis.jpg``, ``a___b.png`` and
``a.jpg___b.jpg`` name the same pair. A pair without a row gets NaN keypoints (the metric
reports it, rather than silently counting it wrong). ``shift_x`` moves x coordinates (not -1)
into the frame the metric scores in (the protocol's white padding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.annotations import read_annotations
from bench.errors import DataError
from bench.keypoints import MISSING, NUM_JOINTS
from bench.pose.base import PoseEstimator

SUFFIXES = ("_vis.jpg", "_vis.png")
EXTENSIONS = (".jpg", ".jpeg", ".png")


def _stem(name: str) -> str:
    for ext in EXTENSIONS:
        if name.lower().endswith(ext):
            return name[: -len(ext)]
    return name


def pair_stems(name: str) -> tuple[str, str] | None:
    """``('a', 'b')`` for ``a.jpg___b.jpg_vis.jpg``, ``a___b.png``, ...; None if not a pair."""
    for suffix in SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    parts = name.split("___")
    if len(parts) != 2 or not all(parts):
        return None
    return _stem(parts[0]), _stem(parts[1])


class PrecomputedKeypoints(PoseEstimator):
    name = "precomputed"
    version = "1"

    def __init__(self, path: Path, shift_x: float = 0.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"--keypoints file {self.path} does not exist")
        rows = read_annotations(self.path)
        self.rows: dict[tuple[str, str], np.ndarray] = {}
        for name, kpts in rows.items():
            stems = pair_stems(name)
            if stems is None:
                raise DataError(
                    f"{self.path}: row {name!r} does not name a pair as '{{from}}___{{to}}' "
                    "(PATN result names, e.g. a.jpg___b.jpg_vis.jpg)")
            if shift_x:
                kpts = kpts.copy()
                kpts[:, 0] = np.where(kpts[:, 0] != MISSING, kpts[:, 0] + shift_x, MISSING)
            self.rows[stems] = kpts
        self.version = f"1:{self.path.name}"

    def estimate(self, images: np.ndarray, keys=None) -> np.ndarray:
        images = self.check_images(images)
        if keys is None or len(keys) != len(images):
            raise ValueError("precomputed keypoints are looked up by pair: pass keys=[pair.key ...]")
        out = np.full((len(images), NUM_JOINTS, 2), np.nan, dtype=np.float32)
        for i, key in enumerate(keys):
            stems = pair_stems(key)
            row = self.rows.get(stems) if stems is not None else None
            if row is not None:
                out[i] = row
        return out
