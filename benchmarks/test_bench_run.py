"""Whole-run benchmarks: the README's main command, memory independent of the pair count, and
the SSIM family's pairs per second from process start to results.

    pytest benchmarks/test_bench_run.py --benchmark-only -s
    BENCH_RUN_PAIRS=2000 pytest benchmarks/test_bench_run.py -k ssim_family --benchmark-only -s

Run in fresh subprocesses, as a user runs them. Results printed and kept in the
pytest-benchmark JSON (``extra_info``).

``test_ssim_family_pairs_per_second`` times ``python -m bench run --models folder:... --dataset
market --metrics ssim,mask_ssim,l1 --no-images --bootstrap 0 --no-efficiency`` (decode +
ssim + mask_ssim + l1, issue 14 item 4) over a Market-layout folder written once per session:
the pairs and keypoints of the real Market test split when ../shared/data is present
(synthetic ones otherwise), one 128x64 JPEG per image (Market's format) and one PNG result per
pair (Def-GAN's ``{from}_{to}.png``), deterministic texture plus noise. Three rounds; the rate
is that of the fastest (the machine may be shared) and the spread is stored. Environment:
``BENCH_RUN_PAIRS`` (default 12000), ``BENCH_RUN_MIN_PAIRS_PER_S`` (default 1000; 0 disables
the assertion), ``BENCH_RUN_ROUNDS`` (default 3).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

RUN_PAIRS = int(os.environ.get("BENCH_RUN_PAIRS", "12000"))
MIN_RUN_RATE = float(os.environ.get("BENCH_RUN_MIN_PAIRS_PER_S", "1000"))
ROUNDS = int(os.environ.get("BENCH_RUN_ROUNDS", "3"))
SPLITS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pose-transfer-splits"

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


# -- the SSIM family, whole process ------------------------------------------------------------
def _split_rows(n: int, rng: np.random.Generator):
    """([(from, to)] * n, annotation CSV text): the real Market test split's first n pairs
    (cycled) and their keypoints when ../shared/data is present, synthetic ones otherwise."""
    pairs_csv, ann_csv = SPLITS / "market-pairs-test.csv", SPLITS / "market-annotation-test.csv"
    if pairs_csv.is_file() and ann_csv.is_file():
        rows = [tuple(c.strip() for c in line.split(","))
                for line in pairs_csv.read_text().splitlines()[1:] if line.strip()]
        pairs = [rows[i % len(rows)] for i in range(n)]
        wanted = {name for pair in pairs for name in pair}
        lines = ann_csv.read_text().splitlines()
        kept = [line for line in lines[1:] if line.split(":")[0].strip() in wanted]
        return pairs, "\n".join([lines[0], *kept]) + "\n"
    names = [f"{i:04d}_c1s1_000000_00.jpg" for i in range(max(2, int(n / 1.2)))]
    pairs = [(names[i % len(names)], names[(i * 7 + 1) % len(names)]) for i in range(n)]
    lines = ["name:keypoints_y:keypoints_x"]
    for name in names:
        ys, xs = rng.integers(2, 126, 18), rng.integers(2, 62, 18)
        gone = rng.random(18) < 0.2
        ys[gone], xs[gone] = -1, -1
        lines.append(f"{name}: {json.dumps(ys.tolist())}: {json.dumps(xs.tolist())}")
    return pairs, "\n".join(lines) + "\n"


def _texture(rng: np.random.Generator, base: np.ndarray | None = None) -> np.ndarray:
    h, w = 128, 64
    yy, xx = np.mgrid[0:h, 0:w]
    if base is None:
        img = (rng.integers(30, 220, 3) + 30 * np.sin(xx / rng.uniform(2, 8))[..., None]
               + 20 * np.cos(yy / rng.uniform(3, 9))[..., None])
    else:
        img = base + rng.normal(0, 12, (1, 1, 3)) + 6 * np.sin(yy / 4.0)[..., None]
    return np.clip(img + rng.normal(0, 8, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def market_with_results(tmp_path_factory):
    """(data root, results folder, pairs): RUN_PAIRS Market-layout pairs and one result each."""
    root = tmp_path_factory.mktemp("market-run")
    results = root / "results"
    (root / "test").mkdir()
    results.mkdir()
    rng = np.random.default_rng(0)
    pairs, annotations = _split_rows(RUN_PAIRS, rng)
    (root / "market-annotation-test.csv").write_text(annotations)
    (root / "market-pairs-test.csv").write_text(
        "from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    images = {}
    for name in dict.fromkeys(n for pair in pairs for n in pair):
        images[name] = _texture(rng)
        Image.fromarray(images[name]).save(root / "test" / name, "JPEG")
    for a, b in pairs:
        Image.fromarray(_texture(rng, images[b])).save(results / f"{a}_{b}.png")
    return root, results, pairs


def _whole_run(root: Path, results: Path, out: Path) -> dict:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "bench", "run", "--models", f"folder:gen={results}",
         "--dataset", "market", "--data-root", str(root), "--metrics", "ssim,mask_ssim,l1",
         "--no-images", "--bootstrap", "0", "--no-efficiency", "--quiet", "--out", str(out)],
        check=True, capture_output=True, text=True, cwd=out.parent)
    seconds = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    values = {}
    for line in (out / "records.jsonl").read_text().splitlines():
        record = json.loads(line)
        if record.get("kind") == "metric":
            values[record["metric"]] = record["value"]
    return {"seconds": seconds, "cpu_seconds": (after.ru_utime - before.ru_utime)
            + (after.ru_stime - before.ru_stime), "values": values}


def test_ssim_family_pairs_per_second(benchmark, market_with_results, tmp_path):
    root, results, pairs = market_with_results
    runs = []

    def one_round():
        runs.append(_whole_run(root, results, tmp_path / f"run-{len(runs)}"))

    benchmark.pedantic(one_round, rounds=ROUNDS, iterations=1)
    best = min(r["seconds"] for r in runs)
    rate = len(pairs) / best
    spread = [round(len(pairs) / r["seconds"], 1) for r in runs]
    benchmark.extra_info.update(
        pairs=len(pairs), pairs_per_second=round(rate, 1), pairs_per_second_each=spread,
        seconds_each=[round(r["seconds"], 2) for r in runs],
        cpu_seconds_each=[round(r["cpu_seconds"], 2) for r in runs],
        cpus=os.cpu_count(), values=runs[0]["values"])
    print(f"\nssim + mask_ssim + l1, whole process over {len(pairs)} pairs: best {rate:.0f} "
          f"pairs/s, rounds {spread} pairs/s, CPU "
          f"{[round(r['cpu_seconds'], 1) for r in runs]} s; values {runs[0]['values']}")
    assert all(r["values"] == runs[0]["values"] for r in runs)  # deterministic
    assert 0 < runs[0]["values"]["ssim"] < 1 and runs[0]["values"]["l1"] > 0
    if MIN_RUN_RATE > 0:
        assert rate >= MIN_RUN_RATE, f"{rate:.0f} pairs/s < {MIN_RUN_RATE:.0f}"
