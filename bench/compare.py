"""Paired comparison of two models of one run, from the per-pair tables the run wrote.

Both models were scored on the same pairs (same pair list, same order), so each per-pair metric
gives two aligned vectors; :func:`bench.stats.paired_comparison` tests their mean difference::

    from bench.compare import compare_run, format_comparisons
    results = compare_run(Path("results/run"), "warp", "source")      # {key: Comparison}
    print(format_comparisons("warp", "source", results))

Pairs where either model has no value (an error, an undefined SSIM) are left out of that metric.
Set-level metrics (IS, FID, KID) have no per-pair values and are not compared here.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.records import KIND_METRIC, read_records
from bench.stats import Comparison, paired_comparison

FIXED_COLUMNS = ("index", "from", "to", "error")


def read_pair_table(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``per_pair/<model>.csv`` -> (pair indices, {key: values}); empty cells are NaN."""
    if not path.is_file():
        raise BenchError(f"no per-pair table at {path}")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        return np.empty(0, dtype=np.int64), {}
    keys = [k for k in rows[0] if k not in FIXED_COLUMNS]
    index = np.array([int(r["index"]) for r in rows], dtype=np.int64)
    values = {k: np.array([float(r[k]) if r[k] != "" else np.nan for r in rows]) for k in keys}
    return index, values


def compare_run(run_dir: Path, model_a: str, model_b: str, *, keys=None, resamples: int = 10000,
                alpha: float = 0.05, seed: int = 0, level: float = 0.95) -> dict[str, Comparison]:
    run_dir = Path(run_dir)
    idx_a, val_a = read_pair_table(run_dir / "per_pair" / f"{model_a}.csv")
    idx_b, val_b = read_pair_table(run_dir / "per_pair" / f"{model_b}.csv")
    common = [k for k in val_a if k in val_b]
    if keys is not None:
        missing = [k for k in keys if k not in common]
        if missing:
            raise BenchError(
                f"no per-pair values of {', '.join(missing)} for both {model_a} and {model_b} in "
                f"{run_dir / 'per_pair'} (available: {', '.join(common) or 'none'})"
            )
        common = list(keys)
    order_a = np.argsort(idx_a, kind="stable")
    order_b = np.argsort(idx_b, kind="stable")
    if not np.array_equal(idx_a[order_a], idx_b[order_b]):
        raise BenchError(f"{model_a} and {model_b} were not scored on the same pairs in {run_dir}")
    return {
        key: paired_comparison(val_a[key][order_a], val_b[key][order_b], resamples=resamples,
                               seed=seed, level=level, alpha=alpha)
        for key in common
    }


def _directions(run_dir: Path | None) -> dict[str, bool]:
    if run_dir is None or not (Path(run_dir) / "records.jsonl").is_file():
        return {}
    return {r.key: r.higher_is_better for r in read_records(Path(run_dir) / "records.jsonl")
            if r.kind == KIND_METRIC and r.higher_is_better is not None}


def format_comparisons(model_a: str, model_b: str, results: dict[str, Comparison],
                       run_dir: Path | None = None) -> str:
    higher = _directions(run_dir)
    lines = [f"{model_a} - {model_b} on the same pairs (paired bootstrap interval, sign-flip test)"]
    for key, c in results.items():
        if np.isnan(c.p_value):
            lines.append(f"  {key}: not comparable ({c.n} pairs with values for both)")
            continue
        verdict = "significant" if c.significant else "not significant"
        better = ""
        if c.significant and key in higher:
            a_better = (c.difference > 0) == higher[key]
            better = f", {model_a if a_better else model_b} better"
        lines.append(
            f"  {key}: {c.mean_a:.6g} vs {c.mean_b:.6g}, difference {c.difference:+.6g} "
            f"[{c.interval[0]:+.6g}, {c.interval[1]:+.6g}] ({100 * c.level:g}%), "
            f"p = {c.p_value:.4g}, n = {c.n}: {verdict} at {c.alpha:g}{better}"
        )
    return "\n".join(lines)
