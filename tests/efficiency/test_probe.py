"""Per-model measurements: which records, which devices, not applicable, unavailable, isolation."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bench.efficiency.probe import (
    EfficiencySettings,
    Measurement,
    default_dataset,
    device_suffix,
    measure_module,
    profile_models,
    record_fields,
    speed_keys,
    speed_measurements,
)
from bench.models.modules import NoParameters
from bench.records import KIND_EFFICIENCY, KIND_MODEL_ERROR

NO_CUDA = not torch.cuda.is_available()


class Tiny(nn.Module):
    """A learned module with the harness's ``example_inputs`` convention."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        self.head = nn.Conv2d(4, 3, 1)

    def forward(self, x):
        return torch.tanh(self.head(torch.relu(self.conv(x))))

    def example_inputs(self, batch=1, device="cpu"):
        return (torch.rand(batch, 3, 8, 8, device=device),)


FAST = dict(warmup=1, iterations=3, min_iterations=2, throughput_batch=2, sweep=(1, 2),
            isolation="none")


def test_training_free_methods_are_not_applicable():
    out = measure_module(NoParameters(), EfficiencySettings(**FAST))
    assert [(m.key, m.status, m.value) for m in out] == [("params", "not_applicable", None)]
    fields = record_fields(out[0])
    assert fields["kind"] == KIND_EFFICIENCY and fields["error"].startswith("not applicable")


def test_in_process_measurements_have_one_key_per_number_and_device():
    out = measure_module(Tiny(), EfficiencySettings(devices=("cpu",), **FAST), name="tiny")
    got = {m.key: m for m in out}
    assert set(got) == {
        "params", "params_trainable", "macs", "flops", "elementwise_ops", "uncounted_ops",
        "flop_counter_macs", "latency_ms@cpu", "latency_p90_ms@cpu", "latency_min_ms@cpu",
        "throughput@cpu", "latency_ms_b1@cpu", "latency_ms_b2@cpu", "peak_memory@cpu",
        "peak_memory_b2@cpu"}
    assert all(m.status == "ok" for m in out)
    assert got["params"].value == 3 * 4 * 9 + 4 + 4 * 3 + 3
    assert got["macs"].value == 8 * 8 * (4 * 27 + 3 * 4)
    assert got["flops"].value == 2 * got["macs"].value
    assert got["uncounted_ops"].value == 0 and got["flop_counter_macs"].extra["agree"]
    lat = got["latency_ms@cpu"]
    assert lat.extra["warmup"] == 1 and 2 <= lat.extra["iterations"] <= 3
    assert lat.extra["threads"] == torch.get_num_threads() and lat.extra["dtype"] == "fp32"
    assert lat.extra["isolation"] == "in-process"
    assert got["latency_min_ms@cpu"].value <= lat.value <= got["latency_p90_ms@cpu"].value
    assert got["throughput@cpu"].extra["batch"] == 2 and got["throughput@cpu"].higher_is_better
    assert got["peak_memory_b2@cpu"].extra["batch"] == 2
    for m in out:
        assert m.device == "cpu"
        json.dumps(m.to_dict())  # what the worker sends back


@pytest.mark.skipif(not NO_CUDA, reason="checks the CPU-only machine's GPU columns")
def test_gpu_columns_say_unavailable_without_a_gpu():
    out = measure_module(Tiny(), EfficiencySettings(devices=("cpu", "cuda"), ops=False, **FAST))
    cuda = [m for m in out if m.key.endswith("@cuda")]
    assert {m.key for m in cuda} == {k for k, _, _ in speed_keys("cuda", EfficiencySettings(
        **FAST))}
    assert all(m.status == "unavailable" and m.value is None and "no CUDA" in m.error
               for m in cuda)
    assert all(m.device == "cuda" for m in cuda)
    assert all(m.status == "ok" for m in out if m.key.endswith("@cpu"))


def test_fake_clock_reaches_the_records():
    ticks = iter(range(0, 10_000))
    out = speed_measurements(Tiny(), "cpu", EfficiencySettings(**FAST), tasks=["latency"],
                             clock=lambda: float(next(ticks)))
    got = {m.key: m.value for m in out}
    assert got == {"latency_ms@cpu": 1000.0, "latency_p90_ms@cpu": 1000.0,
                   "latency_min_ms@cpu": 1000.0}


def test_keys_separate_devices_precisions_and_layouts():
    assert device_suffix("cuda:1") == "@cuda"
    assert device_suffix("cuda", "bf16", True) == "@cuda-bf16-cl"
    settings = EfficiencySettings(dtype="bf16", channels_last=True, sweep=(4,),
                                  throughput_batch=8)
    assert {k for k, _, _ in speed_keys("cpu", settings)} == {
        "latency_ms@cpu-bf16-cl", "latency_p90_ms@cpu-bf16-cl", "latency_min_ms@cpu-bf16-cl",
        "throughput@cpu-bf16-cl", "latency_ms_b4@cpu-bf16-cl", "peak_memory@cpu-bf16-cl",
        "peak_memory_b8@cpu-bf16-cl"}


def test_bf16_autocast_and_channels_last_run_on_the_cpu():
    out = speed_measurements(Tiny(), "cpu", EfficiencySettings(
        dtype="bf16", channels_last=True, **FAST), tasks=["latency"])
    assert {m.status for m in out} == {"ok"}
    assert out[0].extra["autocast"] and out[0].extra["channels_last"]


def test_settings_defaults_validation_and_round_trip():
    cpu, gpu = EfficiencySettings().for_device("cpu"), EfficiencySettings().for_device("cuda")
    assert cpu["sweep"] == () and gpu["sweep"] == (1, 4, 16, 64)
    assert cpu["throughput_batch"] == 4 and gpu["throughput_batch"] == 32
    run = EfficiencySettings.for_run("cpu", 32)
    assert run.throughput_batch == 4 and run.sweep == () and not run.throughput_memory
    assert EfficiencySettings.from_dict(json.loads(json.dumps(run.to_dict()))) == run
    for bad in (dict(dtype="fp8"), dict(isolation="thread"), dict(iterations=0),
                dict(sweep=(0,))):
        with pytest.raises(ValueError):
            EfficiencySettings(**bad)
    assert default_dataset((256, 176)) == "deepfashion" and default_dataset((128, 64)) == "market"


def test_failures_become_model_errors():
    m = Measurement("throughput@cpu", None, "images/s", "throughput", status="failed",
                    error="RuntimeError: out of memory")
    fields = record_fields(m, device=False)
    assert fields["kind"] == KIND_MODEL_ERROR and "device" not in fields
    assert fields["error"] == "efficiency throughput@cpu: RuntimeError: out of memory"


def test_profile_models_records_without_data_or_weights():
    records = profile_models(["ctat", "warp"], EfficiencySettings(timing=False, memory=False),
                             size=(32, 16))
    by_key = {(r.model, r.key): r for r in records}
    assert by_key[("ctat", "params")].value == 15_843_846
    assert by_key[("ctat", "params")].checkpoint == "untrained"
    assert by_key[("ctat", "uncounted_ops")].value == 0
    assert by_key[("warp", "params")].extra["status"] == "not_applicable"
    assert all(r.kind == KIND_EFFICIENCY and r.dataset == "market" and r.protocol == "efficiency"
               and r.extra["image_size"] == [32, 16] for r in records)


@pytest.mark.slow
def test_fresh_process_per_model():
    """The worker rebuilds the model from its spec in a new interpreter and times it there."""
    records = profile_models(["ctat"], EfficiencySettings(ops=False, **{
        **FAST, "isolation": "process"}), size=(32, 16))
    speed = [r for r in records if "@cpu" in r.key]
    assert {r.key for r in speed} >= {"latency_ms@cpu", "throughput@cpu", "peak_memory@cpu",
                                      "peak_memory_b2@cpu", "latency_ms_b2@cpu"}
    assert all(r.kind == KIND_EFFICIENCY and r.value > 0 for r in speed), \
        [r.error for r in speed]
    assert all(r.extra["isolation"].startswith("fresh process") for r in speed)
    # CPU memory: the first call of each fresh process (batch 1, then the throughput batch)
    assert {r.key: r.extra["calls_before"] for r in speed if r.metric == "memory"} == {
        "peak_memory@cpu": 0, "peak_memory_b2@cpu": 0}
