"""Throughput of the full metric suite (pixel and learned metrics) on this machine.

    /work/venv/bin/pytest benchmarks/test_bench_learned_metrics.py --benchmark-only -q -s
    BENCH_SUITE_PAIRS=64 /work/venv/bin/pytest benchmarks/test_bench_learned_metrics.py --benchmark-only -s

Every metric of the registry (ssim family, l1, psnr, lpips, is, mask_is, fid, kid, pckh with the
marker detector) is updated through its Metric object with one shared dict, as the run loop
does, on in-memory uint8 batches of 32 pairs, then computed (bootstrap excluded). The networks
are the real architectures (torch-fidelity's InceptionV3, LPIPS-AlexNet) with the tests'
stand-in weights, so the timing is that of the real networks. Each image passes Inception once
(generated, masked generated, and each distinct target once; a distinct target is shared by
~1.65 pairs as in the Market split). The rate (pairs/s) is printed and stored in ``extra_info``.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from bench.metrics import METRICS, default_metrics
from bench.metrics.settings import MetricSettings, with_settings
from bench.types import Pair, PairBatch

N_PAIRS = int(os.environ.get("BENCH_SUITE_PAIRS", "64"))
BATCH = 32


def _batches(size, n):
    rng = np.random.default_rng(0)
    h, w = size
    yy, xx = np.mgrid[0:h, 0:w]
    n_targets = max(1, int(n / 1.65))
    out = []
    for start in range(0, n, BATCH):
        idx = np.arange(start, min(n, start + BATCH))
        tgt = np.stack([np.clip(100 + 60 * np.sin(xx / (3 + i % 5) + yy / (4 + i % 3))[..., None]
                                + rng.normal(0, 8, (h, w, 3)), 0, 255) for i in idx]).astype(np.uint8)
        fake = np.clip(tgt.astype(np.int16) + rng.integers(-30, 30, tgt.shape), 0, 255).astype(np.uint8)
        kp = np.full((len(idx), 18, 2), -1, np.float32)
        for j, (fx, fy) in enumerate([(0.5, 0.1), (0.5, 0.2), (0.35, 0.22), (0.3, 0.35), (0.3, 0.45),
                                      (0.65, 0.22), (0.7, 0.35), (0.7, 0.45), (0.4, 0.5), (0.4, 0.7),
                                      (0.4, 0.9), (0.6, 0.5), (0.6, 0.7), (0.6, 0.9), (0.47, 0.08),
                                      (0.53, 0.08), (0.44, 0.1), (0.56, 0.1)]):
            kp[:, j] = (fx * w, fy * h)
        pairs = tuple(Pair(f"s{i}.jpg", f"t{i % n_targets}.jpg", int(i)) for i in idx)
        out.append((fake, PairBatch(pairs, tgt.copy(), tgt, kp, kp)))
    return out


@pytest.mark.parametrize("size", [(128, 64), (256, 176)], ids=["128x64", "256x176"])
def test_metric_suite_throughput(benchmark, size, standin_inception, standin_alexnet, tmp_path):
    batches = _batches(size, N_PAIRS)
    settings = MetricSettings(weights=(("inception-fid", str(standin_inception)),
                                       ("alexnet", str(standin_alexnet))),
                              download=False, use_cache=False, dataset="synthetic",
                              batch_size=BATCH, kid_subset_size=16, bootstrap=0)

    def suite():
        shared = with_settings({}, settings)
        metrics = [METRICS.get(name)(shared) for name in default_metrics()]
        for fake, batch in batches:
            for m in metrics:
                m.update(fake, batch)
        return {k: v for m in metrics for k, v in m.compute().items()}

    values = benchmark.pedantic(suite, rounds=1, iterations=1, warmup_rounds=0)
    assert all(np.isfinite(v) for k, v in values.items() if k != "psnr")
    seconds = benchmark.stats.stats.mean
    rate = N_PAIRS / seconds
    benchmark.extra_info.update(pairs=N_PAIRS, pairs_per_s=rate, size=list(size),
                                torch_threads=torch.get_num_threads(),
                                metrics=sorted(values))
    print(f"\nmetric suite {size[0]}x{size[1]}: {N_PAIRS} pairs in {seconds:.1f} s "
          f"= {rate:.2f} pairs/s ({torch.get_num_threads()} torch threads, CPU)")
