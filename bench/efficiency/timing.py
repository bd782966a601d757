"""The latency harness: warm-up, synchronised timed iterations, robust summaries.

    from bench.efficiency.timing import time_callable, synchronizer
    timing = time_callable(lambda: net(*inputs), warmup=3, iterations=20,
                           synchronize=synchronizer("cuda"), batch=1)
    timing.median, timing.p90, timing.min      # seconds per call
    timing.images_per_s                         # batch / median
    timing.iterations, timing.warmup            # what was actually run

Each timed iteration is ``synchronize(); t0 = clock(); fn(); synchronize(); t1 = clock()``: on a
GPU the work queued by ``fn`` is finished before the clock is read again (PATN's own timing had
no synchronisation and measured kernel launches). The clock and the synchronise function are
parameters, so the harness is tested with a fake clock.

Iterations: at least ``min_iterations`` and at most ``iterations``; after the minimum the loop
stops once the timed samples add up to ``budget_s`` (None: no budget), so a slow model on a
CPU does not run for minutes. The number actually run is recorded.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

TIMER = "time.perf_counter, synchronised before and after each call"


@dataclass(frozen=True)
class Timing:
    samples: tuple[float, ...]  # seconds per timed call, in order
    warmup: int  # untimed calls before the first sample
    batch: int = 1  # images per call
    timer: str = TIMER

    @property
    def iterations(self) -> int:
        return len(self.samples)

    @property
    def median(self) -> float:
        return float(statistics.median(self.samples))

    @property
    def p90(self) -> float:
        """90th percentile (linear interpolation between samples)."""
        return float(np.percentile(self.samples, 90))

    @property
    def min(self) -> float:
        return float(min(self.samples))

    @property
    def max(self) -> float:
        return float(max(self.samples))

    @property
    def mean(self) -> float:
        return float(statistics.fmean(self.samples))

    @property
    def std(self) -> float:
        return float(statistics.stdev(self.samples)) if len(self.samples) > 1 else 0.0

    @property
    def images_per_s(self) -> float:
        return self.batch / self.median

    def summary_ms(self) -> dict:
        """The spread, in milliseconds, for a record's ``extra``."""
        return {
            "median_ms": 1e3 * self.median, "p90_ms": 1e3 * self.p90, "min_ms": 1e3 * self.min,
            "max_ms": 1e3 * self.max, "mean_ms": 1e3 * self.mean, "std_ms": 1e3 * self.std,
            "samples_ms": [1e3 * s for s in self.samples], "warmup": self.warmup,
            "iterations": self.iterations, "batch": self.batch, "timer": self.timer,
        }


def _no_sync() -> None:
    return None


def time_callable(
    fn: Callable[[], object],
    *,
    warmup: int = 3,
    iterations: int = 20,
    min_iterations: int = 3,
    budget_s: float | None = None,
    batch: int = 1,
    clock: Callable[[], float] = time.perf_counter,
    synchronize: Callable[[], None] | None = None,
) -> Timing:
    """Call ``fn`` ``warmup`` times untimed, then time between ``min_iterations`` and
    ``iterations`` calls (see the module docstring)."""
    if warmup < 0 or iterations < 1 or min_iterations < 1:
        raise ValueError(f"need warmup >= 0 and iterations >= 1, got {warmup} and {iterations}")
    min_iterations = min(min_iterations, iterations)
    sync = synchronize or _no_sync
    for _ in range(warmup):
        fn()
        sync()
    samples: list[float] = []
    while len(samples) < iterations:
        sync()
        start = clock()
        fn()
        sync()
        samples.append(clock() - start)
        if budget_s is not None and len(samples) >= min_iterations and sum(samples) >= budget_s:
            break
    return Timing(samples=tuple(samples), warmup=warmup, batch=batch)


def synchronizer(device: str) -> Callable[[], None] | None:
    """``torch.cuda.synchronize`` for a CUDA device, None (nothing to wait for) on the CPU."""
    import torch

    dev = torch.device(device)
    if dev.type == "cuda":
        return lambda: torch.cuda.synchronize(dev)
    return None


def _machine_busy_s() -> float | None:
    """Seconds of CPU time all processes of the machine have used (Linux ``/proc/stat``)."""
    import os

    try:
        with open("/proc/stat") as fh:
            fields = fh.readline().split()
    except OSError:
        return None
    if not fields or fields[0] != "cpu":
        return None
    ticks = [int(v) for v in fields[1:]]
    busy = sum(ticks) - ticks[3] - (ticks[4] if len(ticks) > 4 else 0)  # minus idle, iowait
    return busy / os.sysconf("SC_CLK_TCK")


class OtherLoad:
    """How many CPU cores *other* processes kept busy while the block ran: the machine's busy
    time (``/proc/stat``) minus this process's, over the wall time. None where unknown.

        with OtherLoad() as load:
            timing = time_callable(...)
        load.cores      # e.g. 0.02 on a quiet machine, 1.0 with one busy neighbour
    """

    def __init__(self) -> None:
        self.cores: float | None = None

    def __enter__(self) -> OtherLoad:
        import os

        self._machine = _machine_busy_s()
        t = os.times()
        self._own = t.user + t.system
        self._wall = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        import os

        machine = _machine_busy_s()
        if machine is None or self._machine is None:
            return
        t = os.times()
        wall = time.perf_counter() - self._wall
        other = (machine - self._machine) - (t.user + t.system - self._own)
        if wall > 0:
            self.cores = max(0.0, other / wall)
