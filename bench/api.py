"""The library entry points the CLI is a thin shell over: ``run``, ``merge`` and ``check_dataset``.

    from bench.api import run
    from bench.config import RunConfig
    result = run(RunConfig(models=("oracle", "source", "warp"), limit=64, out=Path("results/x")))
    result.run_dir / "records.jsonl"
    result.values[("warp", "ssim")]        # raw value; same as in the records
    run(config, resume=Path("results/x"))  # finish an interrupted run (same configuration)

A run is plan -> units -> merge (:mod:`bench.plan`, :mod:`bench.evaluation`, :mod:`bench.merge`).
Order of work: names resolved, dataset located and validated, models built, the run folder
opened - everything that can fail on bad input fails here, before the first pair is generated.
Then the pairs are cut into work units (whole batches, boundaries independent of the number of
processes); each unit streams its pairs through every model and metric once and is written to
``units/`` as one file; a pair that cannot be loaded, generated or scored becomes an error
record while the rest of the run completes. The merge reads every unit in pair order and writes
the records and per-pair tables.

Under ``torchrun`` (or ``python -m bench run --workers N``) each process evaluates units
k mod W and rank 0 merges (:mod:`bench.distributed`); the values are those of one process,
bit for bit. A unit already on disk is not recomputed when the run is resumed.

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

import dataclasses
import datetime as _dt
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.config import RunConfig
from bench.data import load_split, locate
from bench.data.annotations import read_pairs
from bench.data.datasets import image_size
from bench.data.split import Split, pairs_sha256
from bench.device_batch import batch_sizes, blank_batch
from bench.distributed import World, join
from bench.env import collect_env, git_sha
from bench.errors import (
    BenchError,
    MetricUnavailableError,
    WeightsUnavailableError,
)
from bench.estimate import estimate_generation, long_run_notice
from bench.evaluation import ModelRun, UnitEvaluator, seed_torch
from bench.files import write_atomic
from bench.merge import Merger, check_labels
from bench.metrics import METRICS
from bench.metrics.base import UnavailableMetric
from bench.metrics.settings import MetricSettings, with_settings
from bench.models import GENERATORS, ModelSpec
from bench.models.base import UNTRAINED, Weights
from bench.outputs import RunOutputs, prepare_run_dir
from bench.plan import Plan, differences
from bench.precision import FP32, has_network, model_precision
from bench.progress import Progress
from bench.protocols import PROTOCOLS, Protocol
from bench.records import (
    KIND_EFFICIENCY,
    KIND_METRIC,
    Record,
    RecordWriter,
)
from bench.stages import add_stages, describe
from bench.types import Metric, Pair
from bench.units import UnitResult, complete_units, read_unit, write_unit

DEFAULT_TIMEOUT_S = 1800  # collectives of a multi-process run (--dist-timeout)


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


class UnitFailedError(BenchError):
    """A process of a multi-process run failed: its rank, the unit and the error."""


class PeerFailedError(BenchError):
    """Another process of the run failed (it said why); this one stops without merging."""


@dataclass
class RunContext:
    """What the units and the merge of one run share (this process's view)."""

    config: RunConfig  # resolved, as hashed (device as given: "cuda" under torchrun)
    device: str  # this process's device ("cuda:LOCAL_RANK" under torchrun)
    split: Split
    plan: Plan
    protocol: Protocol
    models: list[ModelRun]
    settings: MetricSettings
    shared: dict
    ground_truth: str
    outputs: RunOutputs | None = None
    built: list = field(default_factory=list)  # (name, generator): the estimate's input
    lines: list[str] = field(default_factory=list)  # said before the work (rank 0)


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def make_run_id(dataset: str, pairs_hash: str) -> str:
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{dataset}-{pairs_hash[:8]}"


def _check_device(device: str) -> None:
    if device == "cpu":
        return  # always there (and a run of results folders need not import torch to say so)
    import torch

    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        available = "cuda is available" if torch.cuda.is_available() else "only cpu is available"
        raise BenchError(f"--device {device!r} cannot be used here ({available}): {exc}") from None


def _build_models(config: RunConfig, size: tuple[int, int], protocol: Protocol | None = None,
                  device: str | None = None) -> list[tuple[str, object]]:
    built = []
    for name in config.models:
        checkpoint = config.checkpoint_for(name)
        untrained = checkpoint is not None and str(checkpoint) == UNTRAINED
        spec = ModelSpec(
            name=name, size=size, dataset=config.dataset, device=device or config.device,
            checkpoint=None if untrained else checkpoint, untrained=untrained, seed=config.seed,
        )
        folder = config.folder_for(name)
        if folder is not None:
            from bench.models.folder import FolderModel

            # a protocol with a stated frame scores files of that frame only: no centre crop
            # of 256-wide panels (DPTN resized its outputs, it did not crop them)
            crop = protocol is None or not protocol.frames
            built.append((name, FolderModel(spec, folder, workers=config.decode_threads,
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


def _warm_up(metric_classes) -> None:
    """Load the compiled kernels (decoding, the SSIM family, the pose masks) in a thread while
    the run prepares, so the first unit does not wait for them; a failure is left to the real
    call, which says what is wrong."""
    from bench.data.decode import warm_up as decoding

    hooks = [decoding, *(c.warm_up for c in metric_classes
                         if callable(getattr(c, "warm_up", None)))]

    def run() -> None:
        for hook in hooks:
            try:
                hook()
            except Exception:  # noqa: BLE001, S110 - only a warm-up
                pass

    threading.Thread(target=run, name="warm-up", daemon=True).start()


def _silent(_line: str) -> None:
    pass


# -- plan -----------------------------------------------------------------------------------


def prepare(config: RunConfig, device: str, echo: Callable[[str], None] = print,
            progress: bool = True, generators: bool = True) -> RunContext:
    """Everything before the first pair: dataset, pairs and plan, models and metrics
    (``generators=False``: metrics only, for a merge of unit files)."""
    protocol = PROTOCOLS.get(config.protocol)
    metric_classes = [METRICS.get(m) for m in config.metrics]
    _warm_up(metric_classes)
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
    plan = Plan.of(config, pairs, pairs_hash, files.size)

    _check_device(device)
    seed_torch(config.seed, needed=any(config.folder_for(m) is None for m in config.models))
    built = _build_models(config, files.size, protocol, device) if generators else []
    lines: list[str] = []
    for name, gen in built:
        if getattr(gen, "sees_pairs", False):
            plan_files = getattr(gen, "plan", None)  # optional: learn the pair list before work
            for line in (plan_files(pairs) if callable(plan_files) else None) or ():
                echo(line)
            if results_only and not getattr(gen, "has_target", False):
                raise BenchError(
                    f"folder:{name}: its files hold no ground-truth panel ({gen.layout.describe()}); "
                    f"protocol {protocol.name!r} scores against the strips' target panels: use "
                    "--protocol patn (dataset images), or target=I if a panel holds the target"
                )

    settings = metric_settings(dataclasses.replace(config, device=device), protocol, files,
                               pairs, pairs_hash, split)
    shared: dict = with_settings({}, settings)
    sizes = batch_sizes(shared)  # each network's chunk of a batch: chosen as it is built
    models = []
    reasons: dict[str, list[str]] = {}  # reason -> metric names
    other: dict[tuple[str, str, str], list[str]] = {}  # unpublished weights file -> metric names
    generators_by_name = dict(built)
    for name in config.models:
        gen = generators_by_name.get(name)
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
        models.append(ModelRun(
            name=name, generator=gen, metrics=metrics, weights=weights,
            reference_bound=bool(getattr(provenance, "reference_bound", False)),
            extra=dict(record_extra()) if callable(record_extra) else {},
            precision=model_precision(gen, config.precision),
        ))
        if has_network(gen):
            models[-1].network_batch = sizes.of(name, _generation_probe(models[-1], files.size,
                                                                        device))
    lines.extend(f"  {line}" for line in unavailable_summary(reasons))
    if sizes.probes or sizes.given is not None:
        lines.append(f"  network batches of the {config.batch}-pair batches: {sizes.summary()}")
    for (network, file, sha), names in other.items():
        lines.append(f"  other weights: {', '.join(names)} computed with {network} {file} "
                     f"(sha256 {sha[:8]}), not the published file: values labelled (other weights)")
    ground_truth = ("results: each file's own target panel" if protocol.gt_from_results
                    else "dataset images")
    if split.renamed:
        ground_truth = f"dataset images; {ground_truth_files(split)}"
    return RunContext(config=config, device=device, split=split, plan=plan, protocol=protocol,
                      models=models, settings=settings, shared=shared,
                      ground_truth=ground_truth, built=built, lines=lines)


def _generation_probe(run: ModelRun, size: tuple[int, int], device: str):
    """``k -> run.generator`` generating ``k`` blank pairs of ``size`` (the device probe)."""
    from bench.evaluation import generate

    return lambda k: generate(run.generator, blank_batch(k, size), device, run.precision)


def _config_json(ctx: RunContext, run_id: str) -> dict:
    files = ctx.split.files
    return {"run_id": run_id, **ctx.config.to_dict(),
            "pairs_sha256": ctx.plan.configuration["pairs_sha256"], "n_pairs": len(ctx.plan.pairs),
            "image_size": list(files.size), "data_root": str(files.root),
            "dataset_images": not ctx.protocol.gt_from_results,
            "plan": {"config_hash": ctx.plan.config_hash, "unit_pairs": ctx.plan.unit_size,
                     "units": len(ctx.plan.units()), "configuration": ctx.plan.configuration}}


def _read_config_json(run_dir: Path) -> dict:
    path = Path(run_dir) / "config.json"
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise BenchError(f"{run_dir} holds no run to resume or merge (no config.json): give the "
                         "folder a run was written to (results/<run_id>)") from None
    except (OSError, ValueError) as exc:
        raise BenchError(f"{path}: unreadable ({exc})") from None


def _saved_run(run_dir: Path) -> dict:
    """A run folder's config.json, of a version that cut runs into work units."""
    data = _read_config_json(run_dir)
    if "plan" not in data:
        raise BenchError(f"{run_dir}: a run of a version without work units; it cannot be "
                         "resumed or merged (start it again)")
    return data


def saved_config(run_dir: Path) -> RunConfig:
    """The configuration a run folder was started with (its ``config.json``)."""
    data = _saved_run(run_dir)
    # the settings as given (config.json's top-level data_root is the folder found)
    return RunConfig.from_dict({**data, **data["plan"]["configuration"], "out": str(run_dir)})


def _check_resume(run_dir: Path, ctx: RunContext) -> None:
    saved = _saved_run(run_dir)["plan"]
    if saved["config_hash"] != ctx.plan.config_hash:
        changed = differences(saved.get("configuration", {}), ctx.plan.configuration)
        raise BenchError(
            f"{run_dir} was run with another configuration; resuming would mix results. "
            f"Differences (saved -> now): {'; '.join(changed) or 'none named (hash differs)'}. "
            "Resume with the run's own settings (python -m bench run --resume DIR takes them "
            "from its config.json), or start a new run with --out")


def _env_json(config: RunConfig, world: World | None, results: list[UnitResult] | None = None
              ) -> dict:
    env = collect_env(config.device)
    env.update(world_size=world.size if world else 1,
               nodes=int(os.environ.get("GROUP_WORLD_SIZE", "1")) if world else 1,
               backend=world.backend if world else None)
    if results:
        ranks: dict[tuple, dict] = {}
        for r in results:
            who = r.who
            key = (who.get("session"), who.get("rank"))
            entry = ranks.setdefault(key, {k: who.get(k) for k in
                                           ("rank", "world_size", "host", "device", "git_sha",
                                            "session", "network_batches")}
                                       | {"units": [], "stages": {}})
            entry["units"].append(r.unit.index)
            entry["stages"] = add_stages([entry["stages"], who.get("stages")])
        env["ranks"] = list(ranks.values())
        shas = sorted({str(r.who.get("git_sha")) for r in results})
        if len(shas) > 1:
            env["units_git_sha"] = shas
    return env


# -- run ------------------------------------------------------------------------------------


def run(
    config: RunConfig,
    *,
    resume: Path | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> RunResult:
    """Evaluate ``config.models`` on a dataset; writes results/<run_id>/ and returns the records
    (under torchrun: rank 0 returns them, the other ranks a result without records).
    ``resume``: a run folder of the same configuration whose complete units are kept."""
    config = config.resolved()
    world = join(config.device, timeout_s)
    try:
        return _run(config, world, resume, progress, echo)
    finally:
        if world is not None:
            world.leave()


def _together(world: World | None, step: Callable[[], object], what: str):
    """Run ``step`` on this rank; if any rank failed, every rank stops (no one waits)."""
    if world is None:
        return step()
    error: BaseException | None = None
    try:
        value = step()
    except (Exception, KeyboardInterrupt) as exc:  # noqa: BLE001 - passed on below
        error = exc
    failed = world.failed_ranks(error is not None)
    if error is not None:
        if world.rank != 0 and 0 in failed and isinstance(error, BenchError):
            # rank 0 failed as well (the same bad input, as a rule) and says why
            raise PeerFailedError(f"rank {world.rank}: {error}") from error
        raise error
    if failed:
        raise PeerFailedError(f"rank {', '.join(map(str, failed))} failed while {what} (its "
                              "message is above); nothing was computed")
    return value


def _run(config: RunConfig, world: World | None, resume: Path | None, progress: bool,
         echo: Callable[[str], None]) -> RunResult:
    main = world is None or world.main
    if not main:
        echo, progress = _silent, False
    device = world.device if world is not None else config.device
    ctx = _together(world, lambda: prepare(config, device, echo, progress), "preparing")

    def open_run_dir() -> Path:
        if not main:
            return Path()
        if resume is not None:
            run_dir = Path(resume)
            _check_resume(run_dir, ctx)
        else:
            run_id = make_run_id(ctx.split.files.name, ctx.plan.configuration["pairs_sha256"])
            run_dir = prepare_run_dir(config.out or Path("results") / run_id)
        (run_dir / "per_pair").mkdir(exist_ok=True)
        for stale in (run_dir / "units").glob(f"{FAILURE_PREFIX}*.txt"):
            stale.unlink()  # a resumed run starts without the failures of the last attempt
        files = {"config.json": _config_json(ctx, run_dir.name if resume or config.out
                                              else run_id),
                 "env.json": _env_json(config, world)}
        for name, data in files.items():
            if resume is None or name == "env.json":
                (run_dir / name).write_text(json.dumps(data, indent=2, default=str) + "\n")
        return run_dir

    run_dir = _together(world, open_run_dir, "opening the run folder")
    if world is not None:
        run_dir = Path(world.broadcast_text(str(run_dir)))
    run_id = run_dir.name
    ctx.outputs = RunOutputs(run_dir, config.models, config.save_images)

    units = ctx.plan.units()
    done = complete_units(run_dir, ctx.plan)
    todo = [u for u in units if u.index not in done]
    if world is not None:  # rank 0's view of the folder decides (file systems may lag)
        indices = world.broadcast_text(",".join(str(u.index) for u in todo))
        todo = [units[int(i)] for i in indices.split(",") if i]
    size = world.size if world is not None else 1
    rank = world.rank if world is not None else 0
    mine = todo[rank::size]
    for line in ctx.lines:
        echo(line)
    procs = f", {size} processes" if size > 1 else ""
    echo(f"run {run_id}: {len(ctx.plan.pairs)} pairs x {len(ctx.models)} models "
         f"({', '.join(config.models)}), protocol {ctx.protocol.name} v{ctx.protocol.version}"
         f"{procs} -> {run_dir}")
    autocast_models = [m.name for m in ctx.models if m.precision != FP32]
    if autocast_models:
        echo(f"precision: {config.precision} autocast for {', '.join(autocast_models)} "
             "(generation only; metric networks and the SSIM family stay float32)")
    if done:
        echo(f"resume: {len(done)} of {len(units)} units already complete, {len(todo)} to go")
    if main and todo:
        notice = long_run_notice(
            estimate_generation(ctx.built, ctx.split, ctx.plan.pairs, ctx.split.files.size,
                                device),
            sum(len(u) for u in todo), device, config.seed)
        if notice:
            echo(notice)

    who = {"rank": rank, "world_size": size, "host": socket.gethostname(), "device": device,
           "git_sha": git_sha()[0], "session": _now(),
           "network_batches": batch_sizes(ctx.shared).chosen()}
    evaluator = UnitEvaluator(ctx, who)
    interrupted = False
    failure: str | None = None
    partial: UnitResult | None = None
    start = time.perf_counter()
    bar = Progress(total=sum(len(u) for u in mine),
                   desc="pairs" if size == 1 else f"pairs (rank 0: {len(mine)} of {len(todo)} "
                                                   "units)", enabled=progress)
    current = None
    timed: list[dict] = []  # wall time per stage of the units this process evaluated
    resume_hint = f"python -m bench run --resume {run_dir}"
    evaluator.expect(mine)
    try:
        with _terminate_as_interrupt(world):
            for unit in mine:
                if world is not None and failures(run_dir):
                    break  # another rank failed: stop at a unit boundary
                current = unit
                result = evaluator.evaluate(unit, on_pairs=bar.update)
                timed.append(result.who["stages"])
                write_unit(run_dir, result)
                current = None
    except KeyboardInterrupt:
        interrupted = True
        if current is not None and size == 1:
            partial = evaluator.partial()
    except Exception as exc:  # a failing unit stops this rank; the others learn it below
        where = f"rank {rank} of {size} failed on " if size > 1 else "failed on "
        failure = (f"{where}{current.describe() if current else 'its units'}: "
                   f"{type(exc).__name__}: {' '.join(str(exc).split())}")
        if size == 1:
            raise UnitFailedError(f"{failure}. The units finished before it are kept; after "
                                  f"fixing the cause: {resume_hint}") from exc
        _say_failure(run_dir, rank, failure)
    finally:
        evaluator.close()
        bar.close()
        ctx.outputs.flush_images()
    elapsed = time.perf_counter() - start

    if world is not None:
        try:
            with _terminate_as_interrupt(world):
                failed = world.failed_ranks(interrupted or failure is not None)
        except (RuntimeError, KeyboardInterrupt) as exc:  # a process ended: the group is gone
            why = f" ({' '.join(str(exc).split())[:200]})" if str(exc) else ""
            error = PeerFailedError(f"rank {rank}: the run stopped before every process was "
                                    f"done{why}; the units written so far are kept. Resume "
                                    f"with any number of processes: {resume_hint}")
            error.printed = not main
            raise error from None
        if failed:
            if failure is not None:
                error = UnitFailedError(failure)
                error.printed = True
                raise error
            said = failures(run_dir)
            if said:
                error = PeerFailedError(f"{'; '.join(said)}. Nothing merged; the units "
                                        f"written so far are kept. After fixing the cause, "
                                        f"resume with any number of processes: {resume_hint}")
                error.printed = not main
                raise error
            if main:
                echo(f"\ninterrupted: the units written so far are kept; resume with: "
                     f"{resume_hint} (any number of processes)")
            return RunResult(run_dir=run_dir, run_id=run_id, records=[],
                             n_pairs=len(ctx.plan.pairs), interrupted=True)
        if not main:
            return RunResult(run_dir=run_dir, run_id=run_id, records=[],
                             n_pairs=len(ctx.plan.pairs))
    if interrupted:
        echo(f"\ninterrupted: writing what was computed; resume with: {resume_hint}")
    result = merge_run(ctx, run_dir, world, partial=partial, interrupted=interrupted)
    if config.efficiency and not interrupted:
        with RecordWriter(run_dir / "records.jsonl") as writer:
            emit = _emitter(ctx, run_id, writer, result.records)
            result.interrupted = not measure_efficiency(ctx.models, emit, config, device, echo)
    result.values = {(r.model, r.key): r.value for r in result.records
                     if r.kind == KIND_METRIC and r.value is not None}
    evaluated = sum(len(u) for u in todo)  # by every process
    echo(f"done in {elapsed:.1f} s ({evaluated / max(elapsed, 1e-9):.0f} pairs/s"
         f"{f' over {size} processes' if size > 1 else ''})")
    if timed:
        echo(f"  {'' if size == 1 else 'rank 0: '}{describe(add_stages(timed))}")
    return result


FAILURE_PREFIX = "failed-rank"


def _say_failure(run_dir: Path, rank: int, failure: str) -> None:
    """Print a rank's failure at once (the job may be torn down before anything else is
    said) and leave it in the run folder, where the other ranks look between units."""
    print(f"error: {failure}", file=sys.stderr, flush=True)
    write_atomic(run_dir / "units" / f"{FAILURE_PREFIX}{rank}.txt", failure.encode())


def failures(run_dir: Path) -> list[str]:
    """What failed ranks of this run said (empty: none failed)."""
    folder = run_dir / "units"
    if not folder.is_dir():
        return []
    return [p.read_text() for p in sorted(folder.glob(f"{FAILURE_PREFIX}*.txt"))]


class _terminate_as_interrupt:
    """Under torchrun, SIGTERM (the agent stopping the job after a process ended) is handled
    as Ctrl-C: the process says where the run stands instead of vanishing."""

    def __init__(self, world: World | None) -> None:
        self.world, self.previous = world, None

    def __enter__(self):
        import signal
        import threading

        if self.world is not None and threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGTERM, self._raise)
        return self

    @staticmethod
    def _raise(signum, frame):
        raise KeyboardInterrupt

    def __exit__(self, *exc) -> None:
        import signal

        if self.previous is not None:
            signal.signal(signal.SIGTERM, self.previous)


def _emitter(ctx: RunContext, run_id: str, writer: RecordWriter, into: list[Record]):
    base = dict(
        run_id=run_id, dataset=ctx.split.files.name, split=ctx.config.split,
        pairs_sha256=ctx.plan.configuration["pairs_sha256"], protocol=ctx.protocol.name,
        protocol_version=ctx.protocol.version, device=ctx.config.device,
        git_sha=into[0].git_sha if into else git_sha()[0],
    )

    def emit(**fields) -> Record:
        record = Record(**base, created=_now(), **fields)
        writer.write(record)
        into.append(record)
        return record

    return emit


def merge_run(ctx: RunContext, run_dir: Path, world: World | None = None, *,
              partial: UnitResult | None = None, interrupted: bool = False) -> RunResult:
    """Merge the unit files of ``run_dir`` (and an interrupted unit's ``partial`` result) into
    records.jsonl and per_pair/; refuses a set with a unit missing unless ``interrupted``."""
    units = ctx.plan.units()
    done = complete_units(run_dir, ctx.plan)
    missing = [u for u in units if u.index not in done
               and (partial is None or u.index != partial.unit.index)]
    if missing and not interrupted:
        shown = ", ".join(str(u.index) for u in missing[:10])
        raise BenchError(f"{run_dir}: {len(missing)} of {len(units)} units are missing ({shown}"
                         f"{' ...' if len(missing) > 10 else ''}); nothing merged. Compute them "
                         f"with: python -m bench run --resume {run_dir}")
    results = [read_unit(done[u.index], ctx.plan) for u in units if u.index in done]
    if partial is not None:
        results.append(partial)
    for model in ctx.models:
        if model.generator is None and results:  # a merge alone: the units name the weights
            saved = next((m for m in results[0].models if m.name == model.name), None)
            if saved is not None:
                model.weights = Weights(saved.labels["checkpoint"],
                                        saved.labels["checkpoint_sha256"])
                model.reference_bound = bool(saved.labels["reference_bound"])
                model.extra = dict(saved.extra)
                model.precision = saved.labels.get("precision", FP32)
    check_labels(ctx.models, results)
    records_path = run_dir / "records.jsonl"
    records_path.unlink(missing_ok=True)  # derived from the units: written afresh
    records: list[Record] = []
    for model in ctx.models:
        ctx.outputs.open_pair_table(model.name, model.pair_keys)
    try:
        with RecordWriter(records_path) as writer:
            Merger(ctx, _emitter(ctx, run_dir.name, writer, records)).merge(
                results, interrupted=interrupted)
    finally:
        ctx.outputs.close()
    env = _env_json(ctx.config, world, results)
    (run_dir / "env.json").write_text(json.dumps(env, indent=2, default=str) + "\n")
    return RunResult(run_dir=run_dir, run_id=run_dir.name, records=records,
                     n_pairs=len(ctx.plan.pairs), interrupted=interrupted)


def merge(run_dir: Path, *, progress: bool = True, echo: Callable[[str], None] = print
          ) -> RunResult:
    """``python -m bench merge RUN``: the records of a run from its unit files alone (after a
    sharded run whose rank 0 could not merge); the dataset and metric weights must be found
    as the run found them, the generators are not needed."""
    run_dir = Path(run_dir)
    config = saved_config(run_dir).resolved()
    device = config.device
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            device = "cpu"  # set-level metrics from the saved features; a training-folder real set
            echo("merge: no GPU here; anything the merge computes runs on the CPU")
    ctx = prepare(config, device, echo, progress, generators=False)
    _check_resume(run_dir, ctx)
    ctx.outputs = RunOutputs(run_dir, config.models, save_images=False)
    result = merge_run(ctx, run_dir)
    result.values = {(r.model, r.key): r.value for r in result.records
                     if r.kind == KIND_METRIC and r.value is not None}
    echo(f"merged {len(ctx.plan.units())} units of {run_dir}: {len(result.records)} records")
    return result


def unavailable_summary(reasons: dict[str, list[str]]) -> list[str]:
    """One short line per kind of reason (long reason -> metric names), said once before the
    work; the long reasons (every place looked in, how to provide the file) stay on the
    records, in the CSV and the HTML report."""
    from bench.report.reasons import said_once

    return [f"unavailable: {line}" for line in said_once(
        (name, reason) for reason, names in reasons.items() for name in names)]


def measure_efficiency(models: list[ModelRun], emit: Callable[..., Record], config: RunConfig,
                       device: str, echo: Callable[[str], None]) -> bool:
    """Efficiency records of each model after the quality evaluation (:mod:`bench.efficiency`:
    parameters and MACs; latency, throughput and memory with few iterations, each learned
    model in a fresh process). False if interrupted (what was measured is kept)."""
    from bench.efficiency.measurement import record_fields, training_free

    settings = None
    if any(has_network(r.generator) for r in models):
        from bench.efficiency.probe import EfficiencySettings, execution_modes

        # timed in the arithmetic the run generated in (keys @cpu-bf16: their own columns)
        settings = dataclasses.replace(EfficiencySettings.for_run(
            device, config.batch_size,
            modes=execution_modes(config.efficiency_cuda_graphs,
                                  config.efficiency_compile is not None),
            compile_mode=config.efficiency_compile or "default"), dtype=config.precision)
        echo("efficiency: parameters, MACs, latency, memory (--no-efficiency skips)")
    try:
        for run in models:
            if not has_network(run.generator):
                # training-free (results folders, oracle, source, warp): one record, no torch
                measured = [training_free(getattr(run.generator, "module", None), device)]
            else:
                from bench.efficiency.probe import measure_generator

                # throughput at the chunk the run generated in (bench.device_batch)
                batch = min(settings.throughput_batch, run.network_batch or 1 << 30)
                measured = measure_generator(
                    run.name, run.generator,
                    dataclasses.replace(settings, throughput_batch=batch), echo=echo)
            for m in measured:
                emit(**run.labels, **record_fields(m, device=False))
    except KeyboardInterrupt:
        echo("\ninterrupted during the efficiency measurements: keeping what was measured")
        return False
    return True


def metric_settings(config: RunConfig, protocol: Protocol, files, pairs, pairs_hash: str,
                    split: Split | None = None) -> MetricSettings:
    """What the metrics need to know about this run (bench.metrics.settings)."""
    padded = files.spec.padded_width if protocol.white_padding else None
    first: dict[str, int] = {}
    for position, pair in enumerate(pairs):
        first.setdefault(pair.tgt, position)
    targets = tuple(first)
    dataset_files = split is not None and not protocol.gt_from_results
    return MetricSettings(
        device=config.device, weights=config.weights, download=not config.offline,
        stats_cache=config.stats_cache, use_cache=config.use_cache, keypoints=config.keypoints,
        pose_estimator=config.pose_estimator, dataset=files.name,
        train_folder=config.train_folder, fid_reference=protocol.fid_reference,
        protocol=protocol.name, protocol_version=protocol.version, padded_width=padded,
        batch_size=config.batch_size, network_batch=config.network_batch,
        bootstrap=config.bootstrap, confidence=config.confidence,
        pairs_sha256=pairs_hash,
        # ground truth from each results folder's own panels: no dataset files to hash, and
        # each model is compared with its own real set
        image_dir=None if protocol.gt_from_results else files.image_dir,
        real_per_model=protocol.gt_from_results,
        target_names=targets, target_first=tuple(first.values()), image_size=tuple(files.size),
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
