"""Tables from records: golden files of the fixed fixture run, merging rules, the CLI."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest
from report_helpers import FIXTURE_RUN, check_golden

from bench.cli import main
from bench.records import Record, RecordWriter
from bench.report.build import ReportConfig, build_report, device_names
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


def _table(options: TableOptions | None = None):
    merged = merge_runs([load_run(FIXTURE_RUN)])
    return build_table(merged.records, options or TableOptions(), device_names(merged))


@pytest.mark.parametrize("fmt", ["csv", "md", "tex"])
def test_fixture_tables_match_golden_files(fmt):
    check_golden(f"table.{fmt}", TABLE_FORMATS.get(fmt)(_table()))


def test_golden_without_intervals_and_with_chosen_columns():
    options = TableOptions(metrics=("lpips", "ssim"), efficiency=("params", "flops"),
                           intervals=False, caption="Market-1501, 400 pairs.")
    check_golden("table-selected.md", TABLE_FORMATS.get("md")(_table(options)))


def test_table_decisions():
    table = _table()
    keys = [c.key for c in table.columns]
    assert keys == ["ssim", "psnr", "lpips", "fid", "params", "macs", "latency_ms@cpu",
                    "latency_ms@cuda"]
    rows = {r.model: r for r in table.rows}
    assert [r.model for r in table.rows] == ["ctat", "warp", "patn", "oracle", "source"]
    ssim, lpips, fid = table.column("ssim"), table.column("lpips"), table.column("fid")
    # 0.312345 and 0.31229 are both 0.3123 at 4 decimals: a tie, both bold
    assert rows["ctat"].cells[ssim].best and rows["warp"].cells[ssim].best
    # bounds and untrained models never compete, though oracle is "better"
    assert not rows["oracle"].cells[ssim].best and not rows["patn"].cells[lpips].best
    assert rows["warp"].cells[lpips].status == INCOMPLETE and not rows["warp"].cells[lpips].best
    assert not rows["ctat"].cells[lpips].best  # the only complete trained value: no ranking
    assert rows["ctat"].cells[fid].status == UNAVAILABLE
    assert rows["warp"].cells[table.column("params")].status == NOT_APPLICABLE
    assert rows["warp"].cells[table.column("latency_ms@cpu")].status == MISSING
    assert rows["patn"].untrained and rows["patn"].label == "patn (untrained)"
    assert rows["oracle"].bound and rows["oracle"].label == "oracle (bound)"
    # raw values in the table, scale only at render time
    assert rows["ctat"].cells[table.column("params")].value == 10_123_456
    params = table.columns[table.column("params")]
    assert (params.unit, params.scale, params.precision) == ("M", 1e-6, 2)


def test_markdown_marks_units_and_notes():
    text = TABLE_FORMATS.get("md")(_table())
    assert "| PSNR (dB) ↑ |" in text and "| Params (M) ↓ |" in text and "| MACs (G) ↓ |" in text
    assert "**14.88** [14.61, 15.12]" in text
    assert "| patn (untrained) |" in text and "| oracle (bound) |" in text
    assert "unavailable†" in text and "0.3012*" in text and "∞ [∞, ∞]" in text
    assert "- † fid: unavailable: inception-fid weights" in text
    assert "- * warp lpips: interrupted: 397 of 400 pairs evaluated" in text
    assert "Protocol patn v1; dataset market, split test; 400 pairs" in text
    assert "device cuda (NVIDIA H100 80GB HBM3)" in text
    assert "FLOPs = 2 x MACs" in text
    assert "warp: 3 pairs failed" in text


def test_latex_is_ascii_escaped_and_uses_booktabs():
    text = TABLE_FORMATS.get("tex")(_table())
    assert text.isascii()
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in text
    assert text.count(r"\midrule") == 2  # header, then the bounds' block
    assert r"\textbf{14.88}" in text and r"$\uparrow$" in text and r"$\infty$" in text
    assert r"pt\_inception" in text and r"95\%" in text
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
