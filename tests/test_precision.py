"""--precision: generation under autocast, on every record and in every table label; metric
computations unchanged."""

from __future__ import annotations

import dataclasses
from contextlib import nullcontext

import pytest
import torch

from bench.api import run, saved_config
from bench.cli import _run_config, build_parser
from bench.config import RunConfig
from bench.errors import BenchError
from bench.models import GENERATORS, ModelSpec
from bench.plan import configuration
from bench.precision import autocast, check_precision, model_precision
from bench.records import KIND_METRIC, Record
from bench.report.formats import to_csv, to_markdown
from bench.report.table import build_table

METRICS = ("ssim", "mask_ssim", "l1")


def test_autocast_is_torch_autocast_at_the_asked_dtype():
    assert isinstance(autocast("cpu", "fp32"), nullcontext)
    conv = torch.nn.Conv2d(3, 4, 3)
    with autocast("cpu", "bf16"):
        assert conv(torch.rand(1, 3, 8, 8)).dtype == torch.bfloat16
    with autocast("cpu", "fp16"):
        assert conv(torch.rand(1, 3, 8, 8)).dtype == torch.float16
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, fp16, got 'fp8'"):
        check_precision("fp8")


def test_only_models_with_a_network_run_under_autocast():
    spec = ModelSpec(name="ctat", size=(128, 64), untrained=True)
    assert model_precision(GENERATORS.get("ctat")(spec), "bf16") == "bf16"
    for name in ("source", "oracle", "warp"):
        gen = GENERATORS.get(name)(dataclasses.replace(spec, name=name, untrained=False))
        assert model_precision(gen, "bf16") == "fp32"


@pytest.fixture(scope="module")
def runs(synthetic_parent, tmp_path_factory):
    out = {}
    for precision in ("fp32", "bf16"):
        config = RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=8,
                           metrics=METRICS, bootstrap=0, efficiency=False, save_images=False,
                           precision=precision, out=tmp_path_factory.mktemp("p") / precision)
        out[precision] = run(config, progress=False, echo=lambda s: None)
    return out


def test_the_precision_is_on_every_record_of_the_autocast_model(runs):
    records = runs["bf16"].records
    assert records and {r.precision for r in records if r.model == "ctat"} == {"bf16"}
    assert {r.precision for r in records if r.model == "source"} == {"fp32"}
    assert {r.precision for r in runs["fp32"].records} == {"fp32"}


def test_bf16_changes_the_generated_images_a_little_and_nothing_else(runs):
    fp32, bf16 = runs["fp32"].values, runs["bf16"].values
    for key in METRICS:  # the metric computation itself is untouched
        assert bf16[("source", key)] == fp32[("source", key)]
    assert bf16[("ctat", "ssim")] != fp32[("ctat", "ssim")]  # autocast did run
    # untrained weights: a numerical comparison, not a quality claim
    assert bf16[("ctat", "ssim")] == pytest.approx(fp32[("ctat", "ssim")], abs=0.02)
    assert bf16[("ctat", "l1")] == pytest.approx(fp32[("ctat", "l1")], abs=0.01)


def test_tables_label_the_precision_and_say_what_it_means(runs):
    table = build_table(runs["bf16"].records)
    labels = {row.model: row.label for row in table.rows}
    assert labels == {"ctat": "ctat (untrained) (bf16)", "source": "source (bound)"}
    assert any(n.text.startswith("(bf16): generated under bfloat16 autocast") for n in table.notes)
    assert "| ctat (untrained) (bf16) |" in to_markdown(table)
    header, *rows = to_csv(table).splitlines()
    assert header.startswith("model,role,untrained,precision,pairs,")
    assert {row.split(",")[3] for row in rows} == {"bf16", "fp32"}
    plain = build_table(runs["fp32"].records)
    assert to_csv(plain).startswith("model,role,untrained,pairs,")
    assert not any("autocast" in n.text for n in plain.notes)


def test_a_fp32_configuration_hashes_as_before_the_option_existed():
    base = RunConfig(models=("source",), dataset="synthetic")
    old = configuration(base, "abc", 10, (128, 64))
    assert "precision" not in old  # a run saved before --precision still resumes
    new = configuration(dataclasses.replace(base, precision="bf16"), "abc", 10, (128, 64))
    assert new == {**old, "precision": "bf16"}


def test_resuming_at_another_precision_is_refused(runs):
    saved = runs["fp32"].run_dir
    config = dataclasses.replace(saved_config(saved), precision="bf16")
    with pytest.raises(BenchError, match=r"precision: None -> 'bf16'"):
        run(config, resume=saved, progress=False, echo=lambda s: None)


def test_cli_precision_reaches_the_config():
    args = build_parser().parse_args(["run", "--precision", "bf16"])
    args.argv = None
    assert _run_config(args).precision == "bf16"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["run", "--precision", "fp8"])
    with pytest.raises(BenchError, match="precision must be one of"):
        RunConfig(precision="int8").resolved()


def test_a_regression_report_calls_another_precision_incomparable(tmp_path):
    from bench.records import RecordWriter
    from bench.report.regression import INCOMPARABLE, compare_runs

    base = dict(run_id="r", kind=KIND_METRIC, model="ctat", dataset="synthetic", split="test",
                pairs_sha256="ab", n=8, protocol="patn", protocol_version="1", metric="ssim",
                metric_version="1", key="ssim", value=0.5, higher_is_better=True)
    for name, precision, value in (("a", "fp32", 0.5), ("b", "bf16", 0.5)):
        (tmp_path / name).mkdir()
        with RecordWriter(tmp_path / name / "records.jsonl") as writer:
            writer.write(Record(**{**base, "value": value, "precision": precision}))
    report = compare_runs(tmp_path / "a", tmp_path / "b")
    change = next(c for c in report.changes if c.key == "ssim")
    assert change.status == INCOMPARABLE and change.why == "generation precision fp32 -> bf16"


def test_a_merge_from_the_unit_files_keeps_the_precision(runs):
    from bench.api import merge

    merged = merge(runs["bf16"].run_dir, progress=False, echo=lambda s: None)
    assert {r.precision for r in merged.records if r.model == "ctat"} == {"bf16"}
    assert merged.values[("ctat", "ssim")] == runs["bf16"].values[("ctat", "ssim")]
