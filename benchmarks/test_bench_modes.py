"""Execution modes of the learned generators at batch 1, 128x64: eager beside torch.compile
(inductor, default mode) on the CPU, and eager beside CUDA graph replay and compile on a GPU
(skipped without one: the ``gpu`` marker).

    pytest benchmarks/test_bench_modes.py --benchmark-only -q
    pytest benchmarks/test_bench_modes.py --benchmark-only -q -k cuda      # on a GPU

Each mode is prepared by :class:`bench.efficiency.modes.Executor` before the clock starts
(compilation, or warm-up and capture; the seconds go to ``extra_info.setup_s``) and checked
against eager on the same inputs (``extra_info.max_abs_diff``, within ``tolerance``); a round
is one call (CUDA: replay or forward, then a synchronise). The eager case of the same network
is the baseline to compare with; ``bench profile --compile --cuda-graphs`` is the measurement
protocol (fresh process per mode, spread, records).
"""

from __future__ import annotations

import pytest
import torch

from bench.efficiency.modes import Executor
from bench.models import GENERATORS, ModelSpec

NETWORKS = ("ctat", "patn", "pg2")
SIZE = (128, 64)


def _run(benchmark, network: str, mode: str, device: str, rounds: int) -> None:
    spec = ModelSpec(name=network, size=SIZE, dataset="market", untrained=True, device=device)
    net = GENERATORS.get(network)(spec).module.to(device).eval()
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    with torch.inference_mode():
        runner = Executor(net, mode).prepare(net.example_inputs(1, device))

        def call():
            runner.fn()
            sync()

        for _ in range(3):  # warm-up: caches filled, clocks up
            call()
        benchmark.pedantic(call, rounds=rounds, iterations=1)
    check = runner.check
    benchmark.extra_info.update(
        network=network, mode=mode, device=device, batch=1, size=list(SIZE),
        threads=torch.get_num_threads(), setup_s=runner.setup_s,
        max_abs_diff=None if check is None else check.max_abs_diff,
        tolerance=None if check is None else check.tolerance,
        images_per_s=1 / benchmark.stats.stats.median,
        device_name=torch.cuda.get_device_name() if device == "cuda" else "cpu",
    )


@pytest.mark.parametrize("mode", ["eager", "compile"])
@pytest.mark.parametrize("network", NETWORKS)
def test_cpu(benchmark, network, mode):
    _run(benchmark, network, mode, "cpu", rounds=5)


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["eager", "cuda-graphs", "compile"])
@pytest.mark.parametrize("network", NETWORKS)
def test_cuda(benchmark, network, mode):
    _run(benchmark, network, mode, "cuda", rounds=50)
