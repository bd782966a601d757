"""Peak memory of one call: CUDA's max allocated bytes, or the CPU process's resident growth.

    from bench.efficiency.memory import peak_memory
    mem = peak_memory(lambda: net(*inputs), "cuda")
    mem.bytes, mem.method

* CUDA: ``torch.cuda.reset_peak_memory_stats``, the call, then ``max_memory_allocated`` minus
  what was allocated before (the model and its inputs): the activations and workspaces of the
  call, exactly, whatever ran before.
* CPU: the peak resident set size (``VmHWM``) is reset through ``/proc/self/clear_refs`` to the
  current resident size, and the growth over the call is ``VmHWM - VmRSS`` before. The C
  allocator keeps memory it freed, so a second call may grow less than the first: the probe
  measures the first call in a fresh process (:mod:`bench.efficiency.probe`). Where the reset
  is not possible (not Linux), the growth of ``ru_maxrss`` is reported, a lower bound, and the
  method says so.
"""

from __future__ import annotations

import resource
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc/self")


@dataclass(frozen=True)
class MemoryPeak:
    bytes: int | None
    method: str
    baseline_bytes: int | None = None  # allocated (CUDA) or resident (CPU) before the call


def _status_kb(field: str) -> int | None:
    try:
        for line in (PROC / "status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _reset_hwm() -> bool:
    try:
        (PROC / "clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _maxrss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024  # bytes on macOS, KiB on Linux


def cpu_peak(fn: Callable[[], object]) -> MemoryPeak:
    """Peak resident growth of the process over ``fn()``."""
    rss = _status_kb("VmRSS")
    if rss is not None and _reset_hwm() and _status_kb("VmHWM") is not None:
        fn()
        hwm = _status_kb("VmHWM")
        return MemoryPeak(bytes=max(0, (hwm - rss) * 1024),
                          method="CPU peak resident growth (VmHWM reset via clear_refs)",
                          baseline_bytes=rss * 1024)
    before = _maxrss_bytes()
    fn()
    return MemoryPeak(bytes=max(0, _maxrss_bytes() - before),
                      method="CPU growth of the lifetime peak resident size (ru_maxrss): a "
                             "lower bound", baseline_bytes=before)


def cuda_peak(fn: Callable[[], object], device: str = "cuda") -> MemoryPeak:
    """Peak CUDA memory allocated by ``fn()`` above what was allocated before."""
    import torch

    dev = torch.device(device)
    torch.cuda.synchronize(dev)
    torch.cuda.reset_peak_memory_stats(dev)
    base = torch.cuda.memory_allocated(dev)
    fn()
    torch.cuda.synchronize(dev)
    peak = torch.cuda.max_memory_allocated(dev)
    return MemoryPeak(bytes=int(peak - base),
                      method="CUDA max_memory_allocated above the allocation before the call",
                      baseline_bytes=int(base))


def peak_memory(fn: Callable[[], object], device: str) -> MemoryPeak:
    if device.startswith("cuda"):
        return cuda_peak(fn, device)
    return cpu_peak(fn)
