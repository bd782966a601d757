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
every collective time out after ``timeout_s`` seconds instead of hanging (the group itself:
:mod:`bench.distributed`, shared with sharded evaluation).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

import torch
import torch.distributed as dist

from bench.distributed import DistributedError, World, join, launched

__all__ = ["DistributedError", "RankBatches", "SharedPool", "World", "join", "launched",
           "micro_batch_size", "rank_batches", "rank_seed"]


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
