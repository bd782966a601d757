"""On a GPU: CUDA columns measured (synchronised, cudnn.benchmark recorded), in process and in a
fresh worker process; numbers of the CPU and the GPU never share a key. The execution modes:
CUDA graph replay equals eager (CTAT, PATN, PG2; fp32 and bf16 autocast), inductor compile
equals eager, each mode in its own worker with its own columns."""

from __future__ import annotations

import pytest
import torch

from bench.efficiency.modes import Executor, autocast_cache, max_abs_difference, tolerance
from bench.efficiency.probe import EfficiencySettings, profile_models, speed_measurements

pytestmark = pytest.mark.gpu


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))

    def example_inputs(self, batch=1, device="cpu"):
        return (torch.rand(batch, 3, 64, 64, device=device),)


@pytest.mark.parametrize("dtype", ["fp32", "bf16", "fp16"])
def test_cuda_speed_in_process(dtype):
    settings = EfficiencySettings(devices=("cuda",), dtype=dtype, channels_last=dtype == "fp16",
                                  warmup=2, iterations=5, min_iterations=5, throughput_batch=8,
                                  sweep=(1, 8), isolation="none")
    out = speed_measurements(Tiny(), "cuda", settings)
    assert {m.status for m in out} == {"ok"}, [m.error for m in out]
    at = "@cuda" + ("" if dtype == "fp32" else f"-{dtype}") + ("-cl" if dtype == "fp16" else "")
    got = {m.key: m for m in out}
    assert set(got) == {f"latency_ms{at}", f"latency_p90_ms{at}", f"latency_min_ms{at}",
                        f"throughput{at}", f"latency_ms_b1{at}", f"latency_ms_b8{at}",
                        f"peak_memory{at}", f"peak_memory_b8{at}"}
    lat = got[f"latency_ms{at}"]
    assert lat.extra["cudnn_benchmark"] is True and lat.extra["iterations"] == 5
    assert "synchronised" in lat.extra["timer"] and lat.device == "cuda"
    assert got[f"peak_memory_b8{at}"].value > got[f"peak_memory{at}"].value > 0


def test_cuda_profile_in_a_fresh_process():
    settings = EfficiencySettings(devices=("cpu", "cuda"), warmup=1, iterations=3,
                                  min_iterations=2, throughput_batch=4, sweep=(1, 4))
    records = profile_models(["ctat", "patn", "pg2"], settings, size=(64, 32))
    speed = [r for r in records if "@" in r.key]
    assert all(r.kind == "efficiency" and r.value is not None for r in speed), \
        [r.error for r in speed if r.value is None]
    for r in speed:
        assert r.device.split(":")[0] == r.key.split("@")[1].split("-")[0]
        assert r.extra["isolation"].startswith("fresh process")
    names = {r.extra["device_name"] for r in speed if r.key.endswith("@cuda")}
    assert names == {torch.cuda.get_device_name()}


def _network(name, size=(64, 32)):
    from bench.models import GENERATORS, ModelSpec

    spec = ModelSpec(name=name, size=size, untrained=True, device="cuda")
    return GENERATORS.get(name)(spec).module.cuda().eval()


@pytest.mark.parametrize("dtype", ["fp32", "bf16"])
@pytest.mark.parametrize("name", ["ctat", "patn", "pg2"])
def test_cuda_graph_replay_equals_eager(name, dtype):
    """Captured once, replayed on new values copied into the static inputs: eager's result."""
    net = _network(name)
    inputs = net.example_inputs(2, "cuda")
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16",
                              cache_enabled=autocast_cache("cuda-graphs"))
    with torch.inference_mode(), autocast:
        runner = Executor(net, "cuda-graphs", dtype=dtype).prepare(inputs)
        assert runner.check.passed, runner.check.message()
        assert runner.capture_peak.bytes > 0
        for static in inputs:
            if static.is_floating_point():
                static.copy_(torch.rand_like(static) * 2 - 1)
        runner.fn()
        torch.cuda.synchronize()
        diff = max_abs_difference(net(*inputs), runner.output)
    assert diff <= tolerance("cuda-graphs", dtype), diff


@pytest.mark.parametrize("name", ["ctat", "patn", "pg2"])
def test_inductor_compile_equals_eager_on_cuda(name):
    net = _network(name)
    with torch.inference_mode():
        runner = Executor(net, "compile").prepare(net.example_inputs(1, "cuda"))
    assert runner.check.passed, runner.check.message()


def test_modes_in_fresh_workers_have_their_own_columns():
    settings = EfficiencySettings(devices=("cuda",), ops=False, warmup=2, iterations=5,
                                  min_iterations=5, throughput_batch=4, sweep=(1, 4),
                                  modes=("eager", "cuda-graphs", "compile"))
    records = profile_models(["ctat"], settings, size=(64, 32))
    speed = {r.key: r for r in records if "@" in r.key}
    assert all(r.kind == "efficiency" and r.value is not None for r in speed.values()), \
        [r.error for r in speed.values() if r.value is None]
    for at, mode in (("@cuda", "eager"), ("@cuda-graphs", "cuda-graphs"),
                     ("@cuda-compile", "compile")):
        for key in ("latency_ms", "throughput", "latency_ms_b4", "peak_memory",
                    "peak_memory_b4"):
            r = speed[key + at]
            assert r.extra["execution_mode"] == mode
            assert r.extra["isolation"].startswith("fresh process")
            if mode != "eager":
                assert r.extra["equality_check"]["passed"]
    assert speed["peak_memory@cuda-graphs"].extra["method"].startswith("CUDA max_memory_allocated "
                                                                       "during the graph's capture")
