"""Report figures from records (matplotlib, PNG and PDF): the efficiency frontier, metric bars
with their intervals, latency against batch size::

    from bench.report.plots import PLOTS, save_plots
    written, notes = save_plots(records, Path("reports/x/plots"))
    # written: [Path(".../quality_vs_latency_cuda.png"), ...pdf, ...]
    # notes:   ["quality vs parameters: skipped: no model has both params and ssim records"]
    fig = PLOTS.get("metric_bars")(records, PlotOptions())   # a Figure, or a Skip(reason)

Every plot reads records only. Where its data is absent (no efficiency records, no sweep) it
returns :class:`Skip` with the reason, which the report prints as a note: never an error.

Style: the Okabe-Ito palette (distinguishable with every common colour-vision deficiency),
one colour and marker per model across all figures, labelled axes with units, reference
bounds as dashed horizontal lines (they calibrate, they are not points on a frontier),
untrained models as hollow markers labelled ``(untrained)``, and a metric axis whose values came
from unpublished weights files labelled ``(other weights)`` (:mod:`bench.provenance`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.figure import Figure

from bench.models.base import UNTRAINED
from bench.precision import FP32
from bench.provenance import other_weights_label
from bench.records import KIND_METRIC, Record
from bench.registry import Registry
from bench.report.columns import SWEEP_PREFIX, column_format, device_of
from bench.report.labels import model_label
from bench.report.runs import KIND_EFFICIENCY

# Okabe & Ito (2008), "Color Universal Design"; black last
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442",
           "#000000")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
PREFERRED_QUALITY = ("ssim", "lpips", "fid", "mask_ssim", "psnr")


@dataclass(frozen=True)
class PlotOptions:
    quality: str | None = None  # y axis of the frontier plots (default: PREFERRED_QUALITY)
    metrics: tuple[str, ...] | None = None  # panels of the metric bars, in order (default: all)
    dpi: int = 200
    width: float = 5.0  # inches
    height: float = 3.6
    suffixes: tuple[str, ...] = (".png", ".pdf")  # files written per figure


@dataclass(frozen=True)
class Skip:
    reason: str


PLOTS: Registry = Registry("plot")


# -- reading the records -------------------------------------------------------------------


@dataclass(frozen=True)
class _Model:
    name: str
    bound: bool
    untrained: bool
    color: str
    marker: str
    precision: str = FP32

    @property
    def label(self) -> str:
        return model_label(self.name, untrained=self.untrained, precision=self.precision)


def _models(records: list[Record]) -> dict[str, _Model]:
    names: dict[str, dict] = {}
    for r in records:
        info = names.setdefault(r.model, {"bound": False, "untrained": False, "precision": FP32})
        info["bound"] |= r.reference_bound
        info["untrained"] |= r.checkpoint == UNTRAINED
        if r.precision != FP32:
            info["precision"] = r.precision
    return {m: _Model(m, i["bound"], i["untrained"], PALETTE[k % len(PALETTE)],
                      MARKERS[k % len(MARKERS)], i["precision"])
            for k, (m, i) in enumerate(names.items())}


def _values(records: list[Record], key: str) -> dict[str, Record]:
    """model -> the record of ``key`` with a finite value."""
    out = {}
    for r in records:
        if (r.key == key and r.kind in (KIND_METRIC, KIND_EFFICIENCY) and r.value is not None
                and math.isfinite(r.value) and not r.error
                and r.extra.get("status", "ok") == "ok"):
            out.setdefault(r.model, r)
    return out


def quality_keys(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r.key for r in records if r.kind == KIND_METRIC
                              and r.higher_is_better is not None and r.value is not None))


def _quality_key(records: list[Record], options: PlotOptions) -> str | None:
    keys = quality_keys(records)
    if options.quality is not None:
        return options.quality if options.quality in keys else None
    return next((k for k in PREFERRED_QUALITY if k in keys), keys[0] if keys else None)


def _axis_label(key: str, record: Record, plotted=()) -> str:
    fmt = column_format(key, record.unit, None)
    unit = f" ({fmt.unit})" if fmt.unit else ""
    arrow = "" if record.higher_is_better is None else (
        ", higher is better" if record.higher_is_better else ", lower is better")
    return f"{fmt.label}{other_weights_label([record, *plotted])}{unit}{arrow}"


def _figure(options: PlotOptions, ncols: int = 1) -> Figure:
    return Figure(figsize=(options.width * ncols if ncols > 1 else options.width,
                           options.height), layout="constrained")


# -- the efficiency frontier ---------------------------------------------------------------


def _pareto(points: list[tuple[float, float]], higher: bool) -> list[tuple[float, float]]:
    """Points no other point beats on both cost (lower x) and quality."""
    front, best = [], None
    for x, y in sorted(points, key=lambda p: (p[0], -p[1] if higher else p[1])):
        if best is None or (y > best if higher else y < best):
            front.append((x, y))
            best = y
    return front


def _frontier(records: list[Record], options: PlotOptions, cost_key: str, cost_name: str):
    quality = _quality_key(records, options)
    if quality is None:
        return Skip(f"quality vs {cost_name}: no metric records"
                    + (f" of {options.quality}" if options.quality else ""))
    qual = _values(records, quality)
    cost = _values(records, cost_key)
    models = _models(records)
    both = [m for m in qual if m in cost]
    if not both:
        return Skip(f"quality vs {cost_name}: no model has both {cost_key} and {quality} "
                    "records (efficiency records come from runs of learned models, or "
                    "`python -m bench profile`)")
    first_q, first_c = qual[both[0]], cost[both[0]]
    fmt = column_format(cost_key, first_c.unit, None)
    fig = _figure(options)
    ax = fig.add_subplot()
    xs = [cost[m].value * fmt.scale for m in both]
    for m in both:
        model = models[m]
        x, y = cost[m].value * fmt.scale, qual[m].value
        ax.scatter([x], [y], s=48, marker=model.marker, zorder=3, label=model.label,
                   facecolors="none" if model.untrained else model.color,
                   edgecolors=model.color, linewidths=1.5)
        ax.annotate(model.label, (x, y), textcoords="offset points", xytext=(5, 4), fontsize=8)
    ranked = [(cost[m].value * fmt.scale, qual[m].value) for m in both
              if not models[m].bound and not models[m].untrained]
    if len(ranked) >= 2:
        front = _pareto(ranked, bool(first_q.higher_is_better))
        ax.plot([p[0] for p in front], [p[1] for p in front], color="0.4", linestyle=":",
                linewidth=1, zorder=2, label="frontier")
    for m, rec in qual.items():
        if models[m].bound and m not in cost:
            ax.axhline(rec.value, color=models[m].color, linestyle="--", linewidth=1,
                       label=f"{m} (bound)")
    if min(xs) > 0 and max(xs) / min(xs) > 20:
        ax.set_xscale("log")
    ax.set_xlabel(f"{fmt.label} ({fmt.unit}), lower is better" if fmt.unit else fmt.label)
    ax.set_ylabel(_axis_label(quality, first_q, qual.values()))
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    ax.set_title(f"{quality} vs {cost_name}", fontsize=10)
    return fig


def _latency_keys(records: list[Record]) -> list[str]:
    return list(dict.fromkeys(r.key for r in records if r.kind == KIND_EFFICIENCY and r.key
                              and r.key.startswith("latency_ms@")))


def quality_vs_latency(records: list[Record], options: PlotOptions) -> dict[str, Figure | Skip]:
    keys = _latency_keys(records)
    if not keys:
        return {"quality_vs_latency": Skip(
            "quality vs latency: no latency records (latency_ms@DEVICE) in these runs")}
    return {f"quality_vs_latency_{device_of(k)}": _frontier(records, options, k,
                                                            f"latency on {device_of(k)}")
            for k in keys}


def quality_vs_params(records: list[Record], options: PlotOptions) -> dict[str, Figure | Skip]:
    return {"quality_vs_params": _frontier(records, options, "params", "parameters")}


# -- metric bars ---------------------------------------------------------------------------


def metric_bars(records: list[Record], options: PlotOptions) -> dict[str, Figure | Skip]:
    keys = [k for k in quality_keys(records) if _values(records, k)]
    if options.metrics is not None:
        keys = [k for k in options.metrics if k in keys]
    if not keys:
        return {"metric_bars": Skip("metric bars: no metric values")}
    models = _models(records)
    ncols = min(len(keys), 3)
    nrows = math.ceil(len(keys) / ncols)
    fig = Figure(figsize=(options.width * 0.75 * ncols, options.height * 0.9 * nrows),
                 layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax in axes.flat[len(keys):]:
        ax.set_visible(False)
    for ax, key in zip(axes.flat, keys, strict=False):
        recs = _values(records, key)
        shown = [m for m in models if m in recs]
        for i, m in enumerate(shown):
            r, model = recs[m], models[m]
            lo, hi = r.extra.get("ci_low"), r.extra.get("ci_high")
            err = None
            if lo is not None and hi is not None and math.isfinite(lo) and math.isfinite(hi):
                err = [[max(r.value - lo, 0.0)], [max(hi - r.value, 0.0)]]
            ax.bar([i], [r.value], yerr=err, capsize=3, color=model.color,
                   hatch="//" if model.bound else ("..") if model.untrained else None,
                   edgecolor="black" if model.bound or model.untrained else model.color,
                   linewidth=0.6, alpha=0.6 if model.bound else 1.0)
        infinite = [m for m in models if any(r.model == m and r.key == key and r.value is not None
                                             and math.isinf(r.value) for r in records)]
        ax.set_xticks(range(len(shown)),
                      [models[m].name + (" (bound)" if models[m].bound else "")
                       + (" (untrained)" if models[m].untrained else "") for m in shown],
                      rotation=30, ha="right", fontsize=7)
        ax.set_ylabel(_axis_label(key, recs[shown[0]], recs.values()), fontsize=8)
        title = key + (f" ({', '.join(infinite)}: infinite, not drawn)" if infinite else "")
        ax.set_title(title, fontsize=9)
        ax.grid(True, axis="y", alpha=0.3)
    if any("ci_low" in r.extra for r in records if r.kind == KIND_METRIC):
        level = next(r.extra.get("ci_level", 0.95) for r in records if "ci_low" in r.extra)
        fig.suptitle(f"error bars: {100 * level:g}% bootstrap intervals over pairs; hatched: "
                     "reference bounds", fontsize=8)
    return {"metric_bars": fig}


# -- latency vs batch size -----------------------------------------------------------------


def _batch_of(key: str) -> int | None:
    head = key.split("@")[0]
    try:
        return int(head[len(SWEEP_PREFIX):])
    except ValueError:
        return None


def latency_vs_batch(records: list[Record], options: PlotOptions) -> dict[str, Figure | Skip]:
    sweep = [r for r in records if r.kind == KIND_EFFICIENCY and r.key
             and r.key.startswith(SWEEP_PREFIX) and _batch_of(r.key) is not None]
    usable = [r for r in sweep if r.value is not None and r.extra.get("status", "ok") == "ok"]
    if not usable:
        return {"latency_vs_batch": Skip(
            "latency vs batch size: no latency sweep records (latency_ms_bB@DEVICE)"
            + (" with values" if sweep else ""))}
    devices = list(dict.fromkeys(device_of(r.key) for r in usable))
    models = _models(records)
    fig = _figure(options, ncols=len(devices))
    axes = fig.subplots(1, len(devices), squeeze=False)[0]
    for ax, device in zip(axes, devices, strict=True):
        for m, model in models.items():
            points = sorted((_batch_of(r.key), r.value) for r in usable
                            if r.model == m and device_of(r.key) == device)
            if not points:
                continue
            ax.plot([p[0] for p in points], [p[1] for p in points], marker=model.marker,
                    color=model.color, label=model.label,
                    markerfacecolor="none" if model.untrained else model.color)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("batch size (images per call)")
        ax.set_ylabel("latency per call (ms), lower is better")
        ax.set_title(f"latency vs batch size on {device}", fontsize=10)
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return {"latency_vs_batch": fig}


PLOTS.register("quality_vs_latency")(quality_vs_latency)
PLOTS.register("quality_vs_params")(quality_vs_params)
PLOTS.register("metric_bars")(metric_bars)
PLOTS.register("latency_vs_batch")(latency_vs_batch)


def save_figure(fig: Figure, out_dir: Path, name: str, dpi: int,
                suffixes: tuple[str, ...] = (".png", ".pdf")) -> list[Path]:
    """``fig`` as ``out_dir/name.SUFFIX``: the same bytes for the same figure (no dates in the
    files' metadata), so that committed figures change only when their content does."""
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for suffix in suffixes:
        path = out_dir / f"{name}{suffix}"
        fig.savefig(path, dpi=dpi, metadata={"Software": "ctat-bench"} if suffix == ".png"
                    else {"Creator": "ctat-bench", "CreationDate": None})
        paths.append(path)
    return paths


def save_plots(records: list[Record] | tuple[Record, ...], out_dir: Path,
               options: PlotOptions = PlotOptions(), names: tuple[str, ...] | None = None,
               ) -> tuple[list[Path], list[str]]:
    """Every plot (or ``names``) as PNG and PDF under ``out_dir``; (files, skip notes)."""
    records = list(records)
    written, notes = [], []
    for name in names or PLOTS.names():
        plot: Callable = PLOTS.get(name)
        for stem, fig in plot(records, options).items():
            if isinstance(fig, Skip):
                notes.append(fig.reason)
            else:
                written += save_figure(fig, Path(out_dir), stem, options.dpi,
                                       options.suffixes)
    return written, notes
