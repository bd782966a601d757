"""The ``report`` subcommand of ``python -m bench`` and the two-run form of ``compare``
(parsers and handlers, kept out of bench/cli.py):

    python -m bench report results/<run> [results/<run2> ...] --out reports/<name>
    python -m bench report results/a results/b --metrics ssim,lpips --efficiency params,flops
    python -m bench report results/a --models ctat,defgan,warp --intervals
    python -m bench compare results/reference-synthetic results/new --strict --markdown out.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.report.columns import DEFAULT_EFFICIENCY, EFFICIENCY_COLUMNS

PLOT_FORMATS = ("png", "pdf")


def _csv_list(text: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


def _efficiency(text: str) -> tuple[str, ...]:
    if text.strip().lower() == "none":
        return ()
    items = _csv_list(text)
    known = [c.prefix for c in EFFICIENCY_COLUMNS]
    unknown = [i for i in items if i not in known]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown efficiency column {', '.join(unknown)} (known: {', '.join(known)}, none)")
    return items


def _plot_formats(text: str) -> tuple[str, ...]:
    items = _csv_list(text)
    unknown = [i for i in items if i not in PLOT_FORMATS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown figure format {', '.join(unknown)} (known: {', '.join(PLOT_FORMATS)})")
    return items


def add_parser(sub) -> argparse.ArgumentParser:
    report = sub.add_parser(
        "report", help="tables (CSV, Markdown, LaTeX), plots, a qualitative grid and an HTML "
                       "page from run folders")
    report.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                        help="results/<run> folders; several merge when they evaluated the "
                             "same pair list under the same protocol")
    report.add_argument("--out", type=Path, default=None,
                        help="output folder (default: reports/<first run's id>)")
    report.add_argument("--formats", type=_csv_list, default=("csv", "md", "tex"),
                        help="table formats (default csv,md,tex)")
    report.add_argument("--metrics", type=_csv_list, default=None,
                        help="quality columns, in this order, shown even where unavailable "
                             "(default: every metric with a value, in the order the field's "
                             "tables use for the dataset)")
    report.add_argument("--models", type=_csv_list, default=None,
                        help="rows, in this order: model names as in the records (results "
                             "folders' names included); bounds stay in their block below the "
                             "methods (default: every model)")
    report.add_argument("--efficiency", type=_efficiency, default=None,
                        help="efficiency columns by prefix, shown even where not measured "
                             f"(default: those of {','.join(DEFAULT_EFFICIENCY)} with a value; "
                             "'none' for none)")
    report.add_argument("--intervals", action="store_true",
                        help="show the bootstrap intervals [lo, hi] in the tables (the CSV "
                             "always has them)")
    report.add_argument("--caption", default=None, help="table caption")
    report.add_argument("--label", default="tab:bench", help="LaTeX label of the table")
    report.add_argument("--quality", default=None, metavar="KEY",
                        help="quality metric of the frontier plots (default: ssim, else the "
                             "first metric)")
    report.add_argument("--no-plots", action="store_true", help="no figures")
    report.add_argument("--plot-formats", type=_plot_formats, default=PLOT_FORMATS,
                        help="files written per figure (default png,pdf)")
    report.add_argument("--grid", default="pose",
                        choices=["pose", "disagreement", "random", "index", "none"],
                        help="how the qualitative grid picks its pairs: largest pose change "
                             "(default), largest disagreement between models, seeded random, "
                             "by index (--grid-pairs), or no grid")
    report.add_argument("--grid-rows", type=int, default=6, help="pairs in the grid (default 6)")
    report.add_argument("--grid-pairs", default=None, metavar="I,J,...",
                        help="pair indices for --grid index (implies it)")
    report.add_argument("--seed", type=int, default=0, help="seed of --grid random")
    report.add_argument("--no-html", action="store_true", help="no index.html page")
    report.add_argument("--title", default="ctat-bench report", help="title of the HTML page")
    return report


def config_from_args(args: argparse.Namespace):
    from bench.report.build import ReportConfig
    from bench.report.plots import PlotOptions
    from bench.report.table import TableOptions

    table = TableOptions(metrics=args.metrics, efficiency=args.efficiency, models=args.models,
                         intervals=args.intervals, caption=args.caption)
    from bench.errors import BenchError
    from bench.report.grid import GridSelection

    plots = None if args.no_plots else PlotOptions(
        quality=args.quality, suffixes=tuple(f".{f}" for f in args.plot_formats))
    grid = None
    if args.grid_pairs is not None:
        try:
            indices = tuple(int(i) for i in args.grid_pairs.split(",") if i.strip())
        except ValueError:
            raise BenchError(f"--grid-pairs expects pair indices like 0,5,17, got "
                             f"{args.grid_pairs!r}") from None
        grid = GridSelection(method="index", indices=indices, count=len(indices))
    elif args.grid != "none":
        grid = GridSelection(method=args.grid, count=args.grid_rows, seed=args.seed)
    return ReportConfig(formats=args.formats, table=table, label=args.label, plots=plots,
                        grid=grid, html=not args.no_html, title=args.title)


def cmd_report(args: argparse.Namespace) -> int:
    from bench.report.build import build_report
    from bench.report.runs import load_run

    out = args.out
    if out is None:
        out = Path("reports") / load_run(args.runs[0]).run_id
    result = build_report(args.runs, out, config_from_args(args))
    for path in result.files:
        print(path)
    for note in result.notes:
        print(f"note: {note}")
    return 0


# -- compare BASELINE CANDIDATE ------------------------------------------------------------


def _tolerance(text: str):
    from bench.report.regression import Tolerance

    pattern, sep, value = text.partition("=")
    try:
        if not sep or not pattern:
            raise ValueError
        if value.endswith("%"):
            return pattern, Tolerance(absolute=0.0, relative=float(value[:-1]) / 100)
        return pattern, Tolerance(absolute=float(value), relative=0.0)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected KEY=ABS or KEY=REL% (KEY an fnmatch pattern, e.g. fid=0.01 or "
            f"'ssim*=0.1%'), got {text!r}") from None


def add_regression_arguments(compare: argparse.ArgumentParser) -> None:
    group = compare.add_argument_group("two runs (BASELINE CANDIDATE): the regression report")
    group.add_argument("--tolerance", type=_tolerance, action="append", default=[],
                       metavar="KEY=ABS|KEY=REL%",
                       help="tolerance of matching keys (repeatable; default: exact within "
                            "float tolerance, 1e-9)")
    group.add_argument("--machine-tolerance", type=float, default=1e-6, metavar="REL",
                       help="relative tolerance of metric values between runs of different "
                            "machines, where float kernels round differently (default 1e-6; "
                            "0: the same tolerance everywhere)")
    group.add_argument("--timing-band", type=float, default=0.25,
                       help="relative band of timing keys between runs of the same machine "
                            "(default 0.25)")
    group.add_argument("--strict", action="store_true",
                       help="fail on any change beyond tolerance, improvements included "
                            "(CI against a committed reference)")
    group.add_argument("--markdown", type=Path, default=None,
                       help="also write the Markdown summary to this file")
    group.add_argument("--all", action="store_true", help="list unchanged values too")


def cmd_regression(args: argparse.Namespace) -> int:
    from bench.report.regression import RegressionConfig, Tolerance, compare_runs, to_markdown

    config = RegressionConfig(timing_band=args.timing_band, overrides=tuple(args.tolerance),
                              across_machines=Tolerance(relative=args.machine_tolerance),
                              models=args.models, keys=args.metrics, strict=args.strict,
                              allow_different_weights=args.allow_different_weights)
    report = compare_runs(args.runs[0], args.runs[1], config)
    text = to_markdown(report, show_all=args.all)
    print(text, end="")
    if args.markdown is not None:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(text, encoding="utf-8")
    return report.exit_code
