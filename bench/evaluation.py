"""One work unit of a run: its pairs streamed through every model and metric, once.

    from bench.evaluation import UnitEvaluator
    evaluator = UnitEvaluator(context)           # context: bench.api's RunContext
    evaluator.expect(units)                      # optional: load on across their boundaries
    result = evaluator.evaluate(unit, on_pairs=bar.update)   # a bench.units.UnitResult
    evaluator.partial()                          # what an interrupted unit computed so far
    evaluator.close()

The result is a pure function of the plan and the unit: metrics and the shared real-set rows
start afresh for each unit (:meth:`bench.metrics.inception.RealTargets.start_unit`), the batches
are those a single process forms (a unit is whole batches), and the random stream is seeded
from the run's seed and the unit's index. So which process evaluates a unit, and which units it
evaluated before, never changes a value. A pair that cannot be loaded, generated or scored
becomes an error record of the unit while the rest of the unit completes.

Generation runs one batch ahead of scoring (:func:`launch`, :class:`Launched`): batch k+1 is
launched on every model before batch k is scored, so a GPU generates while the host decodes and
scores; rows and metric updates keep pair order, so the values are those of batch-by-batch
work. The wall time of each stage (:mod:`bench.stages`) goes into the unit's ``who``.
Loading runs one batch ahead too, and across units when the evaluator was told which units
follow (:meth:`UnitEvaluator.expect`): the next unit's first batch is decoded while this
unit's last is scored. Loading has no per-unit state, so the values are the same. On a GPU
the metrics that run a network (Inception, LPIPS, a pose estimator) update in a thread of
their own while the host computes the SSIM family of the same batch
(:meth:`UnitEvaluator.updates`), so their waits for the device hold up no host work.
"""

from __future__ import annotations

import sys
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from bench.data.loader import PairError, iter_batches, iter_group_batches
from bench.errors import GeneratorOutputError
from bench.models.base import Weights
from bench.plan import Unit
from bench.precision import FP32, autocast
from bench.records import KIND_PAIR_ERROR
from bench.stages import Stages
from bench.types import Generated, Metric, PairBatch
from bench.units import ModelUnit, UnitResult

if TYPE_CHECKING:
    import torch


@dataclass
class ModelRun:
    """One model of a run: its generator (None when only merging), metrics and labels."""

    name: str
    generator: object
    metrics: list[Metric]
    weights: Weights
    reference_bound: bool
    extra: dict = field(default_factory=dict)  # added to the extra of its metric records
    precision: str = FP32  # what its generation runs in (bench.precision.model_precision)
    network_batch: int | None = None  # its generator's chunk of a batch (bench.device_batch)

    @property
    def labels(self) -> dict:
        """The fields naming this model on every record it gets (the precision when not the
        default: unit files of runs from before the option keep matching)."""
        labels = {"model": self.name, "checkpoint": self.weights.label,
                  "checkpoint_sha256": self.weights.sha256,
                  "reference_bound": self.reference_bound}
        if self.precision != FP32:
            labels["precision"] = self.precision
        return labels

    @property
    def pair_keys(self) -> tuple[str, ...]:
        """Columns of its per-pair table: the keys of its per-pair metrics."""
        return tuple(k for m in self.metrics if m.per_pair for k in m.result_keys())


def generate(gen, batch: PairBatch, device: str, precision: str = FP32,
             chunk: int | None = None) -> torch.Tensor | Generated:
    """Call ``gen.generate`` with what its capability flags allow it to see: the target image
    for ``sees_target`` (oracle), the pairs' names for ``sees_pairs`` (results folders); under
    autocast at ``precision`` (:mod:`bench.precision`), ``chunk`` pairs at a time at most
    (the outputs joined in pair order; None: the whole batch at once). A generator that
    ``takes_arrays`` (results folders) is handed the batch's numpy arrays as they are, without
    torch."""
    kwargs = {}
    if getattr(gen, "sees_pairs", False):
        kwargs["pairs"] = batch.pairs
    if getattr(gen, "takes_arrays", False):
        if getattr(gen, "sees_target", False):
            kwargs["tgt_img"] = batch.tgt_img
        return gen.generate(batch.src_img, batch.src_kpts, batch.tgt_kpts, **kwargs)
    import torch

    if chunk is not None and len(batch) > chunk:
        from bench.device_batch import chunks

        parts = [generate(gen, batch.rows(start, stop), device, precision)
                 for start, stop in chunks(len(batch), chunk)]
        if not all(isinstance(p, torch.Tensor) for p in parts):
            raise GeneratorOutputError(
                f"generate() returned {type(parts[0]).__name__}; a batch run in chunks "
                f"(network batch {chunk}: bench.device_batch) needs tensors to join")
        return torch.cat(parts)
    from bench.generation import images_to_tensor, kpts_to_tensor

    src = None if batch.src_img is None else images_to_tensor(batch.src_img, device)
    src_kpts = kpts_to_tensor(batch.src_kpts, device)
    tgt_kpts = kpts_to_tensor(batch.tgt_kpts, device)
    if getattr(gen, "sees_target", False):
        kwargs["tgt_img"] = images_to_tensor(batch.tgt_img, device)
    with torch.inference_mode(), autocast(device, precision):
        return gen.generate(src, src_kpts, tgt_kpts, **kwargs)


#: What a failing generation becomes: an error of each pair of its batch (the run goes on).
GENERATION_ERRORS = (GeneratorOutputError, RuntimeError, ValueError)


class Launched:
    """One model's generation of one batch, possibly still running.

    A CUDA output is copied to pinned host memory without waiting (``non_blocking``), behind an
    event; a results folder's files are read in a background thread (a future). :meth:`result`
    waits for that only. Anything else (a CPU tensor, the exception generation raised) is ready
    at once.
    """

    def __init__(self, out=None, event=None, future: Future | None = None) -> None:
        self._out = out
        self._event = event
        self._future = future

    def result(self):
        if self._future is not None:
            try:
                self._out = self._future.result()
            except GENERATION_ERRORS as exc:
                self._out = exc
            self._future = None
        if self._event is not None:
            self._event.synchronize()
            self._event = None
        return self._out


def launch(gen, batch: PairBatch, device: str, precision: str = FP32,
           reader: ThreadPoolExecutor | None = None, chunk: int | None = None) -> Launched:
    """Start ``gen``'s generation of ``batch`` (:func:`generate`) without waiting for it: on a
    GPU the copy of its output back to the host is queued too; a results folder
    (``sees_pairs``) reads its files in ``reader``'s thread when one is given."""
    if reader is not None and getattr(gen, "sees_pairs", False):
        return Launched(future=reader.submit(generate, gen, batch, device, precision))
    try:
        out = generate(gen, batch, device, precision, chunk)
    except GENERATION_ERRORS as exc:
        return Launched(exc)
    torch = sys.modules.get("torch")  # an output can be a tensor only where torch was imported
    if torch is not None and isinstance(out, torch.Tensor) and out.device.type == "cuda":
        host = torch.empty(out.shape, dtype=out.dtype, pin_memory=True)
        host.copy_(out, non_blocking=True)
        event = torch.cuda.Event()
        event.record()
        return Launched(host, event)
    return Launched(out)


def check_generated(out: Generated, shape: tuple[int, ...]) -> None:
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


def _same_device(device: str) -> None:
    """A thread's CUDA device is its own (cuda:0 unless set): the device thread takes the
    run's (``cuda:LOCAL_RANK`` under torchrun), so nothing lands on another GPU."""
    if str(device).startswith("cuda:"):
        import torch

        torch.cuda.set_device(torch.device(device))


def seed_torch(seed: int, needed: bool = False) -> None:
    """``torch.manual_seed(seed)`` where this process uses torch: ``needed`` (a generator that
    runs torch code is about to be built) or torch already imported (by a model or a metric's
    network). A run of results folders scored by array metrics never imports torch, and
    nothing in it draws from torch's generators."""
    if needed or "torch" in sys.modules:
        import torch

        torch.manual_seed(seed)


def unit_seed(seed: int, unit: Unit) -> int:
    """The torch seed of a unit's work: the run's seed for unit 0, then one per unit."""
    return seed + unit.index


def start_unit(shared: dict) -> None:
    """Every shared object that keeps per-unit rows (the real sets) forgets them."""
    for entry in list(shared.values()):
        hook = getattr(entry, "start_unit", None)
        if callable(hook) and not isinstance(entry, type):
            hook()


def _pairs_of(item: tuple) -> int:
    """Pairs of a (batch or None, load errors, ...) item of the loader."""
    batch, load_errors = item[:2]
    return (len(batch) if batch is not None else 0) + len(load_errors)


class UnitEvaluator:
    """Evaluates units of a run (``context``: config, split, plan, protocol, models, outputs,
    shared metric state, device) into :class:`bench.units.UnitResult`."""

    def __init__(self, context, who: dict | None = None, overlap: bool | None = None) -> None:
        self.context = context
        # metrics that run a network update in a thread of their own while the host scores:
        # on a GPU, by default (their waits for the device then stop no host work)
        self.overlap = (str(getattr(context, "device", "cpu")).startswith("cuda")
                        if overlap is None else overlap)
        self._device_thread: ThreadPoolExecutor | None = None
        self._runs_network: dict[int, bool] = {}
        self.who = dict(who or {})
        self._unit: Unit | None = None
        self._models: dict[str, ModelUnit] = {}
        self.stages = Stages()
        # results folders read batch k+1's files here while batch k is scored (one thread:
        # their batches stay in order)
        self._reader = ThreadPoolExecutor(1, thread_name_prefix="results-reader")
        self._stream: Iterator | None = None  # batches of the expected units, loaded ahead
        self._expected: deque[Unit] = deque()
        self._position = -1  # the stream's list of the unit being evaluated

    def _loader_options(self) -> dict:
        ctx = self.context
        # results folders read their own images, and no metric looks at the source image
        sources = any(not getattr(run.generator, "sees_pairs", False) for run in ctx.models)
        return dict(batch_size=ctx.config.batch_size, workers=ctx.config.decode_threads,
                    images=not ctx.protocol.gt_from_results, sources=sources,
                    prefetch=self.prefetch_hook())

    def expect(self, units: Sequence[Unit]) -> None:
        """The units :meth:`evaluate` will be asked for next, in this order: their batches
        are loaded as one stream, so a unit's first batch is ready when it starts. A unit
        asked for out of this order is loaded on its own (the stream is dropped)."""
        self._drop_stream()
        ctx = self.context
        self._expected, self._position = deque(units), -1
        self._stream = iter_group_batches(ctx.split, [ctx.plan.pairs_of(u) for u in units],
                                          **self._loader_options())

    def _drop_stream(self) -> None:
        """Stop loading ahead (waits for the batch being loaded)."""
        if self._stream is not None:
            self._stream.close()
        self._stream, self._expected = None, deque()

    def close(self) -> None:
        """Stop loading ahead and end the device thread."""
        self._drop_stream()
        if self._device_thread is not None:
            self._device_thread.shutdown(wait=True)
            self._device_thread = None

    def _batches(self, unit: Unit) -> Iterator[tuple]:
        """(batch or None, load errors) of ``unit``, from the stream when it is the next
        expected unit."""
        ctx = self.context
        pairs = ctx.plan.pairs_of(unit)
        if not self._expected or self._expected[0] != unit:
            self._drop_stream()
            yield from iter_batches(ctx.split, pairs, **self._loader_options())
            return
        self._expected.popleft()
        self._position += 1
        for _ in range(-(-len(pairs) // ctx.config.batch_size)):
            k, batch, errors = next(self._stream)
            if k != self._position:  # pragma: no cover - the stream is cut by the same plan
                raise RuntimeError(f"loader out of step: unit {unit.index} got a batch of "
                                   f"stream position {k}, expected {self._position}")
            yield batch, errors

    def evaluate(self, unit: Unit, on_pairs: Callable[[int], None] = lambda n: None
                 ) -> UnitResult:
        ctx = self.context
        start = time.perf_counter()
        self._unit = unit
        seed_torch(unit_seed(ctx.config.seed, unit))
        start_unit(ctx.shared)
        self._models = {}
        self.stages = Stages()
        for run in ctx.models:
            for metric in run.metrics:
                metric.reset()
            self._models[run.name] = ModelUnit(name=run.name, labels=run.labels,
                                               extra=dict(run.extra), keys=run.pair_keys)
        batches = self._batches(unit)
        # One batch in flight: batch k+1's generation is launched before batch k is scored,
        # so on a GPU the device generates while the host scores (on a CPU: the same work in
        # the same order per model). Rows and metric updates stay in pair order.
        waiting: tuple | None = None
        try:
            while True:
                with self.stages.timed("load"):
                    item = next(batches, None)
                if item is not None:
                    try:
                        item = (*item, self.launch(item[0]))
                    except KeyboardInterrupt:  # keep the batch already generated: score it
                        if waiting is not None:
                            self.finish(*waiting)
                            on_pairs(_pairs_of(waiting))
                        raise
                if waiting is not None:
                    self.finish(*waiting)
                    on_pairs(_pairs_of(waiting))
                if item is None:
                    break
                waiting = item
        except BaseException:
            self._drop_stream()  # the stream stopped inside this unit: later units load on their own
            raise
        return self.partial(seconds=time.perf_counter() - start)

    def partial(self, seconds: float | None = None) -> UnitResult:
        """The unit as far as it got (all of it after :meth:`evaluate`)."""
        for run in self.context.models:
            self._models[run.name].states = {m.name: m.state() for m in run.metrics}
        who = {**self.who, "seconds": seconds, "stages": self.stages.to_dict()}
        return UnitResult(unit=self._unit, config_hash=self.context.plan.config_hash,
                          models=[self._models[r.name] for r in self.context.models], who=who)

    def prefetch_hook(self) -> Callable[[PairBatch], None] | None:
        """What the loader runs on each batch ahead of scoring: the metrics' ``prefetch``
        (e.g. pose masks drawn into their cache off the scoring thread). None when no metric
        has one, or when the protocol changes the batch before scoring (padding: the metrics
        would see other keypoints than the loader)."""
        ctx = self.context
        size = ctx.split.files.size
        if size is None or ctx.protocol.changes_batches(ctx.split.files.spec.padded_width, size):
            return None
        hooks = []  # each once: metrics of every model share them (e.g. the mask cache)
        for run in ctx.models:
            for metric in run.metrics:
                hook = getattr(metric, "prefetch", None)
                if callable(hook) and hook not in hooks:
                    hooks.append(hook)
        if not hooks:
            return None

        def prefetch(batch: PairBatch) -> None:
            for hook in hooks:
                hook(batch.tgt_kpts, size)

        return prefetch

    # -- one batch ---------------------------------------------------------------------
    def pair_errors(self, run: ModelRun, errors: list[PairError]) -> None:
        out = self._models[run.name]
        for err in errors:
            out.failed += 1
            out.records.append(dict(
                kind=KIND_PAIR_ERROR, n=0, key=err.pair.key, error=f"{err.stage}: {err.message}",
                extra={"index": err.pair.index, "from": err.pair.src, "to": err.pair.tgt,
                       "stage": err.stage, "file": err.file},
            ))

    def launch(self, batch: PairBatch | None) -> dict[str, Launched]:
        """Start every model's generation of ``batch`` (on a GPU it runs on while the host
        goes on)."""
        launched = {}
        if batch is None:
            return launched
        for run in self.context.models:
            with self.stages.timed("generate", run.name):
                launched[run.name] = launch(run.generator, batch, self.context.device,
                                            run.precision, self._reader, run.network_batch)
        return launched

    def finish(self, batch: PairBatch | None, load_errors: list[PairError],
               launched: dict[str, Launched]) -> None:
        """Score a launched batch: each model's rows, errors and metric updates."""
        for run in self.context.models:
            self.pair_errors(run, load_errors)
            if load_errors:
                self._models[run.name].add_rows(
                    tuple(e.pair for e in load_errors), {},
                    {i: f"{e.stage}: {e.message}" for i, e in enumerate(load_errors)},
                )
            if batch is not None:
                with self.stages.timed("generate", run.name):
                    generated = launched[run.name].result()
                with self.stages.timed("score", run.name):
                    self.score(run, batch, generated)

    def _network(self, metric) -> bool:
        """Whether ``metric`` runs a network (it names weights: Inception, LPIPS, a pose
        estimator)."""
        key = id(metric)
        if key not in self._runs_network:
            try:
                self._runs_network[key] = bool(metric.weights_used())
            except Exception:  # noqa: BLE001 - not knowing: scored here, in order
                self._runs_network[key] = False
        return self._runs_network[key]

    def updates(self, metrics, fake: np.ndarray, batch: PairBatch) -> list:
        """Each metric's ``update(fake, batch)``, in metric order. Under :attr:`overlap` the
        metrics that run a network update in the device thread (one thread: each metric's
        batches stay in order, and their shared features are computed once) while the others
        update here; both are done when this returns, so the values are those of updating
        one after the other."""
        device = [i for i, m in enumerate(metrics) if self.overlap and self._network(m)]
        if not device:
            return [m.update(fake, batch) for m in metrics]
        if self._device_thread is None:
            self._device_thread = ThreadPoolExecutor(1, thread_name_prefix="device-metrics",
                                                     initializer=_same_device,
                                                     initargs=(self.context.device,))
        job = self._device_thread.submit(lambda: [metrics[i].update(fake, batch) for i in device])
        out: list = [None] * len(metrics)
        try:
            for i, metric in enumerate(metrics):
                if i not in device:
                    out[i] = metric.update(fake, batch)
            for i, per_pair in zip(device, job.result(), strict=True):
                out[i] = per_pair
        except BaseException:
            job.exception()  # wait for the device thread: no metric changes after this
            raise
        return out

    def score(self, run: ModelRun, batch: PairBatch, generated) -> None:
        ctx = self.context
        out_unit = self._models[run.name]
        h, w = ctx.split.files.size
        shape = (len(batch), h, w, 3)
        try:
            if isinstance(generated, Exception):
                raise generated
            out = generated
            if isinstance(out, Generated):  # images read, not computed (results folders)
                check_generated(out, shape)
                images = out.images
                problems = {i: msg for i, (msg, _) in out.problems.items()}
                stage, files = "read", {i: f for i, (_, f) in out.problems.items()}
            else:
                from bench.generation import tensor_to_images

                images, problems = tensor_to_images(out, shape)
                images = ctx.protocol.prepare_generated(images)  # e.g. GFLA's JPEG files
                stage, files = "generate", {}
            if ctx.protocol.gt_from_results and (
                    not isinstance(out, Generated) or out.targets is None):
                raise GeneratorOutputError(
                    f"protocol {ctx.protocol.name} needs the results' own target panels; "
                    f"{run.name} returned none"
                )
        except GENERATION_ERRORS as exc:
            errors = [PairError(p, "generate", f"{type(exc).__name__}: {exc}") for p in batch.pairs]
            self.pair_errors(run, errors)
            out_unit.add_rows(batch.pairs, {},
                              {i: f"generate: {exc}" for i in range(len(batch))})
            return
        if ctx.protocol.gt_from_results:  # score against the results' own panels
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
            ctx.outputs.save_images(run.name, kept.pairs, kept_images)
            scored_fake, scored_batch = ctx.protocol.prepare(
                kept_images, kept, ctx.split.files.spec.padded_width
            )
            rows = np.flatnonzero(good)
            updates = self.updates(run.metrics, scored_fake, scored_batch)
            for metric, per_pair in zip(run.metrics, updates, strict=True):
                for key, arr in (per_pair or {}).items():
                    full = np.full(len(batch), np.nan)
                    full[rows] = arr
                    values[key] = full
                    nan_rows = rows[np.isnan(np.asarray(arr, dtype=float))]
                    out_unit.scored[key] = out_unit.scored.get(key, 0) + len(rows) - len(nan_rows)
                    for i in nan_rows:
                        out_unit.records.append(dict(
                            kind=KIND_PAIR_ERROR, n=0, key=batch.pairs[i].key,
                            metric=metric.name, metric_version=metric.version,
                            error=f"score: {key} is undefined for this pair (NaN), left out of "
                                  "the mean",
                            extra={"index": batch.pairs[i].index, "from": batch.pairs[i].src,
                                   "to": batch.pairs[i].tgt, "stage": "score", "file": None},
                        ))
                if not metric.per_pair:
                    for key in metric.result_keys():
                        out_unit.scored[key] = out_unit.scored.get(key, 0) + len(rows)
        out_unit.add_rows(batch.pairs, values, row_errors)
