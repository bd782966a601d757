"""``python -m bench compare BASELINE CANDIDATE``: the CI regression report between two runs.

    from bench.report.regression import RegressionConfig, compare_runs, to_markdown
    report = compare_runs(Path("results/reference-synthetic"), Path("results/new"))
    print(to_markdown(report))
    sys.exit(report.exit_code)          # 1 on regressions, else 0

Per model and key present in either run, the change and a verdict:

* **deterministic values** (every metric, parameter and operation count): equal within a float
  tolerance (``Tolerance``: absolute 1e-9 or relative 1e-9 by default; per-key overrides by
  fnmatch pattern). A change beyond it is a *regression* when it goes the worse way
  (``higher_is_better``), an *improvement* the other way, a *change* where the key has no
  direction. Between runs of different machines a metric's tolerance widens to
  ``across_machines`` (relative 1e-6 by default): torch's float32 CPU kernels round differently
  on other processors (the reference's warp moved by 1.8e-8 relative from an AMD EPYC to an
  Intel Xeon, the same code). Parameter and operation counts stay exact;
* **timing** (keys starting with :data:`TIMING_PREFIXES`): compared only when both runs ran on
  the same machine (``env.json``: device name, CPU count, platform), within a relative band
  (default 25%); otherwise *skipped*, with the two machines named. Faster is never a failure;
* **comparability**: a different pair list (``pairs_sha256``), protocol version, metric version
  or generation precision (``--precision``) makes the key *incomparable*, a regression; so does a value that disappeared (the key is
  missing in the candidate, or became an error or unavailable). Keys new in the candidate are
  listed and never fail;
* **weights**: a value computed with other pretrained files than its counterpart (SHA-256 of
  each file, ``extra["weights"]``, :mod:`bench.provenance`; or recorded on one side only) is
  *incomparable* unless ``allow_different_weights`` (``--allow-different-weights``) is set,
  which compares the values and says so in the *why* column. Values computed with unpublished
  weights are listed in the notes.

Exit code: 1 when anything regressed (with ``strict``, also on improvements and direction-less
changes: CI against a committed reference, where every change must come with a refreshed
reference), else 0. Reading errors are :class:`bench.errors.BenchError` (exit code 2).
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field, replace
from pathlib import Path

from bench.provenance import other_weights_notes, weights_difference
from bench.records import KIND_METRIC, KIND_UNAVAILABLE, Record
from bench.report.columns import column_format
from bench.report.runs import KIND_EFFICIENCY, RunData, load_run

#: Keys measured in time (or memory of a live process): machine-dependent, compared in a band.
TIMING_PREFIXES: tuple[str, ...] = ("latency", "throughput", "peak_memory")
#: env.json fields that identify a machine for timing comparisons.
MACHINE_FIELDS: tuple[str, ...] = ("device_name", "cpu_count", "platform")

SAME = "same"
REGRESSED = "regressed"
IMPROVED = "improved"
CHANGED = "changed"  # beyond tolerance, no direction to judge
SKIPPED = "skipped"  # timing between different machines
INCOMPARABLE = "incomparable"  # other pairs / protocol / metric version
MISSING = "missing"  # in the baseline, not in the candidate (or no longer a value)
NEW = "new"  # in the candidate only
FAILING = {REGRESSED, INCOMPARABLE, MISSING}
FAILING_STRICT = FAILING | {IMPROVED, CHANGED}


@dataclass(frozen=True)
class Tolerance:
    absolute: float = 1e-9
    relative: float = 1e-9

    def allows(self, a: float, b: float) -> bool:
        if a == b or (math.isnan(a) and math.isnan(b)):
            return True
        if math.isinf(a) or math.isinf(b):
            return False
        return abs(a - b) <= max(self.absolute, self.relative * max(abs(a), abs(b)))


@dataclass(frozen=True)
class RegressionConfig:
    default: Tolerance = Tolerance()
    timing_band: float = 0.25  # relative: slower by more than this is a regression
    # metrics between runs of different machines: at least this tolerance (float kernels differ)
    across_machines: Tolerance = Tolerance(absolute=1e-9, relative=1e-6)
    overrides: tuple[tuple[str, Tolerance], ...] = ()  # (fnmatch pattern of key, tolerance)
    models: tuple[str, ...] | None = None
    keys: tuple[str, ...] | None = None
    strict: bool = False
    allow_different_weights: bool = False  # compare values made with different weight files

    def tolerance(self, key: str) -> Tolerance:
        for pattern, tol in self.overrides:
            if fnmatch.fnmatchcase(key, pattern):
                return tol
        return self.default


def is_timing(key: str) -> bool:
    return key.startswith(TIMING_PREFIXES)


@dataclass(frozen=True)
class Change:
    model: str
    key: str
    baseline: float | None
    candidate: float | None
    status: str
    why: str = ""
    unit: str | None = None
    higher_is_better: bool | None = None

    @property
    def delta(self) -> float | None:
        if self.baseline is None or self.candidate is None:
            return None
        if math.isinf(self.baseline) or math.isinf(self.candidate):
            return 0.0 if self.baseline == self.candidate else math.nan
        return self.candidate - self.baseline


@dataclass
class RegressionReport:
    baseline: RunData
    candidate: RunData
    config: RegressionConfig
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def by_status(self, *statuses: str) -> list[Change]:
        return [c for c in self.changes if c.status in statuses]

    @property
    def failing(self) -> list[Change]:
        bad = FAILING_STRICT if self.config.strict else FAILING
        return [c for c in self.changes if c.status in bad]

    @property
    def exit_code(self) -> int:
        return 1 if self.failing else 0


def machine(run: RunData) -> tuple:
    return tuple(run.env.get(f) for f in MACHINE_FIELDS)


def _values(run: RunData, config: RegressionConfig) -> dict[tuple[str, str], Record]:
    out = {}
    for r in run.records:
        if r.kind not in (KIND_METRIC, KIND_UNAVAILABLE, KIND_EFFICIENCY) or r.key is None:
            continue
        if config.models is not None and r.model not in config.models:
            continue
        if config.keys is not None and not any(fnmatch.fnmatchcase(r.key, k) for k in config.keys):
            continue
        out.setdefault((r.model, r.key), r)
    return out


def _has_value(r: Record) -> bool:
    return (r.kind != KIND_UNAVAILABLE and r.value is not None and not r.error
            and r.extra.get("status", "ok") == "ok")


def _compare(b: Record, c: Record, config: RegressionConfig, same_machine: bool,
             machines: str) -> Change:
    common = dict(model=b.model, key=b.key, unit=b.unit, higher_is_better=b.higher_is_better)
    bval = b.value if _has_value(b) else None
    cval = c.value if _has_value(c) else None
    change = dict(common, baseline=bval, candidate=cval)
    for field_, what in (("pairs_sha256", "pair list"), ("protocol", "protocol"),
                         ("protocol_version", "protocol version"),
                         ("metric_version", "metric version"), ("dataset", "dataset"),
                         ("precision", "generation precision")):
        if getattr(b, field_) != getattr(c, field_):
            return Change(**change, status=INCOMPARABLE,
                          why=f"{what} {getattr(b, field_)} -> {getattr(c, field_)}")
    weights = (weights_difference(b, c, ("baseline", "candidate"))
               if b.kind == c.kind == KIND_METRIC else None)
    if weights is not None and not config.allow_different_weights:
        return Change(**change, status=INCOMPARABLE,
                      why=f"{weights} (--allow-different-weights compares them anyway)")
    found = _compare_values(b, c, bval, cval, change, config, same_machine, machines)
    if weights is not None:
        return replace(found, why="; ".join(w for w in (found.why, f"compared as asked: {weights}")
                                            if w))
    return found


def _compare_values(b: Record, c: Record, bval, cval, change: dict, config: RegressionConfig,
                    same_machine: bool, machines: str) -> Change:
    if bval is None and cval is None:
        if b.kind == c.kind and b.extra.get("status") == c.extra.get("status"):
            return Change(**change, status=SAME)
        return Change(**change, status=CHANGED, why=f"{_state(b)} -> {_state(c)}")
    if cval is None:
        return Change(**change, status=MISSING, why=f"no value now: {_state(c)}")
    if bval is None:
        return Change(**change, status=IMPROVED if b.higher_is_better is not None else CHANGED,
                      why=f"was {_state(b)}")
    if is_timing(b.key):
        if not same_machine:
            return Change(**change, status=SKIPPED, why=f"different machines ({machines})")
        higher = bool(b.higher_is_better)
        worse = cval < bval * (1 - config.timing_band) if higher else \
            cval > bval * (1 + config.timing_band)
        better = cval > bval * (1 + config.timing_band) if higher else \
            cval < bval * (1 - config.timing_band)
        band = f"band {100 * config.timing_band:g}%"
        if worse:
            return Change(**change, status=REGRESSED, why=band)
        return Change(**change, status=IMPROVED if better else SAME, why=band)
    tol = config.tolerance(b.key)
    if tol.allows(bval, cval):
        return Change(**change, status=SAME)
    if not same_machine and b.kind == KIND_METRIC:
        wide = Tolerance(absolute=max(tol.absolute, config.across_machines.absolute),
                         relative=max(tol.relative, config.across_machines.relative))
        if wide.allows(bval, cval):
            return Change(**change, status=SAME,
                          why=f"within rel {wide.relative:g} between different machines")
        tol = wide
    why = f"beyond abs {tol.absolute:g} / rel {tol.relative:g}"
    if b.higher_is_better is None:
        return Change(**change, status=CHANGED, why=why)
    worse = (cval < bval) if b.higher_is_better else (cval > bval)
    return Change(**change, status=REGRESSED if worse else IMPROVED, why=why)


def _state(r: Record) -> str:
    if r.kind == KIND_UNAVAILABLE:
        return "unavailable"
    if r.extra.get("status", "ok") != "ok":
        return str(r.extra["status"])
    if r.error:
        return f"error ({r.error})"
    return "no value"


def compare_runs(baseline: Path, candidate: Path, config: RegressionConfig = RegressionConfig()
                 ) -> RegressionReport:
    base, cand = load_run(baseline), load_run(candidate)
    report = RegressionReport(base, cand, config)
    same_machine = machine(base) == machine(cand) and all(machine(base))
    machines = (f"{' / '.join(str(v) for v in machine(base))} vs "
                f"{' / '.join(str(v) for v in machine(cand))}")
    if base.pairs_sha256 and cand.pairs_sha256 and base.pairs_sha256 != cand.pairs_sha256:
        report.notes.append(f"the runs evaluated different pair lists ({base.pairs_sha256[:12]} "
                            f"vs {cand.pairs_sha256[:12]}): no value is comparable")
    if not same_machine:
        report.notes.append(f"timing not compared: different machines ({machines})")
        report.notes.append(f"metric values compared within rel "
                            f"{config.across_machines.relative:g} (float kernels of different "
                            "machines round differently; --machine-tolerance)")
    for run, name in ((base, "baseline"), (cand, "candidate")):
        report.notes.extend(f"{name}: {note}" for note in other_weights_notes(
            r for r in run.records if r.kind == KIND_METRIC))
    bvals, cvals = _values(base, config), _values(cand, config)
    for (model, key), b in bvals.items():
        c = cvals.get((model, key))
        if c is None:
            report.changes.append(Change(model, key, b.value if _has_value(b) else None, None,
                                         MISSING, "not in the candidate", b.unit,
                                         b.higher_is_better))
        else:
            report.changes.append(_compare(b, c, config, same_machine, machines))
    for (model, key), c in cvals.items():
        if (model, key) not in bvals:
            report.changes.append(Change(model, key, None, c.value if _has_value(c) else None,
                                         NEW, "not in the baseline", c.unit, c.higher_is_better))
    return report


# -- rendering -----------------------------------------------------------------------------


def _fmt(value: float | None, key: str, unit: str | None) -> str:
    if value is None:
        return "–"
    if math.isinf(value) or math.isnan(value):
        return str(value)
    fmt = column_format(key, unit, None)
    return f"{value:.6g}" + (f" {unit}" if unit else "") if fmt.scale == 1.0 else \
        f"{value * fmt.scale:.6g} {fmt.unit}"


def _delta(c: Change) -> str:
    d = c.delta
    if d is None:
        return ""
    if math.isnan(d):
        return "nan"
    rel = f" ({100 * d / abs(c.baseline):+.3g}%)" if c.baseline else ""
    return f"{d:+.6g}{rel}"


def _describe(run: RunData) -> str:
    first = next((r for r in run.records if r.pairs_sha256), run.records[0])
    return (f"`{run.path}`: git {first.git_sha[:10]}, dataset {first.dataset} ({first.split}), "
            f"protocol {first.protocol} v{first.protocol_version}, "
            f"pairs {run.pairs_sha256[:12] or 'none'}, {run.env.get('device_name', '?')}")


STATUS_TEXT = {REGRESSED: "REGRESSED", INCOMPARABLE: "INCOMPARABLE", MISSING: "MISSING",
               IMPROVED: "improved", CHANGED: "changed", NEW: "new", SKIPPED: "skipped",
               SAME: "same"}


def to_markdown(report: RegressionReport, show_all: bool = False) -> str:
    """A Markdown summary for a CI log or a pull-request comment."""
    failing = report.failing
    counts = {s: len(report.by_status(s)) for s in STATUS_TEXT}
    verdict = "**FAIL**" if failing else "**PASS**"
    summary = ", ".join(f"{n} {STATUS_TEXT[s].lower()}" for s, n in counts.items() if n)
    lines = [f"## Regression report: {verdict}", "",
             f"{summary or 'nothing to compare'}" + (" (strict: any change fails)"
                                                     if report.config.strict else ""), "",
             f"- baseline: {_describe(report.baseline)}",
             f"- candidate: {_describe(report.candidate)}"]
    lines += [f"- note: {n}" for n in report.notes]
    shown = report.changes if show_all else [c for c in report.changes if c.status != SAME]
    if shown:
        order = {s: i for i, s in enumerate(STATUS_TEXT)}
        shown = sorted(shown, key=lambda c: order[c.status])
        lines += ["", "| model | key | baseline | candidate | change | status | why |",
                  "|---|---|---:|---:|---:|---|---|"]
        bad = {id(c) for c in failing}
        for c in shown:
            status = STATUS_TEXT[c.status]
            if id(c) in bad:
                status = f"**{status}**"
            lines.append(f"| {c.model} | {c.key} | {_fmt(c.baseline, c.key, c.unit)} | "
                         f"{_fmt(c.candidate, c.key, c.unit)} | {_delta(c)} | {status} | "
                         f"{c.why.replace('|', '/')} |")
    if counts[SAME] and not show_all:
        lines += ["", f"{counts[SAME]} values unchanged (within tolerance)."]
    return "\n".join(lines) + "\n"
