"""``bench run`` writes efficiency records for each model after the quality evaluation."""

from __future__ import annotations

import dataclasses

import pytest

from bench.api import run
from bench.config import RunConfig
from bench.efficiency import probe
from bench.records import KIND_EFFICIENCY, read_records
from bench.report.console import summary_table

_FOR_RUN = probe.EfficiencySettings.for_run


def _fast_for_run(device, batch_size, **modes):
    return dataclasses.replace(_FOR_RUN(device, batch_size, **modes), isolation="none",
                               iterations=2, warmup=0, min_iterations=1)


def test_run_writes_efficiency_records(synthetic_parent, tmp_path, monkeypatch):
    monkeypatch.setattr(probe.EfficiencySettings, "for_run", staticmethod(_fast_for_run))
    result = run(RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=2,
                           metrics=("ssim",), bootstrap=0, out=tmp_path / "run"),
                 progress=False, echo=lambda s: None)
    assert not result.errors()
    records = read_records(result.run_dir / "records.jsonl")
    eff = {(r.model, r.key): r for r in records if r.kind == KIND_EFFICIENCY}
    assert eff[("source", "params")].extra["status"] == "not_applicable"
    ctat = eff[("ctat", "params")]
    assert ctat.value == 15_843_846 and ctat.checkpoint == "untrained"
    assert ctat.protocol == "patn" and ctat.pairs_sha256 == records[0].pairs_sha256
    assert {"macs", "latency_ms@cpu", "throughput@cpu", "peak_memory@cpu"} <= {
        k for m, k in eff if m == "ctat"}
    assert ("ctat", "peak_memory_b2@cpu") not in eff  # bench run: batch-1 memory only
    assert result.values[("ctat", "ssim")] is not None  # quality records untouched
    text = summary_table(result.records)
    assert "efficiency (bench.efficiency" in text
    assert "efficiency not applicable to source" in text


def test_no_efficiency(synthetic_parent, tmp_path):
    result = run(RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=2,
                           metrics=("ssim",), bootstrap=0, out=tmp_path / "run",
                           efficiency=False), progress=False, echo=lambda s: None)
    assert not any(r.kind == KIND_EFFICIENCY for r in result.records)


@pytest.mark.slow
def test_run_times_each_learned_model_in_a_fresh_process(synthetic_parent, tmp_path):
    from bench.cli import main

    out = tmp_path / "run"
    assert main(["run", "--models", "ctat", "--data-root", str(synthetic_parent), "--limit", "2",
                 "--metrics", "ssim", "--bootstrap", "0", "--out", str(out), "--quiet"]) == 0
    lat = next(r for r in read_records(out / "records.jsonl") if r.key == "latency_ms@cpu")
    assert lat.value > 0 and lat.extra["isolation"].startswith("fresh process")


def _compile_for_run(device, batch_size, **modes):
    return dataclasses.replace(_fast_for_run(device, batch_size, **modes),
                               compile_backend="eager")


def test_run_mode_flags_reach_the_efficiency_records(synthetic_parent, tmp_path, monkeypatch):
    from bench.cli import _run_config, build_parser
    from bench.plan import NOT_HASHED

    args = build_parser().parse_args(["run", "--models", "ctat", "--cuda-graphs", "--compile"])
    args.argv = None
    config = _run_config(args)
    assert (config.efficiency_cuda_graphs, config.efficiency_compile) == (True, "default")
    assert {"efficiency_cuda_graphs", "efficiency_compile"} <= set(NOT_HASHED)

    monkeypatch.setattr(probe.EfficiencySettings, "for_run", staticmethod(_compile_for_run))
    result = run(dataclasses.replace(config, data_root=synthetic_parent, limit=2,
                                     metrics=("ssim",), bootstrap=0, out=tmp_path / "run"),
                 progress=False, echo=lambda s: None)
    eff = {r.key: r for r in read_records(result.run_dir / "records.jsonl")
           if r.kind == KIND_EFFICIENCY and r.model == "ctat"}
    lat = eff["latency_ms@cpu-compile-eager"]
    assert lat.value > 0 and lat.extra["execution_mode"] == "compile"
    assert lat.extra["equality_check"]["passed"]
    assert eff["latency_ms@cpu-graphs"].extra["status"] == "unavailable"
    assert eff["latency_ms@cpu"].extra["execution_mode"] == "eager"
    assert "latency cpu-compile-eager (ms)" in summary_table(result.records)
