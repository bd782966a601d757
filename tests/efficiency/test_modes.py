"""Execution modes on the CPU: torch.compile (cheap backends) checked against eager, own keys and
records, in process and in a fresh worker; a differing or failing mode gives failed records and
times nothing; CUDA graphs on the CPU are unavailable with the reason."""

from __future__ import annotations

import json
import math

import pytest
import torch
from test_probe import Tiny  # the learned module with example_inputs of the probe tests

from bench.efficiency.modes import (
    EqualityCheck,
    Executor,
    ModeCheckFailed,
    max_abs_difference,
    mode_suffix,
    tolerance,
)
from bench.efficiency.probe import (
    EfficiencySettings,
    execution_modes,
    measure_module,
    record_fields,
    run_worker,
    speed_keys,
    speed_measurements,
    speed_suffix,
)
from bench.models import ModelSpec
from bench.records import KIND_EFFICIENCY, KIND_MODEL_ERROR

FAST = dict(warmup=1, iterations=2, min_iterations=1, throughput_batch=2, sweep=(2,),
            isolation="none", ops=False)
COMPILE = dict(modes=("eager", "compile"), compile_backend="aot_eager")
# torch's own test backends: one turns relu into +1 (a wrong result), one raises while compiling
WRONG, BROKEN = "relu_accuracy_error_TESTING_ONLY", "relu_compile_error_TESTING_ONLY"


def test_keys_put_the_mode_after_device_dtype_and_layout():
    assert mode_suffix("eager") == ""
    assert speed_suffix("cuda", EfficiencySettings(), "cuda-graphs") == "@cuda-graphs"
    assert speed_suffix("cpu", EfficiencySettings(), "compile") == "@cpu-compile"
    assert speed_suffix("cuda:0", EfficiencySettings(compile_mode="max-autotune"),
                        "compile") == "@cuda-compile-max-autotune"
    assert speed_suffix("cuda", EfficiencySettings(dtype="bf16", channels_last=True),
                        "cuda-graphs") == "@cuda-bf16-cl-graphs"
    assert mode_suffix("compile", backend="aot_eager") == "-compile-aot_eager"
    eager, compiled = (
        {k for k, _, _ in speed_keys("cpu", EfficiencySettings(), m)} for m in ("eager", "compile"))
    assert not eager & compiled and "latency_ms@cpu-compile" in compiled


def test_settings_modes_validation_and_round_trip():
    assert execution_modes() == ("eager",)
    assert execution_modes(cuda_graphs=True, compile=True) == ("eager", "cuda-graphs", "compile")
    settings = EfficiencySettings(modes=("eager", "cuda-graphs"), compile_mode="reduce-overhead")
    assert EfficiencySettings.from_dict(json.loads(json.dumps(settings.to_dict()))) == settings
    run = EfficiencySettings.for_run("cpu", 8, modes=("eager", "compile"),
                                     compile_mode="max-autotune")
    assert run.modes == ("eager", "compile") and run.compile_mode == "max-autotune"
    for bad in (dict(modes=("compile",)), dict(modes=("eager", "jit")),
                dict(modes=("eager", "eager")), dict(compile_mode="fastest")):
        with pytest.raises(ValueError, match="modes|compile_mode"):
            EfficiencySettings(**bad)


def test_max_abs_difference_over_every_output_tensor():
    a = (torch.zeros(2, 3), {"mask": torch.ones(4), "label": "x"})
    b = (torch.zeros(2, 3), {"mask": torch.ones(4) + 0.25, "label": "x"})
    assert max_abs_difference(a, a) == 0.0
    assert max_abs_difference(a, b) == 0.25
    assert max_abs_difference(torch.zeros(2), torch.zeros(3)) == math.inf
    assert max_abs_difference((torch.zeros(2),), (torch.zeros(2), torch.zeros(2))) == math.inf
    nan = max_abs_difference(torch.zeros(2), torch.tensor([0.0, float("nan")]))
    check = EqualityCheck("compile", 1, nan, 1e-4, 1)
    assert not check.passed and check.to_dict()["max_abs_diff"] == "nan"
    assert tolerance("cuda-graphs", "fp32") == 1e-5 and tolerance("compile", "bf16") == 5e-2


def test_compile_is_checked_against_eager_before_it_runs():
    net = Tiny().eval()
    with torch.inference_mode():
        runner = Executor(net, "compile", backend="aot_eager").prepare(net.example_inputs(2))
        assert runner.check.passed and runner.check.batch == 2 and runner.check.outputs == 1
        assert runner.check.max_abs_diff <= runner.check.tolerance == 1e-4
        assert runner.fn().shape == (2, 3, 8, 8)
        with pytest.raises(ModeCheckFailed, match=r"max \|difference\| .* > tolerance 0.0001"):
            Executor(net, "compile", backend=WRONG).prepare(net.example_inputs(1))


def test_compile_mode_has_its_own_records_beside_eager():
    out = measure_module(Tiny(), EfficiencySettings(memory=True, **FAST, **COMPILE), name="tiny")
    got = {m.key: m for m in out}
    at = "@cpu-compile-aot_eager"
    assert {f"latency_ms{at}", f"throughput{at}", f"latency_ms_b2{at}",
            f"peak_memory{at}"} <= set(got)
    assert got["latency_ms@cpu"].status == "ok"
    assert got["latency_ms@cpu"].extra["execution_mode"] == "eager"
    assert "equality_check" not in got["latency_ms@cpu"].extra
    for key in (f"latency_ms{at}", f"throughput{at}", f"latency_ms_b2{at}"):
        m = got[key]
        assert m.status == "ok" and m.value > 0
        x = m.extra
        assert (x["execution_mode"], x["compile_mode"], x["compile_backend"]) == (
            "compile", "default", "aot_eager")
        assert x["equality_check"]["passed"] and x["equality_check"]["tolerance"] == 1e-4
        assert x["first_setup_s"] > 0
    assert got[f"throughput{at}"].extra["equality_check"]["batch"] == 2  # checked per batch
    # CPU memory is a fresh process's first call; under compile that call compiled
    assert got[f"peak_memory{at}"].status == "not_applicable"
    assert "torch.compile" in got[f"peak_memory{at}"].error
    fields = record_fields(got[f"latency_ms{at}"])
    assert fields["kind"] == KIND_EFFICIENCY and fields["extra"]["execution_mode"] == "compile"


def test_a_mode_that_differs_from_eager_is_failed_and_not_timed():
    def clock():
        raise AssertionError("a mode that failed its check was timed")

    out = speed_measurements(Tiny(), "cpu", EfficiencySettings(
        **FAST, modes=("eager", "compile"), compile_backend=WRONG), clock=clock, mode="compile")
    assert {m.key for m in out} == {k for k, _, _ in speed_keys("cpu", EfficiencySettings(
        **FAST, modes=("eager", "compile"), compile_backend=WRONG), "compile")}
    for m in out:
        assert m.status == "failed" and m.value is None
        check = m.extra["equality_check"]
        assert not check["passed"] and check["max_abs_diff"] > check["tolerance"]
        assert f"max |difference| {check['max_abs_diff']:.3g}" in m.error
        fields = record_fields(m)
        assert fields["kind"] == KIND_MODEL_ERROR and fields["error"].startswith("efficiency ")


def test_a_mode_that_cannot_compile_leaves_the_others_measured():
    out = measure_module(Tiny(), EfficiencySettings(
        **FAST, modes=("eager", "compile"), compile_backend=BROKEN), name="tiny")
    compiled = [m for m in out if "-compile" in m.key]
    assert compiled and all(m.status == "failed" for m in compiled)
    assert all(m.error.startswith("torch.compile failed: BackendCompilerFailed") for m in compiled)
    assert all(m.status == "ok" for m in out if "-compile" not in m.key)


def test_cuda_graphs_on_the_cpu_are_unavailable_with_the_reason():
    out = measure_module(Tiny(), EfficiencySettings(**FAST, modes=("eager", "cuda-graphs")))
    graphs = [m for m in out if m.key.endswith("@cpu-graphs")]
    assert {m.key for m in graphs} == {k for k, _, _ in speed_keys(
        "cpu", EfficiencySettings(**FAST), "cuda-graphs")}
    assert all(m.status == "unavailable" and m.value is None
               and "CUDA graphs need a CUDA device" in m.error
               and m.extra["execution_mode"] == "cuda-graphs" for m in graphs)
    assert all(m.status == "ok" for m in out if m.key.endswith("@cpu"))


def test_compile_in_a_fresh_worker_of_its_own():
    """The worker job carries the mode: a new interpreter rebuilds a registered model (tiny
    size), compiles it (torch.compile's cheap "eager" backend), checks it and times it."""
    settings = EfficiencySettings(
        ops=False, memory=False, warmup=0, iterations=1, min_iterations=1, sweep=(),
        modes=("eager", "compile"), compile_backend="eager")
    spec = ModelSpec(name="ctat", size=(32, 16), untrained=True)
    out = {m.key: m for m in run_worker(spec, "cpu", settings, ["latency"], mode="compile")}
    assert set(out) == {f"{k}@cpu-compile-eager"
                        for k in ("latency_ms", "latency_p90_ms", "latency_min_ms")}
    lat = out["latency_ms@cpu-compile-eager"]
    assert lat.status == "ok" and lat.value > 0, lat.error
    x = lat.extra
    assert x["isolation"].startswith("fresh process") and x["execution_mode"] == "compile"
    assert x["equality_check"]["passed"] and x["equality_check"]["max_abs_diff"] <= x["tolerance"]
    assert x["first_setup_s"] > 0


@pytest.mark.slow
def test_inductor_compile_of_ctat_equals_eager():
    """A real inductor compile (C++ code generation with gcc) of a project model."""
    from bench.models import GENERATORS

    net = GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(32, 16), untrained=True)).module
    net = net.eval()
    with torch.inference_mode():
        runner = Executor(net, "compile").prepare(net.example_inputs(1, "cpu"))
    assert runner.check.passed, runner.check.message()
    assert runner.check.max_abs_diff <= tolerance("compile", "fp32")
    assert runner.setup_s > 0


def test_report_columns_label_each_mode():
    from bench.report.columns import column_format

    labels = {key: column_format(key, "ms", None).label for key in (
        "latency_ms@cuda", "latency_ms@cuda-graphs", "latency_ms@cpu-compile-max-autotune")}
    assert labels == {"latency_ms@cuda": "Latency cuda",
                      "latency_ms@cuda-graphs": "Latency cuda-graphs",
                      "latency_ms@cpu-compile-max-autotune": "Latency cpu-compile-max-autotune"}


def test_failed_keys_of_one_mode_share_one_table_line():
    from bench.records import Record
    from bench.report.console import efficiency_table

    failed = speed_measurements(Tiny(), "cpu", EfficiencySettings(
        **FAST, modes=("eager", "compile"), compile_backend=WRONG), mode="compile")
    base = dict(run_id="r", model="tiny", dataset="market", split="", pairs_sha256="",
                protocol="efficiency", protocol_version="1", checkpoint="none",
                checkpoint_sha256=None, reference_bound=False, git_sha="", created="")
    records = [Record(**base, **record_fields(m)) for m in failed]
    records.append(Record(**base, **record_fields(measure_module(
        Tiny(), EfficiencySettings(**{**FAST, "timing": False, "memory": False}))[0])))
    lines = [line for line in efficiency_table(records).splitlines() if line.startswith("!")]
    assert len(lines) == 1
    assert lines[0].startswith("! tiny: efficiency latency_ms@cpu-compile-relu_accuracy")
    assert "throughput@cpu-compile" in lines[0] and "max |difference|" in lines[0]
