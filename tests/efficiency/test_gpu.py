"""On a GPU: CUDA columns measured (synchronised, cudnn.benchmark recorded), in process and in a
fresh worker process; numbers of the CPU and the GPU never share a key."""

from __future__ import annotations

import pytest
import torch

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
