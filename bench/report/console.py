"""The readable summary a run prints at the end: models x metrics, from the records alone, at
most 120 columns wide::

    print(summary_table(result.records, run_dir=result.run_dir))

    model           ssim ↑                   mask_ssim ↑              pckh ↑                   pairs
    --------------  -----------------------  -----------------------  -----------------------  -----
    oracle (bound)  1.0000 [1.0000, 1.0000]  1.0000 [1.0000, 1.0000]  1.0000 [1.0000, 1.0000]  20
    warp            0.5422 [0.4962, 0.5785]  0.8901 [0.8742, 0.9041]  0.8544 [0.8036, 0.9112]  20
    more: ssim_skimage, l1, psnr (in records.jsonl; `python -m bench report results/x`)
    † lpips, is, fid: weights not provided (alexnet, inception-fid); see `python -m bench weights`
    [lo, hi]: 95% percentile bootstrap interval over pairs

The main metrics come first, in the order the field's tables use for the dataset
(:func:`bench.report.columns.metric_order`), then the others while the line fits; the rest are
named on one line. Metrics no model could compute get no column: each short reason is said once
(:mod:`bench.report.reasons`; the long one, with paths, is in the records).

Efficiency records (``bench.efficiency``) get a table of their own below it
(:func:`efficiency_table`): one column per quantity and device, never mixing devices.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

from bench.models.base import UNTRAINED
from bench.precision import FP32
from bench.provenance import other_weights_label, other_weights_notes
from bench.records import (
    KIND_EFFICIENCY,
    KIND_METRIC,
    KIND_MODEL_ERROR,
    KIND_PAIR_ERROR,
    KIND_UNAVAILABLE,
    Record,
)
from bench.report.columns import metric_order
from bench.report.labels import model_label, precision_note
from bench.report.reasons import said_once

UNAVAILABLE_MARK = "†"
WIDTH = 120  # columns of the summary (a terminal of 120 shows it unwrapped)
_GAP = "  "


def format_value(value: float | None, precision: int) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{precision}f}"


def _cell(rec: Record | None) -> str:
    if rec is None:
        return "n/a"
    if rec.kind == KIND_UNAVAILABLE:
        return "unavailable" + UNAVAILABLE_MARK
    precision = int(rec.extra.get("precision", 4))
    text = format_value(rec.value, precision) + ("*" if rec.error else "")
    if "ci_low" in rec.extra and rec.value is not None:
        lo, hi = rec.extra["ci_low"], rec.extra["ci_high"]
        text += f" [{format_value(lo, precision)}, {format_value(hi, precision)}]"
    return text


def _header(r: Record) -> str:
    arrow = "" if r.higher_is_better is None else (" ↑" if r.higher_is_better else " ↓")
    return f"{r.key}{f' ({r.unit})' if r.unit else ''}{arrow}"


def summary_rows(records: list[Record], width: int = WIDTH
                 ) -> tuple[list[str], list[list[str]], list[str]]:
    """Header, rows (strings, ready to print) and the metric keys left out for width: the
    metrics with a value, main ones first, while the table fits in ``width`` columns."""
    first: dict[str, Record] = {}
    valued: dict[str, None] = {}  # keys with a value, in record order
    models: dict[str, dict] = {}
    for r in records:
        info = models.setdefault(r.model, {"bound": r.reference_bound, "errors": set(), "n": 0,
                                           "cells": {}, "untrained": False, "precision": FP32})
        info["untrained"] |= r.checkpoint == UNTRAINED
        if r.precision != FP32:
            info["precision"] = r.precision
        if r.kind in (KIND_METRIC, KIND_UNAVAILABLE):
            first.setdefault(r.key, r)
            info["cells"][r.key] = r
            if r.kind == KIND_METRIC:
                valued.setdefault(r.key)
                info["n"] = max(info["n"], r.n)
        elif r.kind == KIND_PAIR_ERROR:
            info["errors"].add(r.key)
    models = {m: i for m, i in models.items() if i["cells"]}
    dataset = next((r.dataset for r in records if r.kind == KIND_METRIC), None)
    keys = metric_order(valued, dataset)  # the main metrics first
    labels = [model_label(m, bound=i["bound"], untrained=i["untrained"], precision=i["precision"])
              for m, i in models.items()]
    tail = [["pairs", *(str(i["n"]) for i in models.values())]]
    if any(i["errors"] for i in models.values()):
        tail.append(["errors", *(str(len(i["errors"])) for i in models.values())])
    columns = [["model", *labels]]
    used = sum(max(map(len, c)) for c in columns + tail) + len(_GAP) * len(tail)
    shown, left = [], []
    for key in keys:
        weights = other_weights_label(i["cells"][key] for i in models.values()
                                        if key in i["cells"])
        column = [_header(first[key]) + weights, *(_cell(i["cells"].get(key)) for i in models.values())]
        need = len(_GAP) + max(map(len, column))
        if not left and (used + need <= width or not shown):
            columns.append(column)
            shown.append(key)
            used += need
        else:
            left.append(key)
    columns += tail
    header = [c[0] for c in columns]
    rows = [[c[i + 1] for c in columns] for i in range(len(models))]
    return header, rows, left


def summary_table(records: list[Record], run_dir: Path | str | None = None) -> str:
    """The run's summary (``run_dir``: where the full records are, named for the metrics that
    did not fit)."""
    quality = [r for r in records if r.kind != KIND_EFFICIENCY]
    text = _quality_table(quality, run_dir) if quality else ""
    efficiency = efficiency_table(records, failures=False)  # failures: listed above
    if efficiency and any(r.kind == KIND_EFFICIENCY and r.value is not None for r in records):
        efficiency = "efficiency (bench.efficiency; `python -m bench profile` for more):\n" \
            + efficiency
    return "\n\n".join(t for t in (text, efficiency) if t)


def unavailable_lines(records: list[Record]) -> list[str]:
    """One line per short reason: the metrics it made unavailable, the weights concerned and,
    where weights are the cause, where to see them."""
    return [f"{UNAVAILABLE_MARK} {line}" for line in said_once(
        (r.key, r.error) for r in records if r.kind == KIND_UNAVAILABLE)]


def _wrap(line: str) -> list[str]:
    return textwrap.wrap(line, WIDTH, subsequent_indent="  ", break_on_hyphens=False,
                         break_long_words=False) or [line]


def _quality_table(records: list[Record], run_dir: Path | str | None = None) -> str:
    header, rows, left = summary_rows(records)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = [_GAP.join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, _GAP.join("-" * w for w in widths))
    notes = []
    if left:
        more = f"more: {', '.join(left)}"
        where = (f"(in records.jsonl; `python -m bench report {run_dir}`)"
                 if run_dir is not None else "(in the run's records.jsonl and its report)")
        lines += [f"{more} {where}"] if len(more) + 1 + len(where) <= WIDTH else [
            *_wrap(more), f"  {where}"]
    for r in records:
        if r.kind == KIND_MODEL_ERROR:
            notes.append(f"! {r.model}: {r.error}")
    notes += unavailable_lines(records)
    if any("ci_level" in r.extra for r in records if r.kind == KIND_METRIC):
        level = next(r.extra["ci_level"] for r in records if "ci_level" in r.extra)
        notes.append(f"[lo, hi]: {100 * level:g}% percentile bootstrap interval over pairs")
    if any(r.kind == KIND_METRIC and r.error for r in records):
        notes.append("* incomplete: "
                     + next(r.error for r in records if r.kind == KIND_METRIC and r.error))
    if any(r.checkpoint == UNTRAINED for r in records):
        notes.append("(untrained): seeded initial weights, not a trained model's numbers")
    autocast = precision_note(r.precision for r in records)
    if autocast:
        notes.append(autocast)
    notes.extend(other_weights_notes(r for r in records if r.kind == KIND_METRIC))
    protocol = next((f"{r.protocol} v{r.protocol_version}" for r in records), None)
    if protocol:
        first = records[0]
        notes.append(
            f"protocol {protocol}; dataset {first.dataset} ({first.split}); "
            f"pairs sha256 {first.pairs_sha256[:12]}; bounds are not methods"
        )
    return "\n".join(lines + [part for note in notes for part in _wrap(note)])


# -- efficiency ------------------------------------------------------------------------------


def _device_part(key: str) -> tuple[str, str]:
    base, _, device = key.partition("@")
    return base, device


def _mib(value: float) -> str:
    return f"{value / 2**20:,.0f}"


def _speed_cell(rec: Record | None, text) -> str:
    if rec is None:
        return "n/a"
    status = rec.extra.get("status", "ok")
    if status == "unavailable":
        return "unavailable"
    if status == "not_applicable" or rec.value is None:
        return "n/a"
    return text(rec)


def efficiency_table(records: list[Record], failures: bool = True) -> str:
    """Parameters, MACs, and per device latency, throughput and peak memory, from the records
    of kind ``efficiency`` (and, with ``failures``, the efficiency ``model_error`` records)."""
    eff = [r for r in records if r.kind == KIND_EFFICIENCY]
    if not eff:
        return ""
    by_model: dict[str, dict[str, Record]] = {}
    for r in eff:
        by_model.setdefault(r.model, {})[r.key] = r
    not_applicable = [m for m, recs in by_model.items()
                      if all(r.extra.get("status") == "not_applicable" for r in recs.values())]
    measured = {m: recs for m, recs in by_model.items() if m not in not_applicable}
    lines = []
    if measured:
        devices = list(dict.fromkeys(_device_part(r.key)[1] for r in eff if "@" in r.key))
        header = ["model", "params (M)", "GMAC", "uncounted"]
        for d in devices:
            header += [f"latency {d} (ms) [p90, min]", f"images/s {d}", f"peak MiB {d}"]
        rows = []
        for model, recs in measured.items():
            params, macs, unc = recs.get("params"), recs.get("macs"), recs.get("uncounted_ops")
            row = [model,
                   _speed_cell(params, lambda r: f"{r.value / 1e6:.2f}"),
                   _speed_cell(macs, lambda r: f"{r.value / 1e9:.2f}"),
                   _speed_cell(unc, lambda r: f"{r.value:.0f}")]
            for d in devices:
                lat = recs.get(f"latency_ms@{d}")
                p90, low = recs.get(f"latency_p90_ms@{d}"), recs.get(f"latency_min_ms@{d}")
                row.append(_speed_cell(lat, lambda r, p90=p90, low=low: f"{r.value:.1f}" + (
                    f" [{p90.value:.1f}, {low.value:.1f}]" if p90 and low and p90.value is not None
                    and low.value is not None else "")))
                thr = recs.get(f"throughput@{d}")
                row.append(_speed_cell(thr, lambda r: f"{r.value:.1f} (b{r.extra.get('batch')})"))
                mems = [r for k, r in recs.items() if k.startswith("peak_memory")
                        and _device_part(k)[1] == d]
                cells = [_speed_cell(r, lambda r: f"b{r.extra.get('batch')} {_mib(r.value)}")
                         for r in mems]
                row.append(" / ".join(dict.fromkeys(cells)) if cells else "n/a")
            rows.append(row)
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
                  for row in [header, *rows]]
        lines.insert(1, "  ".join("-" * w for w in widths))
        lines += _sweep_lines(measured, devices)
        lines += _efficiency_notes(measured)
    unavailable = {r.error for r in eff if r.extra.get("status") == "unavailable" and r.error}
    for reason in sorted(unavailable):
        lines.append(f"unavailable columns: {reason.removeprefix('unavailable: ')}")
    if not_applicable:
        lines.append(f"efficiency not applicable to {', '.join(not_applicable)} "
                     "(training-free: no network to count or time)")
    failed: dict[tuple[str, str], list[str]] = {}  # (model, reason) -> keys, one line each
    for r in records:
        if failures and r.kind == KIND_MODEL_ERROR and (r.error or "").startswith("efficiency"):
            reason = r.error.removeprefix(f"efficiency {r.key}: ")
            failed.setdefault((r.model, reason), []).append(r.key)
    for (model, reason), keys in failed.items():
        lines.append(f"! {model}: efficiency {', '.join(keys)}: {reason}")
    return "\n".join(lines)


def _sweep_lines(measured: dict[str, dict[str, Record]], devices: list[str]) -> list[str]:
    lines = []
    for d in devices:
        batches = sorted({int(k.split("_b")[1].split("@")[0]) for recs in measured.values()
                          for k in recs if k.startswith("latency_ms_b") and k.endswith(f"@{d}")})
        if not batches:
            continue
        cells = [recs.get(f"latency_ms_b{b}@{d}") for recs in measured.values() for b in batches]
        if all(c is not None and c.extra.get("status") == "unavailable" for c in cells):
            lines.append(f"latency vs batch on {d}: unavailable")
            continue
        lines.append(f"latency vs batch on {d} (ms per call, median):")
        header = ["  model"] + [f"b{b}" for b in batches]
        rows = [header]
        for model, recs in measured.items():
            rows.append([f"  {model}"] + [
                _speed_cell(recs.get(f"latency_ms_b{b}@{d}"), lambda r: f"{r.value:.1f}")
                for b in batches])
        widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                  for r in rows]
    return lines


def _efficiency_notes(measured: dict[str, dict[str, Record]]) -> list[str]:
    notes = ["GMAC: fvcore multiply-accumulates per image (batch 1); FLOPs = 2 x MACs. "
             "uncounted: operator calls no handle counted"]
    checks = []
    for model, recs in measured.items():
        check = recs.get("flop_counter_macs")
        if check is None or check.value is None:
            continue
        if check.extra.get("agree"):
            checks.append(f"{model} agrees")
        else:
            where = ", ".join(k for k in check.extra.get("differences", {}) if k != "(total)")
            checks.append(f"{model} {100 * check.extra.get('relative_difference', 0):+.1f}%"
                          + (f" in {where}" if where else ""))
    if checks:
        notes.append("cross-check torch.utils.flop_counter (convolutions, matrix products): "
                     + "; ".join(checks))
        if any("%" in c for c in checks):
            notes.append("  (fvcore counts the traced graph, which drops work whose result is "
                         "unused; torch counts every operator that runs)")
    for model, recs in measured.items():
        pub = (recs.get("params").extra.get("published") if recs.get("params") else None)
        if pub:
            notes.append(f"published {model}: {pub['params'] / 1e6:.2f} M, {pub['fps']} fps: "
                         f"{pub['counts']}")
    timing = next((r for recs in measured.values() for k, r in recs.items()
                   if k.startswith("latency_ms@") and r.value is not None), None)
    if timing is not None:
        x = timing.extra
        iterations = sorted({r.extra.get("iterations") for recs in measured.values()
                             for k, r in recs.items() if k.startswith(("latency_ms", "throughput"))
                             and r.value is not None} - {None})
        span = (f"{iterations[0]}-{iterations[-1]}" if len(iterations) > 1
                else str(iterations[0]) if iterations else "?")
        notes.append(
            f"timing: {x.get('device_name')}, {x.get('threads')} threads, {x.get('dtype')}"
            + (", channels_last" if x.get("channels_last") else "")
            + (f", cudnn.benchmark {x.get('cudnn_benchmark')}" if "cudnn_benchmark" in x else "")
            + f"; {x.get('warmup')} warm-up and {span} timed calls; {x.get('isolation')}"
            + (f"; load average {x['load_average']:.2f} on {x.get('cpu_count')} CPUs"
               if x.get("load_average") is not None else ""))
        notes += _mode_notes(measured)
        others = [r.extra.get("other_processes_cores") for recs in measured.values()
                  for k, r in recs.items() if r.value is not None and "@cpu" in k
                  and r.extra.get("other_processes_cores") is not None]
        if others and max(others) > 0.25:
            notes.append(
                f"warning: other processes kept up to {max(others):.1f} of "
                f"{x.get('cpu_count')} CPU cores busy while the CPU was timed: CPU figures may be "
                "inflated (extra.other_processes_cores per record); rerun on a quiet machine")
    return notes


def _mode_notes(measured: dict[str, dict[str, Record]]) -> list[str]:
    """One line per column of an execution mode other than eager: what ran, the check against
    eager (largest difference per model, the tolerance) and the compile or capture seconds."""
    notes = []
    columns: dict[str, list[tuple[str, Record]]] = {}
    for model, recs in measured.items():
        for key, r in recs.items():
            if (key.startswith("latency_ms@") and r.value is not None
                    and r.extra.get("execution_mode", "eager") != "eager"):
                columns.setdefault(_device_part(key)[1], []).append((model, r))
    for column, rows in columns.items():
        x = rows[0][1].extra
        what = ("CUDA graph replay" if x["execution_mode"] == "cuda-graphs" else
                f"torch.compile (mode {x.get('compile_mode')}, backend "
                f"{x.get('compile_backend')}, static shapes)")
        diffs = "; ".join(f"{m} {r.extra['equality_check']['max_abs_diff']:.1e}"
                          for m, r in rows if r.extra.get("equality_check"))
        setup = "; ".join(f"{m} {r.extra['first_setup_s']:.1f} s" for m, r in rows
                          if r.extra.get("first_setup_s") is not None)
        notes.append(f"{column}: {what}; outputs checked against eager before timing, max "
                     f"|difference| {diffs} (tolerance {x.get('tolerance'):g}); "
                     f"{'capture' if x['execution_mode'] == 'cuda-graphs' else 'compile'} "
                     f"and first call at batch 1: {setup}")
    return notes


def efficiency_breakdown(records: list[Record]) -> str:
    """Parameters and MACs per top-level submodule of each model (from the records' extra)."""
    lines = []
    by_model: dict[str, dict[str, Record]] = {}
    for r in records:
        if r.kind == KIND_EFFICIENCY and r.value is not None:
            by_model.setdefault(r.model, {})[r.key] = r
    for model, recs in by_model.items():
        params = recs.get("params")
        if params is None:
            continue
        p_mod = params.extra.get("by_module", {})
        macs = recs.get("macs")
        m_mod = macs.extra.get("by_module", {}) if macs else {}
        e_mod = (recs["elementwise_ops"].extra.get("by_module", {})
                 if "elementwise_ops" in recs else {})
        names = list(dict.fromkeys([*p_mod, *m_mod]))
        rows = [["  module", "params (M)", "trainable (M)", "GMAC", "elementwise (M ops)"]]
        for name in names:
            p = p_mod.get(name, {})
            rows.append([f"  {name}",
                         f"{p['total'] / 1e6:.3f}" if p else "-",
                         f"{p['trainable'] / 1e6:.3f}" if p else "-",
                         f"{m_mod[name] / 1e9:.3f}" if name in m_mod else "-",
                         f"{e_mod[name] / 1e6:.2f}" if name in e_mod else "-"])
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        lines.append(f"{model} ({params.extra.get('module_class', '?')}):")
        lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                  for r in rows]
        if macs is not None:
            ops = ", ".join(f"{k} {v / 1e9:.3f} G" for k, v in macs.extra.get("by_operator", {}).items())
            lines.append(f"  MACs by operator: {ops}")
        unc = recs.get("uncounted_ops")
        if unc is not None:
            free = unc.extra.get("free_operators", {})
            lines.append("  uncounted operators: " + (", ".join(
                f"{k} x{v}" for k, v in unc.extra.get("operators", {}).items()) or "none"))
            lines.append("  free by definition (data movement): "
                         + (", ".join(f"{k} x{v}" for k, v in free.items()) or "none"))
    return "\n".join(lines)
