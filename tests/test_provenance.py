"""Provenance of metric values: every record names the SHA-256 of each weights file it used and
whether it is the published file; values from other files are labelled in the console, tables,
plots and compare, and both forms of `bench compare` refuse to compare values computed with
different weights unless asked."""

from __future__ import annotations

import dataclasses
import hashlib
import shutil
from pathlib import Path

import pytest
import torch

from bench import weights
from bench.api import run
from bench.cli import main
from bench.compare import compare_run, format_comparisons, prepare_set_level
from bench.config import RunConfig
from bench.errors import BenchError
from bench.provenance import other_weights_label, other_weights_notes, weights_difference
from bench.records import RecordWriter, read_records
from bench.report.console import summary_table
from bench.report.formats import TABLE_FORMATS
from bench.report.plots import PlotOptions, metric_bars
from bench.report.regression import INCOMPARABLE, SAME, RegressionConfig, compare_runs
from bench.report.table import build_table

FIXTURE_RUN = Path(__file__).parent / "report" / "data" / "fixture-run"


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _entry(sha: str, published: bool, file: str = "/w/file.pth") -> dict:
    return {"file": file, "sha256": sha, "published": published}


# -- what counts as published -------------------------------------------------------------------


@pytest.fixture
def tensor_network(tmp_path):
    """A registered network whose published hash prefix is that of a state-dict file."""
    path = tmp_path / "net.pth"
    torch.save({"w": torch.arange(4.0)}, path)
    prefix = _sha(path)[:8]
    spec = weights.WeightsSpec(name="tensor-net", file=f"net-{prefix}.pth", url=None,
                               sha256_prefix=prefix, used_by=("a test",), library="torchvision")
    weights.WEIGHTS.register(spec.name)(spec)
    yield spec, path
    weights.WEIGHTS.unregister(spec.name)


def test_published_means_the_hash_the_library_publishes(tensor_network, tmp_path):
    spec, path = tensor_network
    state, used = weights.load_state_dict(spec.name, path)
    assert torch.equal(state["w"], torch.arange(4.0))
    assert used.record() == {"file": str(path), "sha256": _sha(path), "published": True}
    other = tmp_path / "other.pth"
    torch.save({"w": torch.ones(4)}, other)
    assert weights.load_state_dict(spec.name, other)[1].published is False


def test_the_lpips_layers_shipped_with_the_package_are_published(tmp_path):
    spec = weights.WEIGHTS.get("lpips-alex-v0.1")
    shipped = spec.default_path()
    state, used = weights.load_state_dict(spec.name, shipped)
    assert used.published and used.sha256 == spec.published_sha256
    edited = tmp_path / "alex.pth"
    torch.save({k: v + 1 for k, v in state.items()}, edited)
    assert weights.load_state_dict(spec.name, edited)[1].published is False


def test_the_weights_command_says_which_files_are_not_the_published_ones(empty_hub, capsys):
    empty_hub.mkdir(parents=True)
    torch.save({"w": torch.zeros(1)}, empty_hub / weights.WEIGHTS.get("alexnet").file)
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("alexnet (torchvision"):].splitlines()[3]
    assert "NOT the published file (expected sha256 7be5be79" in block
    assert "(other weights)" in block
    lpips_block = out[out.index("lpips-alex-v0.1 ("):].splitlines()[3]
    assert "checksum ok (the published file)" in lpips_block


# -- records of a run, and how they render -------------------------------------------------------


@pytest.fixture(scope="module")
def lpips_run(tmp_path_factory, synthetic_parent, standin_alexnet):
    """oracle and source on 6 synthetic pairs, LPIPS through the stand-in AlexNet (not the
    published file) and the package's linear layers (the published file)."""
    out = tmp_path_factory.mktemp("provenance") / "run"
    config = RunConfig(models=("oracle", "source"), dataset="synthetic",
                       data_root=synthetic_parent, metrics=("ssim", "lpips"), limit=6,
                       bootstrap=0, weights=(("alexnet", str(standin_alexnet)),), offline=True,
                       out=out, efficiency=False)
    printed = []
    result = run(config, progress=False, echo=printed.append)
    (result.run_dir / "printed.txt").write_text("\n".join(printed))
    return result.run_dir


def test_the_run_says_before_work_which_files_are_not_published(lpips_run, standin_alexnet):
    printed = (lpips_run / "printed.txt").read_text()
    assert (f"  other weights: lpips computed with alexnet {standin_alexnet} (sha256 "
            f"{_sha(standin_alexnet)[:8]}), not the published file") in printed
    assert "lpips-alex-v0.1" not in printed  # the package's file is the published one


def test_each_record_names_every_file_its_value_used(lpips_run, standin_alexnet):
    records = read_records(lpips_run / "records.jsonl")
    lin = weights.WEIGHTS.get("lpips-alex-v0.1")
    lpips = [r for r in records if r.kind == "metric" and r.key == "lpips"]
    assert len(lpips) == 2
    for r in lpips:
        assert r.extra["weights"] == {
            "alexnet": _entry(_sha(standin_alexnet), False, str(standin_alexnet)),
            "lpips-alex-v0.1": _entry(lin.published_sha256, True, str(lin.default_path())),
        }
    assert all("weights" not in r.extra for r in records if r.key == "ssim")


def test_the_console_labels_values_from_other_weights(lpips_run, standin_alexnet):
    records = read_records(lpips_run / "records.jsonl")
    text = summary_table(records)
    header = text.splitlines()[0]
    assert "lpips ↓ (other weights)" in header and "ssim ↑ (other" not in header
    assert (f"(other weights): lpips computed with alexnet weights sha256 "
            f"{_sha(standin_alexnet)[:8]}, not the published file (the published "
            "alexnet-owt-7be5be79.pth is 7be5be79)") in " ".join(text.split())  # notes wrap
    assert max(map(len, text.splitlines())) <= 120


def test_tables_label_the_column_and_say_why(lpips_run, standin_alexnet):
    table = build_table(read_records(lpips_run / "records.jsonl"))
    lpips = table.columns[table.column("lpips")]
    assert lpips.label.endswith("(other weights)") and lpips.other_weights == {"oracle", "source"}
    assert not table.columns[table.column("ssim")].label.endswith("(other weights)")
    md = TABLE_FORMATS.get("md")(table)
    assert "(other weights) ↓" in md and f"sha256 {_sha(standin_alexnet)[:8]}" in md
    assert "(other weights)" in TABLE_FORMATS.get("tex")(table)
    csv_lines = TABLE_FORMATS.get("csv")(table).splitlines()
    header = csv_lines[0].split(",")
    column = header.index("lpips_other_weights")
    assert [line.split(",")[column] for line in csv_lines[1:]] == ["true", "true"]


def test_plots_label_the_axis(lpips_run):
    fig = metric_bars(read_records(lpips_run / "records.jsonl"), PlotOptions())["metric_bars"]
    labels = {ax.get_title(): ax.get_ylabel() for ax in fig.axes if ax.get_visible()}
    assert "(other weights)" in labels["lpips"] and "(other weights)" not in labels["ssim"]


def test_compare_of_two_models_labels_and_refuses_different_weights(lpips_run, tmp_path,
                                                                    capsys):
    results = compare_run(lpips_run, "oracle", "source", resamples=200)
    text = format_comparisons("oracle", "source", results, lpips_run)
    assert "  lpips (other weights): " in text and "oracle better" in text
    assert "note: (other weights): lpips computed with alexnet" in text
    # one model's value from another AlexNet file: refused unless asked
    edited = tmp_path / "run"
    shutil.copytree(lpips_run, edited)

    def other_alexnet(r):
        if r.model == "source" and r.key == "lpips":
            entries = {**r.extra["weights"], "alexnet": _entry("ab" * 32, False)}
            return dataclasses.replace(r, extra={**r.extra, "weights": entries})
        return r
    _rewrite(edited, other_alexnet)
    with pytest.raises(BenchError, match="different weights: alexnet .* -> abababab"):
        compare_run(edited, "oracle", "source", resamples=200)
    assert "lpips" in compare_run(edited, "oracle", "source", resamples=200,
                                  allow_different_weights=True)
    assert main(["compare", str(edited), "--models", "oracle,source", "--quiet"]) == 2
    assert "--allow-different-weights" in capsys.readouterr().err
    assert main(["compare", str(edited), "--models", "oracle,source", "--quiet",
                 "--allow-different-weights", "--resamples", "200"]) == 0


def _rewrite(run_dir, change) -> None:
    records = [change(r) for r in read_records(run_dir / "records.jsonl")]
    (run_dir / "records.jsonl").unlink()
    with RecordWriter(run_dir / "records.jsonl") as writer:
        for r in records:
            writer.write(r)


def test_set_level_compare_refuses_an_inception_file_other_than_the_runs(
        tmp_path, synthetic_parent, standin_inception):
    out = run(RunConfig(models=("oracle", "source"), dataset="synthetic",
                        data_root=synthetic_parent, metrics=("is",), limit=4, bootstrap=0,
                        weights=(("inception-fid", str(standin_inception)),), offline=True,
                        out=tmp_path / "run", efficiency=False, use_cache=False),
              progress=False, echo=lambda s: None).run_dir
    recorded = next(r for r in read_records(out / "records.jsonl") if r.key == "is")
    assert recorded.extra["weights"]["inception-fid"]["sha256"] == _sha(standin_inception)
    assert prepare_set_level(out, "oracle", "source").metrics[0]  # the same file: accepted

    def other_inception(r):
        if r.key == "is":
            entries = {"inception-fid": _entry("cd" * 32, True)}
            return dataclasses.replace(r, extra={**r.extra, "weights": entries})
        return r
    _rewrite(out, other_inception)
    with pytest.raises(BenchError) as info:
        prepare_set_level(out, "oracle", "source")
    text = str(info.value)
    assert "is of oracle: different weights (inception-fid cdcdcdcd in the run, " \
           f"{_sha(standin_inception)[:8]} now)" in text and "--allow-different-weights" in text
    job = prepare_set_level(out, "oracle", "source", allow_different_weights=True)
    assert job.metrics[0] and any("compared as asked" in n for n in job.notes)


# -- rules on records (no run) -------------------------------------------------------------------


def _fixture_records(change=None):
    records = read_records(FIXTURE_RUN / "records.jsonl")
    return [change(r) if change else r for r in records]


def _with_weights(by_model: dict[str, dict], key: str = "lpips"):
    def change(r):
        if r.kind == "metric" and r.key == key and r.model in by_model:
            return dataclasses.replace(r, extra={**r.extra, "weights": by_model[r.model]})
        return r
    return change



PUBLISHED = {"alexnet": _entry("7be5be79" + "0" * 56, True)}
OTHER = {"alexnet": _entry("12345678" + "0" * 56, False)}


def test_published_weights_carry_no_label_and_old_records_read_as_unrecorded():
    records = _fixture_records(_with_weights({"ctat": PUBLISHED, "patn": PUBLISHED}))
    lpips = [r for r in records if r.key == "lpips"]
    assert other_weights_label(lpips) == "" and other_weights_notes(lpips) == []
    table = build_table(records)
    assert "(other weights)" not in table.columns[table.column("lpips")].label
    old = next(r for r in _fixture_records() if r.key == "lpips" and r.model == "warp")
    assert "not recorded" in weights_difference(old, lpips[0])


def test_a_column_mixing_weights_ranks_nothing():
    """ctat and warp both have complete psnr values (the fixture's other metrics rank one)."""
    same = build_table(_fixture_records(_with_weights({"ctat": OTHER, "warp": OTHER}, "psnr")))
    j = same.column("psnr")
    assert [row.model for row in same.rows if row.cells[j].best] == ["ctat"]
    mixed = build_table(_fixture_records(_with_weights({"ctat": PUBLISHED, "warp": OTHER},
                                                       "psnr")))
    assert not any(row.cells[j].best for row in mixed.rows)
    assert any("psnr: values computed with different weights files are not ranked" in n.text
               for n in mixed.notes)
    assert mixed.columns[j].other_weights == {"warp"}


def _run_folder(tmp_path, name, change=None):
    folder = tmp_path / name
    folder.mkdir()
    with RecordWriter(folder / "records.jsonl") as writer:
        for r in _fixture_records(change):
            writer.write(r)
    for extra in ("env.json", "config.json"):
        shutil.copy(FIXTURE_RUN / extra, folder / extra)
    return folder


def _status(report, model, key):
    return next(c for c in report.changes if c.model == model and c.key == key)


def test_regression_refuses_values_from_different_weights_unless_asked(tmp_path, capsys):
    base = _run_folder(tmp_path, "base", _with_weights({"ctat": PUBLISHED}))
    same = _run_folder(tmp_path, "same", _with_weights({"ctat": PUBLISHED}))
    other = _run_folder(tmp_path, "other", _with_weights({"ctat": OTHER}))
    assert _status(compare_runs(base, same), "ctat", "lpips").status == SAME
    refused = _status(compare_runs(base, other), "ctat", "lpips")
    assert refused.status == INCOMPARABLE
    assert "alexnet 7be5be79 -> 12345678" in refused.why
    assert "--allow-different-weights" in refused.why
    allowed = compare_runs(base, other, RegressionConfig(allow_different_weights=True))
    change = _status(allowed, "ctat", "lpips")
    assert change.status == SAME and "compared as asked" in change.why
    assert any("candidate: (other weights): lpips computed with alexnet weights sha256 12345678"
               in n for n in allowed.notes)
    # a baseline from before weights were recorded
    old = _run_folder(tmp_path, "old")
    assert _status(compare_runs(old, base), "ctat", "lpips").status == INCOMPARABLE
    assert _status(compare_runs(old, base), "ctat", "ssim").status == SAME  # no network
    assert main(["compare", str(base), str(other)]) == 1
    assert "INCOMPARABLE" in capsys.readouterr().out
    assert main(["compare", str(base), str(other), "--allow-different-weights"]) == 0
