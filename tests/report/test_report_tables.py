"""Tables from records: golden files of the fixed fixture run, the paper-ready defaults
(columns with values in the field's order, short unavailable notes, no paths or URLs), model
selections, merging rules, the CLI."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import re
import shutil

import pytest
from report_helpers import FIXTURE_RUN, check_golden

from bench.cli import main
from bench.errors import UnknownNameError
from bench.records import Record, RecordWriter
from bench.report.build import ReportConfig, build_report, device_names
from bench.report.columns import metric_order
from bench.report.formats import TABLE_FORMATS, tex_escape
from bench.report.runs import ReportError, load_run, merge_runs
from bench.report.table import (
    INCOMPLETE,
    MISSING,
    NOT_APPLICABLE,
    UNAVAILABLE,
    TableOptions,
    build_table,
)
from bench.selection import select_models


def _table(options: TableOptions | None = None):
    merged = merge_runs([load_run(FIXTURE_RUN)])
    return build_table(merged.records, options or TableOptions(), device_names(merged))


@pytest.mark.parametrize("fmt", ["csv", "md", "tex"])
def test_fixture_tables_match_golden_files(fmt):
    check_golden(f"table.{fmt}", TABLE_FORMATS.get(fmt)(_table()))


def test_golden_with_chosen_columns_rows_and_intervals():
    options = TableOptions(metrics=("lpips", "ssim", "fid"), efficiency=("params", "flops"),
                           models=("source", "warp", "oracle", "ctat"), intervals=True,
                           caption="Market-1501, 400 pairs.")
    check_golden("table-selected.md", TABLE_FORMATS.get("md")(_table(options)))


def test_table_decisions():
    table = _table()
    keys = [c.key for c in table.columns]
    # metrics with a value in Market's order (SSIM, IS, mask-SSIM, mask-IS, PCKh, LPIPS, FID),
    # then the secondary ones; FID (no value anywhere) left out; efficiency with values
    assert keys == ["ssim", "pckh", "lpips", "psnr", "params", "macs", "latency_ms@cpu",
                    "latency_ms@cuda"]
    rows = {r.model: r for r in table.rows}
    assert [r.model for r in table.rows] == ["ctat", "warp", "patn", "oracle", "source"]
    ssim, lpips, pckh = table.column("ssim"), table.column("lpips"), table.column("pckh")
    # 0.312345 and 0.31229 are both 0.3123 at 4 decimals: a tie, both bold
    assert rows["ctat"].cells[ssim].best and rows["warp"].cells[ssim].best
    # bounds and untrained models never compete, though oracle is "better"
    assert not rows["oracle"].cells[ssim].best and not rows["patn"].cells[lpips].best
    assert rows["warp"].cells[lpips].status == INCOMPLETE and not rows["warp"].cells[lpips].best
    assert not rows["ctat"].cells[lpips].best  # the only complete trained value: no ranking
    assert rows["patn"].cells[pckh].status == UNAVAILABLE
    assert "keypointrcnn weights" in rows["patn"].cells[pckh].reason
    assert all(c.low is None for r in table.rows for c in r.cells)  # intervals on request
    assert rows["warp"].cells[table.column("params")].status == NOT_APPLICABLE
    assert rows["warp"].cells[table.column("latency_ms@cpu")].status == MISSING
    assert rows["patn"].untrained and rows["patn"].label == "patn (untrained)"
    assert rows["oracle"].bound and rows["oracle"].label == "oracle (bound)"
    # raw values in the table, scale only at render time
    assert rows["ctat"].cells[table.column("params")].value == 10_123_456
    params = table.columns[table.column("params")]
    assert (params.unit, params.scale, params.precision) == ("M", 1e-6, 2)


def test_markdown_marks_units_and_notes():
    text = TABLE_FORMATS.get("md")(_table(TableOptions(intervals=True)))
    assert "| PSNR (dB) ↑ |" in text and "| Params (M) ↓ |" in text and "| MACs (G) ↓ |" in text
    assert "**14.88** [14.61, 15.12]" in text
    assert "| patn (untrained) |" in text and "| oracle (bound) |" in text
    assert "unavailable†" in text and "0.3012*" in text and "∞ [∞, ∞]" in text
    # one short line per reason class, the shown PCKh cell and the left-out FID column alike
    assert "- † PCKh, FID: weights not provided.\n" in text
    assert "- * warp, LPIPS: interrupted: 397 of 400 pairs evaluated" in text
    assert "Protocol patn v1; dataset market, split test; 400 pairs" in text
    assert "device cuda (NVIDIA H100 80GB HBM3)" in text
    assert "FLOPs = 2 x MACs" in text
    assert "warp: 3 pairs failed" in text


def test_latex_is_ascii_escaped_and_uses_booktabs():
    text = TABLE_FORMATS.get("tex")(_table(TableOptions(intervals=True)))
    assert text.isascii()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in text
    assert text.count(r"\midrule") == 2  # header, then the bounds' block
    assert r"\textbf{14.88}" in text and r"$\uparrow$" in text and r"$\infty$" in text
    assert r"\textsuperscript{\dag} PCKh, FID: weights not provided." in text and r"95\%" in text
    assert tex_escape("a_b & 100% {x} ~ #1 $ ^ \\ é × ↑") == (
        r"a\_b \& 100\% \{x\} \textasciitilde{} \#1 \$ \textasciicircum{} \textbackslash{} e "
        r"$\times$ $\uparrow$")


def test_csv_keeps_raw_values():
    lines = TABLE_FORMATS.get("csv")(_table()).splitlines()
    header = lines[0].split(",")
    assert header[:5] == ["model", "role", "untrained", "pairs", "ssim"]
    assert "psnr (dB)" in header and "params (parameters)" in header
    ctat = dict(zip(header, lines[1].split(","), strict=True))
    assert ctat["ssim"] == "0.312345" and ctat["params (parameters)"] == "10123456.0"
    oracle = dict(zip(header, lines[4].split(","), strict=True))
    assert oracle["psnr (dB)"] == "inf" and oracle["role"] == "bound"


def _csv_rows(text):
    return {row["model"]: row for row in csv.DictReader(io.StringIO(text))}


def test_report_csv_keeps_every_column_and_the_long_reasons(tmp_path):
    result = build_report([FIXTURE_RUN], tmp_path / "rep", ReportConfig(
        formats=("csv", "md"), plots=None, grid=None, html=False))
    rows = _csv_rows((tmp_path / "rep" / "table.csv").read_text())
    # FID has no value anywhere: left out of the paper table, kept in the CSV with its reason
    assert "FID" not in [c.label for c in result.table.columns]
    assert rows["ctat"]["fid_status"] == "unavailable" and rows["ctat"]["fid"] == ""
    assert rows["ctat"]["fid_reason"].startswith("inception-fid weights (pt_inception")
    assert "/home/user/.cache/torch/hub/checkpoints/" in rows["ctat"]["fid_reason"]
    assert "https://download.pytorch.org/models/" in rows["patn"]["pckh_reason"]
    assert rows["warp"]["lpips_reason"] == "interrupted: 397 of 400 pairs evaluated"
    assert rows["ctat"]["ssim_ci_low"] == "0.3051"  # intervals: always in the CSV


# a file-system path (absolute, home, Windows drive) or a URL anywhere in a text
LOCATION = re.compile(r"(?:^|[\s(\[=\"'])~?/\w|\b[A-Za-z]:\\\w|://|www\.")


def _paper_texts(out):
    return {name: (out / name).read_text(encoding="utf-8") for name in ("table.md", "table.tex")}


def test_paper_tables_carry_no_paths_or_urls(tmp_path):
    """The fixture's reasons hold paths and URLs; .md and .tex must show neither, in any
    option (intervals, explicit columns, a caption naming a folder), the CSV keeps them."""
    assert LOCATION.search(" see /home/x") and LOCATION.search("https://a.org/b")  # control
    assert not LOCATION.search("higher/lower, 2 / 3, img/s, [lo, hi], FLOPs = 2 x MACs")
    base = load_run(FIXTURE_RUN)
    run = tmp_path / "run"
    run.mkdir()
    with RecordWriter(run / "records.jsonl") as writer:  # a model that failed, naming a file
        for r in base.records:
            writer.write(r)
        writer.write(dataclasses.replace(
            base.records[0], kind="model_error", model="ctat", key=None, value=None,
            error="generate: cannot read /data/ckpt/ctat.pt (see https://example.org/help)"))
    options = [TableOptions(), TableOptions(intervals=True, caption="From /data/results/x."),
               TableOptions(metrics=("fid", "pckh", "ssim"), efficiency=("params",))]
    for i, table in enumerate(options):
        out = tmp_path / f"rep{i}"
        build_report([run], out, ReportConfig(table=table, plots=None, grid=None))
        for name, text in _paper_texts(out).items():
            found = LOCATION.search(text)
            assert found is None, f"{name} shows a location: {text[found.start() - 40:][:120]!r}"
            assert "weights not provided" in text and "ctat.pt" in text  # the file name stays
        assert "/home/user/.cache" in (out / "table.csv").read_text()
        assert "https://download.pytorch.org" in (out / "index.html").read_text()


def test_paper_tables_of_a_real_run_without_weights(synthetic_parent, tmp_path, empty_hub):
    """A real run whose LPIPS/FID/IS weights are missing (offline, empty hub cache): the reasons
    the harness writes hold paths and URLs; the report's .md/.tex show one short line."""
    from bench.api import run
    from bench.config import RunConfig

    out = tmp_path / "run"
    run(RunConfig(models=("oracle", "warp"), data_root=synthetic_parent, limit=4,
                  metrics=("ssim", "l1", "lpips", "fid", "is"), offline=True, bootstrap=0,
                  efficiency=False, save_images=False, out=out), progress=False,
        echo=lambda s: None)
    reasons = [r.error for r in load_run(out).records if r.kind == "unavailable"]
    assert reasons and all("://" in e and str(empty_hub) in e for e in reasons)
    build_report([out], tmp_path / "rep", ReportConfig(plots=None, grid=None))
    for name, text in _paper_texts(tmp_path / "rep").items():
        assert LOCATION.search(text) is None, name
    md = (tmp_path / "rep" / "table.md").read_text()
    assert "- LPIPS, FID, IS: weights not provided.\n" in md  # no dagger: no such column shown
    assert "| Model | SSIM ↑ | L1 ↓ |" in md


def test_default_order_follows_the_dataset_family():
    def as_dataset(name):
        return [dataclasses.replace(r, dataset=name) for r in load_run(FIXTURE_RUN).records]

    def keys(records, **kw):
        return [c.key for c in build_table(records, TableOptions(efficiency=(), **kw)).columns]

    # DeepFashion's tables: SSIM, FID, LPIPS, then IS, PCKh; Market's: SSIM, mask-SSIM, IS,
    # mask-IS, PCKh, then FID, LPIPS
    assert keys(as_dataset("deepfashion")) == ["ssim", "lpips", "pckh", "psnr"]
    assert keys(as_dataset("synthetic-fashion")) == ["ssim", "lpips", "pckh", "psnr"]
    assert keys(as_dataset("synthetic")) == ["ssim", "pckh", "lpips", "psnr"]
    assert keys(as_dataset("some-other-set")) == ["ssim", "pckh", "lpips", "psnr"]
    assert metric_order(["kid", "l1", "mask_ssim", "fid", "is", "ssim", "x"], "deepfashion") == [
        "ssim", "fid", "is", "mask_ssim", "l1", "kid", "x"]
    assert metric_order(["kid", "l1", "mask_ssim", "fid", "is", "ssim", "x"], "market") == [
        "ssim", "mask_ssim", "is", "fid", "l1", "kid", "x"]
    assert metric_order(["lpips", "pckh", "fid", "mask_is", "is", "mask_ssim", "ssim"],
                        "market") == ["ssim", "mask_ssim", "is", "mask_is", "pckh", "fid", "lpips"]
    assert metric_order(["pckh", "is", "lpips", "fid", "ssim"], "deepfashion") == [
        "ssim", "fid", "lpips", "is", "pckh"]
    # asked for: in the given order, shown where nothing could be computed
    table = build_table(load_run(FIXTURE_RUN).records, TableOptions(metrics=("fid", "ssim")))
    assert [c.key for c in table.columns][:2] == ["fid", "ssim"]
    assert {r.cells[0].status for r in table.rows} == {UNAVAILABLE}
    assert any(n.text == "FID: weights not provided." and n.mark for n in table.notes)


def test_efficiency_columns_without_values_are_left_out_unless_asked():
    records = [r for r in load_run(FIXTURE_RUN).records if r.model in ("warp", "oracle")]
    assert [c.key for c in build_table(records).columns] == ["ssim", "pckh", "lpips", "psnr"]
    asked = build_table(records, TableOptions(efficiency=("params",)))
    assert asked.columns[-1].key == "params"
    assert {r.cells[-1].status for r in asked.rows} == {NOT_APPLICABLE}


def test_model_selection_orders_rows_and_refuses_unknown_names():
    records = load_run(FIXTURE_RUN).records
    table = build_table(records, TableOptions(models=("source", "pata", "ctat", "oracle")))
    # methods in the given order ("pata": PATN's registry alias), then the bounds' block
    assert [r.model for r in table.rows] == ["patn", "ctat", "source", "oracle"]
    assert not any("warp" in n.text for n in table.notes)  # its notes go with it
    with pytest.raises(UnknownNameError,
                       match="'wrap', which is not a model of this run; did you mean 'warp'"):
        build_table(records, TableOptions(models=("ctat", "wrap")))
    assert select_models(records, ["folder:warp=/somewhere,panels=3", "ctat", "warp"]) == (
        "warp", "ctat")


def test_model_selection_accepts_results_folder_names(tmp_path):
    """A results folder's model is named by its NAME in the records: select it like any."""
    run = _copy_run(tmp_path, "folders", lambda r: dataclasses.replace(
        r, model={"ctat": "defgan-released", "warp": "mine"}.get(r.model, r.model)))
    out = tmp_path / "rep"
    assert main(["report", str(run), "--out", str(out), "--models", "mine,defgan-released",
                 "--no-plots", "--grid", "none", "--formats", "md"]) == 0
    rows = [line.split("|")[1].strip() for line in (out / "table.md").read_text().splitlines()
            if line.startswith("| ") and not line.startswith("| Model")]
    assert rows == ["mine", "defgan-released"]
    assert main(["report", str(run), "--out", str(out), "--models", "defgan-release",
                 "--formats", "md"]) == 2


def _copy_run(tmp_path, name, change=None):
    run = load_run(FIXTURE_RUN)
    folder = tmp_path / name
    folder.mkdir()
    with RecordWriter(folder / "records.jsonl") as writer:
        for r in run.records:
            writer.write(change(r) if change else r)
    return folder


def test_runs_merge_only_on_the_same_pair_list(tmp_path):
    renamed = _copy_run(tmp_path, "b", lambda r: dataclasses.replace(r, model=r.model + "-b"))
    other = _copy_run(tmp_path, "c", lambda r: dataclasses.replace(
        r, model=r.model + "-c", pairs_sha256="0" * 64))
    merged = merge_runs([load_run(FIXTURE_RUN), load_run(renamed)])
    assert len(merged.records) == 2 * len(load_run(FIXTURE_RUN).records)
    with pytest.raises(ReportError, match="different pair lists"):
        merge_runs([load_run(FIXTURE_RUN), load_run(other)])
    with pytest.raises(ReportError, match="'ctat' has 'ssim' in two runs"):
        merge_runs([load_run(FIXTURE_RUN), load_run(_copy_run(tmp_path, "d"))])
    protocol = _copy_run(tmp_path, "e", lambda r: dataclasses.replace(
        r, model=r.model + "-e", protocol="modern"))
    with pytest.raises(ReportError, match="different protocols"):
        merge_runs([load_run(FIXTURE_RUN), load_run(protocol)])


def test_an_efficiency_only_run_merges_with_any(tmp_path):
    profile = tmp_path / "profile"
    profile.mkdir()
    with RecordWriter(profile / "records.jsonl") as writer:
        writer.write(Record(run_id="profile-x", kind="efficiency", model="newnet", dataset="market",
                            split="", pairs_sha256="", n=0, protocol="efficiency",
                            protocol_version="1", key="params", value=5e6, unit="parameters",
                            higher_is_better=False, extra={"status": "ok"}))
    merged = merge_runs([load_run(FIXTURE_RUN), load_run(profile)])
    table = build_table(merged.records)
    row = next(r for r in table.rows if r.model == "newnet")
    assert row.cells[table.column("params")].value == 5e6
    assert row.cells[table.column("ssim")].status == MISSING


def test_load_run_errors_name_the_folder(tmp_path):
    with pytest.raises(ReportError, match="expected a run folder with records.jsonl"):
        load_run(tmp_path)
    (tmp_path / "records.jsonl").write_text("{not json\n")
    with pytest.raises(ReportError, match="records.jsonl:1: not a JSON record"):
        load_run(tmp_path)


def test_unknown_metric_column_is_a_clear_error():
    with pytest.raises(ReportError, match="no records of metric fidd"):
        _table(TableOptions(metrics=("fidd",)))


def test_build_report_writes_the_tables(tmp_path):
    result = build_report([FIXTURE_RUN], tmp_path / "rep", ReportConfig(formats=("md", "tex")))
    assert [p.name for p in result.files[:2]] == ["table.md", "table.tex"]
    assert (tmp_path / "rep" / "table.md").read_text() == TABLE_FORMATS.get("md")(_table())


def test_cli_report_and_refusal(tmp_path, capsys):
    out = tmp_path / "rep"
    assert main(["report", str(FIXTURE_RUN), "--out", str(out), "--formats", "csv,md"]) == 0
    assert (out / "table.csv").is_file() and (out / "table.md").is_file()
    assert "[0.3051, 0.3190]" not in (out / "table.md").read_text()  # intervals: on request
    assert main(["report", str(FIXTURE_RUN), "--out", str(out), "--formats", "md",
                 "--intervals", "--no-plots", "--grid", "none"]) == 0
    assert "**0.3123** [0.3051, 0.3190]" in (out / "table.md").read_text()
    other = _copy_run(tmp_path, "c", lambda r: dataclasses.replace(r, pairs_sha256="0" * 64))
    capsys.readouterr()
    assert main(["report", str(FIXTURE_RUN), str(other), "--out", str(out)]) == 2
    assert "different pair lists" in capsys.readouterr().err


def test_fixture_is_what_make_fixture_writes(tmp_path, monkeypatch):
    """The committed fixture matches its generator (edit make_fixture.py, not the JSON)."""
    import make_fixture

    monkeypatch.setattr(make_fixture, "HERE", tmp_path / "fixture")
    make_fixture.main()
    for name in ("records.jsonl", "config.json", "env.json"):
        assert (tmp_path / "fixture" / name).read_text() == (FIXTURE_RUN / name).read_text()
    json.loads((FIXTURE_RUN / "config.json").read_text())
    shutil.rmtree(tmp_path / "fixture")


def test_metric_variants_stay_out_of_the_paper_table_unless_asked(tmp_path):
    """One SSIM per table: today's-scikit-image and fixed-range variants are in the CSV and
    named in a note, shown in Markdown / LaTeX when asked with --metrics."""
    records = load_run(FIXTURE_RUN).records
    ssim = [r for r in records if r.key == "ssim"]
    variants = [dataclasses.replace(r, key=k, metric=k, value=(r.value or 0) * 0.99)
                for r in ssim for k in ("ssim_skimage", "ssim_fixed")]
    both = [*records, *variants]
    keys = [c.key for c in build_table(both).columns]
    assert "ssim" in keys and "ssim_skimage" not in keys and "ssim_fixed" not in keys
    note = next(n.text for n in build_table(both).notes if n.text.startswith("Also computed"))
    assert "SSIM (skimage), SSIM (fixed)" in note
    asked = build_table(both, TableOptions(metrics=("ssim", "ssim_fixed")))
    assert [c.key for c in asked.columns][:2] == ["ssim", "ssim_fixed"]
    note = next(n.text for n in asked.notes if n.text.startswith("Also computed"))
    assert "SSIM (skimage) (" in note and "SSIM (fixed)" not in note
    # without the main metric a variant is the table's SSIM
    alone = [r for r in both if r.key != "ssim"]
    assert {"ssim_skimage", "ssim_fixed"} <= {c.key for c in build_table(alone).columns}
    # the CSV keeps every column
    run = tmp_path / "run"
    shutil.copytree(FIXTURE_RUN, run)
    with RecordWriter(run / "records.jsonl") as writer:
        for r in variants:
            writer.write(r)
    build_report([run], tmp_path / "rep", ReportConfig(formats=("csv", "md"), plots=None,
                                                        grid=None, html=False))
    header = (tmp_path / "rep" / "table.csv").read_text().splitlines()[0]
    assert "ssim_skimage" in header and "ssim_fixed" in header
    assert "SSIM (skimage)" not in (tmp_path / "rep" / "table.md").read_text().split("\n\n")[1]
