"""What one work unit computed, and its file under the run folder (written once, atomically).

    from bench.units import UnitResult, read_unit, unit_path, write_unit, complete_units
    write_unit(run_dir, result)                 # units/unit-00003-<hash12>.npz, atomic
    done = complete_units(run_dir, plan)        # {unit index: path} of finished units
    result = read_unit(done[3], plan)           # UnitResult; BenchError naming a bad file

A unit file is an ``.npz`` read with ``allow_pickle=False`` (data only): one JSON member
``meta`` (unit, configuration hash, who computed it, and per model its labels, counts, error
records and per-pair rows) and numeric members: per model the per-pair values and per metric
the arrays of :meth:`bench.types.Metric.state`. Arrays with the same bytes (FID's and KID's
Inception features of a batch) are stored once.

A unit's name carries the configuration hash, so files of another configuration never count
as done; a file is only ever complete (written under a temporary name, then renamed).
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.files import write_atomic
from bench.plan import Plan, Unit

FORMAT = "bench-unit-v1"
UNITS_DIR = "units"
_NAME = re.compile(r"unit-(\d{5,})-([0-9a-f]{12})\.npz")


@dataclass
class ModelUnit:
    """One model's share of a unit."""

    name: str
    labels: dict  # the fields naming the model on its records (checkpoint and its sha256)
    extra: dict = field(default_factory=dict)  # added to the extra of its metric records
    failed: int = 0  # pairs that produced no value
    scored: dict[str, int] = field(default_factory=dict)  # metric key -> pairs with a value
    records: list[dict] = field(default_factory=list)  # error records' fields, in order
    rows: list[tuple[int, str]] = field(default_factory=list)  # per-pair rows: (index, error)
    keys: tuple[str, ...] = ()  # per-pair metric keys (columns of ``values``)
    values: np.ndarray | None = None  # (rows, keys) float64
    present: np.ndarray | None = None  # (rows, keys) bool: a value was given (else "")
    states: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)  # metric -> state

    def add_rows(self, pairs, values: dict[str, np.ndarray], errors: dict[int, str]) -> None:
        """Per-pair rows as the per-pair table takes them (``values[key][row]``)."""
        n = len(pairs)
        block = np.full((n, len(self.keys)), np.nan)
        given = np.zeros((n, len(self.keys)), bool)
        for j, key in enumerate(self.keys):
            if key in values:
                block[:, j] = values[key]
                given[:, j] = True
        self.values = block if self.values is None else np.concatenate([self.values, block])
        self.present = given if self.present is None else np.concatenate([self.present, given])
        self.rows.extend((p.index, errors.get(i, "")) for i, p in enumerate(pairs))


@dataclass
class UnitResult:
    unit: Unit
    config_hash: str
    models: list[ModelUnit]
    who: dict = field(default_factory=dict)  # rank, world size, host, device, git sha, seconds


def unit_path(run_dir: Path, unit: Unit, config_hash: str) -> Path:
    return Path(run_dir) / UNITS_DIR / f"unit-{unit.index:05d}-{config_hash[:12]}.npz"


def write_unit(run_dir: Path, result: UnitResult) -> Path:
    """Write ``result`` atomically; returns its path."""
    arrays: dict[str, np.ndarray] = {}
    by_digest: dict[str, str] = {}

    def put(array) -> str:
        array = np.asarray(array)
        if not array.flags.c_contiguous:  # (np.ascontiguousarray would make 0-d arrays 1-d)
            array = array.copy()
        if array.dtype == object:
            raise BenchError(f"a metric state holds Python objects ({array!r:.80}); "
                             "states are numeric or string arrays")
        digest = hashlib.sha256(f"{array.dtype.str}{array.shape}".encode()
                                + array.tobytes()).hexdigest()[:24]
        if digest not in by_digest:
            by_digest[digest] = name = f"a{len(by_digest)}"
            arrays[name] = array
        return by_digest[digest]

    models = []
    for m in result.models:
        n = len(m.rows)
        values = m.values if m.values is not None else np.empty((n, len(m.keys)))
        present = m.present if m.present is not None else np.zeros((n, len(m.keys)), bool)
        models.append({
            "name": m.name, "labels": m.labels, "extra": m.extra, "failed": m.failed,
            "scored": m.scored, "records": m.records, "rows": m.rows, "keys": list(m.keys),
            "values": put(values), "present": put(present),
            "states": {metric: {k: put(v) for k, v in state.items()}
                       for metric, state in m.states.items()},
        })
    meta = {"format": FORMAT, "unit": [result.unit.index, result.unit.start, result.unit.stop],
            "config_hash": result.config_hash, "who": result.who, "models": models}
    buffer = io.BytesIO()
    np.savez(buffer, meta=np.array(json.dumps(meta, default=_json_default)), **arrays)
    path = unit_path(run_dir, result.unit, result.config_hash)
    write_atomic(path, buffer.getvalue())
    return path


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON data")


def read_unit(path: Path, plan: Plan) -> UnitResult:
    """A unit file of this plan; BenchError naming the file and what is wrong with it."""
    path = Path(path)
    how = f"delete {path} and resume the run to recompute that unit"
    try:
        with np.load(io.BytesIO(path.read_bytes()), allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            arrays = {k: data[k] for k in data.files if k != "meta"}
    except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile) as exc:
        raise BenchError(f"{path}: not a readable unit file ({type(exc).__name__}: "
                         f"{' '.join(str(exc).split())[:160]}); {how}") from None
    if meta.get("format") != FORMAT:
        raise BenchError(f"{path}: format {meta.get('format')!r}, expected {FORMAT!r}; {how}")
    if meta.get("config_hash") != plan.config_hash:
        raise BenchError(f"{path}: computed under configuration {meta.get('config_hash')!r:.16}, "
                         f"this run's is {plan.config_hash[:12]}; {how}")
    index, start, stop = meta["unit"]
    unit = Unit(index, start, stop)
    expected = plan.units()[index] if index < len(plan.units()) else None
    if unit != expected:
        raise BenchError(f"{path}: holds pairs {start}-{stop - 1} as unit {index}, the plan "
                         f"says {expected}; {how}")
    try:
        models = [ModelUnit(
            name=m["name"], labels=m["labels"], extra=m["extra"], failed=m["failed"],
            scored=m["scored"], records=m["records"],
            rows=[(int(i), str(e)) for i, e in m["rows"]], keys=tuple(m["keys"]),
            values=arrays[m["values"]], present=arrays[m["present"]].astype(bool),
            states={metric: {k: arrays[a] for k, a in state.items()}
                    for metric, state in m["states"].items()},
        ) for m in meta["models"]]
    except (KeyError, TypeError, ValueError) as exc:
        raise BenchError(f"{path}: incomplete unit file ({type(exc).__name__}: {exc}); "
                         f"{how}") from None
    return UnitResult(unit=unit, config_hash=plan.config_hash, models=models,
                      who=meta.get("who", {}))


def complete_units(run_dir: Path, plan: Plan) -> dict[int, Path]:
    """``{unit index: file}`` of the units already written under this configuration."""
    folder = Path(run_dir) / UNITS_DIR
    if not folder.is_dir():
        return {}
    done = {}
    n = len(plan.units())
    for path in folder.iterdir():
        match = _NAME.fullmatch(path.name)
        if (match and match.group(2) == plan.config_hash[:12] and int(match.group(1)) < n
                and path.is_file()):
            done[int(match.group(1))] = path
    return done
