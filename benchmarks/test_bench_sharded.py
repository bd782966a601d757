"""Sharded evaluation: one process against two (``--workers 2``: torchrun, gloo) on this machine.

    pytest benchmarks/test_bench_sharded.py --benchmark-only -s
    BENCH_SHARDED_PAIRS=2000 pytest benchmarks/test_bench_sharded.py --benchmark-only -s

The whole command, as a user runs it (fresh processes, start-up included), on the synthetic set:
``warp`` (a training-free model that computes) and ``source``, the SSIM family and L1, no images
saved. Both runs use one thread per process (torchrun's default, ``OMP_NUM_THREADS=1``) so they
compute the same values; the merged values are checked equal. Wall times, pairs/s and the
speed-up are printed and kept in ``extra_info``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

N_PAIRS = int(os.environ.get("BENCH_SHARDED_PAIRS", "1000"))
ROOT = Path(__file__).resolve().parents[1]


def _run(workers: int, out: Path, root: Path) -> float:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench", "run", "--dataset", "synthetic",
                    "--data-root", str(root), "--models", "source,warp",
                    "--metrics", "ssim,mask_ssim,l1", "--limit", str(N_PAIRS), "--no-images",
                    "--bootstrap", "0", "--quiet", "--no-efficiency", "--out", str(out),
                    "--workers", str(workers)],
                   cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    return time.perf_counter() - start


def _values(out: Path) -> dict:
    rows = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    return {(r["model"], r["key"]): r["value"] for r in rows if r["kind"] == "metric"}


def test_one_process_against_two(benchmark, synthetic_parent, tmp_path):
    one = _run(1, tmp_path / "w1", synthetic_parent)
    two = benchmark.pedantic(_run, args=(2, tmp_path / "w2", synthetic_parent),
                             rounds=1, iterations=1)
    assert _values(tmp_path / "w1") == _values(tmp_path / "w2")
    info = {"pairs": N_PAIRS, "w1_s": round(one, 2), "w2_s": round(two, 2),
            "w1_pairs_per_s": round(N_PAIRS / one, 1), "w2_pairs_per_s": round(N_PAIRS / two, 1),
            "speedup": round(one / two, 2), "cpu_count": os.cpu_count()}
    benchmark.extra_info.update(info)
    print(f"\nsharded run, {N_PAIRS} pairs x 2 models: W=1 {one:.1f} s, W=2 {two:.1f} s "
          f"(x{one / two:.2f}) on {os.cpu_count()} CPUs")
