"""``python -m bench report``: every artifact of a report, from one or more run folders.

    from bench.report.build import ReportConfig, build_report
    result = build_report([Path("results/run")], Path("reports/paper"), ReportConfig())
    result.files          # table.csv/.md/.tex, plots/*.png|pdf, grid.png|pdf, index.html, ...
    build_report(runs, out, ReportConfig(table=TableOptions(models=("ctat", "warp"),
                                                            intervals=True)))
    result.notes          # what was skipped and why ("no latency records: ...")

Reads records only (and, for the qualitative grid, the images a run saved); never computes a
metric. Runs are merged by :func:`bench.report.runs.merge_runs` (same pair list, same
protocol). A section without data (no efficiency records for the frontier plots, a run saved
without images for the grid) is skipped with a note in the report, never an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.report.formats import TABLE_FORMATS, write_tables
from bench.report.grid import GridSelection, compose_grid, save_grid, select_pairs
from bench.report.plots import PlotOptions, save_plots
from bench.report.runs import MergedRuns, load_run, merge_runs
from bench.report.table import Table, TableOptions, build_table
from bench.selection import select_models


@dataclass(frozen=True)
class ReportConfig:
    formats: tuple[str, ...] = ("csv", "md", "tex")
    table: TableOptions = TableOptions()
    label: str = "tab:bench"  # LaTeX \label of the table
    plots: PlotOptions | None = PlotOptions()  # None: no figures
    grid: GridSelection | None = GridSelection()  # None: no qualitative grid
    html: bool = True  # index.html: the whole report in one self-contained page
    title: str = "ctat-bench report"


@dataclass
class ReportResult:
    out: Path
    table: Table
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # sections skipped, and why


def device_names(merged: MergedRuns) -> dict[str, str]:
    """Device type -> name, from the runs' env.json (the first run naming it wins)."""
    names: dict[str, str] = {}
    for run in merged.runs:
        device, name = run.env.get("device"), run.env.get("device_name")
        if device and name:
            names.setdefault(str(device).split(":")[0], name)
    return names


def build_report(run_dirs: list[Path], out: Path, config: ReportConfig = ReportConfig()
                 ) -> ReportResult:
    for fmt in config.formats:
        TABLE_FORMATS.canonical(fmt)  # unknown format: did-you-mean before any work
    merged = merge_runs([load_run(p) for p in run_dirs])
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    records = merged.records
    if config.table.models is not None:  # the rows of the table are the models of the plots
        chosen = select_models(records, config.table.models)
        records = tuple(r for m in chosen for r in records if r.model == m)
    table = build_table(records, config.table, device_names(merged))
    result = ReportResult(out=out, table=table)
    for fmt in config.formats:
        # the CSV (for scripts) keeps the intervals and the columns no model has a value in,
        # with each cell's long reason
        csv = TABLE_FORMATS.canonical(fmt) == "csv"
        written = table if not csv else build_table(
            records, replace(config.table, keep_empty=True, intervals=True), device_names(merged))
        result.files += write_tables(written, out, (fmt,), label=config.label)
    if config.plots is not None:
        plots = config.plots
        if plots.metrics is None:  # the metric bars follow the table's columns
            plots = replace(plots, metrics=tuple(c.key for c in table.columns
                                                 if c.group == "quality"))
        files, notes = save_plots(records, out / "plots", plots)
        result.files += files
        result.notes += notes
    if config.grid is not None:
        result.files += _grid(merged, out, config.grid, result.notes,
                              None if config.table.models is None else
                              [m for m in dict.fromkeys(r.model for r in records)])
    if config.html:
        from bench.report.html import write_page

        captions = {"metric_bars": "Metrics with their intervals",
                    "quality_vs_params": "Quality vs parameters (the efficiency frontier)",
                    "latency_vs_batch": "Latency vs batch size", "grid": "Qualitative comparison"}
        images = [(captions.get(p.stem, p.stem.replace("_", " ")), p) for p in result.files
                  if p.suffix == ".png"]
        result.files.append(write_page(out / "index.html", table, images, result.notes,
                                       config.title, [str(r.path) for r in merged.runs]))
    return result


def _grid(merged: MergedRuns, out: Path, selection: GridSelection, notes: list[str],
          models: list[str] | None = None) -> list[Path]:
    """The grid of the first run with saved images (a note for the runs without); ``models``:
    its columns, in this order (default: the run's)."""
    from bench.report.grid_sources import RunGridSource, grid_unavailable_reason

    reasons = [grid_unavailable_reason(run.path) for run in merged.runs]
    usable = [run for run, reason in zip(merged.runs, reasons, strict=True) if reason is None]
    if not usable:
        notes.append(reasons[0] or "qualitative grid: no run with images")
        return []
    source = RunGridSource(usable[0].path)
    if models is not None:
        source.models = [m for m in models if m in source.models]
        if not source.models:
            notes.append(f"qualitative grid: {usable[0].path} saved no images of "
                         f"{', '.join(models)}")
            return []
    chosen = select_pairs(source, selection)
    grid = compose_grid([source.load(p) for p in chosen], source.models)
    what = {"index": "chosen by index", "random": f"drawn at random (seed {selection.seed})",
            "pose": "with the largest pose change",
            "disagreement": "where the models disagree most"}.get(selection.method,
                                                                 selection.method)
    notes.append(f"qualitative grid: {len(chosen)} pairs of {usable[0].path} {what}: "
                 + ", ".join(str(p.index) for p in chosen))
    if len(usable) < len(merged.runs):
        notes += [r for r in reasons if r]
    return save_grid(grid, out, "grid")
