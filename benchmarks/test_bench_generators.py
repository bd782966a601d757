"""Speed of the learned generators' forward passes (the modules the adapters run), CTAT beside
PATN at the same resolutions and batch sizes.

    pytest benchmarks/test_bench_generators.py --benchmark-only -q
    BENCH_DEVICE=cuda pytest benchmarks/test_bench_generators.py --benchmark-only -q   # on a GPU

Each round is one forward pass of a batch under ``torch.inference_mode`` (CUDA rounds end with
a synchronise). ``extra_info`` carries images per second, the parameter count, the device and
its name. Untrained weights: speed does not depend on the values. The efficiency issue owns
the full measurement protocol (warm-up, percentiles, memory); this is the regression signal.
"""

from __future__ import annotations

import os

import pytest
import torch

from baselines.patn.network import PATNConfig, PATNGenerator
from ctat.config import CTATConfig
from ctat.network import CTATGenerator, count_parameters

NETWORKS = {
    "ctat": lambda size: CTATGenerator(CTATConfig(), size),
    "patn": lambda size: PATNGenerator(PATNConfig.for_dataset("market" if size[0] == 128 else "deepfashion"), size),
}

DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
CASES = [((128, 64), 1), ((128, 64), 32), ((256, 176), 1), ((256, 176), 8)]
if DEVICE == "cpu":
    CASES = [c for c in CASES if c[1] == 1]  # a 2-core CPU: one image per round


@pytest.mark.parametrize(("size", "batch"), CASES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else f"b{v}")
@pytest.mark.parametrize("dtype", ["fp32", "bf16"] if DEVICE.startswith("cuda") else ["fp32"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_forward(benchmark, network, size, batch, dtype):
    net = NETWORKS[network](size).to(DEVICE).eval()
    inputs = net.example_inputs(batch, DEVICE)
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16")

    def forward():
        with torch.inference_mode(), autocast:
            out = net(*inputs)
        if DEVICE.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    for _ in range(3):  # warm-up: kernels chosen, caches filled
        forward()
    out = benchmark.pedantic(forward, rounds=20 if DEVICE != "cpu" else 3, iterations=1)
    assert out.shape == (batch, 3, *size)
    benchmark.extra_info.update(
        images_per_s=batch / benchmark.stats.stats.median,
        network=network, parameters=count_parameters(net), device=DEVICE, dtype=dtype,
        device_name=torch.cuda.get_device_name() if DEVICE.startswith("cuda") else "cpu",
    )
