"""reports/reference-synthetic: the committed report of the committed reference run is what the
report renders today (.ci/regression checks the same in CI), and its figures are reproducible."""

from __future__ import annotations

from pathlib import Path

from bench.cli import main
from bench.report.plots import PlotOptions, save_plots
from bench.report.runs import load_run

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "results" / "reference-synthetic"
REPORT = ROOT / "reports" / "reference-synthetic"
TEXT_FILES = ("table.md", "table.tex", "table.csv")


def test_committed_report_is_current(tmp_path):
    # the options of .ci/regression's render_report (figures left out: not compared)
    assert main(["report", str(REFERENCE), "--out", str(tmp_path), "--no-html", "--grid", "none",
                 "--no-plots"]) == 0
    stale = [name for name in TEXT_FILES
             if (tmp_path / name).read_text() != (REPORT / name).read_text()]
    assert not stale, (f"{', '.join(stale)} of {REPORT} are out of date: run "
                       ".ci/regression --refresh-report and commit them")
    assert (REPORT / "plots" / "metric_bars.png").is_file()
    assert sorted(p.name for p in REPORT.iterdir()) == ["plots", *sorted(TEXT_FILES)]


def test_report_figures_are_byte_identical_across_renders(tmp_path):
    records = load_run(REFERENCE).records
    options = PlotOptions(suffixes=(".png",))
    first, _ = save_plots(records, tmp_path / "a", options)
    second, _ = save_plots(records, tmp_path / "b", options)
    assert [p.name for p in first] == ["metric_bars.png"]
    assert first[0].read_bytes() == second[0].read_bytes()
    data = first[0].read_bytes()
    assert b"tIME" not in data and b"Creation" not in data  # no date in the file
