"""The merge of a run: every unit's results, in pair order, into records and per-pair tables.

    from bench.merge import merge_units
    records = merge_units(context, results, writer)    # results: UnitResult in unit order
    # python -m bench merge results/<run>              # the same from the unit files alone

A pure function of the unit results: per-pair rows and error records are written unit by unit,
then each metric is loaded with every unit's state in unit order
(:meth:`bench.types.Metric.load_states`) and computed once: per-pair means add the same floats
in the same order as one process, set-level metrics (IS, FID, KID) see their features in pair
order, bootstrap intervals resample the same items with the same seed. Real-set features come
from the content-hashed cache or from the units (a name's first unit wins).

``interrupted`` (a single process stopped by Ctrl-C) merges what exists and marks every value
incomplete; a sharded run merges only a complete set of units.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from bench.errors import BenchError
from bench.evaluation import ModelRun, start_unit
from bench.metrics.base import UnavailableMetric
from bench.provenance import WEIGHTS_FIELD
from bench.records import (
    KIND_METRIC,
    KIND_MODEL_ERROR,
    KIND_UNAVAILABLE,
    Record,
)
from bench.stats import bootstrap_interval
from bench.types import Metric
from bench.units import UnitResult


def check_labels(models: list[ModelRun], results: list[UnitResult]) -> None:
    """Every unit computed each model with the same weights (checkpoint and its sha256)."""
    for run in models:
        for result in results:
            found = next((m for m in result.models if m.name == run.name), None)
            if found is None:
                raise BenchError(f"unit {result.unit.index} holds no results of {run.name!r}")
            if found.labels != run.labels:
                raise BenchError(
                    f"{run.name}: unit {result.unit.index} was computed with checkpoint "
                    f"{found.labels.get('checkpoint')} (sha256 "
                    f"{str(found.labels.get('checkpoint_sha256'))[:12]}), this run has "
                    f"{run.labels['checkpoint']} (sha256 {str(run.labels['checkpoint_sha256'])[:12]}):"
                    " the weights changed since; start a new run")


class Merger:
    """Writes the merged records (``emit``) and per-pair tables of one run."""

    def __init__(self, context, emit: Callable[..., Record]) -> None:
        self.context = context
        self.emit = emit

    def merge(self, results: list[UnitResult], interrupted: bool = False) -> int:
        """Merge ``results`` (unit order); returns the pairs evaluated."""
        ctx = self.context
        results = sorted(results, key=lambda r: r.unit.index)
        # each model's share of every unit (check_labels made sure each unit has one)
        shares = {run.name: [next(m for m in r.models if m.name == run.name) for r in results]
                  for run in ctx.models}
        evaluated = 0
        for k, result in enumerate(results):
            for run in ctx.models:
                unit_model = shares[run.name][k]
                for fields in unit_model.records:
                    self.emit(**run.labels, **fields)
                ctx.outputs.write_unit_rows(run.name, unit_model, ctx.plan.pairs)
            evaluated += len(result.models[0].rows) if result.models else len(result.unit)
        start_unit(ctx.shared)  # the real sets: cached rows, then the units' rows
        for run in ctx.models:
            mine = shares[run.name]
            scored: dict[str, int] = {}
            for m in mine:
                for key, n in m.scored.items():
                    scored[key] = scored.get(key, 0) + n
            failed = sum(m.failed for m in mine)
            for metric in run.metrics:
                if isinstance(metric, UnavailableMetric):
                    self.unavailable(run, metric)
                    continue
                metric.load_states([m.states.get(metric.name, {}) for m in mine])
                self.metric(run, metric, scored, failed, interrupted, evaluated)
        return evaluated

    def unavailable(self, run: ModelRun, metric: UnavailableMetric) -> None:
        for key in metric.result_keys():
            self.emit(
                kind=KIND_UNAVAILABLE, **run.labels, n=0,
                metric=metric.name, metric_version=metric.version, key=key,
                unit=metric.unit, higher_is_better=metric.higher_is_better,
                error=f"unavailable: {metric.reason}",
                extra={"precision": metric.precision},
            )

    def metric(self, run: ModelRun, metric: Metric, scored: dict[str, int], failed: int,
               interrupted: bool, evaluated: int) -> None:
        ctx = self.context
        try:
            results = metric.compute()
        except Exception as exc:  # a metric that cannot summarise is an error record
            self.emit(
                kind=KIND_MODEL_ERROR, **run.labels, n=0,
                metric=metric.name, metric_version=metric.version,
                error=f"{metric.name}: {type(exc).__name__}: {exc}",
            )
            return
        extra = self.uncertainty(metric, results, interrupted)
        used = metric.weights_used()
        provenance = {WEIGHTS_FIELD: used} if used else {}
        for key, value in results.items():
            value = float(value)
            error = None
            if np.isnan(value):
                value, error = None, f"{key}: no pair could be scored"
            elif interrupted:
                error = f"interrupted: {evaluated} of {len(ctx.plan.pairs)} pairs evaluated"
            self.emit(
                kind=KIND_METRIC, **run.labels, n=scored.get(key, 0),
                metric=metric.name, metric_version=metric.version, key=key,
                value=value, unit=metric.unit, higher_is_better=metric.higher_is_better,
                error=error,
                extra={"failed_pairs": failed, "complete": not interrupted,
                       "precision": metric.precision,
                       "ground_truth": ctx.ground_truth, **run.extra,
                       **extra.get(key, {}), **provenance},
            )

    def uncertainty(self, metric: Metric, results: dict, interrupted: bool) -> dict[str, dict]:
        """Per key: the metric's own extras and a bootstrap interval where it can resample."""
        settings = self.context.settings
        seed = self.context.config.seed
        common = dict(metric.summary_extra())
        per_key = {key: dict(common.get(key, {})) if isinstance(common.get(key), dict) else {}
                   for key in results}
        flat = {k: v for k, v in common.items() if not isinstance(v, dict)}
        resamples = settings.bootstrap if metric.per_pair else min(settings.bootstrap,
                                                                   settings.bootstrap_set)
        n = metric.n_items()
        intervals = {}
        if resamples > 0 and n >= 2 and not interrupted:
            try:
                intervals = bootstrap_interval(metric.compute_on, n, resamples, seed,
                                               settings.confidence)
            except NotImplementedError:
                intervals = {}
            except Exception as exc:  # an interval that fails never costs the value itself
                flat["ci_error"] = f"{type(exc).__name__}: {exc}"
                intervals = {}
        for key in results:
            entry = {**flat, **per_key[key]}
            if key in intervals:
                lo, hi = intervals[key]
                entry.update(ci_low=lo, ci_high=hi, ci_level=settings.confidence,
                             ci_method="percentile bootstrap over pairs",
                             bootstrap_resamples=resamples, bootstrap_seed=seed)
            per_key[key] = entry
        return per_key
