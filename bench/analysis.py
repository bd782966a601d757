"""A run as pandas DataFrames, for notebooks and scripts: ``bench.load_run``.

    import bench
    df = bench.load_run("results/run")                 # one row per record (tidy)
    df[df.kind == "metric"].pivot(index="model", columns="key", values="value")
    pairs = bench.load_run("results/run", per_pair=True)  # one row per (model, pair, key)
    pairs[pairs.key == "ssim"].groupby("model").value.describe()

Records (``per_pair=False``), one row each, in file order, columns :data:`RECORD_COLUMNS`: every
field of :class:`bench.records.Record` (``value`` float, NaN where the record has none: errors,
unavailable metrics; ``inf`` kept), the bootstrap interval promoted from ``extra``
(``ci_low``, ``ci_high``, ``ci_level``; NaN without one), and ``extra`` itself kept whole as a
dict column (its contents differ by kind: a results folder's layout, efficiency breakdowns;
``pd.json_normalize(df.extra)`` flattens it where wanted).

Per-pair values (``per_pair=True``), from ``per_pair/<model>.csv``, columns
:data:`PAIR_COLUMNS`: ``model``, ``index`` (position in the evaluated pair list), ``from``,
``to``, ``key``, ``value`` (NaN where the pair has no value) and ``error`` ("" when scored).
Models come in the run's order (``config.json``).

Values are raw, as the run recorded them; nothing is recomputed or rounded. A malformed file is a
:class:`bench.errors.BenchError` naming the file and line. Tables are projections of these
frames: :func:`records_frame` builds the same frame from records already in memory (merged
runs).
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import BenchError
from bench.records import read_records
from bench.selection import models_of_run

if TYPE_CHECKING:  # pandas is imported when a frame is built: `import bench` stays light
    import pandas as pd

INTERVAL_FIELDS = ("ci_low", "ci_high", "ci_level")
RECORD_COLUMNS = (
    "run_id", "kind", "model", "metric", "metric_version", "key", "value", *INTERVAL_FIELDS,
    "n", "unit", "higher_is_better", "error", "protocol", "protocol_version", "dataset",
    "split", "pairs_sha256", "checkpoint", "checkpoint_sha256", "reference_bound", "device",
    "precision", "git_sha", "created", "schema", "extra",
)
PAIR_COLUMNS = ("run_id", "model", "index", "from", "to", "key", "value", "error")


def _run_folder(path: Path) -> Path:
    path = Path(path)
    if path.is_file() and path.name == "records.jsonl":
        path = path.parent
    if not (path / "records.jsonl").is_file():
        found = ("no such folder" if not path.exists() else
                 (", ".join(sorted(p.name for p in path.iterdir())[:8]) or "an empty folder")
                 if path.is_dir() else "a file")
        raise BenchError(f"expected a run folder with records.jsonl at {path}; found {found}")
    return path


def _number(value) -> float:
    return math.nan if value is None else float(value)


def records_frame(records) -> pd.DataFrame:
    """One row per :class:`Record`, columns :data:`RECORD_COLUMNS` (see the module docstring)."""
    import pandas as pd

    rows = []
    for record in records:
        row = dataclasses.asdict(record)
        row["value"] = _number(row["value"])
        for name in INTERVAL_FIELDS:
            row[name] = _number(record.extra.get(name))
        rows.append(row)
    frame = pd.DataFrame(rows, columns=list(RECORD_COLUMNS))
    return frame.astype({"value": "float64", "ci_low": "float64", "ci_high": "float64",
                         "ci_level": "float64", "n": "int64"})


def pairs_frame(folder: Path, run_id: str, models) -> pd.DataFrame:
    """One row per (model, pair, key) of ``per_pair/<model>.csv``, columns :data:`PAIR_COLUMNS`."""
    import pandas as pd

    from bench.outputs import read_pair_table

    columns: dict[str, list] = {c: [] for c in PAIR_COLUMNS}
    for model in models:
        path = folder / "per_pair" / f"{model}.csv"
        if not path.is_file():
            continue  # a model without a table (an efficiency-only record)
        table = read_pair_table(path)
        n = len(table.index)
        for key in table.keys:
            columns["model"] += [model] * n
            columns["index"] += table.index
            columns["from"] += table.src
            columns["to"] += table.tgt
            columns["key"] += [key] * n
            columns["value"] += table.values[key]
            columns["error"] += table.errors
    columns["run_id"] = [run_id] * len(columns["model"])
    return pd.DataFrame(columns).astype({"index": "int64", "value": "float64"})


def load_run(path, per_pair: bool = False) -> pd.DataFrame:
    """A run folder (or its ``records.jsonl``) as a tidy DataFrame: its records, or with
    ``per_pair=True`` its per-pair values (see the module docstring)."""
    folder = _run_folder(Path(path))
    try:
        records = read_records(folder / "records.jsonl")
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    if not per_pair:
        return records_frame(records)
    run_id = records[0].run_id if records else folder.name
    if not (folder / "per_pair").is_dir():
        raise BenchError(f"expected per-pair tables in {folder / 'per_pair'}; the folder holds "
                         "none (a profile-only run, or per_pair/ removed)")
    return pairs_frame(folder, run_id, models_of_run(folder, records))
