"""Paired comparison of two models of one run.

Per-pair metrics come from the per-pair tables the run wrote. Both models were scored on the
same pairs (same pair list, same order), so each per-pair metric gives two aligned vectors;
:func:`bench.stats.paired_comparison` tests their mean difference::

    from bench.compare import compare_run, format_comparisons
    results = compare_run(Path("results/run"), "warp", "source")      # {key: Comparison}
    compare_run(Path("results/run"), "defgan", "pata")   # a results folder by its NAME, aliases
    print(format_comparisons("warp", "source", results))

Pairs where either model has no value (an error, an undefined SSIM) are left out of that metric.

Set-level metrics (IS, mask-IS, FID, KID) have no per-pair values. They are recomputed from what
the run saved - ``config.json`` (dataset, data root, protocol, pair selection and its hash), the
generated images ``images/<model>/<from>___<to>.png`` and the dataset's target images (their
Inception features come from the real-statistics cache when the run wrote it) - with the run's
metric classes and weights lookup, on the pairs both models have an image of. Every bootstrap
resample draws one set of pair positions for both models and for the real set of FID/KID
(:func:`bench.stats.paired_set_comparison`); each resample costs a fit per model, so there are
fewer of them (``MetricSettings.bootstrap_set``, 100)::

    job = prepare_set_level(Path("results/run"), "warp", "source", offline=True)  # checks first
    result = job.run()                       # SetLevelResult: comparisons, unavailable, notes
    print(format_set_level("warp", "source", result, Path("results/run")))

``prepare_set_level`` refuses (BenchError) when the dataset on disk no longer gives the run's
pairs (pairs hash); a run made with ``--no-images``, or weights that are missing, make the
set-level comparison unavailable with the reason, never a number from random weights.

Weights (:mod:`bench.provenance`): two models' values computed with different pretrained files
(e.g. PCKh from Keypoint R-CNN for one and a keypoint CSV for the other), and a set-level
recomputation whose Inception file is not the one the run's records name (SHA-256), are refused
(BenchError) unless ``allow_different_weights``; values from unpublished files are labelled
``(other weights)`` in the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench.errors import BenchError
from bench.outputs import read_pair_table
from bench.provenance import OTHER_WEIGHTS, other_weights, other_weights_notes, weights_difference
from bench.records import KIND_METRIC, Record, read_records
from bench.stats import JOINT_BOOTSTRAP, Comparison, paired_comparison, paired_set_comparison


def read_pair_values(path: Path) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``per_pair/<model>.csv`` -> (pair indices, {key: values}); empty cells are NaN."""
    table = read_pair_table(path)
    return (np.asarray(table.index, dtype=np.int64),
            {k: np.asarray(v, dtype=np.float64) for k, v in table.values.items()})


def resolve_models(run_dir: Path, names) -> tuple[str, ...]:
    """``names`` as the run's models (:func:`bench.selection.model_of_run`: a results folder by
    its NAME, a registry model by any alias); UnknownNameError with did-you-mean otherwise."""
    from bench.selection import model_of_run, models_of_run

    models = models_of_run(run_dir)
    return tuple(model_of_run(n, models, "compare --models") for n in names)


def compare_run(run_dir: Path, model_a: str, model_b: str, *, keys=None, resamples: int = 10000,
                alpha: float = 0.05, seed: int = 0, level: float = 0.95,
                allow_different_weights: bool = False) -> dict[str, Comparison]:
    run_dir = Path(run_dir)
    model_a, model_b = resolve_models(run_dir, (model_a, model_b))
    idx_a, val_a = read_pair_values(run_dir / "per_pair" / f"{model_a}.csv")
    idx_b, val_b = read_pair_values(run_dir / "per_pair" / f"{model_b}.csv")
    common = [k for k in val_a if k in val_b]
    if keys is not None:
        missing = [k for k in keys if k not in common]
        if missing:
            raise BenchError(
                f"no per-pair values of {', '.join(missing)} for both {model_a} and {model_b} in "
                f"{run_dir / 'per_pair'} (available: {', '.join(common) or 'none'})"
            )
        common = list(keys)
    if not allow_different_weights:
        check_same_weights(run_dir, model_a, model_b, common)
    order_a = np.argsort(idx_a, kind="stable")
    order_b = np.argsort(idx_b, kind="stable")
    if not np.array_equal(idx_a[order_a], idx_b[order_b]):
        raise BenchError(f"{model_a} and {model_b} were not scored on the same pairs in {run_dir}")
    return {
        key: paired_comparison(val_a[key][order_a], val_b[key][order_b], resamples=resamples,
                               seed=seed, level=level, alpha=alpha)
        for key in common
    }


ALLOW_HINT = ("pass --allow-different-weights to compare them anyway, or leave the key out "
              "with --metrics")


def check_same_weights(run_dir: Path, model_a: str, model_b: str, keys) -> None:
    """BenchError when a key's values of the two models were computed with different
    pretrained files (as their records say)."""
    recorded = _recorded(run_dir)
    for key in keys:
        ra, rb = recorded.get((model_a, key)), recorded.get((model_b, key))
        why = (weights_difference(ra, rb, (model_a, model_b))
               if ra is not None and rb is not None else None)
        if why is not None:
            raise BenchError(f"{key} of {model_a} and {model_b} in {run_dir} were computed with "
                             f"different weights ({why}): not comparable; {ALLOW_HINT}")


def _weights_lines(recorded: dict[tuple[str, str], Record], models, keys) -> list[str]:
    """Footnotes on values computed with unpublished weights, for the compared keys."""
    chosen = [r for (m, k), r in recorded.items() if m in models and k in keys]
    return [f"  note: {n}" for n in other_weights_notes(chosen)]


def _labelled(key: str, recorded: dict[tuple[str, str], Record], models) -> str:
    used = any(other_weights(recorded[(m, key)]) for m in models if (m, key) in recorded)
    return f"{key} ({OTHER_WEIGHTS})" if used else key


def _directions(run_dir: Path | None) -> dict[str, bool]:
    if run_dir is None or not (Path(run_dir) / "records.jsonl").is_file():
        return {}
    return {r.key: r.higher_is_better for r in read_records(Path(run_dir) / "records.jsonl")
            if r.kind == KIND_METRIC and r.higher_is_better is not None}


def _comparison_line(key: str, c: Comparison, model_a: str, model_b: str,
                     higher: dict[str, bool], metric_key: str | None = None) -> str:
    """One line per key; ``key`` is the label shown, ``metric_key`` the record key (default
    ``key``) whose direction decides which model is better."""
    metric_key = key if metric_key is None else metric_key
    if np.isnan(c.p_value):
        return f"  {key}: not comparable ({c.n} pairs with values for both)"
    verdict = "significant" if c.significant else "not significant"
    better = ""
    if c.significant and metric_key in higher:
        a_better = (c.difference > 0) == higher[metric_key]
        better = f", {model_a if a_better else model_b} better"
    resamples = f", {c.resamples} resamples" if c.method == JOINT_BOOTSTRAP else ""
    return (
        f"  {key}: {c.mean_a:.6g} vs {c.mean_b:.6g}, difference {c.difference:+.6g} "
        f"[{c.interval[0]:+.6g}, {c.interval[1]:+.6g}] ({100 * c.level:g}%), "
        f"p = {c.p_value:.4g}, n = {c.n}{resamples}: {verdict} at {c.alpha:g}{better}"
    )


def format_comparisons(model_a: str, model_b: str, results: dict[str, Comparison],
                       run_dir: Path | None = None) -> str:
    higher = _directions(run_dir)
    lines = [f"{model_a} - {model_b} on the same pairs (paired bootstrap interval, sign-flip test)"]
    models = (model_a, model_b)
    recorded = _recorded(run_dir) if run_dir is not None else {}
    lines.extend(_comparison_line(_labelled(key, recorded, models), c, model_a, model_b, higher,
                                  key) for key, c in results.items())
    lines.extend(_weights_lines(recorded, models, results))
    return "\n".join(lines)


# -- set-level metrics (IS, mask-IS, FID, KID): recomputed from what the run saved ----------

NO_IMAGES = (
    "the run was made with --no-images: the generated images it scored were not saved, and "
    "set-level metrics are recomputed from them; rerun without --no-images to compare them"
)


def read_run_config(run_dir: Path) -> dict:
    """``results/<run>/config.json``; BenchError if absent or unreadable."""
    path = Path(run_dir) / "config.json"
    if not path.is_file():
        raise BenchError(f"no run configuration at {path}: is {run_dir} a run folder?")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: not readable as JSON ({exc})") from None


def _set_level_keys_of(metric_names) -> dict[str, str]:
    """{result key: metric name} of the set-level metrics among ``metric_names``."""
    from bench.metrics import METRICS

    out = {}
    for name in metric_names:
        if name not in METRICS:
            continue
        cls = METRICS.get(name)
        if not cls.per_pair:
            for key in cls.keys or (cls.name,):
                out[key] = name
    return out


def split_keys(run_dir: Path, keys=None) -> tuple[tuple[str, ...] | None, tuple[str, ...]]:
    """(per-pair keys or None for all of them, set-level keys) of ``--metrics`` for a run.

    Without ``keys``: every per-pair key and every set-level metric the run computed. A key
    naming a set-level metric the run did not compute is an error."""
    config_path = Path(run_dir) / "config.json"
    run_metrics = (read_run_config(run_dir).get("metrics") or []) if config_path.is_file() else []
    in_run = _set_level_keys_of(run_metrics)
    if keys is None:
        return None, tuple(in_run)
    per_pair, set_level = [], []
    for key in keys:
        if key in in_run:
            set_level.append(key)
        elif _set_level_keys_of([key]):
            raise BenchError(
                f"{key} is a set-level metric that run {run_dir} did not compute (its metrics: "
                f"{', '.join(run_metrics) or 'unknown'}); rerun with --metrics including {key}"
            )
        else:
            per_pair.append(key)
    return tuple(per_pair), tuple(set_level)


@dataclass
class SetLevelResult:
    """Paired comparisons of the set-level metrics of two models (``a - b``)."""

    comparisons: dict[str, Comparison] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)  # key -> reason
    notes: list[str] = field(default_factory=list)
    n: int = 0  # pairs both models were scored on here
    left_out: int = 0  # evaluated pairs of the run left out (no image for a model, unreadable)
    resamples: int = 0
    seed: int = 0
    alpha: float = 0.05
    level: float = 0.95


def _locate_run_dataset(run_dir: Path, config: dict, data_root: Path | None):
    """The run's dataset split: the folder config.json names, or ``data_root`` (moved)."""
    from bench.data import DATASETS
    from bench.data.datasets import locate_files

    root = data_root if data_root is not None else config.get("data_root")
    how = "--data-root" if data_root is not None else f"data_root of {run_dir / 'config.json'}"
    if root is None:
        raise BenchError(f"{run_dir / 'config.json'} names no data_root: pass --data-root DIR")
    try:
        spec = DATASETS.get(config["dataset"])
        return locate_files(spec, Path(root), how, config.get("split", "test"))
    except BenchError as exc:
        raise BenchError(
            f"set-level metrics are recomputed from the run's dataset, which is not usable: "
            f"{exc}\n(pass --data-root DIR if it moved, or --set-resamples 0 to compare the "
            "per-pair metrics only)") from None


def _pairs_of_run(run_dir: Path, config: dict, files):
    """The split and the run's evaluated pairs, re-selected from the dataset on disk; refuses
    when their hash differs from the run's."""
    from bench.data import load_split
    from bench.data.split import pairs_sha256

    split = load_split(files)
    pairs = split.select(limit=config.get("limit"), subset=config.get("subset"),
                         seed=config.get("seed", 0))
    digest = pairs_sha256(pairs)
    recorded = config.get("pairs_sha256", "")
    if digest != recorded:
        raise BenchError(
            f"the dataset at {files.root} no longer gives run {run_dir.name}'s pairs: pairs "
            f"sha256 {digest[:12]} ({len(pairs)} pairs) now, {recorded[:12]} "
            f"({config.get('n_pairs', '?')} pairs) in {run_dir / 'config.json'}. Set-level "
            "metrics are recomputed against the dataset's target images, so they would not be "
            "the run's; point --data-root at the dataset the run used, or pass "
            "--set-resamples 0 to compare the per-pair metrics only")
    size = config.get("image_size")
    if size is not None and tuple(size) != tuple(files.size):
        raise BenchError(
            f"the dataset at {files.root} now has {files.size[0]}x{files.size[1]} images, the run "
            f"scored {size[0]}x{size[1]}: point --data-root at the dataset the run used")
    return split, pairs, digest


@dataclass
class SetLevelJob:
    """Checked inputs of a set-level comparison; :meth:`run` extracts features and compares."""

    run_dir: Path
    models: tuple[str, str]
    keys: tuple[str, ...]
    resamples: int
    seed: int
    level: float
    alpha: float
    unavailable: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    split: object = None
    pairs: tuple = ()  # the pairs to score (both models have an image)
    left_out: int = 0
    protocol: object = None
    metrics: tuple[list, list] = field(default_factory=lambda: ([], []))  # available, a and b
    batch_size: int = 32
    workers: int = 2

    def _unavailable(self, reason: str) -> SetLevelJob:
        self.unavailable = {k: reason for k in self.keys}
        self.metrics = ([], [])
        return self

    def run(self, progress: bool = False) -> SetLevelResult:
        from bench.data.loader import iter_batches
        from bench.progress import Progress

        result = SetLevelResult(unavailable=dict(self.unavailable), notes=list(self.notes),
                                left_out=self.left_out, resamples=self.resamples,
                                seed=self.seed, alpha=self.alpha, level=self.level)
        metrics_a, metrics_b = self.metrics
        if not metrics_a:
            return result
        size = tuple(self.split.files.size)
        padded = self.split.files.spec.padded_width
        folders = [self.run_dir / "images" / m for m in self.models]
        bar = Progress(total=len(self.pairs), desc="set-level features", enabled=progress)
        try:
            for batch, errors in iter_batches(self.split, self.pairs, self.batch_size,
                                              self.workers, sources=False):
                result.left_out += len(errors)  # a target image unreadable now
                if batch is not None:
                    for folder, metrics in zip(folders, self.metrics, strict=True):
                        fake = _read_generated(folder, batch.pairs, size)
                        fake, prepared = self.protocol.prepare(fake, batch, padded)
                        for metric in metrics:
                            metric.update(fake, prepared)
                bar.update((len(batch) if batch is not None else 0) + len(errors))
        finally:
            bar.close()
        result.n = metrics_a[0].n_items()
        if result.left_out:
            result.notes.append(
                f"{result.left_out} of the run's pairs left out (no saved image for a model, or "
                "a target image unreadable): values differ from the run's table")
        counter = Progress(total=self.resamples * len(metrics_a), desc="resamples",
                           enabled=progress, unit="resample")
        try:
            for ma, mb in zip(metrics_a, metrics_b, strict=True):
                keys = [k for k in ma.result_keys() if k in self.keys]
                try:
                    full_a, full_b = ma.compute(), mb.compute()

                    def statistic_a(positions, ma=ma):
                        counter.update(1)
                        return ma.compute_on(positions)

                    found = paired_set_comparison(
                        statistic_a, mb.compute_on, result.n, full_a, full_b,
                        resamples=self.resamples, seed=self.seed, level=self.level,
                        alpha=self.alpha)
                except Exception as exc:  # one metric failing keeps the others
                    for key in keys:
                        result.unavailable[key] = f"failed: {type(exc).__name__}: {exc}"
                    continue
                for key in keys:
                    result.comparisons[key] = found[key]
                result.notes.extend(self._consistency(ma, mb, full_a, full_b, result))
        finally:
            counter.close()
        result.comparisons = {k: result.comparisons[k] for k in self.keys
                              if k in result.comparisons}
        return result

    def _consistency(self, ma, mb, full_a, full_b, result: SetLevelResult) -> list[str]:
        """Notes where a recomputed value is not the one the run recorded."""
        notes = []
        extra = ma.summary_extra()
        if "reference" in extra:
            real = ("real set of FID/KID: "
                    + ("the target images of the same pairs" if extra["reference"] == "targets"
                       else "the training-image folder (the same for both models)")
                    + f"; real features: cache {extra.get('real_cache', '')}")
            if real not in result.notes:
                notes.append(real)
        recorded = _recorded(self.run_dir)
        extractor = extra.get("extractor")
        for model, values in zip(self.models, (full_a, full_b), strict=True):
            for key, value in values.items():
                rec = recorded.get((model, key))
                if rec is None or rec.value is None or result.left_out:
                    continue
                ran_with = rec.extra.get("extractor")
                if ran_with and extractor and ran_with != extractor:
                    notes.append(f"{key} of {model}: the run used {ran_with}, this comparison "
                                 f"{extractor}: its values are not the run's")
                elif abs(value - rec.value) > 1e-3 * max(1.0, abs(rec.value)):
                    notes.append(
                        f"{key} of {model}: recomputed {value:.6g}, the run recorded "
                        f"{rec.value:.6g}: the saved images or the dataset changed since the run")
        return notes


def _recorded(run_dir: Path) -> dict[tuple[str, str], Record]:
    path = Path(run_dir) / "records.jsonl"
    if not path.is_file():
        return {}
    return {(r.model, r.key): r for r in read_records(path) if r.kind == KIND_METRIC}


def _read_generated(folder: Path, pairs, size: tuple[int, int]) -> np.ndarray:
    from bench.data.loader import read_image
    from bench.outputs import image_file_name

    images = []
    for pair in pairs:
        path = folder / image_file_name(pair)
        try:
            images.append(read_image(path, size))
        except ValueError as exc:
            raise BenchError(f"{path}: {exc}") from None
    return np.stack(images)


def prepare_set_level(
    run_dir: Path, model_a: str, model_b: str, keys=None, *, data_root: Path | None = None,
    weights=(), offline: bool = False, stats_cache: Path | None = None, use_cache: bool = True,
    device: str = "cpu", resamples: int | None = None, seed: int = 0, level: float = 0.95,
    alpha: float = 0.05, allow_different_weights: bool = False,
) -> SetLevelJob:
    """Check everything a set-level comparison needs before any work: the run's configuration
    and saved images, the dataset (pairs hash: BenchError when it no longer matches) and the
    metrics' weights (``weights``: (network, path) overriding the run's; ``offline`` or a run
    made offline: never download). What cannot be computed is in ``job.unavailable``.
    Weights found now that are not the files the run's records name (SHA-256) are refused
    (BenchError) unless ``allow_different_weights``."""
    from bench.api import build_metrics, metric_settings
    from bench.config import RunConfig
    from bench.metrics import METRICS
    from bench.metrics.base import UnavailableMetric
    from bench.metrics.settings import MetricSettings, with_settings
    from bench.outputs import image_file_name
    from bench.protocols import PROTOCOLS
    from bench.weights import WEIGHTS

    run_dir = Path(run_dir)
    config = read_run_config(run_dir)
    model_a, model_b = resolve_models(run_dir, (model_a, model_b))
    names = _set_level_keys_of(config.get("metrics") or [])
    keys = tuple(names) if keys is None else tuple(keys)
    job = SetLevelJob(run_dir=run_dir, models=(model_a, model_b), keys=keys,
                      resamples=MetricSettings.bootstrap_set if resamples is None else resamples,
                      seed=seed, level=level, alpha=alpha,
                      batch_size=int(config.get("batch_size") or 32),
                      workers=int(config.get("decode_threads") or config.get("workers") or 2))
    if not keys:
        return job
    if not config.get("save_images", True):
        return job._unavailable(NO_IMAGES)
    protocol = PROTOCOLS.get(config.get("protocol") or "patn")
    job.protocol = protocol
    if protocol.gt_from_results:
        return job._unavailable(
            f"protocol {protocol.name} scores each model against its own result files' target "
            "panels, which the run does not keep; set-level metrics are compared under the "
            "protocols whose ground truth is the dataset images")
    folders = [run_dir / "images" / m for m in (model_a, model_b)]
    for folder in folders:
        if not folder.is_dir():
            return job._unavailable(f"no saved images in {folder}")
    files = _locate_run_dataset(run_dir, config, data_root).with_image_naming(
        protocol.image_naming)
    split, pairs, digest = _pairs_of_run(run_dir, config, files)
    kept = tuple(p for p in pairs if split.pair_problem(p) is None
                 and all((f / image_file_name(p)).is_file() for f in folders))
    job.split, job.pairs, job.left_out = split, kept, len(pairs) - len(kept)
    if len(kept) < 2:
        return job._unavailable(
            f"only {len(kept)} of the run's {len(pairs)} pairs have a saved image of both models")

    explicit = {WEIGHTS.canonical(n): str(p) for n, p in (config.get("weights") or {}).items()}
    explicit.update({WEIGHTS.canonical(n): str(p) for n, p in weights})
    train = config.get("train_folder")
    run_config = RunConfig(
        models=(model_a, model_b), dataset=config["dataset"], protocol=protocol.name,
        device=device, weights=tuple(explicit.items()),
        offline=bool(offline or config.get("offline", False)),
        stats_cache=Path(stats_cache) if stats_cache is not None else (
            Path(config["stats_cache"]) if config.get("stats_cache") else None),
        use_cache=use_cache, train_folder=Path(train) if train else None,
        batch_size=job.batch_size, bootstrap=0,
    )
    shared = with_settings({}, metric_settings(run_config, protocol, files, pairs, digest,
                                                     split))
    classes = [METRICS.get(name) for name in dict.fromkeys(names[k] for k in keys)]
    built = [build_metrics(classes, shared, model) for model in (model_a, model_b)]
    available: tuple[list, list] = ([], [])
    for ma, mb in zip(*built, strict=True):
        reason = next((m.reason for m in (ma, mb) if isinstance(m, UnavailableMetric)), None)
        if reason is not None:
            for key in ma.result_keys():
                if key in keys:
                    job.unavailable[key] = reason
            continue
        differs = _weights_now_vs_run(run_dir, (model_a, model_b), ma, keys)
        if differs is not None:
            if not allow_different_weights:
                raise BenchError(f"{differs}: the recomputed values would not be the run's; "
                                 f"pass --weights NETWORK=FILE of the run's file, or "
                                 f"{ALLOW_HINT}")
            job.notes.append(f"{differs}; compared as asked (--allow-different-weights)")
        available[0].append(ma)
        available[1].append(mb)
    job.metrics = available
    return job


def _weights_now_vs_run(run_dir: Path, models, metric, keys) -> str | None:
    """Why the files ``metric`` was built with now are not those the run's records name, or
    None (same files, or a run that recorded none)."""
    now = {n: e["sha256"] for n, e in metric.weights_used().items()}
    recorded = _recorded(Path(run_dir))
    for model in models:
        for key in metric.result_keys():
            rec = recorded.get((model, key))
            if key not in keys or rec is None:
                continue
            ran = {n: e.get("sha256") for n, e in (rec.extra.get("weights") or {}).items()}
            if ran and ran != now:
                parts = [f"{n} {str(ran.get(n))[:8]} in the run, {str(now.get(n))[:8]} now"
                         for n in sorted(set(ran) | set(now)) if ran.get(n) != now.get(n)]
                return f"{key} of {model}: different weights ({', '.join(parts)})"
    return None


def format_set_level(model_a: str, model_b: str, result: SetLevelResult,
                     run_dir: Path | None = None) -> str:
    higher = _directions(run_dir)
    if result.comparisons:
        lines = [
            f"{model_a} - {model_b}, set-level metrics recomputed from the saved images on the "
            f"same {result.n} pairs (joint bootstrap over pairs: {result.resamples} resamples, "
            f"seed {result.seed}, each drawn once for both models and the real set; percentile "
            "interval, two-sided bootstrap p-value)"
        ]
    else:
        lines = [f"{model_a} - {model_b}, set-level metrics"]
    models = (model_a, model_b)
    recorded = _recorded(run_dir) if run_dir is not None else {}
    for key, c in result.comparisons.items():
        lines.append(_comparison_line(_labelled(key, recorded, models), c, model_a, model_b,
                                      higher, key))
    for key, reason in result.unavailable.items():
        lines.append(f"  {key}: unavailable: {reason}")
    floor = 2 / (result.resamples + 1) if result.resamples else 1.0
    if result.comparisons and floor >= result.alpha:
        lines.append(
            f"  note: with {result.resamples} resamples the smallest p-value is {floor:.3g}, not "
            f"below {result.alpha:g}: no difference can be significant; raise --set-resamples")
    lines.extend(f"  note: {n}" for n in result.notes)
    lines.extend(_weights_lines(recorded, models, result.comparisons))
    return "\n".join(lines)
