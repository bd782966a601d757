"""Whole-run benchmarks: the README's main command and memory independent of the pair count.

    pytest benchmarks/test_bench_run.py --benchmark-only -s

Run in fresh subprocesses, as a user runs them. Results printed and kept in the
pytest-benchmark JSON (``extra_info``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

MEASURE = r"""
import json, resource, sys, time
from pathlib import Path
from bench.api import run
from bench.config import RunConfig
limit, out, root = int(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
t = time.perf_counter()
run(RunConfig(models=("source",), metrics=("ssim", "mask_ssim", "l1"), limit=limit, out=out,
              data_root=root, save_images=False), progress=False, echo=lambda s: None)
print(json.dumps({"seconds": time.perf_counter() - t,
                  "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def _measure(limit, out, root):
    proc = subprocess.run([sys.executable, "-c", MEASURE, str(limit), str(out), str(root)],
                          capture_output=True, text=True, check=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_peak_memory_does_not_grow_with_pairs(benchmark, synthetic_parent, tmp_path):
    small = _measure(250, tmp_path / "small", synthetic_parent)
    large = benchmark.pedantic(_measure, args=(2000, tmp_path / "large", synthetic_parent),
                               rounds=1, iterations=1)
    benchmark.extra_info.update(small_250=small, large_2000=large)
    print(f"\npeak RSS: 250 pairs {small['max_rss_mb']:.0f} MB, 2000 pairs {large['max_rss_mb']:.0f} MB")
    assert large["max_rss_mb"] < small["max_rss_mb"] * 1.15 + 20


def test_readme_main_command_under_three_minutes(benchmark, tmp_path):
    """`python -m bench run` with a cold synthetic cache (generation included)."""
    env = {**os.environ, "BENCH_CACHE": str(tmp_path / "cache")}

    def main_command():
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench", "run", "--quiet", "--out",
                        str(tmp_path / f"run-{time.time_ns()}")],
                       env=env, cwd=tmp_path, check=True, capture_output=True)
        return time.perf_counter() - start

    seconds = benchmark.pedantic(main_command, rounds=1, iterations=1)
    print(f"\nREADME main command: {seconds:.1f} s")
    benchmark.extra_info["seconds"] = seconds
    assert seconds < 180
