"""Speed of the learned generators' forward passes (the modules the adapters run), CTAT beside
PATN and PG2 at the same image resolutions and batch sizes (PG2 runs DeepFashion's 256x176
images in its original 256x256 frame, as its adapter does), in float32 and under bf16 autocast
(``--precision bf16``, :mod:`bench.precision`) on the CPU and a GPU.

    pytest benchmarks/test_bench_generators.py --benchmark-only -q
    BENCH_DEVICE=cuda pytest benchmarks/test_bench_generators.py --benchmark-only -q   # on a GPU

Each round is one forward pass of a batch under ``torch.inference_mode`` (CUDA rounds end with
a synchronise). ``extra_info`` carries images per second, the parameter count, fvcore's MACs per
image, the device, its name and the CPU threads. On a GPU each case also runs with
channels_last. Untrained weights: speed does not depend on the values. This is the
regression signal CI compares on one machine; the measurement protocol (fresh process per
model, percentiles, memory, sweeps, unavailable GPU columns) is ``python -m bench profile``
(:mod:`bench.efficiency`).
"""

from __future__ import annotations

import os

import pytest
import torch

from baselines.patn.network import PATNConfig, PATNGenerator
from baselines.pg2.adapter import network_size
from baselines.pg2.network import PG2Config, PG2Generator
from bench.efficiency.ops import count_ops
from bench.efficiency.params import count_parameters
from bench.precision import autocast
from ctat.config import CTATConfig
from ctat.network import CTATGenerator

NETWORKS = {
    "ctat": lambda size: CTATGenerator(CTATConfig(), size),
    "patn": lambda size: PATNGenerator(PATNConfig.for_dataset(_dataset(size)), size),
    "pg2": lambda size: PG2Generator(PG2Config.for_dataset(_dataset(size)), network_size(size)),
}


def _dataset(size):
    return "market" if size == (128, 64) else "deepfashion"


DEVICE = os.environ.get("BENCH_DEVICE", "cpu")
CASES = [((128, 64), 1), ((128, 64), 32), ((256, 176), 1), ((256, 176), 8)]
if DEVICE == "cpu":
    CASES = [c for c in CASES if c[1] == 1]  # a 2-core CPU: one image per round


@pytest.mark.parametrize(("size", "batch"), CASES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else f"b{v}")
@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp32-cl"] if DEVICE.startswith("cuda")
                         else ["fp32", "bf16"])
@pytest.mark.parametrize("network", list(NETWORKS))
def test_forward(benchmark, network, size, batch, dtype):
    net = NETWORKS[network](size).to(DEVICE).eval()
    inputs = net.example_inputs(batch, DEVICE)
    if dtype.endswith("-cl"):
        net = net.to(memory_format=torch.channels_last)
        inputs = tuple(t.contiguous(memory_format=torch.channels_last) for t in inputs)

    def forward():
        with torch.inference_mode(), autocast(DEVICE, dtype.removesuffix("-cl")):
            out = net(*inputs)
        if DEVICE.startswith("cuda"):
            torch.cuda.synchronize()
        return out

    for _ in range(3):  # warm-up: kernels chosen, caches filled
        forward()
    out = benchmark.pedantic(forward, rounds=20 if DEVICE != "cpu" else 3, iterations=1)
    assert out.shape[0] == batch and out.shape[1] == 3
    benchmark.extra_info.update(
        images_per_s=batch / benchmark.stats.stats.median,
        network=network, parameters=count_parameters(net).total, device=DEVICE, dtype=dtype,
        macs_per_image=_macs(network, size, net), threads=torch.get_num_threads(),
        device_name=torch.cuda.get_device_name() if DEVICE.startswith("cuda") else "cpu",
    )


_MACS: dict = {}


def _macs(network, size, net) -> int:
    """fvcore's MACs of one image, counted once per network and size (not timed)."""
    if (network, size) not in _MACS:
        _MACS[network, size] = count_ops(net, net.example_inputs(1, DEVICE)).macs
    return _MACS[network, size]
