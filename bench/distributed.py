"""The process group of a multi-process run launched by ``torchrun`` (evaluation and training).

    torchrun --nproc-per-node 2 -m bench run --dataset market        # 2 ranks
    python -m bench run --dataset market --workers 2                 # the same, torchrun started for you

    from bench.distributed import join
    world = join("cuda", timeout_s=1800)  # None without torchrun's RANK / WORLD_SIZE
    world.rank, world.size, world.device  # 1, 2, "cuda:1"
    world.failed_ranks(failed=False)      # [] on every rank, or the ranks that failed
    world.leave()

torchrun's environment (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``/``MASTER_PORT``)
is read with the ``env://`` method; NCCL on CUDA (device ``cuda:LOCAL_RANK``), gloo on the CPU;
the group and every collective time out after ``timeout_s`` seconds instead of hanging. No
object is pickled between processes: text and flags travel as tensors.
"""

from __future__ import annotations

import datetime as _dt
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bench.errors import BenchError

if TYPE_CHECKING:
    import torch


def _torch():
    """torch and torch.distributed, imported when a process group is used (a plain run of
    results folders never imports torch)."""
    import torch
    import torch.distributed

    return torch, torch.distributed


class DistributedError(BenchError):
    """A multi-process run that cannot start as asked (batch split, device, batch norm)."""


@dataclass(frozen=True)
class World:
    """This process's place in the group: rank, world size, and the device it works on."""

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
        torch, _ = _torch()
        return torch.device(self.device if self.backend == "nccl" else "cpu")

    def mean(self, values: dict[str, float]) -> dict[str, float]:
        """Each value averaged over the ranks (in float64, then back to Python floats)."""
        torch, dist = _torch()
        names = list(values)
        t = torch.tensor([values[k] for k in names], dtype=torch.float64, device=self._device)
        dist.all_reduce(t)
        return {k: float(v) / self.size for k, v in zip(names, t.tolist(), strict=True)}

    def gather(self, state: torch.Tensor) -> list[torch.Tensor]:
        """Every rank's tensor of the same shape and dtype (e.g. a random-number state), on the CPU."""
        torch, dist = _torch()
        local = state.to(self._device)
        parts = [torch.empty_like(local) for _ in range(self.size)]
        dist.all_gather(parts, local)
        return [p.cpu() for p in parts]

    def broadcast_text(self, text: str) -> str:
        """Rank 0's text on every rank (e.g. a run folder named after rank 0's clock)."""
        torch, dist = _torch()
        data = torch.tensor(list(text.encode()), dtype=torch.uint8, device=self._device)
        size = torch.tensor([data.numel()], dtype=torch.int64, device=self._device)
        dist.broadcast(size, 0)
        buffer = data if self.main else torch.empty(int(size), dtype=torch.uint8, device=self._device)
        dist.broadcast(buffer, 0)
        return bytes(buffer.cpu().tolist()).decode()

    def failed_ranks(self, failed: bool) -> list[int]:
        """Every rank says whether it failed; all learn which did (the ranks that failed)."""
        torch, dist = _torch()
        flags = [torch.zeros(1, dtype=torch.int64, device=self._device)
                 for _ in range(self.size)]
        dist.all_gather(flags, torch.tensor([int(failed)], dtype=torch.int64,
                                            device=self._device))
        return [r for r, flag in enumerate(flags) if int(flag.item())]

    def barrier(self) -> None:
        _, dist = _torch()
        if self.backend == "nccl":
            dist.barrier(device_ids=[self.local_rank])
        else:
            dist.barrier()

    def leave(self) -> None:
        _, dist = _torch()
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


def join(device: str, timeout_s: float, sync_bn: bool = False) -> World | None:
    """Join torchrun's process group (``env://``); None when not launched by torchrun.

    ``device`` is the run's ``--device``: ``cuda`` becomes ``cuda:LOCAL_RANK`` (NCCL), ``cpu``
    uses gloo. Checks that need no other process come first, so a bad start fails alike on
    every rank without waiting for the others."""
    where = launched()
    if where is None:
        return None
    rank, size, local = where
    torch, dist = _torch()
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
        raise DistributedError(f"a multi-process run runs on --device cuda (NCCL) or cpu "
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
