"""Everything a run writes under ``results/<run_id>/``, written as it goes.

    results/<run_id>/
      config.json          the fully resolved RunConfig
      env.json             versions, device, threads, git SHA
      records.jsonl        one record per number (bench.records), append-only
      per_pair/<model>.csv one row per evaluated pair: per-pair metric values or the error
      images/<model>/      each generated image, lossless PNG, {from}___{to}.png (stems)

    outputs = RunOutputs(run_dir, models=("warp",), save_images=True)
    outputs.save_images("warp", batch.pairs, fake)        # encoded in background threads
    outputs.write_pair_rows("warp", batch.pairs, {"ssim": values}, errors={})
    outputs.close()                                       # waits for pending images
"""

from __future__ import annotations

import csv
import json
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import BenchError
from bench.types import Pair


def image_file_name(pair: Pair) -> str:
    return f"{Path(pair.src).stem}___{Path(pair.tgt).stem}.png"


def prepare_run_dir(run_dir: Path) -> Path:
    """Create the run folder; refuse to write into a previous run (records are append-only)."""
    run_dir = Path(run_dir)
    if (run_dir / "records.jsonl").exists():
        raise BenchError(
            f"{run_dir} already holds a run (records.jsonl); choose another --out or remove it"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


class RunOutputs:
    def __init__(self, run_dir: Path, models: tuple[str, ...], save_images: bool) -> None:
        self.run_dir = Path(run_dir)
        self._save = save_images
        self._pool = ThreadPoolExecutor(max_workers=2) if save_images else None
        self._pending: list[Future] = []
        self._tables: dict[str, tuple] = {}  # model -> (file, csv writer, per-pair keys)
        if save_images:
            for model in models:
                (self.run_dir / "images" / model).mkdir(parents=True, exist_ok=True)
        (self.run_dir / "per_pair").mkdir(exist_ok=True)

    def write_json(self, name: str, data: dict) -> None:
        (self.run_dir / name).write_text(json.dumps(data, indent=2, default=str) + "\n")

    # -- images --------------------------------------------------------------------------
    def save_images(self, model: str, pairs: tuple[Pair, ...], images: np.ndarray) -> None:
        if not self._save:
            return
        folder = self.run_dir / "images" / model
        for pair, image in zip(pairs, images, strict=True):
            path = folder / image_file_name(pair)
            self._pending.append(self._pool.submit(Image.fromarray(image).save, path, "PNG"))
        done = [f for f in self._pending if f.done()]
        for f in done:
            f.result()  # surface disk errors early
        self._pending = [f for f in self._pending if not f.done()]

    # -- per-pair table ------------------------------------------------------------------
    def open_pair_table(self, model: str, keys: tuple[str, ...]) -> None:
        """Start ``per_pair/<model>.csv`` with one column per per-pair metric key."""
        fh = (self.run_dir / "per_pair" / f"{model}.csv").open("w", newline="")
        writer = csv.writer(fh)
        writer.writerow(["index", "from", "to", *keys, "error"])
        self._tables[model] = (fh, writer, keys)

    def write_pair_rows(
        self,
        model: str,
        pairs: tuple[Pair, ...],
        values: dict[str, np.ndarray],
        errors: dict[int, str],
    ) -> None:
        """Rows for ``pairs``; ``errors`` maps a row to its message."""
        fh, writer, keys = self._tables[model]
        for row, pair in enumerate(pairs):
            cells = [repr(float(values[k][row])) if k in values else "" for k in keys]
            writer.writerow([pair.index, pair.src, pair.tgt, *cells, errors.get(row, "")])
        fh.flush()

    def close(self) -> None:
        for f in self._pending:
            f.result()
        if self._pool is not None:
            self._pool.shutdown()
        for fh, _, _ in self._tables.values():
            fh.close()
