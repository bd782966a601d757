"""Keypoints estimated outside the harness, read from a CSV: the protocol-faithful PCKh path.

PATN estimated the generated images' keypoints with the CMU OpenPose model
(``tool/compute_coordinates.py``) and wrote them in the annotation format, one row per result
image named ``{from}___{to}_vis.jpg``. Such a file is given per model with
``--keypoints MODEL=CSV``, where MODEL is a registered model or a results folder's NAME
(``folder:NAME=PATH``)::

    from bench.pose.precomputed import PrecomputedKeypoints
    est = PrecomputedKeypoints(Path("pckh.csv"))
    est.estimate(images, keys=[pair.key for pair in batch.pairs])  # (N, 18, 2); NaN: no row

A row names its pair the way result files do (:func:`bench.models.folder.candidate_names`):
``{from}___{to}`` (PATN, the harness), ``{from}_{to}`` (Def-GAN), ``{from}_2_{to}``, with or
without the images' extensions and PATN's ``_vis``, as ``.png``/``.jpg``/``.jpeg`` or bare, so
``a.jpg___b.jpg_vis.jpg``, ``a___b.png`` and ``a.jpg_b.jpg.png`` (Def-GAN's file name) all name
the pair (a.jpg, b.jpg). Keypoints estimated on a released folder's files therefore match that
folder's pairs whatever its naming. A pair without a row gets NaN keypoints (the metric reports
it, rather than silently counting it wrong). ``shift_x`` moves x coordinates (not -1) into the
frame the metric scores in (the protocol's white padding).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.data.annotations import read_annotations
from bench.errors import DataError
from bench.keypoints import MISSING, NUM_JOINTS
from bench.pose.base import PoseEstimator
from bench.types import Pair

EXTENSIONS = (".jpg", ".jpeg", ".png")


def row_stem(name: str) -> str:
    """A row's name without one image extension: the name of its result file's stem."""
    lower = name.lower()
    for ext in EXTENSIONS:
        if lower.endswith(ext) and len(name) > len(ext):
            return name[: -len(ext)]
    return name


class PrecomputedKeypoints(PoseEstimator):
    name = "precomputed"
    version = "1"

    def __init__(self, path: Path, shift_x: float = 0.0) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise DataError(f"--keypoints file {self.path} does not exist")
        rows = read_annotations(self.path)
        self.rows: dict[str, np.ndarray] = {}  # row name and its stem -> (18, 2) (x, y)
        named: dict[str, str] = {}  # the same keys -> the row name they came from
        for name, kpts in rows.items():
            if "_" not in name:
                raise DataError(
                    f"{self.path}: row {name!r} does not name a pair: expected the name of a "
                    "result file, '{from}___{to}' (PATN, e.g. a.jpg___b.jpg_vis.jpg) or "
                    "'{from}_{to}' (Def-GAN, e.g. a.jpg_b.jpg.png)")
            if shift_x:
                kpts = kpts.copy()
                kpts[:, 0] = np.where(kpts[:, 0] != MISSING, kpts[:, 0] + shift_x, MISSING)
            for key in dict.fromkeys((name, row_stem(name))):
                other = named.setdefault(key, name)
                if other != name and not np.array_equal(self.rows[key], kpts):
                    raise DataError(
                        f"{self.path}: rows {other!r} and {name!r} name the same result file "
                        f"{key!r} with different keypoints; keep one")
                self.rows[key] = kpts
        self.version = f"1:{self.path.name}"

    def lookup(self, key: str) -> np.ndarray | None:
        """The keypoints of the pair ``key`` (``{from}___{to}``, :attr:`Pair.key`), or None."""
        from bench.models.folder import candidate_names

        src, sep, tgt = key.partition("___")
        if not sep:
            raise ValueError(f"expected a pair key '{{from}}___{{to}}', got {key!r}")
        for stem, _ in candidate_names(Pair(src, tgt, 0)):
            if stem in self.rows:
                return self.rows[stem]
        return None

    def estimate(self, images: np.ndarray, keys=None) -> np.ndarray:
        images = self.check_images(images)
        if keys is None or len(keys) != len(images):
            raise ValueError("precomputed keypoints are looked up by pair: pass keys=[pair.key ...]")
        out = np.full((len(images), NUM_JOINTS, 2), np.nan, dtype=np.float32)
        for i, key in enumerate(keys):
            row = self.lookup(key)
            if row is not None:
                out[i] = row
        return out
