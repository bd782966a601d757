"""Execution modes of the timed forward pass (eager, CUDA graph replay, torch.compile) and the
check that a mode computes what eager computes.

    from bench.efficiency.modes import Executor, mode_suffix
    executor = Executor(net, "compile", dtype="fp32", compile_mode="default", backend="inductor")
    runner = executor.prepare(net.example_inputs(1, "cpu"))   # compiles, checks against eager
    runner.check.max_abs_diff, runner.check.tolerance          # e.g. 3e-07, 1e-04
    runner.fn()                                                # the call the timer times
    mode_suffix("compile", "max-autotune")                     # "-compile-max-autotune"

* ``eager``: ``module(*inputs)``, today's measurement and the reference of the others.
* ``cuda-graphs``: the inputs are static tensors; the forward is run a few times on a side
  stream (cudnn's algorithm search, lazy initialisation), then captured once with
  ``torch.cuda.CUDAGraph`` under the caller's inference mode and autocast (whose weight-cast
  cache must be off, :func:`autocast_cache`); the timed call is ``graph.replay()``. A CUDA
  device only.
* ``compile``: ``torch.compile(module, mode=..., backend=..., dynamic=False)``: one static-shape
  compilation per batch size, done by the check before any timing (the seconds it took are
  recorded).

Before a mode is timed at a batch size, :meth:`Executor.prepare` runs eager and the mode on the
same inputs and compares every output tensor: the largest absolute difference must be within
:func:`tolerance` (fp32: CUDA graphs 1e-5, compile 1e-4; autocast fp16 1e-2, bf16 5e-2; the
project's generators output images in [-1, 1]). Otherwise :class:`ModeCheckFailed` carries the
measured difference and nothing is timed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
from torch import nn

from bench.efficiency import COMPILE_MODES, MODES  # noqa: F401 - their names, torch-free

#: Largest absolute output difference to eager a mode may show, by (mode, dtype).
TOLERANCES = {
    ("cuda-graphs", "fp32"): 1e-5, ("compile", "fp32"): 1e-4,
    ("cuda-graphs", "fp16"): 1e-2, ("compile", "fp16"): 1e-2,
    ("cuda-graphs", "bf16"): 5e-2, ("compile", "bf16"): 5e-2,
}
GRAPH_WARMUP = 3  # side-stream calls before a capture


def tolerance(mode: str, dtype: str) -> float:
    """The largest absolute difference to eager that ``mode`` may show under ``dtype``."""
    return 0.0 if mode == "eager" else TOLERANCES[(mode, dtype)]


def mode_suffix(mode: str, compile_mode: str = "default", backend: str = "inductor") -> str:
    """What follows the device (and dtype, layout) in a key: ``""`` for eager, ``-graphs``
    (``latency_ms@cuda-graphs``), ``-compile`` with a non-default mode or backend after it
    (``-compile-max-autotune``, ``-compile-aot_eager``)."""
    if mode == "eager":
        return ""
    if mode == "cuda-graphs":
        return "-graphs"
    return ("-compile" + ("" if compile_mode == "default" else f"-{compile_mode}")
            + ("" if backend == "inductor" else f"-{backend}"))


def mode_unavailable_reason(mode: str, device: str) -> str | None:
    if mode == "cuda-graphs" and torch.device(device).type != "cuda":
        return f"unavailable: CUDA graphs need a CUDA device (this column is {device})"
    return None


def autocast_cache(mode: str) -> bool:
    """Whether autocast may cache its casts of the weights: not under a CUDA graph capture
    (a cached cast made outside the capture would be freed while the graph still reads it)."""
    return mode != "cuda-graphs"


def output_tensors(output) -> list[torch.Tensor]:
    """The tensors of a forward's output (a tensor, or nested tuples, lists and dicts)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        return [t for k in sorted(output, key=str) for t in output_tensors(output[k])]
    if isinstance(output, (tuple, list)):
        return [t for item in output for t in output_tensors(item)]
    return []


def max_abs_difference(reference, output) -> float:
    """max |reference - output| over all output tensors, in fp32; ``inf`` when the outputs do
    not have the same tensors and shapes, ``nan`` when a difference is not finite."""
    ref, out = output_tensors(reference), output_tensors(output)
    if len(ref) != len(out) or any(a.shape != b.shape for a, b in zip(ref, out, strict=True)):
        return float("inf")
    worst = 0.0
    for a, b in zip(ref, out, strict=True):
        if a.numel():
            diff = float((a.float() - b.float()).abs().max())
            if diff != diff:  # NaN: not equal, whatever the tolerance
                return diff
            worst = max(worst, diff)
    return worst


@dataclass(frozen=True)
class EqualityCheck:
    """A mode's outputs against eager's on the same inputs."""

    mode: str
    batch: int
    max_abs_diff: float
    tolerance: float
    outputs: int  # output tensors compared

    @property
    def passed(self) -> bool:
        return self.max_abs_diff <= self.tolerance  # False for nan

    def to_dict(self) -> dict:
        diff = self.max_abs_diff  # inf: outputs of other shapes; nan: not finite
        return {**asdict(self), "max_abs_diff": diff if math.isfinite(diff) else repr(diff),
                "passed": self.passed,
                "method": "max |eager - mode| over every output tensor (fp32), same inputs, "
                          "same process, before timing"}

    def message(self) -> str:
        return (f"{self.mode} outputs differ from eager at batch {self.batch}: max |difference| "
                f"{self.max_abs_diff:.3g} > tolerance {self.tolerance:g} "
                f"({self.outputs} output tensors); not timed")


class ModeCheckFailed(RuntimeError):
    def __init__(self, check: EqualityCheck):
        super().__init__(check.message())
        self.check = check


@dataclass
class Runner:
    """The timed call of one mode on fixed inputs, after its check."""

    fn: Callable[[], object]
    check: EqualityCheck | None  # None for eager (the reference itself)
    setup_s: float  # compile or warm-up and capture, with the mode's first call
    capture_peak: object = None  # cuda-graphs: MemoryPeak of the capture
    graph: object = None  # keeps the graph (and its memory pool) alive while timed
    output: object = None  # cuda-graphs: the static output each replay overwrites
    inputs: tuple = ()  # cuda-graphs: the static inputs each replay reads (kept alive here)


class Executor:
    """Runs ``module`` in one execution mode; :meth:`prepare` per input batch."""

    def __init__(self, module: nn.Module, mode: str, *, dtype: str = "fp32",
                 compile_mode: str = "default", backend: str = "inductor"):
        if mode not in MODES:
            raise ValueError(f"execution mode must be one of {', '.join(MODES)}, got {mode!r}")
        self.module, self.mode, self.dtype = module, mode, dtype
        self.compile_mode, self.backend = compile_mode, backend
        self._compiled = None

    def describe(self) -> dict:
        """What every speed record of this mode says about it (``extra``)."""
        info = {"execution_mode": self.mode, "compile_mode": None, "compile_backend": None,
                "tolerance": tolerance(self.mode, self.dtype)}
        if self.mode == "compile":
            info.update(compile_mode=self.compile_mode, compile_backend=self.backend,
                        compile_dynamic=False)
        if self.mode == "cuda-graphs":
            info.update(graph_warmup=GRAPH_WARMUP, autocast_cache=False)
        return info

    def prepare(self, inputs: tuple) -> Runner:
        """The timed call on ``inputs`` (which the mode may keep as static tensors), after
        checking the mode against eager; raises :class:`ModeCheckFailed` on a difference."""
        if self.mode == "eager":
            return Runner(lambda: self.module(*inputs), None, 0.0)
        reference = self.module(*inputs)
        reference = [t.clone() for t in output_tensors(reference)]
        start = time.perf_counter()
        if self.mode == "compile":
            if self._compiled is None:
                self._compiled = torch.compile(
                    self.module, backend=self.backend, dynamic=False,
                    mode=None if self.compile_mode == "default" else self.compile_mode)
            compiled = self._compiled
            output = compiled(*inputs)
            runner = Runner(lambda: compiled(*inputs), None, 0.0)
        else:
            runner, output = self._capture(inputs)
        setup_s = time.perf_counter() - start
        check = EqualityCheck(self.mode, _batch_of(inputs), max_abs_difference(reference, output),
                              tolerance(self.mode, self.dtype), len(reference))
        if not check.passed:
            raise ModeCheckFailed(check)
        runner.check, runner.setup_s = check, setup_s
        return runner

    def _capture(self, inputs: tuple):
        from bench.efficiency.memory import cuda_peak

        device = next(t.device for t in inputs if isinstance(t, torch.Tensor))
        side = torch.cuda.Stream(device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(GRAPH_WARMUP):
                self.module(*inputs)
        torch.cuda.current_stream(device).wait_stream(side)
        torch.cuda.synchronize(device)
        graph = torch.cuda.CUDAGraph()
        static = []

        def capture():
            with torch.cuda.graph(graph):
                static.append(self.module(*inputs))

        peak = cuda_peak(capture, str(device))
        graph.replay()
        torch.cuda.synchronize(device)
        return Runner(graph.replay, None, 0.0, capture_peak=peak, graph=graph,
                      output=static[0], inputs=inputs), static[0]


def _batch_of(inputs: tuple) -> int:
    return next((t.shape[0] for t in inputs if isinstance(t, torch.Tensor) and t.dim()), 1)
