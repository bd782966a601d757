"""A run folder as the source of a qualitative grid: its pairs, keypoints and images::

    from bench.report.grid_sources import RunGridSource, grid_unavailable_reason
    reason = grid_unavailable_reason(Path("results/run"))     # None, or why no grid
    source = RunGridSource(Path("results/run"))
    source.models, source.pairs[:3], source.load(source.pairs[0])

* pairs: the run's per-pair table (``per_pair/<model>.csv``: index, from, to);
* generated images: ``images/<model>/{from}___{to}.png`` as the run saved them (a run with
  ``--no-images`` has none: no grid);
* keypoints: the dataset's annotation file, located as the run located it (``config.json``:
  dataset, data_root, split);
* source and ground truth: the dataset images, or, for a run without them (``patn-strips``),
  the source and target panels of the first results folder whose strips hold them.
"""

from __future__ import annotations

import csv
import json
from functools import cached_property
from pathlib import Path

import numpy as np
from PIL import Image

from bench.outputs import image_file_name
from bench.report.grid import GridPair
from bench.report.runs import ReportError
from bench.types import Pair


def grid_unavailable_reason(run_dir: Path) -> str | None:
    """Why a grid cannot be drawn from ``run_dir`` (no saved images, ...), or None."""
    run_dir = Path(run_dir)
    images = run_dir / "images"
    if not images.is_dir() or not any(p.is_dir() and any(p.iterdir()) for p in images.iterdir()):
        return f"qualitative grid: {run_dir} holds no generated images (run saved with --no-images)"
    if not (run_dir / "per_pair").is_dir():
        return f"qualitative grid: {run_dir} has no per_pair/ tables (the pair list)"
    if not (run_dir / "config.json").is_file():
        return f"qualitative grid: {run_dir} has no config.json (the dataset to read)"
    return None


class RunGridSource:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        reason = grid_unavailable_reason(self.run_dir)
        if reason is not None:
            raise ReportError(reason)
        self.config = json.loads((self.run_dir / "config.json").read_text(encoding="utf-8"))
        self.size = tuple(self.config.get("image_size") or (128, 64))
        ordered = list(self.config.get("models") or [])
        saved = {p.name for p in (self.run_dir / "images").iterdir() if p.is_dir()}
        self.models = [m for m in ordered if m in saved] + sorted(saved - set(ordered))
        self.pairs = self._read_pairs()

    def _read_pairs(self) -> list[Pair]:
        tables = sorted((self.run_dir / "per_pair").glob("*.csv"))
        if not tables:
            raise ReportError(f"{self.run_dir / 'per_pair'} holds no per-pair table")
        with tables[0].open(newline="", encoding="utf-8") as fh:
            rows = {int(r["index"]): Pair(r["from"], r["to"], int(r["index"]))
                    for r in csv.DictReader(fh)}
        return [rows[i] for i in sorted(rows)]

    # -- dataset ---------------------------------------------------------------------------
    @cached_property
    def _split(self):
        from bench.data import load_split, locate
        from bench.protocols import DEFAULT_PROTOCOL, PROTOCOLS

        root = self.config.get("data_root")
        try:
            files = locate(self.config["dataset"], Path(root) if root else None,
                           self.config.get("split", "test"), progress=False,
                           images_required=bool(self.config.get("dataset_images", True)))
            if files.size is None or tuple(files.size) != self.size:
                files = files.with_size(self.size)
            protocol = PROTOCOLS.get(self.config.get("protocol", DEFAULT_PROTOCOL))
            return load_split(files.with_image_naming(protocol.image_naming), check_images=False)
        except Exception as exc:  # the dataset moved since the run: say where it looked
            raise ReportError(f"qualitative grid: cannot read the dataset of {self.run_dir} "
                              f"({self.config.get('dataset')} at {root}): {exc}") from None

    def keypoints(self, pair: Pair) -> tuple[np.ndarray | None, np.ndarray | None]:
        kpts = self._split.keypoints
        return kpts.get(pair.src), kpts.get(pair.tgt)

    # -- images ----------------------------------------------------------------------------
    def generated(self, pair: Pair, model: str) -> np.ndarray | None:
        return _read(self.run_dir / "images" / model / image_file_name(pair))

    @cached_property
    def _strips(self):
        """(FolderIndex, Layout) of the first results folder with source and target panels."""
        from bench.models.folder import FolderIndex, Layout
        from bench.records import read_records

        for r in read_records(self.run_dir / "records.jsonl"):
            info = r.extra.get("results_folder") if r.kind == "metric" else None
            layout = (info or {}).get("layout") or {}
            if layout.get("target") is not None and layout.get("source") is not None:
                fields = {k: v for k, v in layout.items() if k != "description"}
                fields["panel_hw"] = tuple(fields["panel_hw"])
                return (FolderIndex.scan(Path(info["path"]), r.model),
                        Layout(description="", **fields))
        return None

    def _real(self, pair: Pair) -> tuple[np.ndarray | None, np.ndarray | None]:
        if self.config.get("dataset_images", True):
            return _read(self._split.image_path(pair.src)), _read(self._split.image_path(pair.tgt))
        strips = self._strips
        if strips is None:
            return None, None
        index, layout = strips
        found = index.find(pair)
        strip = _read(found[0]) if found else None
        if strip is None or strip.shape[:2] != layout.file_hw:
            return None, None
        _, target, source = layout.split(strip)
        return source, target

    def load(self, pair: Pair) -> GridPair:
        source, target = self._real(pair)
        _, tgt_kpts = self.keypoints(pair)
        h, w = self.size
        if source is None:
            source = np.full((h, w, 3), 200, np.uint8)
        if tgt_kpts is None:
            tgt_kpts = np.full((18, 2), -1.0)
        return GridPair(pair=pair, source=source, target_kpts=tgt_kpts, target=target,
                        generated={m: self.generated(pair, m) for m in self.models})


def _read(path: Path) -> np.ndarray | None:
    try:
        with Image.open(path) as img:
            return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (OSError, ValueError):
        return None
