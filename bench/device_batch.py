"""The batch at which each network of a run fills the device, found once per network.

A run hands its networks its own batches (``--batch-size``: 32 pairs on a CPU, 256 on a GPU);
each network (a generator, Inception, LPIPS, a pose estimator) runs a batch in chunks of its
own size, chosen when the network is built:

* ``--network-batch N``: every network at N (at most the run's batch), on any device;
* otherwise, on a GPU: **probed**. The network runs on 1 and on 2 blank inputs; the growth of
  its peak memory per input (``per_item_bytes``) and what it needs besides (``fixed_bytes``)
  say how many inputs fit in :data:`FRACTION` of the device's free memory (``budget_bytes``).
  That count, rounded down to a power of two and at most the run's batch, is run once to
  confirm it; it is halved while the network runs out of memory or its peak passes the budget;
* otherwise (a CPU): the network's own default, as before the probe existed (the run's batch;
  Keypoint R-CNN 8 images).

::

    from bench.device_batch import BatchSizes
    sizes = BatchSizes(device="cuda:0", cap=256)
    n = sizes.of("inception-fid", lambda k: net(blank(k)))  # e.g. 128: probed once
    sizes.of("inception-fid", lambda k: net(blank(k)))      # 128 again, not probed again
    sizes.chosen()        # {"inception-fid": {"batch": 128, "how": "probed", ...}}

A chunk size changes how many images go through a network at once, never which images are
scored, in what order, or in which arithmetic (float32 stays float32). On a GPU the last bits
of a convolution may depend on the batch shape (cuDNN picks its algorithm per shape), as they
depend on the card: the sizes chosen are on the record (env.json ``ranks[].network_batches``)
beside the card's name.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from bench.errors import BenchError
from bench.types import Pair, PairBatch

#: The share of the free device memory one network's batch may take. Generation (main
#: thread) and the metric networks (the device thread, bench.evaluation) run at the same time,
#: so two networks' activations can be on the device together; the rest is headroom for the
#: caching allocator's fragmentation and the host-side copies.
FRACTION = 0.4


@dataclass(frozen=True)
class Fill:
    """The batch one network runs at, and how it was chosen."""

    batch: int
    how: str  # "probed", "given" (--network-batch), "default" (no probe on this device)
    per_item_bytes: int | None = None  # probed: peak memory per input
    fixed_bytes: int | None = None  # probed: peak memory besides the inputs' share
    budget_bytes: int | None = None  # probed: FRACTION of the free memory
    peak_bytes: int | None = None  # probed: the peak measured at ``batch``
    note: str = ""  # why a probe gave way to the default, or was cut short

    def record(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in (None, "")}


class CudaMemory:
    """What a probe reads of a CUDA device (torch's caching allocator)."""

    def __init__(self, device: str) -> None:
        import torch

        self._torch = torch
        self.device = torch.device(device)

    def release(self) -> None:
        cuda = self._torch.cuda
        cuda.synchronize(self.device)
        cuda.empty_cache()

    def free(self) -> int:
        """Bytes free on the device, the allocator's cache emptied first."""
        self.release()
        free, _total = self._torch.cuda.mem_get_info(self.device)
        return int(free)

    def peak_of(self, call: Callable[[], object]) -> int:
        """Bytes ``call`` needed at its peak beyond what was allocated before it."""
        cuda = self._torch.cuda
        cuda.synchronize(self.device)
        before = cuda.memory_allocated(self.device)
        cuda.reset_peak_memory_stats(self.device)
        call()
        cuda.synchronize(self.device)
        return int(cuda.max_memory_allocated(self.device) - before)

    def out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, self._torch.cuda.OutOfMemoryError)


def _floor_pow2(n: int) -> int:
    return 1 << (max(1, int(n)).bit_length() - 1)


class DeviceTooSmallError(BenchError):
    """A network runs out of device memory on a single input."""


def _too_small(memory) -> DeviceTooSmallError:
    return DeviceTooSmallError(f"out of device memory on a single input "
                               f"({memory.free() >> 20} MiB free)")


def probe(run_at: Callable[[int], object], cap: int, memory, fraction: float = FRACTION
          ) -> Fill:
    """The largest batch (a power of two, or ``cap``) whose peak memory fits ``fraction`` of
    the free memory: estimated from batches of 1 and 2, then confirmed (see the module)."""
    cap = max(1, int(cap))

    def peak(n: int) -> int | None:
        """Peak bytes of a pass over ``n`` inputs; None if it ran out of memory (the cache
        emptied once the failed pass's tensors are gone with its exception)."""
        try:
            return memory.peak_of(lambda: run_at(n))
        except Exception as exc:
            if not memory.out_of_memory(exc):
                raise
        memory.release()
        return None

    warm = peak(1)  # not measured: kernels chosen, workspaces made
    one = None if warm is None else peak(1)
    if one is None:
        raise _too_small(memory)
    two = peak(2) if cap > 1 else None
    budget = int(fraction * memory.free())
    if two is None:  # one input fits, two do not
        return Fill(batch=1, how="probed", budget_bytes=budget, peak_bytes=one,
                    note="out of memory at 2" if cap > 1 else "")
    per_item = max(two - one, 1)
    fixed = max(one - per_item, 0)
    fits = max(1, (budget - fixed) // per_item)
    n = cap if fits >= cap else _floor_pow2(fits)
    note = ""
    while True:
        measured = peak(n)
        if n > 1 and (measured is None or measured > budget):
            note = (f"out of memory at {n}" if measured is None
                    else f"peak {measured} B over the budget at {n}")
            n = _floor_pow2(n - 1)
            continue
        if measured is None:
            raise _too_small(memory)
        memory.release()
        return Fill(batch=n, how="probed", per_item_bytes=per_item, fixed_bytes=fixed,
                    budget_bytes=budget, peak_bytes=measured, note=note)


class BatchSizes:
    """The network batches of one run: each network's chosen once (thread-safe), kept for
    the record. ``cap``: the run's batch; ``given``: ``--network-batch``; ``memory``: what a
    probe reads (default: :class:`CudaMemory` of a CUDA ``device``; None elsewhere: no probe)."""

    def __init__(self, device: str = "cpu", cap: int = 32, given: int | None = None,
                 memory=None, fraction: float = FRACTION) -> None:
        self.device = str(device)
        self.cap = max(1, int(cap))
        self.given = given
        self.fraction = fraction
        self._memory = memory
        self._fills: dict[str, Fill] = {}
        self._lock = threading.Lock()

    @property
    def probes(self) -> bool:
        """Whether a network without a given size is probed (a GPU, or a memory handed in)."""
        return self.given is None and (self._memory is not None
                                       or self.device.startswith("cuda"))

    def _memory_reader(self):
        if self._memory is None:
            self._memory = CudaMemory(self.device)
        return self._memory

    def of(self, network: str, run_at: Callable[[int], object], default: int | None = None
           ) -> int:
        """The batch ``network`` runs at: given, probed with ``run_at(k)`` (the network on
        k blank inputs), or ``default`` (None: the run's batch), chosen on the first call."""
        with self._lock:
            fill = self._fills.get(network)
            if fill is None:
                fill = self._choose(network, run_at, default)
                self._fills[network] = fill
            return fill.batch

    def _choose(self, network: str, run_at, default: int | None) -> Fill:
        fallback = min(self.cap, default or self.cap)
        if self.given is not None:
            return Fill(batch=min(self.cap, self.given), how="given")
        if not self.probes:
            return Fill(batch=fallback, how="default")
        try:
            return probe(run_at, self.cap, self._memory_reader(), self.fraction)
        except DeviceTooSmallError as exc:
            raise DeviceTooSmallError(
                f"{network} cannot run on {self.device}: {exc} (free the device, or run it "
                "elsewhere with --device)") from None
        except Exception as exc:  # noqa: BLE001 - the run reports the network's own error
            return Fill(batch=fallback, how="default",
                        note=f"probe failed: {type(exc).__name__}: {str(exc)[:200]}")

    def chosen(self) -> dict[str, dict]:
        """Each network's :class:`Fill` as a record, in the order they were chosen."""
        with self._lock:
            return {name: fill.record() for name, fill in self._fills.items()}

    def summary(self) -> str:
        """One line for the console: ``ctat 256, inception-fid 128 (probed)``."""
        chosen = self.chosen()
        hows = sorted({f["how"] for f in chosen.values()})
        sizes = ", ".join(f"{name} {fill['batch']}" for name, fill in chosen.items())
        return f"{sizes} ({', '.join(hows)})" if chosen else ""


_SHARED = "bench.device_batch/sizes"


def batch_sizes(shared: dict) -> BatchSizes:
    """The run's :class:`BatchSizes`, made from its metric settings on first use."""
    from bench.metrics.settings import settings_of

    sizes = shared.get(_SHARED)
    if sizes is None:
        settings = settings_of(shared)
        sizes = shared[_SHARED] = BatchSizes(settings.device, settings.batch_size,
                                             settings.network_batch)
    return sizes


def blank_batch(n: int, size: tuple[int, int]):
    """``n`` pairs of black ``size`` images, every keypoint missing: a probe's input."""
    h, w = size
    images = np.zeros((n, h, w, 3), np.uint8)
    kpts = np.full((n, 18, 2), -1, np.float32)
    return PairBatch(pairs=tuple(Pair("probe", "probe", i) for i in range(n)), src_img=images,
                     tgt_img=images.copy(), src_kpts=kpts, tgt_kpts=kpts.copy())


def chunks(n: int, size: int):
    """``(start, stop)`` of consecutive chunks of at most ``size`` of ``range(n)``."""
    size = max(1, int(size))
    return [(start, min(n, start + size)) for start in range(0, n, size)]
