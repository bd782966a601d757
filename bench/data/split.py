"""A validated split: pair list and keypoints, checked before any work starts.

    split = load_split(files)            # DataError: unannotated pair names, with line numbers
    pairs = split.select(limit=100)      # first 100 pairs in file order
    pairs = split.select(subset=500, seed=1)   # a reproducible random sample, file order kept
    pairs_sha256(pairs)                  # goes on every record

Problems that only concern some pairs (an image file missing from the folder, keypoints
outside the frame) do not stop the run: they are listed in ``split.pair_problems`` and each
affected pair becomes a per-pair error record.

Each image is read from the first of ``files.image_file_names(name)`` that the folder holds
(its CSV name; under ``pidm`` also PIDM's ``deep{stem}.png``): ``split.image_path(name)`` is
that file for the loader and every other reader, and ``split.renamed`` counts the images found
only under the script's name (said on the run's records).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.data.annotations import read_annotations, read_pairs
from bench.data.datasets import DatasetFiles
from bench.errors import DataError
from bench.keypoints import MISSING
from bench.types import Pair


@dataclass(frozen=True)
class Split:
    files: DatasetFiles
    pairs: tuple[Pair, ...]  # the whole split in file order
    keypoints: dict[str, np.ndarray]  # image name -> (18, 2) (x, y) in image coordinates
    image_problems: dict[str, str] = field(default_factory=dict)  # image name -> reason
    # image name -> the file name that holds it, where that is not the name itself
    image_files: dict[str, str] = field(default_factory=dict)

    @property
    def renamed(self) -> int:
        """How many images were found only under the script's own name (PIDM: deep*.png)."""
        return len(self.image_files)

    def image_path(self, name: str) -> Path:
        """The file that holds dataset image ``name`` (split loaded without checking the
        images: the first candidate name that exists, else the CSV's name)."""
        if name in self.image_files:
            return self.files.image_dir / self.image_files[name]
        candidates = self.files.image_file_names(name)
        if len(candidates) > 1 and name not in self.image_problems:
            for candidate in candidates:
                if (self.files.image_dir / candidate).is_file():
                    return self.files.image_dir / candidate
        return self.files.image_dir / name

    def select(
        self, limit: int | None = None, subset: int | None = None, seed: int = 0
    ) -> tuple[Pair, ...]:
        """The pairs to evaluate: all, the first ``limit``, or a seeded ``subset`` sample."""
        if limit is not None and subset is not None:
            raise DataError("--limit and --subset are exclusive: choose one")
        pairs = self.pairs
        for flag, value in (("--limit", limit), ("--subset", subset)):
            if value is not None and value < 1:
                raise DataError(f"{flag} must be a positive number of pairs, got {value}")
        if limit is not None:
            chosen = pairs[:limit]
        elif subset is not None:
            if subset >= len(pairs):
                chosen = pairs
            else:
                rng = np.random.default_rng(seed)
                idx = np.sort(rng.choice(len(pairs), size=subset, replace=False))
                chosen = tuple(pairs[i] for i in idx)
        else:
            chosen = pairs
        return tuple(Pair(p.src, p.tgt, i) for i, p in enumerate(chosen))

    def pair_problem(self, pair: Pair) -> str | None:
        """Why ``pair`` cannot be evaluated (missing image, keypoints off-frame), or None."""
        for name in (pair.src, pair.tgt):
            if name in self.image_problems:
                return self.image_problems[name]
        return None


def pairs_sha256(pairs: tuple[Pair, ...] | list[Pair]) -> str:
    """sha256 of the evaluated pair list, in order (``from,to`` lines)."""
    digest = hashlib.sha256()
    for p in pairs:
        digest.update(f"{p.src},{p.tgt}\n".encode())
    return digest.hexdigest()


def _frame_problems(names: list[str], kpts: np.ndarray, files: DatasetFiles) -> dict[str, str]:
    """{name: problem} of the keypoint sets (N, 18, 2) with a keypoint outside the frame."""
    h, w = files.size
    m = files.frame_margin_x
    x, y = kpts[..., 0], kpts[..., 1]
    have = (x != MISSING) & (y != MISSING)
    bad = have & ((x < -m) | (x >= w + m) | (y < 0) | (y >= h))
    problems = {}
    for i in np.flatnonzero(bad.any(axis=1)):
        j = int(np.flatnonzero(bad[i])[0])
        problems[names[i]] = (
            f"keypoint {j} of {names[i]} at (x={x[i, j]:g}, y={y[i, j]:g}) lies outside the "
            f"{h}x{w} frame ({files.annotations_file.name})"
        )
    return problems


def load_split(files: DatasetFiles, check_images: bool = True) -> Split:
    """Read and validate the pair and annotation files of a located split."""
    rows = read_pairs(files.pairs_file)
    annotations = read_annotations(files.annotations_file)
    unannotated = [(line, n) for s, t, line in rows for n in (s, t) if n not in annotations]
    if unannotated:
        shown = "\n".join(f"    line {line}: {n}" for line, n in unannotated[:5])
        more = f"\n    ... and {len(unannotated) - 5} more" if len(unannotated) > 5 else ""
        raise DataError(
            f"{files.pairs_file}: {len(unannotated)} pair entries name images that have no row "
            f"in {files.annotations_file.name}:\n{shown}{more}"
        )
    needed = sorted({n for s, t, _ in rows for n in (s, t)})
    stacked = np.stack([annotations[name] for name in needed]) if needed else np.empty((0, 18, 2))
    if files.kpt_shift_x:
        have = stacked[..., 0] != MISSING
        stacked[..., 0][have] += files.kpt_shift_x
    keypoints: dict[str, np.ndarray] = dict(zip(needed, stacked, strict=True))
    problems = _frame_problems(needed, stacked, files)
    image_files: dict[str, str] = {}
    if check_images:
        on_disk = set(os.listdir(files.image_dir))
        missing = []
        for name in sorted(needed):
            found = next((f for f in files.image_file_names(name) if f in on_disk), None)
            if found is None:
                missing.append(name)
            elif found != name:
                image_files[name] = found
        if len(missing) == len(needed):
            names = " or ".join(files.image_file_names(missing[0]))
            raise DataError(
                f"none of the {len(needed)} images named in {files.pairs_file.name} is in "
                f"{files.image_dir} (e.g. {names}); is --data-root the folder that holds "
                f"{files.image_dir.name}/ and the CSV files?"
            )
        for name in missing:
            problems[name] = files.missing_image_text(name)
    pairs = tuple(Pair(s, t, i) for i, (s, t, _) in enumerate(rows))
    return Split(files=files, pairs=pairs, keypoints=keypoints, image_problems=problems,
                 image_files=image_files)
