"""Per-model efficiency measurements: parameters, operation counts, latency, throughput, memory.

    from bench.efficiency.probe import EfficiencySettings, measure_generator
    gen = GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(128, 64), untrained=True))
    for m in measure_generator("ctat", gen, EfficiencySettings(devices=("cpu", "cuda"))):
        print(m.key, m.value, m.unit, m.status)

What is measured (one :class:`Measurement` per number; :func:`to_record` makes a
:class:`bench.records.Record` of kind ``efficiency`` from it):

| key | unit | what |
|---|---|---|
| ``params``, ``params_trainable`` | parameters | the adapter's ``module``: exactly what runs at inference; per top-level submodule in ``extra.by_module`` |
| ``macs`` | MAC | fvcore, batch 1; per operator and per module in ``extra`` |
| ``flops`` | FLOP | 2 x ``macs`` (the convention is in ``extra.convention``) |
| ``elementwise_ops`` | op | this project's handles: softmax, activations, additions (:mod:`.ops`) |
| ``uncounted_ops`` | calls | operators no handle counted (``extra.operators``); 0 for the project's models |
| ``flop_counter_macs`` | MAC | ``torch.utils.flop_counter`` on the operators fvcore counts too (cross-check) |
| ``latency_ms@D``, ``latency_p90_ms@D``, ``latency_min_ms@D`` | ms | batch 1 on device type D |
| ``throughput@D`` | images/s | at a larger batch (``extra.batch``) |
| ``peak_memory@D``, ``peak_memory_b{B}@D`` | bytes | one call at batch 1 and at the throughput batch |
| ``latency_ms_b{B}@D`` | ms | the batch-size sweep: median per call at batch B |

``@D`` is the device type (``cpu``, ``cuda``), followed by ``-bf16``/``-fp16`` under autocast and
``-cl`` for channels_last, then the execution mode other than eager (``-graphs``,
``-compile``, ``-compile-max-autotune``; :mod:`.modes`, ``settings.modes``): numbers of
different devices, precisions or modes never share a key (a column). Each mode is timed in its
own worker after its outputs were checked against eager's. A device that is not present gives
records with status ``unavailable`` (value None, the reason in ``error``); a training-free
method (``NoParameters`` module) one record with status ``not_applicable``.

Isolation: with ``isolation="process"`` (the default) the timing and memory of each model run
in a fresh Python process (``python -m bench.efficiency.worker``) that rebuilds the model from
its :class:`~bench.models.ModelSpec`; nothing else of the harness runs there. On the CPU, peak
memory is the growth over the *first* call in that process (batch 1 in one process, the
throughput batch in a second), since the C allocator keeps what it freed. ``isolation="none"``
times in the calling process (any module; the records say so).
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from bench.efficiency.measurement import (  # noqa: F401 - re-exported: the records' API
    EFFICIENCY_VERSION,
    Measurement,
    record_fields,
    training_free,
)
from bench.efficiency.modes import (
    COMPILE_MODES,
    MODES,
    Executor,
    ModeCheckFailed,
    autocast_cache,
    mode_suffix,
    mode_unavailable_reason,
)
from bench.models.base import ModelSpec
from bench.models.modules import NoParameters
from bench.precision import DTYPES, torch_dtype

ISOLATIONS = ("process", "none")

#: Published sizes and speeds (PROTOCOL.md 2.2, DeepFashion table; hardware not stated), with
#: what they count: shown beside the measured numbers, never compared as like for like.
PUBLISHED = {
    "patn": {"params": 41.36e6, "fps": 60.61,
             "counts": "the generator alone (9 PATBs, ngf 64; DeepFashion, instance norm). The "
                       "fps came from time.time() around model.test() without a CUDA "
                       "synchronize, hardware not stated"},
    "pg2": {"params": 437.09e6, "fps": 10.36,
            "counts": "not the generator: every variable of the official DeepFashion TF "
                      "checkpoint (G1, G2, D and Adam's two moment slots). The generator "
                      "that runs is 134.80 M (DeepFashion) / 76.85 M (Market): "
                      "baselines/pg2/README.md"},
}


@dataclass(frozen=True)
class EfficiencySettings:
    """How to measure. ``None`` fields take the device's default (:meth:`for_device`)."""

    devices: tuple[str, ...] = ("cpu",)
    dtype: str = "fp32"  # fp32, or autocast to fp16 / bf16
    channels_last: bool = False
    warmup: int | None = None  # default: 2 on the CPU, 10 on a GPU
    iterations: int | None = None  # at most; default 20 (CPU), 100 (GPU)
    min_iterations: int | None = None  # at least; default 3 (CPU), 10 (GPU)
    budget_s: float | None = None  # stop after the minimum once this much was timed; 5 s / 3 s
    throughput_batch: int | None = None  # default 4 (CPU), 32 (GPU)
    sweep: tuple[int, ...] | None = None  # batch sizes; default none (CPU), 1,4,16,64 (GPU)
    threads: int | None = None  # torch CPU threads (None: torch's default)
    cudnn_benchmark: bool = True
    ops: bool = True  # fvcore counts and the cross-check
    timing: bool = True  # latency, throughput, sweep
    memory: bool = True
    # peak memory at the throughput batch too (on the CPU: a second fresh process per model)
    throughput_memory: bool = True
    isolation: str = "process"
    breakdown_depth: int = 1  # per-module operation counts: levels below the top-level modules
    timeout_s: float | None = None  # per worker process
    # execution modes, each timed in its own worker (bench.efficiency.modes); eager is the
    # reference the others are checked against and compared with, so it is always among them
    modes: tuple[str, ...] = ("eager",)
    compile_mode: str = "default"  # torch.compile's mode (COMPILE_MODES)
    compile_backend: str = "inductor"  # torch.compile's backend (tests: "eager", "aot_eager")

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.isolation not in ISOLATIONS:
            raise ValueError(f"isolation must be one of {ISOLATIONS}, got {self.isolation!r}")
        for name in ("warmup", "iterations", "min_iterations", "throughput_batch", "threads"):
            value = getattr(self, name)
            if value is not None and value < (0 if name == "warmup" else 1):
                raise ValueError(f"{name} must be {'>= 0' if name == 'warmup' else '>= 1'}, "
                                 f"got {value}")
        if any(b < 1 for b in self.sweep or ()):
            raise ValueError(f"sweep batch sizes must be >= 1, got {self.sweep}")
        unknown = [m for m in self.modes if m not in MODES]
        if unknown or "eager" not in self.modes or len(set(self.modes)) < len(self.modes):
            raise ValueError(f"modes must be distinct, among {', '.join(MODES)} and include "
                             f"eager (the reference), got {self.modes}")
        if self.compile_mode not in COMPILE_MODES:
            raise ValueError(f"compile_mode must be one of {', '.join(COMPILE_MODES)}, "
                             f"got {self.compile_mode!r}")

    @classmethod
    def for_run(cls, device: str, batch_size: int, modes: tuple[str, ...] = ("eager",),
                compile_mode: str = "default") -> EfficiencySettings:
        """The light defaults of ``bench run``: a few iterations, no sweep, one fresh process
        per model and mode (peak memory at batch 1 only)."""
        gpu = device.startswith("cuda")
        return cls(devices=(device,), warmup=5 if gpu else 1, iterations=20 if gpu else 5,
                   min_iterations=5 if gpu else 2, budget_s=2.0,
                   throughput_batch=batch_size if gpu else min(batch_size, 4), sweep=(),
                   throughput_memory=False, modes=modes, compile_mode=compile_mode)

    def for_device(self, device: str) -> dict:
        """The concrete timing parameters on ``device``."""
        gpu = torch.device(device).type == "cuda"

        def pick(value, cpu, cuda):
            return (cuda if gpu else cpu) if value is None else value

        return {
            "warmup": pick(self.warmup, 2, 10),
            "iterations": pick(self.iterations, 20, 100),
            "min_iterations": pick(self.min_iterations, 3, 10),
            "budget_s": pick(self.budget_s, 5.0, 3.0),
            "throughput_batch": pick(self.throughput_batch, 4, 32),
            "sweep": tuple(pick(self.sweep, (), (1, 4, 16, 64))),
        }

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> EfficiencySettings:
        data = dict(data)
        for key in ("devices", "sweep", "modes"):
            if data.get(key) is not None:
                data[key] = tuple(data[key])
        return cls(**data)


def device_suffix(device: str, dtype: str = "fp32", channels_last: bool = False) -> str:
    """``@cpu``, ``@cuda-bf16``, ``@cuda-cl``: what separates the keys (columns) of devices."""
    suffix = "@" + torch.device(device).type
    if dtype != "fp32":
        suffix += f"-{dtype}"
    if channels_last:
        suffix += "-cl"
    return suffix


def speed_suffix(device: str, settings: EfficiencySettings, mode: str = "eager") -> str:
    """The key suffix of ``mode`` on ``device``: ``@cpu``, ``@cuda-graphs``,
    ``@cuda-bf16-compile-max-autotune``."""
    return (device_suffix(device, settings.dtype, settings.channels_last)
            + mode_suffix(mode, settings.compile_mode, settings.compile_backend))


def execution_modes(cuda_graphs: bool = False, compile: bool = False) -> tuple[str, ...]:
    """The modes of the command-line flags: eager always, then the ones asked for."""
    return ("eager",) + (("cuda-graphs",) if cuda_graphs else ()) + (
        ("compile",) if compile else ())


def speed_keys(device: str, settings: EfficiencySettings,
               mode: str = "eager") -> list[tuple[str, str, str]]:
    """(key, unit, group) of every speed measurement ``settings`` asks for on ``device`` in
    execution ``mode``."""
    at = speed_suffix(device, settings, mode)
    plan = settings.for_device(device)
    keys = []
    if settings.timing:
        keys += [(f"latency_ms{at}", "ms", "latency"), (f"latency_p90_ms{at}", "ms", "latency"),
                 (f"latency_min_ms{at}", "ms", "latency"),
                 (f"throughput{at}", "images/s", "throughput")]
        keys += [(f"latency_ms_b{b}{at}", "ms", "sweep") for b in plan["sweep"]]
    if settings.memory:
        keys.append((f"peak_memory{at}", "bytes", "memory"))
        if settings.throughput_memory:
            keys.append((f"peak_memory_b{plan['throughput_batch']}{at}", "bytes", "memory"))
    return keys


def _blank(keys, device: str, status: str, error: str, extra: dict | None = None):
    return [Measurement(key=k, value=None, unit=u, group=g, device=device, status=status,
                        error=error, higher_is_better=g == "throughput",
                        extra=dict(extra or {}))
            for k, u, g in keys]


# -- static: parameters and operation counts ---------------------------------------------------


def static_measurements(module: nn.Module, settings: EfficiencySettings, name: str = "",
                        device: str | None = None) -> list[Measurement]:
    """Parameters (always) and operation counts (``settings.ops``) of ``module`` at batch 1."""
    from bench.efficiency.params import count_parameters

    device = device or _module_device(module)
    params = count_parameters(module)
    published = PUBLISHED.get(name)
    p_extra = params.to_dict()
    if published:
        p_extra["published"] = published
    out = [
        Measurement("params", float(params.total), "parameters", "params", device=device,
                    extra=p_extra),
        Measurement("params_trainable", float(params.trainable), "parameters", "params",
                    device=device, extra={"frozen": params.frozen}),
    ]
    if not settings.ops:
        return out
    inputs_fn = getattr(module, "example_inputs", None)
    if not callable(inputs_fn):
        return out + _blank(
            [("macs", "MAC", "ops")], device, "unavailable",
            f"unavailable: {type(module).__name__} has no example_inputs(batch, device)")
    from bench.efficiency.ops import ELEMENTWISE_COSTS, REDUCTION_COSTS, count_ops, cross_check

    inputs = inputs_fn(1, device)
    try:
        ops = count_ops(module, inputs, depth=settings.breakdown_depth)
    except Exception as exc:  # a model fvcore cannot trace: say so, keep the rest
        return out + _blank([("macs", "MAC", "ops")], device, "failed",
                            f"fvcore could not count {type(module).__name__}: "
                            f"{type(exc).__name__}: {exc}")
    common = {"batch": 1, "input_shapes": ops.input_shapes, "counter": "fvcore"}
    out += [
        Measurement("macs", float(ops.macs), "MAC", "ops", device=device, extra={
            **common, "by_operator": ops.macs_by_operator, "by_module": {
                k: v["macs"] for k, v in ops.by_module.items()},
            "convention": "fvcore: one multiply-accumulate per multiply-add of convolutions, "
                          "linear layers and matrix products (bias not counted); fvcore's "
                          "estimates for normalisation and upsampling; traced graph (work "
                          "whose result is unused is not counted)"}),
        Measurement("flops", float(ops.flops), "FLOP", "ops", device=device, extra={
            **common, "convention": "2 x fvcore MACs (one multiply and one add per MAC)"}),
        Measurement("elementwise_ops", float(ops.elementwise), "op", "ops", device=device, extra={
            **common, "by_operator": ops.elementwise_by_operator,
            "by_module": {k: v["elementwise"] for k, v in ops.by_module.items()},
            "calls": ops.calls,
            "convention": "this project's handles, per output element: "
                          + ", ".join(f"{k} {v:g}" for k, v in ELEMENTWISE_COSTS.items()
                                      if v != 1)
                          + ", other elementwise operators 1; per input element: "
                          + ", ".join(REDUCTION_COSTS)}),
        Measurement("uncounted_ops", float(sum(ops.uncounted.values())), "calls", "ops",
                    device=device, extra={**common, "operators": ops.uncounted,
                                          "free_operators": ops.free}),
    ]
    try:
        check = cross_check(module, inputs, ops)
    except Exception as exc:
        return out + _blank([("flop_counter_macs", "MAC", "ops")], device, "failed",
                            f"torch.utils.flop_counter: {type(exc).__name__}: {exc}")
    note = ("agree" if check.agree else
            "differ: fvcore counts the traced graph, from which work whose result is never "
            "used is removed; torch.utils.flop_counter counts every operator that runs")
    out.append(Measurement("flop_counter_macs", float(check.torch_macs), "MAC", "ops",
                           device=device, extra={**check.to_dict(), "note": note,
                                                 "counter": "torch.utils.flop_counter"}))
    return out


def _module_device(module: nn.Module) -> str:
    p = next(iter(module.parameters()), None)
    return str(p.device) if p is not None else "cpu"


# -- speed: latency, throughput, memory, sweep -------------------------------------------------


def _prepare(module: nn.Module, device: str, settings: EfficiencySettings) -> nn.Module:
    module = module.to(device).eval()
    if settings.channels_last:
        module = module.to(memory_format=torch.channels_last)
    return module


def _inputs(module: nn.Module, batch: int, device: str, settings: EfficiencySettings):
    inputs = module.example_inputs(batch, device)
    if settings.channels_last:
        inputs = tuple(t.contiguous(memory_format=torch.channels_last)
                       if isinstance(t, torch.Tensor) and t.dim() == 4 else t for t in inputs)
    return inputs


def environment(device: str, settings: EfficiencySettings) -> dict:
    """What the timing depends on, for every speed record's ``extra``."""
    from bench.env import device_name

    dev = torch.device(device)
    info = {"device_name": device_name(device), "threads": torch.get_num_threads(),
            "interop_threads": torch.get_num_interop_threads(), "cpu_count": os.cpu_count(),
            "dtype": settings.dtype, "autocast": settings.dtype != "fp32",
            "channels_last": settings.channels_last, "torch": torch.__version__,
            "load_average": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
    if dev.type == "cuda":
        info.update(cudnn_benchmark=torch.backends.cudnn.benchmark,
                    cuda=torch.version.cuda, cudnn=torch.backends.cudnn.version())
    return info


TASKS = ("memory_b1", "latency", "sweep", "memory_batch", "throughput")


def speed_measurements(module: nn.Module, device: str, settings: EfficiencySettings,
                       tasks: Iterable[str] = TASKS, isolation: str = "in-process",
                       clock: Callable[[], float] | None = None,
                       mode: str = "eager") -> list[Measurement]:
    """Time ``module`` on ``device`` in execution ``mode`` in this process. ``tasks`` (in
    :data:`TASKS` order): on the CPU, ``memory_*`` are meant to be the first call of a fresh
    process. A mode other than eager is first checked against eager at batch 1: on a
    difference, or if it cannot compile or capture, every record is failed and nothing is
    timed."""
    import time

    from bench.efficiency.memory import peak_memory
    from bench.efficiency.timing import OtherLoad, time_callable

    tasks = [t for t in TASKS if t in set(tasks)]
    dev = torch.device(device)
    gpu = dev.type == "cuda"
    if gpu:
        torch.backends.cudnn.benchmark = settings.cudnn_benchmark
    if settings.threads is not None:
        torch.set_num_threads(settings.threads)
    plan = settings.for_device(device)
    at = speed_suffix(device, settings, mode)
    module = _prepare(module, device, settings)
    executor = Executor(module, mode, dtype=settings.dtype, compile_mode=settings.compile_mode,
                        backend=settings.compile_backend)
    env = {**environment(device, settings), "isolation": isolation, **executor.describe()}
    autocast = (torch.autocast(dev.type, dtype=torch_dtype(settings.dtype),
                               cache_enabled=autocast_cache(mode))
                if settings.dtype != "fp32" else nullcontext())
    sync = (lambda: torch.cuda.synchronize(dev)) if gpu else None
    timer_args = {k: plan[k] for k in ("warmup", "iterations", "min_iterations", "budget_s")}
    out: list[Measurement] = []
    calls = [0]  # forward calls so far in this function (0: the first in a fresh worker)

    def prepared(batch):
        """The mode's timed call at ``batch`` (checked against eager) and its extra."""
        runner = executor.prepare(_inputs(module, batch, device, settings))
        fn = runner.fn

        def forward():
            calls[0] += 1
            return fn()
        extra = {} if runner.check is None else {"equality_check": runner.check.to_dict(),
                                                 "setup_s": runner.setup_s}
        return runner, forward, extra

    def timed(batch):
        runner, forward, extra = prepared(batch)
        with OtherLoad() as load:
            t = time_callable(forward, batch=batch, synchronize=sync,
                              clock=clock or time.perf_counter, **timer_args)
        return t, {"other_processes_cores": load.cores, **extra}

    def memory(key, batch, warm):
        if mode == "compile" and not gpu:
            out.extend(_blank([(key, "bytes", "memory")], device, "not_applicable",
                              "not applicable: CPU peak memory is the growth of a fresh "
                              "process's first call, and under torch.compile that process "
                              "compiled first", env))
            return
        runner, forward, extra = prepared(batch)
        before = calls[0]
        if mode == "cuda-graphs":  # replays allocate nothing: the capture sized the pool
            peak, method = runner.capture_peak, ("CUDA max_memory_allocated during the graph's "
                                                 "capture above the allocation before it (the "
                                                 "graph's private pool, reused by replays)")
        else:
            if warm:  # on a GPU: after the warm-up, so cudnn's algorithm search is not counted
                for _ in range(plan["warmup"]):
                    forward()
            before = calls[0]
            peak = peak_memory(forward, device)
            method = peak.method
        out.append(Measurement(key, None if peak.bytes is None else float(peak.bytes), "bytes",
                               "memory", device=device, extra={
                                   **env, **extra, "batch": batch, "method": method,
                                   "baseline_bytes": peak.baseline_bytes,
                                   "calls_before": before}))

    def guarded(keys, fn):
        try:
            fn()
        except ModeCheckFailed as exc:
            out.extend(_blank(keys, device, "failed", str(exc),
                              {**env, "equality_check": exc.check.to_dict()}))
        except Exception as exc:  # out of memory at a large batch; a compile or capture error
            if gpu:
                torch.cuda.empty_cache()
            out.extend(_blank(keys, device, "failed", _failure(mode, exc), env))

    with torch.inference_mode(), autocast:
        if mode != "eager":
            every = [k for k in speed_keys(device, settings, mode)
                     if _task_of(k[0], k[2]) in tasks]
            first = []
            guarded(every, lambda: first.append(prepared(1)[0].setup_s))
            if out:  # the mode does not compute what eager computes, or does not run
                return out
            env["first_setup_s"] = first[0]  # compilation or warm-up and capture, and the call
        for task in tasks:
            if task == "memory_b1":
                guarded([(f"peak_memory{at}", "bytes", "memory")],
                        lambda: memory(f"peak_memory{at}", 1, warm=gpu))
            elif task == "latency":
                def latency():
                    t, more = timed(1)
                    extra = {**env, **t.summary_ms(), **more}
                    for key, value in (("latency_ms", t.median), ("latency_p90_ms", t.p90),
                                       ("latency_min_ms", t.min)):
                        out.append(Measurement(f"{key}{at}", 1e3 * value, "ms", "latency",
                                               device=device, extra=extra))
                guarded([(f"latency{s}_ms{at}", "ms", "latency") for s in ("", "_p90", "_min")],
                        latency)
            elif task == "sweep":
                for b in plan["sweep"]:
                    def sweep(b=b):
                        t, more = timed(b)
                        out.append(Measurement(
                            f"latency_ms_b{b}{at}", 1e3 * t.median, "ms", "sweep", device=device,
                            extra={**env, **t.summary_ms(), **more,
                                   "ms_per_image": 1e3 * t.median / b,
                                   "images_per_s": t.images_per_s}))
                    guarded([(f"latency_ms_b{b}{at}", "ms", "sweep")], sweep)
            elif task == "memory_batch":
                b = plan["throughput_batch"]
                guarded([(f"peak_memory_b{b}{at}", "bytes", "memory")],
                        lambda b=b: memory(f"peak_memory_b{b}{at}", b, warm=gpu))
            elif task == "throughput":
                def throughput():
                    t, more = timed(plan["throughput_batch"])
                    out.append(Measurement(f"throughput{at}", t.images_per_s, "images/s",
                                           "throughput", higher_is_better=True, device=device,
                                           extra={**env, **t.summary_ms(), **more}))
                guarded([(f"throughput{at}", "images/s", "throughput")], throughput)
    return out


def _failure(mode: str, exc: Exception) -> str:
    """The error of a failed measurement; a compile or capture error's first line (the rest is
    a long traceback of the compiler)."""
    text = f"{type(exc).__name__}: {exc}"
    if mode == "eager":
        return text
    where = {"compile": "torch.compile failed: ", "cuda-graphs": "CUDA graph capture failed: "}
    return where[mode] + text.strip().splitlines()[0][:500]


def _process_groups(device: str, settings: EfficiencySettings,
                    mode: str = "eager") -> list[list[str]]:
    """Which tasks share a fresh process: on the CPU each eager memory figure needs the first
    call of its own process; on a GPU, and in the other modes, one process does everything."""
    tasks = []
    if settings.timing:
        tasks += ["latency", "sweep", "throughput"]
    if settings.memory:
        tasks += ["memory_b1", "memory_batch"] if settings.throughput_memory else ["memory_b1"]
    if not tasks:
        return []
    if torch.device(device).type == "cuda" or "memory_batch" not in tasks or mode != "eager":
        return [[t for t in TASKS if t in tasks]]
    first = [t for t in TASKS if t in tasks and t in ("memory_b1", "latency", "sweep")]
    second = [t for t in TASKS if t in tasks and t in ("memory_batch", "throughput")]
    return [g for g in (first, second) if g]


def spec_to_dict(spec: ModelSpec) -> dict:
    data = dataclasses.asdict(spec)
    data["size"] = list(spec.size)
    data["checkpoint"] = None if spec.checkpoint is None else str(spec.checkpoint)
    return data


def spec_from_dict(data: dict) -> ModelSpec:
    data = dict(data)
    data["size"] = tuple(data["size"])
    data["checkpoint"] = None if data.get("checkpoint") is None else Path(data["checkpoint"])
    return ModelSpec(**data)


def _worker_env() -> dict:
    env = dict(os.environ)
    root = str(Path(__file__).resolve().parents[2])  # holds bench/, ctat/, baselines/
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def run_worker(spec: ModelSpec, device: str, settings: EfficiencySettings,
               tasks: list[str], mode: str = "eager") -> list[Measurement]:
    """The tasks in execution ``mode`` in a fresh process (``python -m bench.efficiency.worker``)."""
    job = {"spec": spec_to_dict(dataclasses.replace(spec, device=device)), "device": device,
           "settings": settings.to_dict(), "tasks": tasks, "mode": mode}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.efficiency.worker"], input=json.dumps(job),
        capture_output=True, text=True, env=_worker_env(), timeout=settings.timeout_s,
    )
    if proc.returncode != 0:
        tail = (proc.stderr or "").strip().splitlines()[-3:]
        raise RuntimeError(f"efficiency worker for {spec.name} on {device} ({mode}) failed "
                           f"(exit {proc.returncode}): {' | '.join(tail) or 'no output'}")
    return [Measurement.from_dict(m) for m in json.loads(proc.stdout)["measurements"]]


def cuda_unavailable_reason(device: str) -> str | None:
    if torch.device(device).type != "cuda":
        return None
    if not torch.cuda.is_available():
        return "unavailable: no CUDA device on this machine (torch.cuda.is_available() is False)"
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        return f"unavailable: {device} does not exist ({torch.cuda.device_count()} CUDA devices)"
    return None


def measure_module(module: nn.Module, settings: EfficiencySettings, *, name: str = "",
                   spec: ModelSpec | None = None,
                   echo: Callable[[str], None] = lambda s: None) -> list[Measurement]:
    """Everything ``settings`` asks for about ``module`` (the inference module of model
    ``name``). Timing runs in fresh processes rebuilt from ``spec`` when
    ``settings.isolation == "process"`` and a spec is given, else in this process."""
    if isinstance(module, NoParameters) or not any(True for _ in module.parameters()):
        return [training_free(module, settings.devices[0])]
    out = static_measurements(module, settings, name=name)
    if not callable(getattr(module, "example_inputs", None)):
        return out
    for device in settings.devices:
        for mode in settings.modes:
            keys = speed_keys(device, settings, mode)
            reason = cuda_unavailable_reason(device) or mode_unavailable_reason(mode, device)
            if reason:
                out += _blank(keys, device, "unavailable", reason, {"execution_mode": mode})
                continue
            isolate = settings.isolation == "process" and spec is not None
            for tasks in _process_groups(device, settings, mode):
                echo(f"  {name or type(module).__name__}: {', '.join(tasks)} on {device}"
                     + ("" if mode == "eager" else f", {mode}")
                     + (" (fresh process)" if isolate else ""))
                done = {m.key for m in out}
                try:
                    if isolate:
                        out += run_worker(spec, device, settings, tasks, mode)
                    else:
                        out += speed_measurements(module, device, settings, tasks,
                                                  isolation="in-process", mode=mode)
                except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
                    out += [m for m in _blank(keys, device, "failed", str(exc),
                                              {"execution_mode": mode})
                            if m.key not in done and _task_of(m.key, m.group) in tasks]
    return out


def _task_of(key: str, group: str) -> str:
    if group == "memory":
        return "memory_b1" if key.startswith("peak_memory@") else "memory_batch"
    return {"latency": "latency", "sweep": "sweep", "throughput": "throughput"}[group]


def measure_generator(name: str, generator, settings: EfficiencySettings,
                      echo: Callable[[str], None] = lambda s: None) -> list[Measurement]:
    """:func:`measure_module` of an adapter (its ``module``; ``spec`` to rebuild it)."""
    module = getattr(generator, "module", None)
    if module is None:  # a results folder: no network
        return [training_free(None, settings.devices[0])]
    spec = getattr(generator, "spec", None)
    return measure_module(module, settings, name=name,
                          spec=spec if isinstance(spec, ModelSpec) else None, echo=echo)


# -- records -------------------------------------------------------------------------------


# -- python -m bench profile --------------------------------------------------------------


def default_dataset(size: tuple[int, int]) -> str:
    """The per-dataset configuration a resolution implies: DeepFashion's frames, else Market."""
    return "deepfashion" if tuple(size) in ((256, 176), (256, 256)) else "market"


def profile_models(
    models: Iterable[str],
    settings: EfficiencySettings,
    *,
    size: tuple[int, int] | None = None,
    dataset: str | None = None,
    checkpoints: dict[str, str] | None = None,
    seed: int = 0,
    echo: Callable[[str], None] = lambda s: None,
) -> list:
    """Records of kind ``efficiency`` for ``models`` at ``size`` (H, W), with no dataset files:
    ``dataset`` only selects the per-dataset configuration (default: Market, or DeepFashion at
    256x176 / 256x256). Learned models run seeded untrained weights unless ``checkpoints``
    names a file (speed and counts do not depend on the values)."""
    import datetime as dt

    from bench.data import DATASETS
    from bench.env import git_sha
    from bench.errors import BenchError
    from bench.models import GENERATORS, UNTRAINED
    from bench.models.folder import is_folder_entry
    from bench.records import Record

    models = list(models)
    for entry in models:
        if is_folder_entry(entry):
            raise BenchError(
                f"{entry}: a results folder holds images, not a network: there are no "
                "parameters, operations or latency to measure. profile takes registered models "
                "(python -m bench list models); a results folder is scored with `bench run`")
    names = list(dict.fromkeys(GENERATORS.canonical(m) for m in models))
    checkpoints = {GENERATORS.canonical(m): p for m, p in (checkpoints or {}).items()}
    for model in checkpoints:
        if model not in names:
            raise BenchError(f"--checkpoint given for {model!r}, which is not in --models")
    if dataset is not None:
        dataset = DATASETS.canonical(dataset)
        size = tuple(size or DATASETS.get(dataset).size)
    else:
        size = tuple(size or (128, 64))
        dataset = default_dataset(size)
    count_device = next((d for d in settings.devices if cuda_unavailable_reason(d) is None),
                        "cpu")
    sha, _ = git_sha()
    now = dt.datetime.now(dt.timezone.utc)
    run_id = f"profile-{now.strftime('%Y%m%dT%H%M%SZ')}"
    records = []
    for name in names:
        path = checkpoints.get(name)
        spec = ModelSpec(name=name, size=size, dataset=dataset, device=count_device,
                         checkpoint=None if path in (None, UNTRAINED) else Path(path),
                         untrained=path in (None, UNTRAINED), seed=seed)
        echo(f"{name}: {size[0]}x{size[1]}, {dataset} configuration")
        gen = GENERATORS.get(name)(spec)
        weights = getattr(gen, "weights", None)
        provenance = getattr(gen, "provenance", None)
        measurements = measure_generator(name, gen, settings, echo=echo)
        del gen
        for m in measurements:
            fields = record_fields(m)
            fields["extra"]["image_size"] = list(size)
            records.append(Record(
                run_id=run_id, model=name, dataset=dataset, split="", pairs_sha256="",
                protocol="efficiency", protocol_version=EFFICIENCY_VERSION,
                checkpoint=weights.label if weights else "none",
                checkpoint_sha256=weights.sha256 if weights else None,
                reference_bound=bool(getattr(provenance, "reference_bound", False)),
                git_sha=sha, created=now.isoformat(timespec="seconds"),
                **fields,
            ))
    return records
