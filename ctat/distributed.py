"""The process group of a multi-process training run (``torchrun``), and the arithmetic that keeps
its numbers those of one process: which pairs each rank trains on, loss terms averaged over ranks,
an image pool shared by all ranks, per-rank random streams derived from the seed.

    torchrun --nproc-per-node 4 -m ctat train --dataset market --device cuda   # 4 ranks, NCCL
    torchrun --nproc-per-node 2 -m ctat train --dataset synthetic --no-perceptual  # CPU, gloo

    from ctat.distributed import join, rank_batches
    world = join("cuda", timeout_s=600)      # None without torchrun's RANK / WORLD_SIZE
    micro = rank_batches(global_batch, world=4, rank=1, accumulate=2)   # 2 lists of 4 pairs
    world.mean({"g_l1": 0.31})               # the same dict on every rank
    world.leave()

A global batch of B pairs (``--batch-size``, per optimiser step, at any world size) is cut into
``accumulate`` consecutive chunks, each cut into W rank slices of B / (W x accumulate) pairs, so
every optimiser step uses the same pairs, in the same global order, at any W. A batch that does
not divide is refused (no pair is repeated or dropped to pad). torchrun's environment
(``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``) is read with the
``env://`` method; NCCL on CUDA (device ``cuda:LOCAL_RANK``), gloo on the CPU; the group and
every collective time out after ``timeout_s`` seconds instead of hanging.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.distributed as dist

from bench.errors import BenchError


class DistributedError(BenchError):
    """A multi-process run that cannot start as asked (batch split, device, batch norm)."""


@dataclass(frozen=True)
class World:
    """This process's place in the group: rank, world size, and the device it trains on."""

    rank: int
    size: int
    local_rank: int
    device: str  # "cpu" or "cuda:LOCAL_RANK"
    backend: str  # "gloo" or "nccl"
    owns_group: bool = True  # False: the caller initialised the group and will destroy it

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def _device(self) -> torch.device:  # where collective tensors live (NCCL: the GPU)
        return torch.device(self.device if self.backend == "nccl" else "cpu")

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over the ranks (in float64, then back to Python floats)."""
        names = list(values)
        t = torch.tensor([values[k] for k in names], dtype=torch.float64, device=self._device)
        dist.all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(names, t.tolist(), strict=True)}

    def gather(self, state: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's tensor of the same shape and dtype (e.g. a random-number state), on the CPU."""
        local = state.to(self._device)
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local)
        return [p.cpu() for p in parts]

    def broadcast_text(self, text: str) -> str:
        """Rank 0's text on every rank (e.g. a run folder named after rank 0's clock)."""
        data = torch.tensor(list(text.encode()), dtype=torch.uint8, device=self._device)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self._device)
        dist.broadcast(size, 0)
        buffer = data if self.main else torch.empty(int(size), dtype=torch.uint8, device=self._device)
        dist.broadcast(buffer, 0)
        return bytes(buffer.cpu().tolist()).decode()

    def barrier(self) -> None:
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def leave(self) -> None:
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()


def launched() -> tuple[int, int, int] | None:
    """(rank, world size, local rank) from torchrun's environment; None in a plain process."""
    env = os.environ
    if "RANK" not in env or "WORLD_SIZE" not in env:
        return None
    try:
        return int(env["RANK"]), int(env["WORLD_SIZE"]), int(env.get("LOCAL_RANK", "0"))
    except ValueError:
        raise DistributedError(f"RANK={env['RANK']!r}, WORLD_SIZE={env['WORLD_SIZE']!r}, "
                               f"LOCAL_RANK={env.get('LOCAL_RANK')!r}: expected integers "
                               "(as torchrun sets them)") from None


def micro_batch_size(global_batch: int, world: int, accumulate: int) -> int:
    """Pairs per rank and forward pass; refuses a global batch that does not divide evenly."""
    parts = world * accumulate
    if global_batch % parts:
        lower, upper = global_batch // parts * parts, -(-global_batch // parts) * parts
        options = " or ".join(str(v) for v in (lower, upper) if v > 0)
        raise DistributedError(
            f"the global batch of {global_batch} pairs (--batch-size, per optimiser step) does "
            f"not split evenly into {world} process(es) x {accumulate} accumulation step(s) "
            f"(--accumulate): choose --batch-size {options}, or another process count or "
            "--accumulate (no pair is repeated or dropped to fill a batch)")
    return global_batch // parts


def rank_batches(global_batch: list[int], world: int, rank: int, accumulate: int) -> list[list[int]]:
    """This rank's ``accumulate`` micro-batches of one global batch: chunk a, slice rank."""
    micro = micro_batch_size(len(global_batch), world, accumulate)
    return [global_batch[(a * world + rank) * micro:(a * world + rank + 1) * micro]
            for a in range(accumulate)]


class RankBatches:
    """A batch sampler: the micro-batches of one rank, cut from a stream of global batches."""

    def __init__(self, stream, world: int, rank: int, accumulate: int) -> None:
        micro_batch_size(stream.batch_size, world, accumulate)
        self.stream, self.world, self.rank, self.accumulate = stream, world, rank, accumulate

    def __iter__(self):
        for batch in self.stream:
            yield from rank_batches(batch, self.world, self.rank, self.accumulate)


def rank_seed(seed: int, rank: int, step: int) -> int:
    """The seed of rank ``rank``'s random stream (dropout) from step ``step`` on: a hash of the
    three, so that ranks, and restarts at another world size, never share a stream."""
    digest = hashlib.sha256(f"ctat-bench rank stream {seed} {rank} {step}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class SharedPool:
    """Image pools shared by all ranks: every rank gathers the micro-batch's fakes of all ranks
    (in global order), runs the same pools with the same generator on them, and keeps its slice.
    So the pools hold, and hand out, what one process's pools would at the same global batch."""

    def __init__(self, pools: Callable[[str, torch.Tensor], torch.Tensor], world: World) -> None:
        self.pools, self.world = pools, world

    def __call__(self, which: str, fakes: torch.Tensor) -> torch.Tensor:
        local = fakes.detach().contiguous()
        parts = [torch.empty_like(local) for _ in range(self.world.size)]
        dist.all_gather(parts, local)
        chosen = self.pools(which, torch.cat(parts))
        n = len(local)
        return chosen[self.world.rank * n:(self.world.rank + 1) * n]


def join(device: str, timeout_s: float, sync_bn: bool = False) -> World | None:
    """Join torchrun's process group (``env://``); None when not launched by torchrun.

    ``device`` is the run's ``--device``: ``cuda`` becomes ``cuda:LOCAL_RANK`` (NCCL), ``cpu``
    uses gloo. Checks that need no other process come first, so a bad start fails alike on
    every rank without waiting for the others."""
    where = launched()
    if where is None:
        return None
    rank, size, local = where
    if device.startswith("cuda"):
        if device != "cuda":
            raise DistributedError(f"--device {device} under torchrun: pass --device cuda; "
                                   "each process takes cuda:LOCAL_RANK")
        if local >= torch.cuda.device_count():
            raise DistributedError(f"LOCAL_RANK {local} but {torch.cuda.device_count()} CUDA "
                                   "device(s) visible: start at most one process per GPU "
                                   "(torchrun --nproc-per-node)")
        torch.cuda.set_device(local)
        device, backend = f"cuda:{local}", "nccl"
    elif device == "cpu":
        if sync_bn:
            raise DistributedError(
                "--sync-bn needs CUDA devices: this version of PyTorch synchronises batch-norm "
                "statistics only on GPUs (SyncBatchNorm refuses CPU tensors). Train on GPUs, or "
                "leave --sync-bn out (each rank then normalises over its own micro-batch)")
        backend = "gloo"
    else:
        raise DistributedError(f"multi-process training runs on --device cuda (NCCL) or cpu "
                               f"(gloo), not {device!r}")
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group(backend, init_method="env://", rank=rank, world_size=size,
                                timeout=_dt.timedelta(seconds=timeout_s))
    elif (dist.get_rank(), dist.get_world_size()) != (rank, size):
        raise DistributedError(f"the process group is rank {dist.get_rank()} of "
                               f"{dist.get_world_size()}, the environment says {rank} of {size}")
    return World(rank=rank, size=size, local_rank=local, device=device, backend=backend,
                 owns_group=owns)
