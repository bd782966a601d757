"""Through a whole run: intervals on every record, unavailable metrics with their reason in
records and console, and the paired comparison of two models."""

from __future__ import annotations

import numpy as np
import pytest

from bench.api import run
from bench.cli import main
from bench.compare import compare_run, read_pair_values
from bench.config import RunConfig
from bench.records import read_records
from bench.report.console import summary_table
from bench.stats import bootstrap_interval


@pytest.fixture
def offline_run(market_folder, tmp_path, empty_hub):
    out = tmp_path / "run"
    config = RunConfig(models=("oracle", "warp", "source"), dataset="market",
                       data_root=market_folder, out=out, metrics=("ssim", "l1", "lpips"),
                       batch_size=8, offline=True, bootstrap=300, seed=3)
    lines = []
    result = run(config, progress=False, echo=lines.append)
    return out, result, lines


def test_records_carry_a_reproducible_bootstrap_interval(offline_run):
    out, result, _ = offline_run
    index, values = read_pair_values(out / "per_pair" / "warp.csv")
    rec = next(r for r in result.records if r.model == "warp" and r.key == "ssim")
    assert rec.extra["ci_low"] < rec.value < rec.extra["ci_high"]
    assert rec.extra["bootstrap_resamples"] == 300 and rec.extra["ci_level"] == 0.95
    v = values["ssim"]
    again = bootstrap_interval(lambda p: {"m": np.nanmean(v[p])}, len(v), 300, seed=3)["m"]
    assert (rec.extra["ci_low"], rec.extra["ci_high"]) == pytest.approx(again)


def test_missing_weights_are_reported_unavailable_everywhere(offline_run):
    out, result, lines = offline_run
    unavailable = [r for r in read_records(out / "records.jsonl") if r.kind == "unavailable"]
    assert {r.model for r in unavailable} == {"oracle", "warp", "source"}
    assert all(r.key == "lpips" and r.value is None for r in unavailable)
    assert all("alexnet-owt-7be5be79.pth" in r.error and "weights add" in r.error
               for r in unavailable)
    # before the work: once, short, no paths (the long reason is on the records)
    said = [line for line in lines if "unavailable" in line]
    assert said == ["  unavailable: lpips: weights not provided (alexnet); "
                    "see `python -m bench weights`"]
    text = summary_table(result.records)
    # no model has LPIPS: no column; its reason once, short, with where to see the weights
    assert "unavailable†" not in text and "lpips ↓" not in text.splitlines()[0]
    assert "† lpips: weights not provided (alexnet); see `python -m bench weights`" in text
    assert "lpips" not in (out / "per_pair" / "warp.csv").read_text().splitlines()[0]


def test_paired_comparison_of_two_models(offline_run, capsys):
    out, _, _ = offline_run
    results = compare_run(out, "oracle", "source", resamples=2000)
    assert results["ssim"].significant and results["ssim"].difference > 0
    assert results["l1"].significant and results["l1"].difference < 0
    assert main(["compare", str(out), "--models", "oracle,source", "--resamples", "500"]) == 0
    text = capsys.readouterr().out
    assert "ssim:" in text and "significant at 0.05, oracle better" in text
    assert main(["compare", str(out), "--models", "oracle,source", "--metrics", "fid"]) == 2


def test_lpips_with_explicit_weights_has_a_value_and_an_interval(market_folder, tmp_path,
                                                                standin_alexnet, empty_hub):
    config = RunConfig(models=("source",), dataset="market", data_root=market_folder,
                       out=tmp_path / "r", metrics=("lpips",), limit=12, bootstrap=100,
                       weights=(("alexnet", str(standin_alexnet)),), offline=True)
    result = run(config, progress=False, echo=lambda s: None)
    rec = next(r for r in result.records if r.key == "lpips")
    assert rec.kind == "metric" and rec.value > 0 and rec.n == 12
    assert rec.extra["ci_low"] <= rec.value <= rec.extra["ci_high"]
