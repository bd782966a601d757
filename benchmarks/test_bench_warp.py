"""Speed of the ``warp`` baseline: pairs per second at the Market and DeepFashion sizes.

    pytest benchmarks/test_bench_warp.py --benchmark-only -q

Each round warps one batch of random-pose pairs (``extra_info["pairs_per_s"]`` is the batch
size over the median round time). The brief for the baseline: 2,000 Market pairs (128x64) in
well under 30 s on a 2-core CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.models import ModelSpec
from bench.models.warp import Warp

# A frontal standing person in a 128x64 frame, COCO-18 (x, y).
BASE = np.array(
    [
        (32, 18), (32, 30), (23, 31), (20, 46), (19, 60), (41, 31), (44, 46), (45, 60),
        (27, 62), (26, 86), (26, 110), (37, 62), (38, 86), (38, 110), (30, 16), (34, 16),
        (28, 17), (36, 17),
    ],
    dtype=np.float32,
)


def _pairs(n: int, size: tuple[int, int], seed: int = 0):
    h, w = size
    rng = np.random.default_rng(seed)
    k = BASE * np.array([w / 64, h / 128], np.float32)
    jitter = 0.05 * h
    ks = (k[None] + rng.normal(0, jitter / 2, (n, 18, 2))).astype(np.float32)
    kt = (k[None] + rng.normal(0, jitter, (n, 18, 2))).astype(np.float32)
    ks[rng.random((n, 18)) < 0.1] = -1  # detectors miss joints
    kt[rng.random((n, 18)) < 0.1] = -1
    img = torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(seed))
    return img, torch.from_numpy(ks), torch.from_numpy(kt)


@pytest.mark.parametrize(
    ("size", "batch", "min_pairs_per_s"),
    [((128, 64), 256, 2000 / 30), ((256, 176), 64, None)],
    ids=["market-128x64", "fashion-256x176"],
)
def test_warp_pairs_per_second(benchmark, size, batch, min_pairs_per_s):
    gen = Warp(ModelSpec(name="warp", size=size))
    img, ks, kt = _pairs(batch, size)
    gen.generate(img[:4], ks[:4], kt[:4])  # warm-up (allocator, first-call overheads)
    out = benchmark.pedantic(gen.generate, args=(img, ks, kt), rounds=5, iterations=1, warmup_rounds=1)
    assert out.shape == img.shape
    stats = getattr(benchmark, "stats", None)
    if stats is None:  # --benchmark-disable: ran once, nothing measured
        return
    pairs_per_s = batch / stats.stats.median
    benchmark.extra_info["pairs"] = batch
    benchmark.extra_info["size"] = f"{size[0]}x{size[1]}"
    benchmark.extra_info["pairs_per_s"] = round(pairs_per_s, 1)
    print(f"\nwarp {size[0]}x{size[1]}: {pairs_per_s:.0f} pairs/s")
    if min_pairs_per_s is not None:
        assert pairs_per_s > min_pairs_per_s, f"{pairs_per_s:.0f} pairs/s"
