"""The regression report on constructed regressions and improvements (from the fixture run),
timing only between runs of the same machine, and the two forms of `bench compare`."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from report_helpers import FIXTURE_RUN

from bench.cli import main
from bench.records import RecordWriter, read_records
from bench.report.regression import (
    CHANGED,
    IMPROVED,
    INCOMPARABLE,
    MISSING,
    NEW,
    REGRESSED,
    SAME,
    SKIPPED,
    RegressionConfig,
    Tolerance,
    compare_runs,
    to_markdown,
)


def _variant(tmp_path, name, change=None, env=None, drop=None):
    """A copy of the fixture run with records changed by ``change(record) -> record``."""
    folder = tmp_path / name
    folder.mkdir()
    with RecordWriter(folder / "records.jsonl") as writer:
        for r in read_records(FIXTURE_RUN / "records.jsonl"):
            if drop and drop(r):
                continue
            writer.write(change(r) if change else r)
    data = json.loads((FIXTURE_RUN / "env.json").read_text())
    data.update(env or {})
    (folder / "env.json").write_text(json.dumps(data))
    shutil.copy(FIXTURE_RUN / "config.json", folder / "config.json")
    return folder


def _set(model, key, value=None, **fields):
    def change(r):
        if r.model == model and r.key == key:
            return dataclasses.replace(r, **({"value": value} if value is not None else {}),
                                       **fields)
        return r
    return change


def _status(report, model, key):
    return next(c.status for c in report.changes if c.model == model and c.key == key)


def test_identical_runs_pass(tmp_path):
    report = compare_runs(FIXTURE_RUN, _variant(tmp_path, "same"))
    assert {c.status for c in report.changes} == {SAME} and report.exit_code == 0
    assert "**PASS**" in to_markdown(report)


def test_worse_metric_is_a_regression_better_is_not(tmp_path):
    worse = _variant(tmp_path, "worse", _set("ctat", "ssim", 0.3100))
    report = compare_runs(FIXTURE_RUN, worse)
    assert _status(report, "ctat", "ssim") == REGRESSED and report.exit_code == 1
    text = to_markdown(report)
    assert "**FAIL**" in text and "| ctat | ssim | 0.312345 | 0.31 | -0.002345 (-0.751%) |" in text
    better = _variant(tmp_path, "better", _set("ctat", "lpips", 0.2400))  # lower is better
    report = compare_runs(FIXTURE_RUN, better)
    assert _status(report, "ctat", "lpips") == IMPROVED and report.exit_code == 0
    assert compare_runs(FIXTURE_RUN, better, RegressionConfig(strict=True)).exit_code == 1


def test_float_tolerance_and_overrides(tmp_path):
    tiny = _variant(tmp_path, "tiny", _set("ctat", "ssim", 0.312345 * (1 - 1e-12)))
    assert _status(compare_runs(FIXTURE_RUN, tiny), "ctat", "ssim") == SAME
    small = _variant(tmp_path, "small", _set("ctat", "psnr", 14.87))
    assert _status(compare_runs(FIXTURE_RUN, small), "ctat", "psnr") == REGRESSED
    loose = RegressionConfig(overrides=(("ps*", Tolerance(absolute=0.01, relative=0.0)),))
    assert _status(compare_runs(FIXTURE_RUN, small, loose), "ctat", "psnr") == SAME


def test_parameter_count_and_protocol_changes_fail(tmp_path):
    params = _variant(tmp_path, "params", _set("ctat", "params", 10_123_457))
    assert _status(compare_runs(FIXTURE_RUN, params), "ctat", "params") == REGRESSED
    fewer = _variant(tmp_path, "fewer", _set("ctat", "params", 10_000_000))
    report = compare_runs(FIXTURE_RUN, fewer, RegressionConfig(strict=True))
    assert _status(report, "ctat", "params") == IMPROVED and report.exit_code == 1
    version = _variant(tmp_path, "version", _set("warp", "ssim", metric_version="skimage-0.26"))
    report = compare_runs(FIXTURE_RUN, version)
    assert _status(report, "warp", "ssim") == INCOMPARABLE and report.exit_code == 1
    pairs = _variant(tmp_path, "pairs", lambda r: dataclasses.replace(r, pairs_sha256="1" * 64))
    report = compare_runs(FIXTURE_RUN, pairs)
    assert report.exit_code == 1 and "different pair lists" in to_markdown(report)


def test_missing_and_new_values(tmp_path):
    gone = _variant(tmp_path, "gone", drop=lambda r: r.model == "warp" and r.key == "psnr")
    assert _status(compare_runs(FIXTURE_RUN, gone), "warp", "psnr") == MISSING
    failed = _variant(tmp_path, "failed", _set("warp", "ssim", error="ssim: no pair could be scored"))
    report = compare_runs(FIXTURE_RUN, failed)
    assert _status(report, "warp", "ssim") == MISSING and report.exit_code == 1
    new = _variant(tmp_path, "new", lambda r: dataclasses.replace(r, model="extra")
                   if r.model == "ctat" else r)
    report = compare_runs(_variant(tmp_path, "base", drop=lambda r: r.model == "extra"), new)
    assert _status(report, "extra", "ssim") == NEW and _status(report, "ctat", "ssim") == MISSING


def test_timing_only_on_the_same_machine(tmp_path):
    slow = _set("ctat", "latency_ms@cuda", 41.27 * 1.5)
    same = _variant(tmp_path, "slow", slow)
    report = compare_runs(FIXTURE_RUN, same)
    assert _status(report, "ctat", "latency_ms@cuda") == REGRESSED
    within = _variant(tmp_path, "within", _set("ctat", "latency_ms@cuda", 41.27 * 1.2))
    assert _status(compare_runs(FIXTURE_RUN, within), "ctat", "latency_ms@cuda") == SAME
    faster = _variant(tmp_path, "faster", _set("patn", "throughput@cuda", 200.0))
    assert _status(compare_runs(FIXTURE_RUN, faster), "patn", "throughput@cuda") == IMPROVED
    other = _variant(tmp_path, "other", slow, env={"device_name": "NVIDIA A100"})
    report = compare_runs(FIXTURE_RUN, other)
    assert _status(report, "ctat", "latency_ms@cuda") == SKIPPED and report.exit_code == 0
    assert "timing not compared: different machines" in to_markdown(report)
    # parameter counts are compared across machines (deterministic)
    assert _status(report, "ctat", "params") == SAME


def test_metrics_get_a_band_between_machines_counts_do_not(tmp_path):
    """Float kernels round differently on another processor: metric values may move by float
    noise (1e-6 relative by default) between machines; parameter counts stay exact, and on
    the same machine the 1e-9 tolerance holds."""
    drift = _set("ctat", "ssim", 0.312345 * (1 + 2e-8))
    here = _variant(tmp_path, "here", drift)
    assert _status(compare_runs(FIXTURE_RUN, here, RegressionConfig(strict=True)),
                   "ctat", "ssim") == IMPROVED
    elsewhere = _variant(tmp_path, "elsewhere", drift, env={"device_name": "Intel Xeon"})
    report = compare_runs(FIXTURE_RUN, elsewhere, RegressionConfig(strict=True))
    change = next(c for c in report.changes if c.model == "ctat" and c.key == "ssim")
    assert change.status == SAME and "different machines" in change.why
    assert report.exit_code == 0
    far = _variant(tmp_path, "far", _set("ctat", "ssim", 0.312345 * (1 - 1e-5)),
                   env={"device_name": "Intel Xeon"})
    report = compare_runs(FIXTURE_RUN, far)
    assert _status(report, "ctat", "ssim") == REGRESSED
    assert "rel 1e-06" in next(c.why for c in report.changes if c.key == "ssim"
                               and c.model == "ctat")
    count = _variant(tmp_path, "count", _set("ctat", "params", 10_123_457),
                     env={"device_name": "Intel Xeon"})
    assert _status(compare_runs(FIXTURE_RUN, count), "ctat", "params") == REGRESSED
    strict = RegressionConfig(strict=True, across_machines=Tolerance(0.0, 0.0))
    assert compare_runs(FIXTURE_RUN, elsewhere, strict).exit_code == 1
    assert main(["compare", str(FIXTURE_RUN), str(elsewhere), "--strict"]) == 0
    assert main(["compare", str(FIXTURE_RUN), str(elsewhere), "--strict",
                 "--machine-tolerance", "0"]) == 1


def test_status_change_without_values(tmp_path):
    now_unavailable = _variant(tmp_path, "na", _set("warp", "params",
                                                    extra={"status": "unavailable"}))
    assert _status(compare_runs(FIXTURE_RUN, now_unavailable), "warp", "params") == CHANGED


def test_cli_compare_two_runs(tmp_path, capsys):
    worse = _variant(tmp_path, "worse", _set("ctat", "ssim", 0.3))
    md = tmp_path / "summary.md"
    assert main(["compare", str(FIXTURE_RUN), str(worse), "--markdown", str(md)]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED" in out and md.read_text() == out
    assert main(["compare", str(FIXTURE_RUN), str(worse), "--tolerance", "ssim=0.05"]) == 0
    assert main(["compare", str(FIXTURE_RUN), str(worse), "--metrics", "psnr"]) == 0
    capsys.readouterr()
    assert main(["compare", str(FIXTURE_RUN)]) == 2
    assert "RUN --models A,B" in capsys.readouterr().err


@pytest.mark.parametrize("bad", ["ssim", "=1", "ssim=abc"])
def test_cli_tolerance_syntax(bad, capsys):
    with pytest.raises(SystemExit):
        main(["compare", "a", "b", "--tolerance", bad])
    assert "expected KEY=ABS or KEY=REL%" in capsys.readouterr().err


def test_committed_reference_matches_the_gate_command():
    """results/reference-synthetic was written by .ci/regression's own command."""
    from pathlib import Path

    from bench.report.runs import load_run

    root = Path(__file__).resolve().parents[2]
    ref = load_run(root / "results" / "reference-synthetic")
    script = (root / ".ci" / "regression").read_text()
    config = ref.config
    assert f"--models {','.join(config['models'])}" in script
    assert f"--metrics {','.join(config['metrics'])}" in script
    assert f"--limit {config['limit']}" in script and config["dataset"] == "synthetic"
    assert config["save_images"] is False and not (root / "results/reference-synthetic/images").exists()
    assert {r.model for r in ref.records} == {"oracle", "source", "warp"}
    assert all(r.kind == "metric" and r.error is None for r in ref.records)
