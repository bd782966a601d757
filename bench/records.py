"""The results schema: one JSON line per number, append-only.

Every table and plot is a projection of these records; nothing downstream recomputes a
metric. Values are raw (never rounded); formatting happens at render time::

    writer = RecordWriter(run_dir / "records.jsonl")
    writer.write(Record(run_id=..., kind="metric", model="warp", metric="ssim", key="ssim",
                        value=0.61234, ...))
    records = read_records(run_dir / "records.jsonl")
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

KIND_METRIC = "metric"  # a metric value over the evaluated pairs
KIND_PAIR_ERROR = "pair_error"  # one pair of one model produced no value, and why
KIND_MODEL_ERROR = "model_error"  # a model or metric failed as a whole
KIND_UNAVAILABLE = "unavailable"  # a metric that cannot be computed here (error: the reason)
# a model's size, operation count, speed or memory (bench.efficiency); value None with the reason
# in error when not applicable (training-free) or unavailable (no GPU here); extra.status says
KIND_EFFICIENCY = "efficiency"


@dataclass(frozen=True)
class Record:
    run_id: str  # results/<run_id>/
    kind: str  # KIND_METRIC, KIND_PAIR_ERROR, KIND_MODEL_ERROR, KIND_UNAVAILABLE, KIND_EFFICIENCY
    model: str  # canonical registry name
    dataset: str
    split: str
    pairs_sha256: str  # sha256 of the evaluated pair list ("from,to" lines, in order)
    n: int  # pairs that contributed to the value (0 for errors)
    protocol: str
    protocol_version: str
    checkpoint: str = "none"  # path, "untrained", or "none" for training-free methods
    checkpoint_sha256: str | None = None
    metric: str | None = None  # registry name of the metric ("ssim")
    metric_version: str | None = None
    key: str | None = None  # result key ("ssim", "is_std"); a pair key for pair errors
    value: float | None = None  # raw; inf allowed (PSNR of identical images)
    unit: str | None = None
    higher_is_better: bool | None = None
    reference_bound: bool = False  # oracle/source: a bound that calibrates tables
    device: str = "cpu"
    # the arithmetic of the model's generation: fp32, or autocast bf16 / fp16 (bench.precision);
    # fp32 for models with no network, whatever the run's --precision
    precision: str = "fp32"
    git_sha: str = "unknown"
    created: str = ""  # ISO 8601 UTC
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    schema: int = SCHEMA_VERSION


def record_to_json(record: Record) -> str:
    data = dataclasses.asdict(record)
    value = data["value"]
    if isinstance(value, float) and math.isnan(value):
        raise ValueError(f"refusing to write NaN for {record.model}/{record.key}: record an error")
    return json.dumps(data, sort_keys=False, allow_nan=True)


class RecordWriter:
    """Appends records to a JSON-lines file, flushing each so an interruption loses nothing."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fh = self.path.open("a", encoding="utf-8")

    def write(self, record: Record) -> None:
        self._fh.write(record_to_json(record) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()

    def __enter__(self) -> RecordWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _field_problem(data: dict) -> str | None:
    """What is wrong with the types of a record's numeric fields, or None."""
    value = data.get("value")
    if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
        return f"value must be a number or null, found {value!r}"
    n = data.get("n", 0)
    if isinstance(n, bool) or not isinstance(n, int):
        return f"n must be a whole number, found {n!r}"
    if not isinstance(data.get("extra", {}), dict):
        return f"extra must be a JSON object, found {data['extra']!r}"
    return None


def read_records(path: Path) -> list[Record]:
    """Records of a ``records.jsonl`` file; a malformed line is reported with its number."""
    names = {f.name for f in dataclasses.fields(Record)}
    out = []
    with Path(path).open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{line_no}: not a JSON record ({exc.msg})") from None
            if not isinstance(data, dict):
                raise ValueError(f"{path}:{line_no}: expected a JSON object (one record), "
                                 f"found {type(data).__name__}")
            unknown = set(data) - names
            if unknown:
                raise ValueError(f"{path}:{line_no}: unknown record fields {sorted(unknown)}")
            problem = _field_problem(data)
            if problem:
                raise ValueError(f"{path}:{line_no}: {problem}")
            try:
                out.append(Record(**data))
            except TypeError as exc:  # a required field missing
                raise ValueError(f"{path}:{line_no}: not a record ({exc})") from None
    return out
