"""Reading run folders for reports, and merging several runs into one table's records.

A run folder is what ``python -m bench run`` wrote: ``records.jsonl`` (the numbers),
``config.json`` and ``env.json`` (how and where), ``per_pair/`` and ``images/``::

    from bench.report.runs import load_run, merge_runs
    runs = [load_run(Path("results/a")), load_run(Path("results/b"))]
    merged = merge_runs(runs)          # ReportError unless they evaluated the same pair list
    merged.records, merged.pairs_sha256, merged.runs

Runs merge only when their quality records share ``pairs_sha256`` (the SHA-256 of the evaluated
pair list) and protocol: numbers of different pairs or protocols never share a table. Runs that
hold efficiency records only (``python -m bench profile``: no pair list) merge with any run.
A model measured by two runs under the same key is refused rather than picked silently.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bench.errors import BenchError
from bench.records import Record, read_records

KIND_EFFICIENCY = "efficiency"  # bench.records.KIND_EFFICIENCY (bench.efficiency's records)


class ReportError(BenchError):
    """Runs or options a report cannot be rendered from (what was expected, where, found)."""


@dataclass(frozen=True)
class RunData:
    """One run folder as a report sees it."""

    path: Path
    run_id: str
    records: tuple[Record, ...]
    config: dict = field(default_factory=dict)
    env: dict = field(default_factory=dict)

    @property
    def pairs_sha256(self) -> str:
        """The pair-list hash of the run's pair-based records ("" for an efficiency-only run)."""
        return next((r.pairs_sha256 for r in self.records if r.pairs_sha256), "")

    @property
    def device_name(self) -> str | None:
        return self.env.get("device_name")


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ReportError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return data if isinstance(data, dict) else {}


def load_run(path: Path) -> RunData:
    """A run folder (or its ``records.jsonl``); ReportError naming what is missing."""
    path = Path(path)
    if path.is_file() and path.name == "records.jsonl":
        path = path.parent
    records_file = path / "records.jsonl"
    if not records_file.is_file():
        found = (", ".join(sorted(p.name for p in path.iterdir())[:8]) or "an empty folder"
                 ) if path.is_dir() else "no such folder"
        raise ReportError(f"expected a run folder with records.jsonl at {path}; found {found}")
    try:
        records = tuple(read_records(records_file))
    except ValueError as exc:
        raise ReportError(str(exc)) from None
    if not records:
        raise ReportError(f"{records_file} holds no records (an interrupted or empty run)")
    config = _read_json(path / "config.json")
    return RunData(path=path, run_id=records[0].run_id, records=records, config=config,
                   env=_read_json(path / "env.json"))


@dataclass(frozen=True)
class MergedRuns:
    """The records of one or more compatible runs, in run order."""

    runs: tuple[RunData, ...]
    records: tuple[Record, ...]
    pairs_sha256: str  # "" when every run is efficiency-only

    @property
    def protocols(self) -> list[str]:
        return list(dict.fromkeys(f"{r.protocol} v{r.protocol_version}" for r in self.records
                                  if r.pairs_sha256))


def _describe(run: RunData) -> str:
    first = next((r for r in run.records if r.pairs_sha256), run.records[0])
    return (f"{run.path} (dataset {first.dataset}, {first.split}, protocol {first.protocol} "
            f"v{first.protocol_version}, pairs sha256 {run.pairs_sha256[:12] or 'none'})")


def merge_runs(runs: list[RunData] | tuple[RunData, ...]) -> MergedRuns:
    """Merge runs that evaluated the same pairs under the same protocol, else ReportError."""
    runs = tuple(runs)
    if not runs:
        raise ReportError("no runs given: expected at least one results/<run> folder")
    paired = [r for r in runs if r.pairs_sha256]
    hashes = list(dict.fromkeys(r.pairs_sha256 for r in paired))
    if len(hashes) > 1:
        lines = "\n  ".join(_describe(r) for r in paired)
        raise ReportError(
            "refusing to merge runs that evaluated different pair lists (pairs_sha256 differs); "
            "their numbers are not comparable in one table. Report them separately, or re-run "
            f"with the same --dataset/--limit/--subset/--seed:\n  {lines}")
    protocols = list(dict.fromkeys(
        (r.protocol, r.protocol_version) for run in paired for r in run.records if r.pairs_sha256))
    if len(protocols) > 1:
        lines = "\n  ".join(_describe(r) for r in paired)
        raise ReportError(
            "refusing to merge runs scored under different protocols ("
            + ", ".join(f"{p} v{v}" for p, v in protocols) + f"):\n  {lines}")
    seen: dict[tuple[str, str], Path] = {}
    for run in runs:
        for r in run.records:
            if r.kind not in ("metric", "unavailable", KIND_EFFICIENCY):
                continue
            where = seen.setdefault((r.model, r.key), run.path)
            if where != run.path:
                raise ReportError(
                    f"model {r.model!r} has {r.key!r} in two runs ({where} and {run.path}); "
                    "a table cell would have two values. Report them separately, or rename "
                    "the model in one run")
    records = tuple(r for run in runs for r in run.records)
    return MergedRuns(runs=runs, records=records, pairs_sha256=hashes[0] if hashes else "")
