"""The readable summary a run prints at the end: models x metrics, from the records alone.

    print(summary_table(result.records))

    model            ssim ↑                      fid ↓          pairs   errors
    oracle (bound)   1.0000 [1.0000, 1.0000]     unavailable†   2000    0
    warp             0.6123 [0.6101, 0.6145]     unavailable†   2000    0
    † fid: unavailable: inception-fid weights (...) not found: looked in ...
    [lo, hi]: 95% percentile bootstrap interval over pairs
"""

from __future__ import annotations

import math

from bench.models.base import UNTRAINED
from bench.records import KIND_METRIC, KIND_MODEL_ERROR, KIND_PAIR_ERROR, KIND_UNAVAILABLE, Record

UNAVAILABLE_MARK = "†"


def format_value(value: float | None, precision: int) -> str:
    if value is None:
        return "n/a"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.{precision}f}"


def summary_rows(records: list[Record]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary table (strings, ready to print)."""
    keys: dict[str, Record] = {}
    models: dict[str, dict] = {}
    for r in records:
        info = models.setdefault(r.model, {"bound": r.reference_bound, "errors": set(), "n": 0,
                                           "cells": {}, "untrained": False})
        info["untrained"] |= r.checkpoint == UNTRAINED
        if r.kind == KIND_METRIC:
            keys.setdefault(r.key, r)
            info["cells"][r.key] = r
            info["n"] = max(info["n"], r.n)
        elif r.kind == KIND_UNAVAILABLE:
            keys.setdefault(r.key, r)
            info["cells"][r.key] = r
        elif r.kind == KIND_PAIR_ERROR:
            info["errors"].add(r.key)
    header = ["model"]
    for key, r in keys.items():
        arrow = "" if r.higher_is_better is None else (" ↑" if r.higher_is_better else " ↓")
        unit = f" ({r.unit})" if r.unit else ""
        header.append(f"{key}{unit}{arrow}")
    header += ["pairs", "errors"]
    rows = []
    for model, info in models.items():
        label = f"{model} (bound)" if info["bound"] else model
        label += " (untrained)" if info["untrained"] else ""
        cells = [label]
        for key in keys:
            rec = info["cells"].get(key)
            if rec is None:
                cells.append("n/a")
            elif rec.kind == KIND_UNAVAILABLE:
                cells.append("unavailable" + UNAVAILABLE_MARK)
            else:
                precision = int(rec.extra.get("precision", 4))
                mark = "*" if rec.error else ""
                text = format_value(rec.value, precision) + mark
                if "ci_low" in rec.extra and rec.value is not None:
                    lo, hi = rec.extra["ci_low"], rec.extra["ci_high"]
                    text += f" [{format_value(lo, precision)}, {format_value(hi, precision)}]"
                cells.append(text)
        cells += [str(info["n"]), str(len(info["errors"]))]
        rows.append(cells)
    return header, rows


def summary_table(records: list[Record]) -> str:
    header, rows = summary_rows(records)
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
             for row in [header, *rows]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    for r in records:
        if r.kind == KIND_MODEL_ERROR:
            lines.append(f"! {r.model}: {r.error}")
    unavailable: dict[str, list[str]] = {}
    for r in records:
        if r.kind == KIND_UNAVAILABLE:
            names = unavailable.setdefault(r.error or "unavailable", [])
            if r.key not in names:
                names.append(r.key)
    for reason, names in unavailable.items():
        lines.append(f"{UNAVAILABLE_MARK} {', '.join(names)}: {reason}")
    if any("ci_level" in r.extra for r in records if r.kind == KIND_METRIC):
        level = next(r.extra["ci_level"] for r in records if "ci_level" in r.extra)
        lines.append(f"[lo, hi]: {100 * level:g}% percentile bootstrap interval over pairs")
    if any(r.kind == KIND_METRIC and r.error for r in records):
        lines.append("* incomplete: " + next(r.error for r in records if r.kind == KIND_METRIC and r.error))
    if any(r.checkpoint == UNTRAINED for r in records):
        lines.append("(untrained): seeded initial weights, not a trained model's numbers")
    protocol = next((f"{r.protocol} v{r.protocol_version}" for r in records), None)
    if protocol:
        first = records[0]
        lines.append(
            f"protocol {protocol}; dataset {first.dataset} ({first.split}); "
            f"pairs sha256 {first.pairs_sha256[:12]}; bounds are not methods"
        )
    return "\n".join(lines)
