"""Records -> one comparison table (models x metrics), raw values plus every mark a reader needs.

The table holds raw values and decisions (direction, best, status, precision); the writers in
:mod:`bench.report.formats` only format them::

    from bench.report.table import TableOptions, build_table
    table = build_table(records)                                   # paper-ready defaults
    table = build_table(records, TableOptions(metrics=("ssim", "fid"), models=("ctat", "warp"),
                                              intervals=True))
    table.columns[0].label, table.rows[0].cells[0].value, table.notes

Rules, each shown in the notes under the table:

* one row per model (``models``: these, in this order); methods first, reference bounds
  (oracle, source) after them in a block of their own; models running untrained weights are
  labelled ``(untrained)``, models generated under autocast ``(bf16)`` / ``(fp16)``;
* by default one column per metric with at least one value, in the order the field's tables use
  for the dataset (:func:`bench.report.columns.metric_order`), then the efficiency columns with
  a value, picked by prefix (:mod:`bench.report.columns`); ``metrics`` / ``efficiency`` ask for
  columns explicitly (in that order, shown even where nothing could be computed); each column
  has its arrow (higher / lower is better) and unit;
* a metric column whose values came from weights other than the published files (Inception,
  AlexNet, ...; :mod:`bench.provenance`) is labelled ``(other weights)``, with a note naming
  the network and the SHA-256 prefix; a column mixing different weights ranks nothing;
* best per column in bold: among trained methods with a complete value (at least two),
  compared at the displayed precision (ties are all bold); bounds and untrained models never
  compete;
* a metric that could not be computed is ``unavailable``; the notes group such metrics by the
  short class of their reason, one line each ("FID, LPIPS: weights not provided"), whether the
  column is shown or left out; the long reasons (paths, URLs) stay in ``Cell.reason`` and
  ``Note.details`` (CSV, HTML). An incomplete value is marked, a missing one is a dash;
  nothing is blended in silently;
* bootstrap intervals only with ``intervals=True``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bench.models.base import UNTRAINED
from bench.precision import FP32
from bench.provenance import (
    other_weights,
    other_weights_label,
    other_weights_notes,
    weights_signature,
)
from bench.records import KIND_METRIC, KIND_MODEL_ERROR, KIND_UNAVAILABLE, Record
from bench.report.columns import (
    DEFAULT_EFFICIENCY,
    SWEEP_PREFIX,
    VARIANT_OF,
    column_format,
    efficiency_column,
    metric_order,
)
from bench.report.labels import model_label, precision_note
from bench.report.reasons import short_reason
from bench.report.runs import KIND_EFFICIENCY
from bench.selection import select_models

# cell statuses
OK = "ok"
INCOMPLETE = "incomplete"  # a value from part of the pairs (interrupted), or none at all
UNAVAILABLE = "unavailable"  # could not be computed here (weights, device): the reason in notes
NOT_APPLICABLE = "not_applicable"  # e.g. latency of a training-free method
MISSING = "missing"  # no record

# note marks (each writer draws them its own way)
MARK_UNAVAILABLE = "unavailable"
MARK_INCOMPLETE = "incomplete"


@dataclass(frozen=True)
class TableOptions:
    """What goes into the table (frozen: one object per report)."""

    # quality keys, in this order, shown as asked (default: those with a value, field order)
    metrics: tuple[str, ...] | None = None
    # efficiency prefixes (columns.py), shown as asked (default: DEFAULT_EFFICIENCY's with a value)
    efficiency: tuple[str, ...] | None = None
    models: tuple[str, ...] | None = None  # rows, in this order (default: every model)
    intervals: bool = False  # show [lo, hi] where the records have them
    caption: str | None = None
    keep_empty: bool = False  # default columns include those without any value (the CSV's)

    @property
    def efficiency_prefixes(self) -> tuple[str, ...]:
        return DEFAULT_EFFICIENCY if self.efficiency is None else self.efficiency


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    unit: str | None
    higher_is_better: bool | None
    precision: int
    scale: float
    group: str  # "quality" or "efficiency"
    record_unit: str | None = None  # the unit of the raw values (CSV)
    other_weights: frozenset[str] = frozenset()  # models whose value used unpublished weights

    @property
    def arrow(self) -> str:
        return "" if self.higher_is_better is None else ("up" if self.higher_is_better else "down")


@dataclass(frozen=True)
class Cell:
    value: float | None  # raw, as recorded
    status: str = MISSING
    low: float | None = None
    high: float | None = None
    best: bool = False
    reason: str | None = None  # why there is no plain value (long, as recorded: CSV, HTML)


@dataclass(frozen=True)
class Row:
    model: str
    bound: bool
    untrained: bool
    n: int
    cells: tuple[Cell, ...]
    precision: str = FP32  # of its generation (bench.precision)

    @property
    def label(self) -> str:
        return model_label(self.model, bound=self.bound, untrained=self.untrained,
                           precision=self.precision)


@dataclass(frozen=True)
class Note:
    text: str  # short, for papers (writers still strip paths and URLs from it)
    mark: str | None = None  # MARK_UNAVAILABLE, MARK_INCOMPLETE or None
    details: tuple[str, ...] = ()  # the long texts behind it (paths, URLs: CSV, HTML only)


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]
    notes: tuple[Note, ...]
    caption: str

    def column(self, key: str) -> int:
        return next(i for i, c in enumerate(self.columns) if c.key == key)


def scaled(value: float, column: Column) -> float:
    return value * column.scale


def rounded(value: float, column: Column) -> float:
    """The value as displayed (scaled, at the column's precision): what ``best`` compares."""
    v = scaled(value, column)
    return v if math.isinf(v) else round(v, column.precision)


# -- building ------------------------------------------------------------------------------


def _is_table_key(r: Record, options: TableOptions) -> str | None:
    """The column group of a record, or None when it is not a table cell."""
    if r.key is None:
        return None
    if r.kind == KIND_EFFICIENCY or (r.kind == KIND_UNAVAILABLE and r.n == 0
                                     and efficiency_column(r.key) is not None):
        if r.key.startswith(SWEEP_PREFIX):
            return None
        return "efficiency" if efficiency_column(r.key, options.efficiency_prefixes) else None
    if r.kind in (KIND_METRIC, KIND_UNAVAILABLE):
        if options.metrics is not None and r.key not in options.metrics:
            return None
        return "quality"
    return None


def _has_value(r: Record) -> bool:
    if r.kind == KIND_METRIC:
        return True  # a value, or an incomplete one (marked)
    return r.kind == KIND_EFFICIENCY and r.value is not None and r.extra.get("status", OK) == OK


def _columns(records: list[Record], options: TableOptions) -> list[Column]:
    first: dict[str, tuple[str, Record]] = {}
    valued: set[str] = set()
    for r in records:
        group = _is_table_key(r, options)
        if group is not None:
            first.setdefault(r.key, (group, r))
            if _has_value(r):
                valued.add(r.key)
    if options.metrics is not None:
        absent = [k for k in options.metrics if k not in first]
        if absent:
            from bench.report.runs import ReportError

            known = ", ".join(k for k, (g, _) in first.items() if g == "quality") or "none"
            raise ReportError(f"no records of metric {', '.join(absent)} in these runs "
                              f"(metrics found: {known})")
    quality = [k for k, (g, _) in first.items() if g == "quality"]
    if options.metrics is not None:
        quality = [k for k in options.metrics if k in quality]
    else:
        dataset = next((r.dataset for r in records if r.kind == KIND_METRIC), None)
        quality = metric_order([k for k in quality if k in valued or options.keep_empty],
                               dataset)
        if not options.keep_empty:  # one SSIM per table: the variants stay in the CSV
            quality = [k for k in quality if VARIANT_OF.get(k) not in quality]
    prefixes = options.efficiency_prefixes
    eff = sorted((k for k, (g, _) in first.items() if g == "efficiency"
                  and (options.efficiency is not None or k in valued or options.keep_empty)),
                 key=lambda k: (prefixes.index(efficiency_column(k, prefixes).prefix), k))
    columns = []
    for key in quality + eff:
        group, r = first[key]
        precision = r.extra.get("precision")
        fmt = column_format(key, r.unit, None if precision is None else int(precision),
                            prefixes if group == "efficiency" else ())
        values = [v for v in records if v.key == key and v.kind == KIND_METRIC]
        columns.append(Column(key=key, label=fmt.label + other_weights_label(values),
                              unit=fmt.unit, higher_is_better=r.higher_is_better,
                              precision=fmt.precision, scale=fmt.scale, group=group,
                              record_unit=r.unit,
                              other_weights=frozenset(v.model for v in values
                                                      if other_weights(v))))
    return columns


def _cell(r: Record | None, options: TableOptions) -> Cell:
    if r is None:
        return Cell(None, MISSING)
    status = r.extra.get("status", OK) if r.kind == KIND_EFFICIENCY else OK
    if r.kind == KIND_UNAVAILABLE or status == UNAVAILABLE:
        return Cell(None, UNAVAILABLE, reason=_unavailable_reason(r))
    if status == NOT_APPLICABLE:
        return Cell(None, NOT_APPLICABLE, reason=r.error)
    if r.value is None or r.error or r.extra.get("complete") is False:
        return Cell(r.value, INCOMPLETE, reason=r.error or "computed on part of the pairs")
    low, high = r.extra.get("ci_low"), r.extra.get("ci_high")
    if not options.intervals or low is None or high is None:
        low = high = None
    return Cell(float(r.value), OK, low, high)


def _mark_best(columns: list[Column], rows: list[Row], unranked: set[str] = frozenset()
               ) -> list[Row]:
    best_rows: dict[int, set[int]] = {}
    for j, col in enumerate(columns):
        if col.higher_is_better is None or col.key in unranked:
            continue
        eligible = [(i, rounded(row.cells[j].value, col)) for i, row in enumerate(rows)
                    if not row.bound and not row.untrained and row.cells[j].status == OK
                    and row.cells[j].value is not None and not math.isnan(row.cells[j].value)]
        if len(eligible) < 2:  # a single value: nothing to rank
            continue
        target = (max if col.higher_is_better else min)(v for _, v in eligible)
        best_rows[j] = {i for i, v in eligible if v == target}
    out = []
    for i, row in enumerate(rows):
        cells = tuple(replace(c, best=i in best_rows.get(j, ())) for j, c in enumerate(row.cells))
        out.append(replace(row, cells=cells))
    return out


def _unavailable_reason(r: Record) -> str:
    return (r.error or "unavailable").removeprefix("unavailable: ")


def _is_unavailable(r: Record) -> bool:
    return r.kind == KIND_UNAVAILABLE or (r.kind == KIND_EFFICIENCY
                                          and r.extra.get("status") == UNAVAILABLE)


def build_table(records: list[Record] | tuple[Record, ...], options: TableOptions = TableOptions(),
                device_names: dict[str, str] | None = None) -> Table:
    """The comparison table of ``records`` (one or merged runs; see :mod:`.runs`).

    ``device_names`` maps a device type (``cpu``, ``cuda``) to its name for the footnote (from
    the runs' ``env.json``)."""
    records = list(records)
    if options.models is not None:
        chosen = select_models(records, options.models)
        rank = {m: i for i, m in enumerate(chosen)}
        records = sorted((r for r in records if r.model in rank), key=lambda r: rank[r.model])
    columns = _columns(records, options)
    models: dict[str, dict] = {}
    for r in records:
        info = models.setdefault(r.model, {"bound": False, "untrained": False, "n": 0, "cells": {},
                                           "precision": FP32})
        info["bound"] |= r.reference_bound
        info["untrained"] |= r.checkpoint == UNTRAINED
        if r.precision != FP32:
            info["precision"] = r.precision
        if r.kind == KIND_METRIC:
            info["n"] = max(info["n"], r.n)
        if _is_table_key(r, options) is not None:
            info["cells"][r.key] = r
    models = {m: i for m, i in models.items() if i["cells"]}
    order = [m for m, i in models.items() if not i["bound"]] + [
        m for m, i in models.items() if i["bound"]]
    rows = [Row(model=m, bound=models[m]["bound"], untrained=models[m]["untrained"],
                n=models[m]["n"], precision=models[m]["precision"],
                cells=tuple(_cell(models[m]["cells"].get(c.key), options) for c in columns))
            for m in order]
    shown = {c.key for c in columns}
    table_records = [r for m in order for r in models[m]["cells"].values() if r.key in shown]
    left_out = [r for m in order for r in models[m]["cells"].values()
                if r.key not in shown and _is_unavailable(r)]
    rows = _mark_best(columns, rows, _mixed_weights(table_records))
    return Table(columns=tuple(columns), rows=tuple(rows),
                 notes=tuple(_notes(records, table_records, columns, rows, device_names or {},
                                    left_out)),
                 caption=options.caption or _caption(records))


def _mixed_weights(table_records: list[Record]) -> set[str]:
    """Keys whose ranked values (trained methods) were computed with different weights files:
    not ranked."""
    signatures: dict[str, set] = {}
    for r in table_records:
        if r.kind == KIND_METRIC and not r.reference_bound and r.checkpoint != UNTRAINED:
            signatures.setdefault(r.key, set()).add(weights_signature(r))
    return {key for key, found in signatures.items() if len(found) > 1}


# -- notes ---------------------------------------------------------------------------------


def _caption(records: list[Record]) -> str:
    quality = next((r for r in records if r.kind == KIND_METRIC), None)
    if quality is None:
        return "Efficiency of the models."
    return f"Comparison on {quality.dataset} ({quality.split})."


def _label(r: Record, columns: list[Column]) -> str:
    column = next((c for c in columns if c.key == r.key), None)
    if column is not None:
        return column.label
    return column_format(r.key, r.unit, None).label


def _unavailable_notes(table_records, left_out, columns) -> list[Note]:
    """One note per short reason class: the metrics (shown or left out) it made unavailable."""
    groups: dict[str, dict] = {}
    for r, shown in [*((r, True) for r in table_records), *((r, False) for r in left_out)]:
        if not _is_unavailable(r):
            continue
        long = _unavailable_reason(r)
        group = groups.setdefault(short_reason(long), {"keys": {}, "details": {}, "shown": False})
        group["keys"].setdefault(r.key, _label(r, columns))
        group["details"].setdefault(long, None)
        group["shown"] |= shown
    order = {c.key: i for i, c in enumerate(columns)}
    notes = []
    for short, group in groups.items():
        keys = sorted(group["keys"], key=lambda k: order.get(k, len(order)))
        notes.append(Note(f"{', '.join(group['keys'][k] for k in keys)}: {short}.",
                          MARK_UNAVAILABLE if group["shown"] else None,
                          details=tuple(group["details"])))
    return notes


def _notes(records, table_records, columns, rows, device_names, left_out) -> list[Note]:
    notes = []
    quality = [r for r in records if r.kind == KIND_METRIC]
    if quality:
        first = quality[0]
        n = max(r.n for r in quality)
        devices = list(dict.fromkeys(r.device for r in quality))
        where = ", ".join(f"{d} ({device_names[d]})" if d in device_names else d for d in devices)
        notes.append(Note(
            f"Protocol {first.protocol} v{first.protocol_version}; dataset {first.dataset}, "
            f"split {first.split}; {n} pairs (pair list SHA-256 {first.pairs_sha256[:12]}); "
            f"device {where}."))
    if any(c.arrow for c in columns):
        bold = any(c.best for row in rows for c in row.cells)
        notes.append(Note("Up/down arrows: higher/lower is better." + (
            " Bold: best among trained methods at the displayed precision; bounds and "
            "untrained models are not ranked." if bold else "")))
    if any(c.low is not None for row in rows for c in row.cells):
        level = next((r.extra["ci_level"] for r in table_records if "ci_level" in r.extra), 0.95)
        notes.append(Note(f"[lo, hi]: {100 * level:g}% percentile bootstrap interval over pairs."))
    if any(row.bound for row in rows):
        notes.append(Note("(bound): a reference bound (oracle returns the ground truth, source "
                          "copies the input image); it calibrates the table and is not a method."))
    if any(row.untrained for row in rows):
        notes.append(Note("(untrained): seeded initial weights, not a trained model's numbers."))
    autocast = precision_note(row.precision for row in rows)
    if autocast:
        notes.append(Note(autocast + "."))
    notes.extend(Note(text) for text in other_weights_notes(table_records))
    mixed = sorted(_mixed_weights(table_records))
    if mixed:
        notes.append(Note(f"{', '.join(mixed)}: values computed with different weights files "
                          "are not ranked against each other."))
    for col in columns:
        spec = efficiency_column(col.key) if col.group == "efficiency" else None
        if spec is not None and spec.note and Note(spec.note) not in notes:
            notes.append(Note(spec.note))
    devices = {col.key.partition("@")[2] for col in columns if "@" in col.key}
    for d in sorted(devices):
        name = device_names.get(d.split("-")[0])
        if name:
            notes.append(Note(f"{d}: {name}."))
    notes += _unavailable_notes(table_records, left_out, columns)
    shown = {c.key for c in columns}
    variants = [k for k in dict.fromkeys(r.key for r in records if _has_value(r))
                if k not in shown and VARIANT_OF.get(k) in shown]
    if variants:
        notes.append(Note(f"Also computed, in table.csv and the records: "
                          f"{', '.join(column_format(k, None, None).label for k in variants)} "
                          "(--metrics shows them)."))
    incomplete = list(dict.fromkeys(
        f"{r.model}, {_label(r, columns)}: {r.error or 'computed on part of the pairs'}"
        for r in table_records
        if r.kind == KIND_METRIC and (r.value is None or r.error or r.extra.get("complete") is False)))
    for text in incomplete:
        notes.append(Note(text, MARK_INCOMPLETE))
    if any(c.status == NOT_APPLICABLE for row in rows for c in row.cells):
        notes.append(Note("n/a: not applicable (a training-free method has no network to count "
                          "or time)."))
    if any(c.status == MISSING for row in rows for c in row.cells):
        notes.append(Note("A dash: not measured for that model."))
    failed: dict[str, int] = {}
    for r in table_records:
        if r.kind == KIND_METRIC and r.extra.get("failed_pairs"):
            failed[r.model] = max(failed.get(r.model, 0), int(r.extra["failed_pairs"]))
    for model, count in failed.items():
        notes.append(Note(f"{model}: {count} pairs failed (see the run's pair_error records) and "
                          "are left out of its values."))
    for r in records:
        if r.kind == KIND_MODEL_ERROR and r.model in {row.model for row in rows}:
            notes.append(Note(f"{r.model}: error: {r.error}"))
    return notes
