"""Throughput of the published-protocol pixel metrics: PNG decoding + ssim + mask_ssim + l1.

    /work/venv/bin/pytest benchmarks/test_bench_ssim.py --benchmark-only -q -s
    BENCH_SSIM_PAIRS=1000 /work/venv/bin/pytest benchmarks/test_bench_ssim.py --benchmark-only -s

The fixture writes the Market test protocol's shape once per session: 12,000 generated 128x64
PNGs and one PNG per distinct target (the targets and keypoints of market-pairs-test.csv and
market-annotation-test.csv when ../shared/data is present, synthetic keypoints otherwise), with
deterministic structure plus noise. Each run reads both images of every pair with PIL, builds
the batch and updates ``ssim``, ``mask_ssim`` and ``l1`` through their Metric objects (one shared
dict, as the harness does), 64 pairs per batch.

* ``sequential``: decode, then score, in turn;
* ``prefetch``: the next batch is decoded by a background thread while this one is scored
  (what a loader does).

Environment: ``BENCH_SSIM_PAIRS`` (default 12000) and ``BENCH_SSIM_MIN_PAIRS_PER_S`` (default
500; 0 disables the assertion). The rate is printed and stored in ``extra_info``.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.metrics import METRICS
from bench.types import Pair, PairBatch

BATCH = 64
SIZE = (128, 64)
N_PAIRS = int(os.environ.get("BENCH_SSIM_PAIRS", "12000"))
MIN_RATE = float(os.environ.get("BENCH_SSIM_MIN_PAIRS_PER_S", "500"))
SPLITS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "pose-transfer-splits"


def _real_pairs(n: int):
    """(target names, {name: (18, 2) (x, y)}) from the real Market test split, or None."""
    pairs_csv, ann_csv = SPLITS / "market-pairs-test.csv", SPLITS / "market-annotation-test.csv"
    if not (pairs_csv.is_file() and ann_csv.is_file()):
        return None
    targets = [line.split(",")[1].strip() for line in pairs_csv.read_text().splitlines()[1:]]
    targets = [targets[i % len(targets)] for i in range(n)]
    wanted, kpts = set(targets), {}
    for line in ann_csv.read_text().splitlines()[1:]:
        name, ys, xs = line.split(":")
        if name.strip() in wanted:
            kpts[name.strip()] = np.stack([json.loads(xs), json.loads(ys)], 1).astype(np.float32)
    return targets, kpts


def _synthetic_pairs(n: int, rng: np.random.Generator):
    n_targets = max(1, int(n / 1.65))  # 12,000 pairs over 7,284 targets in the real split
    names = [f"t{i:05d}.png" for i in range(n_targets)]
    kpts = {}
    for name in names:
        k = np.stack([rng.integers(2, SIZE[1] - 2, 18), rng.integers(2, SIZE[0] - 2, 18)], 1)
        k[rng.random(18) < 0.2] = -1
        kpts[name] = k.astype(np.float32)
    return [names[i % n_targets] for i in range(n)], kpts


def _image(rng: np.random.Generator, base: np.ndarray | None = None) -> np.ndarray:
    h, w = SIZE
    yy, xx = np.mgrid[0:h, 0:w]
    if base is None:
        color = rng.integers(30, 220, 3)
        f1, f2, ph = rng.uniform(2, 8), rng.uniform(3, 9), rng.uniform(0, 6)
        img = (color + 30 * np.sin(xx / f1 + ph)[..., None] + 20 * np.cos(yy / f2)[..., None]
               + 40 * (((xx - w / 2) ** 2 / 300 + (yy - h / 2) ** 2 / 1200) < 1)[..., None])
    else:
        img = base + rng.normal(0, 12, (1, 1, 3)) + 6 * np.sin(yy / 4.0)[..., None]
    img = img + rng.normal(0, 8, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


@pytest.fixture(scope="session")
def protocol_folder(tmp_path_factory):
    """(folder, [(generated file, target file, target keypoints)]) for N_PAIRS pairs."""
    root = tmp_path_factory.mktemp("ssim_bench")
    rng = np.random.default_rng(0)
    real = _real_pairs(N_PAIRS)
    targets, kpts = real if real is not None else _synthetic_pairs(N_PAIRS, rng)
    target_images = {}
    for name in dict.fromkeys(targets):
        target_images[name] = _image(rng)
        Image.fromarray(target_images[name]).save(root / f"tgt_{name}.png")
    rows = []
    for i, name in enumerate(targets):
        gen = _image(rng, target_images[name])
        Image.fromarray(gen).save(root / f"gen_{i:05d}.png")
        rows.append((root / f"gen_{i:05d}.png", root / f"tgt_{name}.png", kpts[name]))
    return root, rows


def _decode(rows) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    gen = np.stack([np.asarray(Image.open(g).convert("RGB")) for g, _, _ in rows])
    tgt = np.stack([np.asarray(Image.open(t).convert("RGB")) for _, t, _ in rows])
    return gen, tgt, np.stack([k for _, _, k in rows])


def _score(metrics, start: int, decoded) -> None:
    gen, tgt, kpts = decoded
    batch = PairBatch(
        pairs=tuple(Pair(f"s{start + i}", f"t{start + i}", start + i) for i in range(len(gen))),
        src_img=tgt, tgt_img=tgt, src_kpts=kpts, tgt_kpts=kpts,
    )
    for metric in metrics:
        metric.update(gen, batch)


def _run(rows, prefetch: bool) -> dict[str, float]:
    shared: dict = {}
    metrics = [METRICS.get(name)(shared) for name in ("ssim", "mask_ssim", "l1")]
    starts = range(0, len(rows), BATCH)
    if not prefetch:
        for s in starts:
            _score(metrics, s, _decode(rows[s:s + BATCH]))
    else:
        with ThreadPoolExecutor(1) as loader:
            pending = loader.submit(_decode, rows[0:BATCH])
            for s in starts:
                decoded = pending.result()
                if s + BATCH < len(rows):
                    pending = loader.submit(_decode, rows[s + BATCH:s + 2 * BATCH])
                _score(metrics, s, decoded)
    scores: dict[str, float] = {}
    for metric in metrics:
        scores.update(metric.compute())
    return scores


@pytest.mark.parametrize("prefetch", [False, True], ids=["sequential", "prefetch"])
def test_decode_ssim_mask_ssim_l1(benchmark, protocol_folder, prefetch):
    _, rows = protocol_folder
    _run(rows[: 4 * BATCH], prefetch)  # warm up (engines, caches, page cache)
    scores = benchmark.pedantic(_run, args=(rows, prefetch), rounds=1, iterations=1)
    rate = len(rows) / benchmark.stats.stats.mean
    benchmark.extra_info["pairs_per_second"] = round(rate, 1)
    benchmark.extra_info["pairs"] = len(rows)
    print(f"\ndecode + ssim + mask_ssim + l1 ({'prefetch' if prefetch else 'sequential'}): "
          f"{rate:.0f} pairs/s over {len(rows)} pairs; scores {scores}")
    assert 0 < scores["ssim"] < 1 and 0 < scores["mask_ssim"] < 1 and scores["l1"] > 0
    if MIN_RATE > 0:
        assert rate >= MIN_RATE, f"{rate:.0f} pairs/s < {MIN_RATE:.0f}"
