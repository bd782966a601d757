"""The library entry points the CLI is a thin shell over: ``run`` and ``check_dataset``.

    from bench.api import run
    from bench.config import RunConfig
    result = run(RunConfig(models=("oracle", "source", "warp"), limit=64, out=Path("results/x")))
    result.run_dir / "records.jsonl"
    result.values[("warp", "ssim")]        # raw value; same as in the records

Order of work: names resolved, dataset located and validated, models built, outputs opened -
everything that can fail on bad input fails here, before the first pair is generated. Then
pairs stream through every model and metric once; a pair that cannot be loaded, generated or
scored becomes an error record while the rest of the run completes.

Before the first pair of a CPU run, each learned generator is timed on one small warm batch
(:mod:`bench.estimate`); when generating every pair would take more than 10 minutes, one line
says how long and how to sample (``--subset N --seed S`` or ``--limit N``).

Results folders (``folder:NAME=PATH`` in ``models``, :mod:`bench.models.folder`) run in the
same loop: they declare ``sees_pairs``, are planned against the evaluated pairs before work
(layout detected, files matched and hashed) and return the files' panels. Under a protocol
with ``gt_from_results`` (``patn-strips``) every model must be such a folder with a target
panel, the metrics score against those panels, and the dataset needs no images::

    run(RunConfig(models=("folder:patn-released=/results/patn_market",), dataset="market",
                  data_root=Path("/data/market-csv-only"), protocol="patn-strips"))
"""

from __future__ import annotations

import datetime as _dt
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from bench.config import RunConfig
from bench.data import load_split, locate
from bench.data.annotations import read_pairs
from bench.data.datasets import image_size
from bench.data.loader import PairError, iter_batches
from bench.data.split import Split, pairs_sha256
from bench.env import collect_env
from bench.errors import (
    BenchError,
    GeneratorOutputError,
    MetricUnavailableError,
    WeightsUnavailableError,
)
from bench.estimate import estimate_generation, long_run_notice
from bench.generation import images_to_tensor, kpts_to_tensor, tensor_to_images
from bench.metrics import METRICS
from bench.metrics.base import UnavailableMetric
from bench.metrics.settings import MetricSettings, with_settings
from bench.models import GENERATORS, ModelSpec
from bench.models.base import UNTRAINED, Weights
from bench.outputs import RunOutputs, prepare_run_dir
from bench.progress import Progress
from bench.protocols import PROTOCOLS, Protocol
from bench.provenance import WEIGHTS_FIELD
from bench.records import (
    KIND_EFFICIENCY,
    KIND_METRIC,
    KIND_MODEL_ERROR,
    KIND_PAIR_ERROR,
    KIND_UNAVAILABLE,
    Record,
    RecordWriter,
)
from bench.stats import bootstrap_interval
from bench.types import Generated, Metric, Pair, PairBatch


@dataclass
class RunResult:
    run_dir: Path
    run_id: str
    records: list[Record]
    n_pairs: int
    interrupted: bool = False
    values: dict[tuple[str, str], float] = field(default_factory=dict)  # (model, key) -> value

    def errors(self, model: str | None = None) -> list[Record]:
        return [
            r for r in self.records
            if r.kind not in (KIND_METRIC, KIND_EFFICIENCY)
            and (model is None or r.model == model)
        ]


@dataclass
class _ModelRun:
    """One model's state during a run."""

    name: str
    generator: object
    metrics: list[Metric]
    weights: Weights
    reference_bound: bool
    scored: dict[str, int] = field(default_factory=dict)  # key -> pairs with a value
    failed: int = 0
    extra: dict = field(default_factory=dict)  # added to the extra of its metric records

    @property
    def labels(self) -> dict:
        """The fields naming this model on every record it gets."""
        return {"model": self.name, "checkpoint": self.weights.label,
                "checkpoint_sha256": self.weights.sha256,
                "reference_bound": self.reference_bound}


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def make_run_id(dataset: str, pairs_hash: str) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{dataset}-{pairs_hash[:8]}"


def _check_device(device: str) -> None:
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        available = "cuda is available" if torch.cuda.is_available() else "only cpu is available"
        raise BenchError(f"--device {device!r} cannot be used here ({available}): {exc}") from None


def _build_models(config: RunConfig, size: tuple[int, int], protocol: Protocol | None = None
                  ) -> list[tuple[str, object]]:
    built = []
    for name in config.models:
        checkpoint = config.checkpoint_for(name)
        untrained = checkpoint is not None and str(checkpoint) == UNTRAINED
        spec = ModelSpec(
            name=name, size=size, dataset=config.dataset, device=config.device,
            checkpoint=None if untrained else checkpoint, untrained=untrained, seed=config.seed,
        )
        folder = config.folder_for(name)
        if folder is not None:
            from bench.models.folder import FolderModel

            # a protocol with a stated frame scores files of that frame only: no centre crop
            # of 256-wide panels (DPTN resized its outputs, it did not crop them)
            crop = protocol is None or not protocol.frames
            built.append((name, FolderModel(spec, folder, workers=config.workers,
                                            allow_crop=crop,
                                            resizer=protocol.resizer if protocol else None)))
        else:
            built.append((name, GENERATORS.get(name)(spec)))
    return built


def _check_results_only(config: RunConfig, protocol: Protocol) -> None:
    """A protocol whose ground truth comes from the results scores results folders only."""
    others = [m for m in config.models if config.folder_for(m) is None]
    if others:
        raise BenchError(
            f"protocol {protocol.name!r} scores result strips against their own target panels; "
            f"{', '.join(repr(m) for m in others)} generate images and have none. Run them under "
            "--protocol patn (ground truth from the dataset images), or give only "
            "folder:NAME=PATH models here"
        )


def _frame_from_results(config: RunConfig, files):
    """A results-only run without dataset images: the frame the result files fit."""
    from bench.models.folder import probe_size

    rows = read_pairs(files.pairs_file)
    pairs = [Pair(s, t, i) for i, (s, t, _) in enumerate(rows)]
    size = probe_size(config.folders, pairs, files.spec.sizes, files.spec.padded_width)
    return files.with_size(size, note=f"frame {size[0]}x{size[1]} (HxW) taken from the result files")


def _generate(gen, batch: PairBatch, device: str) -> torch.Tensor | Generated:
    """Call ``gen.generate`` with what its capability flags allow it to see: the target image
    for ``sees_target`` (oracle), the pairs' names for ``sees_pairs`` (results folders)."""
    src = None if batch.src_img is None else images_to_tensor(batch.src_img, device)
    src_kpts = kpts_to_tensor(batch.src_kpts, device)
    tgt_kpts = kpts_to_tensor(batch.tgt_kpts, device)
    kwargs = {}
    if getattr(gen, "sees_target", False):
        kwargs["tgt_img"] = images_to_tensor(batch.tgt_img, device)
    if getattr(gen, "sees_pairs", False):
        kwargs["pairs"] = batch.pairs
    with torch.inference_mode():
        return gen.generate(src, src_kpts, tgt_kpts, **kwargs)


def _check_generated(out: Generated, shape: tuple[int, ...]) -> None:
    """A generator's :class:`Generated` must hold uint8 images (and panels) of ``shape``."""
    for what, arr in (("images", out.images), ("targets", out.targets), ("sources", out.sources)):
        if arr is None and what != "images":
            continue
        if not isinstance(arr, np.ndarray) or arr.dtype != np.uint8 or arr.shape != shape:
            found = (f"{arr.dtype} {arr.shape}" if isinstance(arr, np.ndarray)
                     else type(arr).__name__)
            raise GeneratorOutputError(
                f"generate() returned {what} {found}, expected uint8 {shape} (N, H, W, 3)"
            )


class _Evaluation:
    """The streaming loop of one run: batches in, per-pair rows and records out."""

    def __init__(self, config, split, pairs, protocol: Protocol, models, outputs, writer, base,
                 settings: MetricSettings):
        self.config = config
        self.settings = settings
        self.split = split
        self.pairs = pairs
        self.protocol = protocol
        self.models: list[_ModelRun] = models
        self.outputs = outputs
        self.writer = writer
        self.base = base  # fields shared by every record
        self.records: list[Record] = []
        self.ground_truth = ("results: each file's own target panel" if protocol.gt_from_results
                             else "dataset images")
        if split.renamed:
            self.ground_truth = f"dataset images; {ground_truth_files(split)}"

    def emit(self, **fields) -> Record:
        record = Record(**self.base, created=_now(), **fields)
        self.writer.write(record)
        self.records.append(record)
        return record

    def pair_errors(self, run: _ModelRun, errors: list[PairError]) -> None:
        for err in errors:
            run.failed += 1
            self.emit(
                kind=KIND_PAIR_ERROR, **run.labels, n=0,
                key=err.pair.key, error=f"{err.stage}: {err.message}",
                extra={"index": err.pair.index, "from": err.pair.src, "to": err.pair.tgt,
                       "stage": err.stage, "file": err.file},
            )

    def step(self, batch: PairBatch | None, load_errors: list[PairError]) -> None:
        for run in self.models:
            self.pair_errors(run, load_errors)
            if load_errors:
                self.outputs.write_pair_rows(
                    run.name, tuple(e.pair for e in load_errors), {},
                    {i: f"{e.stage}: {e.message}" for i, e in enumerate(load_errors)},
                )
            if batch is not None:
                self.step_model(run, batch)

    def step_model(self, run: _ModelRun, batch: PairBatch) -> None:
        h, w = self.split.files.size
        shape = (len(batch), h, w, 3)
        try:
            out = _generate(run.generator, batch, self.config.device)
            if isinstance(out, Generated):  # images read, not computed (results folders)
                _check_generated(out, shape)
                images = out.images
                problems = {i: msg for i, (msg, _) in out.problems.items()}
                stage, files = "read", {i: f for i, (_, f) in out.problems.items()}
            else:
                images, problems = tensor_to_images(out, shape)
                images = self.protocol.prepare_generated(images)  # e.g. GFLA's JPEG files
                stage, files = "generate", {}
            if self.protocol.gt_from_results and (
                    not isinstance(out, Generated) or out.targets is None):
                raise GeneratorOutputError(
                    f"protocol {self.protocol.name} needs the results' own target panels; "
                    f"{run.name} returned none"
                )
        except (GeneratorOutputError, RuntimeError, ValueError) as exc:
            errors = [PairError(p, "generate", f"{type(exc).__name__}: {exc}") for p in batch.pairs]
            self.pair_errors(run, errors)
            self.outputs.write_pair_rows(
                run.name, batch.pairs, {}, {i: f"generate: {exc}" for i in range(len(batch))}
            )
            return
        if self.protocol.gt_from_results:  # score against the results' own panels
            batch = PairBatch(pairs=batch.pairs, src_img=out.sources, tgt_img=out.targets,
                              src_kpts=batch.src_kpts, tgt_kpts=batch.tgt_kpts)
        good = np.array([i not in problems for i in range(len(batch))])
        if problems:
            self.pair_errors(run, [
                PairError(batch.pairs[i], stage, msg, file=files.get(i))
                for i, msg in sorted(problems.items())
            ])
        row_errors = {i: f"{stage}: {msg}" for i, msg in problems.items()}
        values: dict[str, np.ndarray] = {}
        if good.any():
            kept = batch if good.all() else batch.select(good)
            kept_images = images if good.all() else images[good]
            self.outputs.save_images(run.name, kept.pairs, kept_images)
            scored_fake, scored_batch = self.protocol.prepare(
                kept_images, kept, self.split.files.spec.padded_width
            )
            rows = np.flatnonzero(good)
            for metric in run.metrics:
                per_pair = metric.update(scored_fake, scored_batch)
                for key, arr in (per_pair or {}).items():
                    full = np.full(len(batch), np.nan)
                    full[rows] = arr
                    values[key] = full
                    nan_rows = rows[np.isnan(np.asarray(arr, dtype=float))]
                    run.scored[key] = run.scored.get(key, 0) + len(rows) - len(nan_rows)
                    for i in nan_rows:
                        self.emit(
                            kind=KIND_PAIR_ERROR, **run.labels, n=0,
                            key=batch.pairs[i].key, metric=metric.name,
                            metric_version=metric.version,
                            error=f"score: {key} is undefined for this pair (NaN), left out of the mean",
                            extra={"index": batch.pairs[i].index, "from": batch.pairs[i].src,
                                   "to": batch.pairs[i].tgt, "stage": "score", "file": None},
                        )
                if not metric.per_pair:
                    for key in metric.result_keys():
                        run.scored[key] = run.scored.get(key, 0) + len(rows)
        self.outputs.write_pair_rows(run.name, batch.pairs, values, row_errors)

    def finish(self, interrupted: bool, evaluated: int) -> None:
        for run in self.models:
            for metric in run.metrics:
                if isinstance(metric, UnavailableMetric):
                    for key in metric.result_keys():
                        self.emit(
                            kind=KIND_UNAVAILABLE, **run.labels, n=0,
                            metric=metric.name, metric_version=metric.version, key=key,
                            unit=metric.unit, higher_is_better=metric.higher_is_better,
                            error=f"unavailable: {metric.reason}",
                            extra={"precision": metric.precision},
                        )
                    continue
                try:
                    results = metric.compute()
                except Exception as exc:  # a metric that cannot summarise is an error record
                    self.emit(
                        kind=KIND_MODEL_ERROR, **run.labels, n=0,
                        metric=metric.name, metric_version=metric.version,
                        error=f"{metric.name}: {type(exc).__name__}: {exc}",
                    )
                    continue
                extra = self.uncertainty(metric, results, interrupted)
                used = metric.weights_used()
                provenance = {WEIGHTS_FIELD: used} if used else {}
                for key, value in results.items():
                    n = run.scored.get(key, 0)
                    value = float(value)
                    error = None
                    if np.isnan(value):
                        value, error = None, f"{key}: no pair could be scored"
                    elif interrupted:
                        error = f"interrupted: {evaluated} of {len(self.pairs)} pairs evaluated"
                    self.emit(
                        kind=KIND_METRIC, **run.labels, n=n,
                        metric=metric.name, metric_version=metric.version, key=key,
                        value=value, unit=metric.unit, higher_is_better=metric.higher_is_better,
                        error=error,
                        extra={"failed_pairs": run.failed, "complete": not interrupted,
                               "precision": metric.precision,
                               "ground_truth": self.ground_truth, **run.extra,
                               **extra.get(key, {}), **provenance},
                    )

    def uncertainty(self, metric: Metric, results: dict, interrupted: bool) -> dict[str, dict]:
        """Per key: the metric's own extras and a bootstrap interval where it can resample."""
        settings = self.settings
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
                intervals = bootstrap_interval(metric.compute_on, n, resamples, self.config.seed,
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
                             bootstrap_resamples=resamples, bootstrap_seed=self.config.seed)
            per_key[key] = entry
        return per_key


def run(
    config: RunConfig,
    *,
    progress: bool = True,
    echo: Callable[[str], None] = print,
) -> RunResult:
    """Evaluate ``config.models`` on a dataset; writes results/<run_id>/ and returns the records."""
    config = config.resolved()
    protocol = PROTOCOLS.get(config.protocol)
    metric_classes = [METRICS.get(m) for m in config.metrics]
    results_only = protocol.gt_from_results  # ground truth from the result files themselves
    if results_only:
        _check_results_only(config, protocol)

    files = locate(config.dataset, config.data_root, config.split, seed=None, progress=progress,
                   images_required=not results_only)
    if files.size is None:
        files = _frame_from_results(config, files)
    protocol.check_frame(files.name, files.size, str(files.image_dir))
    files = files.with_image_naming(protocol.image_naming)
    echo(f"dataset {files.name} ({config.split}): {files.root} [{files.root_source}]")
    for note in files.notes:
        echo(f"  note: {note}")
    split = load_split(files, check_images=not results_only)
    if split.renamed:
        echo(f"  note: {ground_truth_files(split)}")
    pairs = split.select(limit=config.limit, subset=config.subset, seed=config.seed)
    pairs_hash = pairs_sha256(pairs)
    if split.image_problems:
        affected = sum(split.pair_problem(p) is not None for p in pairs)
        if affected:
            echo(f"  warning: {affected} of {len(pairs)} pairs cannot be loaded (see the error records)")

    _check_device(config.device)
    torch.manual_seed(config.seed)
    built = _build_models(config, files.size, protocol)
    for name, gen in built:
        if getattr(gen, "sees_pairs", False):
            plan = getattr(gen, "plan", None)  # optional: learn the pair list before work
            for line in (plan(pairs) if callable(plan) else None) or ():
                echo(line)
            if results_only and not getattr(gen, "has_target", False):
                raise BenchError(
                    f"folder:{name}: its files hold no ground-truth panel ({gen.layout.describe()}); "
                    f"protocol {protocol.name!r} scores against the strips' target panels: use "
                    "--protocol patn (dataset images), or target=I if a panel holds the target"
                )

    run_id = make_run_id(files.name, pairs_hash)
    run_dir = prepare_run_dir(config.out or Path("results") / run_id)
    if config.out is not None:
        run_id = run_dir.name
    env = collect_env(config.device)
    outputs = RunOutputs(run_dir, config.models, config.save_images)
    outputs.write_json("config.json", {"run_id": run_id, **config.to_dict(),
                                       "pairs_sha256": pairs_hash, "n_pairs": len(pairs),
                                       "image_size": list(files.size),
                                       "data_root": str(files.root),
                                       "dataset_images": not results_only})
    outputs.write_json("env.json", env)

    settings = metric_settings(config, protocol, files, pairs, pairs_hash, split)
    shared: dict = with_settings({}, settings)
    models = []
    reasons: dict[str, list[str]] = {}  # reason -> metric names
    other: dict[tuple[str, str, str], list[str]] = {}  # unpublished weights file -> metric names
    for name, gen in built:
        provenance = getattr(gen, "provenance", None)
        checkpoint = config.checkpoint_for(name)
        weights = getattr(gen, "weights", None) or Weights(str(checkpoint) if checkpoint else "none")
        record_extra = getattr(gen, "record_extra", None)  # e.g. a results folder's layout
        metrics = build_metrics(metric_classes, shared, name)
        for m in metrics:
            if isinstance(m, UnavailableMetric):
                names = reasons.setdefault(m.reason, [])
                if m.name not in names:
                    names.append(m.name)
                continue
            for network, entry in m.weights_used().items():
                if not entry["published"]:
                    names = other.setdefault((network, entry["file"], entry["sha256"]), [])
                    if m.name not in names:
                        names.append(m.name)
        models.append(_ModelRun(
            name=name, generator=gen, metrics=metrics,
            weights=weights,
            reference_bound=bool(getattr(provenance, "reference_bound", False)),
            extra=dict(record_extra()) if callable(record_extra) else {},
        ))
        keys = tuple(k for m in models[-1].metrics if m.per_pair for k in m.result_keys())
        outputs.open_pair_table(name, keys)

    base = dict(
        run_id=run_id, dataset=files.name, split=config.split, pairs_sha256=pairs_hash,
        protocol=protocol.name, protocol_version=protocol.version, device=config.device,
        git_sha=env["git_sha"],
    )
    for line in unavailable_summary(reasons):
        echo(f"  {line}")
    for (network, file, sha), names in other.items():
        echo(f"  other weights: {', '.join(names)} computed with {network} {file} (sha256 "
             f"{sha[:8]}), not the published file: values labelled (other weights)")
    echo(
        f"run {run_id}: {len(pairs)} pairs x {len(models)} models "
        f"({', '.join(config.models)}), protocol {protocol.name} v{protocol.version} -> {run_dir}"
    )
    notice = long_run_notice(estimate_generation(built, split, pairs, files.size, config.device),
                             len(pairs), config.device, config.seed)
    if notice:
        echo(notice)
    interrupted = False
    evaluated = 0
    start = time.perf_counter()
    with RecordWriter(run_dir / "records.jsonl") as writer:
        evaluation = _Evaluation(config, split, pairs, protocol, models, outputs, writer, base,
                                 settings)
        bar = Progress(total=len(pairs), desc="pairs", enabled=progress)
        try:
            for batch, load_errors in iter_batches(split, pairs, config.batch_size, config.workers,
                                                   images=not results_only):
                evaluation.step(batch, load_errors)
                done = (len(batch) if batch is not None else 0) + len(load_errors)
                evaluated += done
                bar.update(done)
        except KeyboardInterrupt:
            interrupted = True
            echo(f"\ninterrupted after {evaluated} of {len(pairs)} pairs: writing what was computed")
        finally:
            bar.close()
            evaluation.finish(interrupted, evaluated)
            outputs.close()
        elapsed = time.perf_counter() - start
        if config.efficiency and not interrupted:
            interrupted = not measure_efficiency(evaluation, config, echo)
    result = RunResult(
        run_dir=run_dir, run_id=run_id, records=evaluation.records, n_pairs=len(pairs),
        interrupted=interrupted,
        values={(r.model, r.key): r.value for r in evaluation.records
                if r.kind == KIND_METRIC and r.value is not None},
    )
    echo(f"done in {elapsed:.1f} s ({len(pairs) / max(elapsed, 1e-9):.0f} pairs/s)")
    return result


def unavailable_summary(reasons: dict[str, list[str]]) -> list[str]:
    """One short line per kind of reason (long reason -> metric names), said once before the
    work; the long reasons (every place looked in, how to provide the file) stay on the
    records, in the CSV and the HTML report."""
    from bench.report.reasons import said_once

    return [f"unavailable: {line}" for line in said_once(
        (name, reason) for reason, names in reasons.items() for name in names)]


def measure_efficiency(evaluation: _Evaluation, config: RunConfig,
                       echo: Callable[[str], None]) -> bool:
    """Efficiency records of each model after the quality evaluation (:mod:`bench.efficiency`:
    parameters and MACs; latency, throughput and memory with few iterations, each learned
    model in a fresh process). False if interrupted (what was measured is kept)."""
    from bench.efficiency.probe import EfficiencySettings, measure_generator, record_fields

    settings = EfficiencySettings.for_run(config.device, config.batch_size)
    if any(any(True for _ in getattr(r.generator, "module", torch.nn.Module()).parameters())
           for r in evaluation.models):
        echo("efficiency: parameters, MACs, latency, memory (--no-efficiency skips)")
    try:
        for run in evaluation.models:
            for m in measure_generator(run.name, run.generator, settings, echo=echo):
                evaluation.emit(**run.labels, **record_fields(m, device=False))
    except KeyboardInterrupt:
        echo("\ninterrupted during the efficiency measurements: keeping what was measured")
        return False
    return True


def metric_settings(config: RunConfig, protocol: Protocol, files, pairs, pairs_hash: str,
                    split: Split | None = None) -> MetricSettings:
    """What the metrics need to know about this run (bench.metrics.settings)."""
    padded = files.spec.padded_width if protocol.white_padding else None
    targets = tuple(dict.fromkeys(p.tgt for p in pairs))
    dataset_files = split is not None and not protocol.gt_from_results
    return MetricSettings(
        device=config.device, weights=config.weights, download=not config.offline,
        stats_cache=config.stats_cache, use_cache=config.use_cache, keypoints=config.keypoints,
        pose_estimator=config.pose_estimator, dataset=files.name,
        train_folder=config.train_folder, fid_reference=protocol.fid_reference,
        protocol=protocol.name, protocol_version=protocol.version, padded_width=padded,
        batch_size=config.batch_size, bootstrap=config.bootstrap, confidence=config.confidence,
        pairs_sha256=pairs_hash,
        # ground truth from each results folder's own panels: no dataset files to hash, and
        # each model is compared with its own real set
        image_dir=None if protocol.gt_from_results else files.image_dir,
        real_per_model=protocol.gt_from_results,
        target_names=targets, image_size=tuple(files.size),
        target_files=tuple(split.image_path(t).name for t in targets) if dataset_files else (),
    )


def build_metrics(metric_classes, shared: dict, model: str) -> list[Metric]:
    """One instance of each metric for ``model``; a metric that cannot run here (weights
    missing, an input not given) becomes an :class:`UnavailableMetric` holding the reason."""
    out = []
    for cls in metric_classes:
        try:
            out.append(cls(shared, model=model))
        except (WeightsUnavailableError, MetricUnavailableError) as exc:
            out.append(UnavailableMetric(cls, str(exc), shared, model=model))
    return out


def ground_truth_files(split: Split) -> str:
    """Which files held the dataset images, when a script's own names were used."""
    naming = split.files.image_naming
    return (f"{split.renamed} images read from {naming.script}'s {naming.rule} files "
            f"({naming.source}), not found under the CSV's names")


def check_dataset(name: str, data_root: Path | None, split: str = "test",
                  protocol: str | None = None) -> tuple[Split, list[str]]:
    """Validate a dataset folder without running models: (split, human-readable findings).
    ``protocol`` adds the names its script's test folder used (``pidm``: deep*.png)."""
    files = locate(name, data_root, split)
    if protocol is not None:
        files = files.with_image_naming(PROTOCOLS.get(protocol).image_naming)
    loaded = load_split(files)
    lines = [
        f"dataset {files.name} ({split}) at {files.root} [{files.root_source}]",
        f"  pairs: {len(loaded.pairs)} in {files.pairs_file.name}",
        f"  annotated images: {len(loaded.keypoints)} used by the pairs "
        f"({files.annotations_file.name})",
        f"  image size: {files.size[0]}x{files.size[1]} (HxW) in {files.image_dir}",
        *[f"  note: {n}" for n in files.notes],
        *([f"  note: {ground_truth_files(loaded)}"] if loaded.renamed else []),
    ]
    bad = {}
    for img in sorted({n for p in loaded.pairs for n in (p.src, p.tgt)}):
        if img in loaded.image_problems:
            continue
        try:
            size = image_size(loaded.image_path(img))
        except BenchError as exc:
            bad[img] = str(exc)
            continue
        if size != files.size:
            bad[img] = (f"{loaded.image_path(img)}: {size[0]}x{size[1]}, expected "
                        f"{files.size[0]}x{files.size[1]}")
    problems = {**loaded.image_problems, **bad}
    affected = sum(1 for p in loaded.pairs if p.src in problems or p.tgt in problems)
    if problems:
        lines.append(f"  problems: {len(problems)} images, affecting {affected} pairs:")
        lines.extend(f"    {msg}" for msg in list(problems.values())[:10])
        if len(problems) > 10:
            lines.append(f"    ... and {len(problems) - 10} more")
    else:
        lines.append("  ok: every pair has annotations and readable images of the right size")
    return loaded, lines
