"""Everything a run writes under ``results/<run_id>/``, written as it goes.

    results/<run_id>/
      config.json          the fully resolved RunConfig
      env.json             versions, device, threads, git SHA
      records.jsonl        one record per number (bench.records), written by the merge
      units/               one file per work unit (bench.units): what resume and merge read
      per_pair/<model>.csv one row per evaluated pair: per-pair metric values or the error
      images/<model>/      each generated image, lossless PNG, {from}___{to}.png (stems)

    outputs = RunOutputs(run_dir, models=("warp",), save_images=True)
    outputs.save_images("warp", batch.pairs, fake)        # encoded in background threads
    outputs.open_pair_table("warp", keys=("ssim",))      # the merge writes the tables:
    outputs.write_unit_rows("warp", unit_model, plan.pairs)  # a work unit's rows, in order
    outputs.close()                                       # waits for pending images

    table = read_pair_table(run_dir / "per_pair" / "warp.csv")   # PairTable: keys, columns
"""

from __future__ import annotations

import csv
import json
import math
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import BenchError
from bench.types import Pair

PAIR_TABLE_FIXED = ("index", "from", "to", "error")  # the columns around the metric keys


def image_file_name(pair: Pair) -> str:
    return f"{Path(pair.src).stem}___{Path(pair.tgt).stem}.png"


def prepare_run_dir(run_dir: Path) -> Path:
    """Create the run folder; refuse to write into a previous run (finished or not)."""
    run_dir = Path(run_dir)
    if (run_dir / "records.jsonl").exists():
        raise BenchError(
            f"{run_dir} already holds a run (records.jsonl); choose another --out or remove it"
        )
    if (run_dir / "units").is_dir() and any((run_dir / "units").iterdir()):
        raise BenchError(
            f"{run_dir} holds an unfinished run (units/): resume it with python -m bench run "
            f"--resume {run_dir}, or choose another --out"
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

    def write_unit_rows(self, model: str, unit, pairs: tuple[Pair, ...]) -> None:
        """The per-pair rows a work unit holds (:class:`bench.units.ModelUnit`), as
        :meth:`write_pair_rows` writes them (``pairs``: the evaluated list, by index)."""
        fh, writer, keys = self._tables[model]
        if tuple(unit.keys) != tuple(keys):
            raise BenchError(f"per-pair columns of {model} differ between the unit "
                             f"({', '.join(unit.keys)}) and the table ({', '.join(keys)})")
        for row, (index, error) in enumerate(unit.rows):
            pair = pairs[index]
            cells = [repr(float(unit.values[row, j])) if unit.present[row, j] else ""
                     for j in range(len(keys))]
            writer.writerow([pair.index, pair.src, pair.tgt, *cells, error])
        fh.flush()

    def flush_images(self) -> None:
        """Wait until every image handed to :meth:`save_images` is on disk."""
        for f in self._pending:
            f.result()
        self._pending = []

    def close(self) -> None:
        self.flush_images()
        if self._pool is not None:
            self._pool.shutdown()
        for fh, _, _ in self._tables.values():
            fh.close()


@dataclass(frozen=True)
class PairTable:
    """``per_pair/<model>.csv`` read back: one entry per row, in file order."""

    keys: tuple[str, ...]  # per-pair metric keys (the columns between "to" and "error")
    index: tuple[int, ...]  # the pairs' positions in the evaluated list
    src: tuple[str, ...]
    tgt: tuple[str, ...]
    values: dict[str, tuple[float, ...]]  # key -> values; an empty cell is NaN
    errors: tuple[str, ...]  # "" where the pair was scored


def read_pair_table(path: Path) -> PairTable:
    """A per-pair table as :meth:`RunOutputs.write_pair_rows` writes it; BenchError naming the
    file and line of anything else (missing file, header, cell count, index, value)."""
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"no per-pair table at {path}")
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BenchError(f"{path}: not readable as a per-pair table ({exc})") from None
    expected = "index,from,to,<metric keys...>,error"
    if not rows:
        raise BenchError(f"{path}: empty file; expected the header {expected}")
    header = rows[0]
    if len(header) < 4 or tuple(header[:3]) != PAIR_TABLE_FIXED[:3] or header[-1] != "error":
        raise BenchError(f"{path}:1: expected the header {expected}, found {','.join(header)!r}")
    keys = tuple(header[3:-1])
    index, src, tgt, errors = [], [], [], []
    columns: dict[str, list[float]] = {k: [] for k in keys}
    for line, row in enumerate(rows[1:], start=2):
        if not row:
            continue
        if len(row) != len(header):
            raise BenchError(f"{path}:{line}: expected {len(header)} cells ({expected}), "
                             f"found {len(row)}")
        try:
            index.append(int(row[0]))
        except ValueError:
            raise BenchError(f"{path}:{line}: index {row[0]!r} is not a whole number") from None
        src.append(row[1])
        tgt.append(row[2])
        errors.append(row[-1])
        for key, cell in zip(keys, row[3:-1], strict=True):
            try:
                columns[key].append(float(cell) if cell != "" else math.nan)
            except ValueError:
                raise BenchError(f"{path}:{line}: {key} {cell!r} is not a number") from None
    return PairTable(keys=keys, index=tuple(index), src=tuple(src), tgt=tuple(tgt),
                     values={k: tuple(v) for k, v in columns.items()}, errors=tuple(errors))
