"""Training CTAT (2s-ATN's losses and schedule) and PATN (its official settings) with one loop:
checkpoints, sample grids and a loss log.

    python -m ctat train --dataset synthetic --no-perceptual       # the smoke preset, CPU, minutes
    python -m ctat train --dataset market --device cuda --amp bf16  # 2s-ATN's Market settings
    python -m ctat train --resume runs/ctat/market-20261126T010000Z/latest.pt
    python -m baselines.patn train --dataset market                # preset patn-market
    torchrun --nproc-per-node 4 -m baselines.patn train --dataset market --device cuda --sync-bn

    from ctat.train import PRESETS, train
    config = PRESETS.get("smoke").replace(perceptual=False, iterations=50)
    result = train(config)          # TrainResult: out_dir, checkpoint, step, evals

The network is any of :data:`ctat.checkpoint.NETWORKS` (``config.network``; the presets of
PATN set ``network="patn"`` with the official hyper-parameters). One step (PATN's order):
the generator renders the target from the source image and both
poses; the generator is updated with ``gan * L_GAN + l1 * L_1 + perceptual * L_p`` against
the appearance (image + source image) and shape (image + target pose) discriminators, then
both discriminators are updated on the detached output (drawn from an image pool when
``pool_size`` > 0, as PATN on Market). Adam (0.5, 0.999); the learning rate
is constant, then decays linearly to 0 over the last ``decay_iterations`` (2s-ATN: 1e-4 for
60k iterations, then 30k of decay). Pairs are drawn from the training split in a seeded
order that depends only on (seed, step), so a resumed run sees the batches it would have seen.

A run folder holds ``train_config.json``, ``log.jsonl`` (one JSON object per logged step and
per held-out evaluation), ``samples/step_NNNNNNN.png`` (rows of source | target | generated on
held-out test pairs), ``checkpoints/step_NNNNNNN.pt`` and ``latest.pt`` (a copy of the newest).
An interruption (Ctrl-C) or a non-finite loss saves the current weights before stopping.

Several processes (``torchrun``; :mod:`ctat.distributed`): ``batch_size`` stays the global batch
of one optimiser step, cut into ``accumulate`` chunks x one slice per rank; the generator and
both discriminators (as one :class:`DiscriminatorStep`) are wrapped in DistributedDataParallel;
the image pools are shared by all ranks; each rank's dropout stream is derived from the seed;
losses are logged averaged over ranks; rank 0 writes the run folder and checkpoints (the same
format: the unwrapped generator) with every rank's random streams, so a resume at the same
world size is exact. One process without torchrun runs as before, bit for bit. What is exact at
another world size: docs (More than one GPU or machine).
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as _dt
import json
import math
import shutil
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from PIL import Image
from torch.nn.parallel import DistributedDataParallel

from bench.data import load_split, locate
from bench.data.loader import iter_batches, read_image
from bench.errors import BenchError, DataError, WeightsUnavailableError
from bench.generation import images_to_tensor, kpts_to_tensor, tensor_to_images
from bench.progress import Progress
from bench.registry import Registry
from ctat.checkpoint import NETWORKS, CheckpointError, load_checkpoint, save_checkpoint
from ctat.config import CTATConfig
from ctat.discriminators import ResnetDiscriminator
from ctat.distributed import (
    RankBatches,
    SharedPool,
    World,
    join,
    launched,
    micro_batch_size,
    rank_seed,
)
from ctat.losses import (
    GANLoss,
    GeneratorLossWeights,
    PerceptualLoss,
    discriminator_loss,
    generator_loss,
    vgg19_relu1_2,
)

AMP_MODES = ("off", "fp16", "bf16")


class TrainingError(BenchError):
    """Training cannot go on (non-finite loss, unreadable training image, bad resume)."""


@dataclass(frozen=True)
class TrainConfig:
    dataset: str = "synthetic"
    data_root: Path | None = None
    out: Path | None = None  # None: runs/<network>/<dataset>-<UTC time>
    network: str = "ctat"  # a name in ctat.checkpoint.NETWORKS
    model: object = field(default_factory=CTATConfig)  # that network's config
    iterations: int = 90_000  # 2s-ATN: ~90k iterations
    decay_iterations: int = 30_000  # 2s-ATN: linear decay to 0 over the last 30k
    batch_size: int = 32  # 2s-ATN: 32 (Market), 7 (DeepFashion)
    lr: float = 1e-4  # 2s-ATN
    betas: tuple[float, float] = (0.5, 0.999)  # 2s-ATN
    loss: GeneratorLossWeights = field(default_factory=GeneratorLossWeights)  # 2s-ATN 20/17/17
    gan_mode: str = "lsgan"  # ours (2s-ATN does not say; PATN: BCE Market, LSGAN DeepFashion)
    ndf: int = 64  # PATN's discriminators
    d_blocks: int = 3
    d_norm: str = "instance"  # 2s-ATN; PATN: its --norm (batch on Market)
    d_activation: str = "lrelu"  # 2s-ATN; PATN: "relu"
    d_dropout: float = 0.0  # PATN: 0.5 (not --no_dropout_D)
    pool_size: int = 0  # fake-image pool for the discriminators (PATN Market: 50)
    perceptual: bool = True  # False: train without L_p (recorded in checkpoints)
    vgg_weights: Path | None = None  # None: the torch hub cache (torchvision's mechanism)
    seed: int = 0
    device: str = "cpu"
    amp: str = "off"  # mixed precision on CUDA: "fp16" (with loss scaling) or "bf16"
    checkpoint_every: int = 5000
    sample_every: int = 1000
    log_every: int = 50
    eval_pairs: int = 64  # held-out test pairs scored (SSIM) at each checkpoint; 0: none
    workers: int = 2  # data loading processes (0: in the main process)
    accumulate: int = 1  # micro-batches per optimiser step (batch_size stays the global batch)
    sync_bn: bool = False  # under torchrun: batch-norm statistics over all ranks (CUDA only)
    dist_timeout_s: int = 600  # under torchrun: joining the group and every collective

    def __post_init__(self) -> None:
        problems = []
        for name in ("iterations", "batch_size", "checkpoint_every", "sample_every", "log_every",
                     "accumulate", "dist_timeout_s"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be at least 1, got {getattr(self, name)}")
        if not 0 <= self.decay_iterations <= self.iterations:
            problems.append(f"decay_iterations must be in [0, iterations], got "
                            f"{self.decay_iterations} of {self.iterations}")
        if self.lr <= 0:
            problems.append(f"lr must be positive, got {self.lr}")
        if self.amp not in AMP_MODES:
            problems.append(f"amp must be one of {AMP_MODES}, got {self.amp!r}")
        if self.gan_mode not in ("lsgan", "bce"):
            problems.append(f"gan_mode must be 'lsgan' or 'bce', got {self.gan_mode!r}")
        if self.accumulate >= 1 and self.batch_size % self.accumulate:
            problems.append(f"batch_size {self.batch_size} (the global batch) must be a multiple "
                            f"of accumulate {self.accumulate}")
        if self.eval_pairs < 0 or self.workers < 0 or self.pool_size < 0:
            problems.append("eval_pairs, workers and pool_size must not be negative")
        if self.network not in NETWORKS:
            problems.append(f"network must be one of {NETWORKS.names()}, got {self.network!r}")
        elif not isinstance(self.model, NETWORKS.get(self.network).config_class):
            problems.append(f"model must be a {NETWORKS.get(self.network).config_class.__name__} "
                            f"for network {self.network!r}, got {type(self.model).__name__}")
        if problems:
            raise BenchError("invalid training configuration: " + "; ".join(problems))

    def replace(self, **changes) -> TrainConfig:
        return dataclasses.replace(self, **changes)

    def uses_perceptual(self) -> bool:
        return self.perceptual and self.loss.perceptual > 0

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        data["model"] = self.model.to_dict()
        data["betas"] = list(self.betas)
        for key in ("data_root", "out", "vgg_weights"):
            data[key] = None if data[key] is None else str(data[key])
        return data

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """The inverse of :meth:`to_dict` (e.g. a run's ``train_config.json``; its
        ``perceptual_used`` is ignored)."""
        data = {k: v for k, v in data.items() if k != "perceptual_used"}
        unknown = sorted(set(data) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise BenchError(f"unknown training configuration fields: {', '.join(unknown)}")
        network = data.get("network", cls.network)
        if network not in NETWORKS:
            raise BenchError(f"network must be one of {NETWORKS.names()}, got {network!r}")
        if "model" in data:
            data["model"] = NETWORKS.get(network).config_class.from_dict(data["model"])
        if "loss" in data:
            data["loss"] = GeneratorLossWeights(**data["loss"])
        if "betas" in data:
            data["betas"] = tuple(data["betas"])
        for key in ("data_root", "out", "vgg_weights"):
            if data.get(key) is not None:
                data[key] = Path(data[key])
        return cls(**data)

    def lr_at(self, step: int) -> float:
        """Constant, then linear decay to 0 over the last ``decay_iterations`` steps."""
        start = self.iterations - self.decay_iterations
        if step < start or self.decay_iterations == 0:
            return self.lr
        return self.lr * max(0.0, (self.iterations - step) / self.decay_iterations)


PRESETS: Registry[TrainConfig] = Registry("training preset")
# 2s-ATN's published settings (PROTOCOL.md 1.2): the journal's own are not public.
PRESETS.register("market")(TrainConfig(dataset="market", batch_size=32))
PRESETS.register("deepfashion")(TrainConfig(dataset="deepfashion", batch_size=7))
# A few CPU minutes on the synthetic set: a narrow network, short schedule, no dropout.
PRESETS.register("smoke")(TrainConfig(
    dataset="synthetic", model=CTATConfig(ngf=16, dropout=0.0), iterations=300,
    decay_iterations=100, batch_size=8, lr=2e-4, ndf=16, d_blocks=1, checkpoint_every=100,
    sample_every=100, log_every=10, eval_pairs=64,
))


# PATN's official settings live with the baseline (imported only when asked for).
PRESETS.register_lazy("patn-market", "baselines.patn.presets:MARKET")
PRESETS.register_lazy("patn-deepfashion", "baselines.patn.presets:DEEPFASHION")
PRESETS.register_lazy("patn-smoke", "baselines.patn.presets:SMOKE")


def preset_for(dataset: str, network: str = "ctat") -> str:
    """The preset a bare ``--dataset`` selects: its own (``patn-`` prefixed for PATN), else
    the CPU smoke preset."""
    prefix = "" if network == "ctat" else f"{network}-"
    name = f"{prefix}{dataset}"
    return name if name in PRESETS else f"{prefix}smoke"


@dataclass(frozen=True)
class TrainResult:
    out_dir: Path
    checkpoint: Path  # latest.pt
    step: int
    log: Path
    evals: tuple[tuple[int, float], ...]  # (step, held-out SSIM)


class PairStream:
    """Batches of pair indices in a seeded order that depends only on (seed, step)."""

    def __init__(self, n: int, batch_size: int, seed: int, start_step: int = 0) -> None:
        self.n, self.batch_size, self.seed, self.start_step = n, batch_size, seed, start_step

    def _epoch(self, epoch: int) -> list[int]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        return torch.randperm(self.n, generator=g).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        position = self.start_step * self.batch_size
        epoch, offset = divmod(position, self.n)
        order = self._epoch(epoch)
        while True:
            batch = []
            while len(batch) < self.batch_size:
                if offset == self.n:
                    epoch, offset = epoch + 1, 0
                    order = self._epoch(epoch)
                take = min(self.batch_size - len(batch), self.n - offset)
                batch += order[offset:offset + take]
                offset += take
            yield batch


class PairImages(torch.utils.data.Dataset):
    """(source uint8 HWC, target uint8 HWC, source keypoints, target keypoints) per pair."""

    def __init__(self, split, pairs) -> None:
        self.split, self.pairs = split, pairs

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, i: int):
        pair = self.pairs[i]
        images = []
        for name in (pair.src, pair.tgt):
            path = self.split.files.image_dir / name
            try:
                images.append(np.array(read_image(path, self.split.files.size)))  # writable
            except ValueError as exc:
                raise DataError(f"training image {path}: {exc}") from None
        kp = self.split.keypoints
        return (images[0], images[1], kp[pair.src].astype(np.float32),
                kp[pair.tgt].astype(np.float32))


def _to_generator_range(images_u8: torch.Tensor, device: str) -> torch.Tensor:
    return images_u8.to(device).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


def _perceptual(config: TrainConfig, device: str) -> PerceptualLoss | None:
    if not config.uses_perceptual():
        return None
    try:
        features = vgg19_relu1_2(config.vgg_weights)
    except WeightsUnavailableError as exc:
        raise WeightsUnavailableError(
            f"{exc}\nThe perceptual loss needs these weights. To train without it, pass "
            "--no-perceptual (the checkpoint records that the term was off)."
        ) from None
    return PerceptualLoss(features).to(device)


def _run_dir(config: TrainConfig) -> Path:
    if config.out is not None:
        return Path(config.out)
    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    return Path("runs") / config.network / f"{config.dataset}-{stamp}"


class _Heldout:
    """Fixed test pairs: SSIM (the PATN-protocol implementation) and the sample grid."""

    def __init__(self, config: TrainConfig, size: tuple[int, int], echo) -> None:
        self.batches = []
        if config.eval_pairs == 0:
            return
        try:
            split = load_split(locate(config.dataset, config.data_root, "test"))
        except DataError as exc:
            echo(f"no held-out evaluation: the test split is unavailable ({str(exc).splitlines()[0]})")
            return
        if split.files.size != size:
            return
        pairs = tuple(p for p in split.select() if split.pair_problem(p) is None)
        pairs = pairs[:config.eval_pairs]
        self.batches = [b for b, _ in iter_batches(split, pairs, 32, 1) if b is not None]

    @property
    def n(self) -> int:
        return sum(len(b) for b in self.batches)

    @torch.no_grad()
    def render(self, net: torch.nn.Module, device: str) -> list[np.ndarray]:
        was_training = net.training
        net.eval()
        out = []
        for b in self.batches:
            fake = net.render(images_to_tensor(b.src_img, device), kpts_to_tensor(b.src_kpts, device),
                              kpts_to_tensor(b.tgt_kpts, device))
            out.append(tensor_to_images(fake.float(), b.tgt_img.shape)[0])
        net.train(was_training)
        return out

    def ssim(self, fakes: list[np.ndarray]) -> float:
        from bench.metrics import METRICS

        metric = METRICS.get("ssim")({})
        metric.reset()
        for fake, b in zip(fakes, self.batches, strict=True):
            metric.update(fake, b)
        return float(metric.compute()["ssim"])

    def grid(self, fakes: list[np.ndarray], path: Path, rows: int = 8) -> None:
        if not self.batches:
            return
        b, fake = self.batches[0], fakes[0]
        k = min(rows, len(b))
        strip = [np.concatenate([b.src_img[i], b.tgt_img[i], fake[i]], axis=1) for i in range(k)]
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.concatenate(strip, axis=0)).save(path)


def _train_state(d_app, d_shape, opt_g, opt_d, scaler, pools) -> dict:
    state = {
        "d_appearance": {k: v.detach().cpu() for k, v in d_app.state_dict().items()},
        "d_shape": {k: v.detach().cpu() for k, v in d_shape.state_dict().items()},
        "opt_g": opt_g.state_dict(),
        "opt_d": opt_d.state_dict(),
        "rng_cpu": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["rng_cuda"] = torch.cuda.get_rng_state_all()
    if scaler is not None:
        state["scaler"] = scaler.state_dict()
    if pools is not None:
        state["pools"] = pools.state()
    return state


def _rank_state(world: World, pool_rng: torch.Generator | None, accumulate: int,
                gather: bool) -> dict:
    """What a multi-process checkpoint adds to ``train_state``: the world size, the shared pools'
    generator and (when ``gather``, a collective) every rank's random streams."""
    state = {"world_size": world.size, "accumulate": accumulate}
    if pool_rng is not None:
        state["rng_pool"] = pool_rng.get_state()
    if gather:
        state["rng_ranks_cpu"] = world.gather(torch.get_rng_state())
        if world.device.startswith("cuda"):
            state["rng_ranks_cuda"] = world.gather(torch.cuda.get_rng_state(world.device))
    return state


def _restore_streams(state: dict, world: World | None, seed: int, step: int, device: str,
                     echo) -> torch.Generator | None:
    """Random streams on resume; returns the shared pools' generator (multi-process runs).

    One process: one stream for dropout and pools, as before (from a multi-process checkpoint:
    the pools' stream, which keeps the pools exact). Several: at the world size the checkpoint
    was written at, every rank's own stream; at another, rank 0 takes the saved stream and the
    others fresh ones derived from (seed, rank, step)."""
    saved = int(state.get("world_size", 1))
    if world is None:
        torch.set_rng_state(state["rng_pool"] if saved > 1 and "rng_pool" in state
                            else state["rng_cpu"])
        if "rng_cuda" in state and device.startswith("cuda"):
            torch.cuda.set_rng_state_all(state["rng_cuda"])
        if saved > 1:
            echo(f"resuming a checkpoint of {saved} processes in one: weights, optimisers, pair "
                 "order and image pools continue; dropout masks come from a new stream")
        return None
    pool_rng = torch.Generator()
    pool_rng.set_state(state.get("rng_pool", state["rng_cpu"]))
    exact = saved == world.size and "rng_ranks_cpu" in state
    if exact:
        torch.set_rng_state(state["rng_ranks_cpu"][world.rank])
        if device.startswith("cuda") and "rng_ranks_cuda" in state:
            torch.cuda.set_rng_state(state["rng_ranks_cuda"][world.rank], device)
    elif world.main:
        torch.set_rng_state(state["rng_cpu"])
        if device.startswith("cuda"):
            torch.cuda.manual_seed(rank_seed(seed, 0, step))
    else:
        torch.manual_seed(rank_seed(seed, world.rank, step))
    if not exact:
        why = ("written by a single process" if "world_size" not in state
               else f"written by {saved} process(es)" if saved != world.size
               else "saved on an interruption (rank 0's streams only)")
        echo(f"resuming a checkpoint {why} with {world.size}: weights, optimisers, pair order "
             "and image pools continue exactly; the other ranks' dropout masks come from new "
             "streams derived from (seed, rank, step)")
    return pool_rng


class DiscriminatorStep(torch.nn.Module):
    """Both discriminators' loss as one module, so that one DistributedDataParallel wrapper
    averages both discriminators' gradients over the ranks (see :func:`discriminator_loss`)."""

    def __init__(self, d_app, d_shape, gan: GANLoss, weight: float, pool=None) -> None:
        super().__init__()
        self.d_app, self.d_shape, self.gan, self.weight, self.pool = d_app, d_shape, gan, weight, pool

    def forward(self, fake, real, src, tgt_pose):
        return discriminator_loss(fake, real, src, tgt_pose, self.d_app, self.d_shape, self.gan,
                                  self.weight, pool=self.pool)


def _has_batch_norm(*modules: torch.nn.Module) -> bool:
    return any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
               for module in modules for m in module.modules())


def train(
    config: TrainConfig,
    *,
    resume: Path | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    perceptual: PerceptualLoss | None = None,
) -> TrainResult:
    """Train (or resume) a generator; returns where its checkpoints and log are.

    Under ``torchrun`` (``RANK`` and ``WORLD_SIZE`` set) every process calls this: it joins the
    group, trains its slice of each global batch with DistributedDataParallel, and rank 0 writes
    the run folder. ``perceptual`` replaces the VGG19 loss module (tests pass a stand-in
    network)."""
    where = launched()
    if where is not None:
        micro_batch_size(config.batch_size, where[1], config.accumulate)  # before joining
    world = join(config.device, config.dist_timeout_s, config.sync_bn) if where else None
    previous = _interrupt_on_sigterm() if world is not None else None
    try:
        return _train(config, world, resume, progress, echo, perceptual)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        if world is not None:
            world.leave()


def _interrupt_on_sigterm():
    """Under torchrun, SIGTERM (torchrun stopping its workers on Ctrl-C or on another worker's
    failure; SLURM's preemption) stops training as Ctrl-C does: rank 0 saves the weights.
    Returns the previous handler, or None where no handler can be set (not the main thread)."""
    def interrupt(signum, frame):
        raise KeyboardInterrupt(f"signal {signum}")

    try:
        return signal.signal(signal.SIGTERM, interrupt)
    except ValueError:
        return None


def _ignore_sigterm() -> None:
    """While a stopping process saves: a SIGTERM (torchrun stops the other workers as soon as
    one fails, often while rank 0 is writing) is ignored; torchrun's SIGKILL comes only after
    its grace period, and ``train`` puts the previous handler back."""
    try:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    except ValueError:  # not the main thread: no handler was set either
        pass


def _train(config: TrainConfig, world: World | None, resume: Path | None, progress: bool,
           echo: Callable[[str], None], perceptual: PerceptualLoss | None) -> TrainResult:
    main = world is None or world.main
    if not main:
        echo, progress = (lambda s: None), False
    n_ranks, rank, accumulate = (world.size, world.rank, config.accumulate) if world else (
        1, 0, config.accumulate)
    micro_batch_size(config.batch_size, n_ranks, accumulate)
    device = world.device if world is not None else config.device
    try:
        torch.empty(0, device=device)
    except (RuntimeError, AssertionError) as exc:
        raise BenchError(f"--device {device!r} cannot be used here: {exc}") from None
    if config.amp != "off" and not device.startswith("cuda"):
        raise BenchError(f"--amp {config.amp} needs a CUDA device (got --device {device})")

    ckpt = None
    if resume is not None:
        resume = Path(resume)
        if resume.is_dir():
            resume = resume / "latest.pt"
        ckpt = load_checkpoint(resume)
        if ckpt.train_state is None:
            raise CheckpointError(f"{resume} holds no training state (optimisers, "
                                  "discriminators); it can be evaluated but not resumed")
        config = config.replace(network=ckpt.network, model=ckpt.config)

    files = locate(config.dataset, config.data_root, "train", progress=progress)
    split = load_split(files)
    pairs = tuple(p for p in split.pairs if split.pair_problem(p) is None)
    skipped = len(split.pairs) - len(pairs)
    if not pairs:
        raise DataError(f"no usable training pairs in {files.pairs_csv} "
                        f"({skipped} pairs name missing or unusable images)")
    size = files.size
    if ckpt is not None and ckpt.size != size:
        raise CheckpointError(f"{resume} was trained at {ckpt.size}; {config.dataset} "
                              f"training images are {size}")
    echo(f"{config.network} train: {len(pairs)} training pairs of {files.name} at {size[0]}x{size[1]}"
         + (f" ({skipped} skipped: missing or unusable images)" if skipped else ""))
    if world is not None:
        micro = config.batch_size // (n_ranks * accumulate)
        echo(f"{n_ranks} processes ({world.backend}): global batch {config.batch_size} = "
             f"{n_ranks} ranks x {accumulate} accumulation step(s) x {micro} pairs")

    torch.manual_seed(config.seed)
    net = NETWORKS.get(config.network)(config.model, size, seed=config.seed).to(device)
    p = config.model.pose_channels
    d_kw = dict(ndf=config.ndf, n_blocks=config.d_blocks, norm=config.d_norm,
                activation=config.d_activation, dropout=config.d_dropout)
    with torch.random.fork_rng(devices=[]):  # initialised at construction, seeded
        torch.manual_seed(config.seed + 1)
        d_app = ResnetDiscriminator(6, **d_kw).to(device)
        d_shape = ResnetDiscriminator(3 + p, **d_kw).to(device)
    if _has_batch_norm(net, d_app, d_shape):
        if config.sync_bn and world is not None:
            convert = torch.nn.SyncBatchNorm.convert_sync_batchnorm
            net, d_app, d_shape = convert(net), convert(d_app), convert(d_shape)
        elif world is not None and n_ranks > 1:
            echo(f"batch norm without --sync-bn: each rank normalises over its own "
                 f"{config.batch_size // (n_ranks * accumulate)} pairs (not the global batch)")
        if accumulate > 1:
            echo("batch norm with --accumulate: statistics are taken per micro-batch")
    if config.sync_bn and world is None:
        echo("--sync-bn applies to runs of several processes (torchrun); not used here")
    pools = FakePools(config.pool_size) if config.pool_size else None
    opt_g = torch.optim.Adam(net.parameters(), lr=config.lr, betas=config.betas)
    opt_d = torch.optim.Adam(list(d_app.parameters()) + list(d_shape.parameters()),
                             lr=config.lr, betas=config.betas)
    scaler = torch.amp.GradScaler("cuda") if config.amp == "fp16" else None
    amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(config.amp)

    step = 0
    pool_rng = None
    if ckpt is not None:
        state = ckpt.train_state
        net.load_state_dict(ckpt.generator)
        d_app.load_state_dict(state["d_appearance"])
        d_shape.load_state_dict(state["d_shape"])
        opt_g.load_state_dict(state["opt_g"])
        opt_d.load_state_dict(state["opt_d"])
        if scaler is not None and "scaler" in state:
            scaler.load_state_dict(state["scaler"])
        if pools is not None and "pools" in state:
            pools.load(state["pools"], device)
        step = ckpt.step
        pool_rng = _restore_streams(state, world, config.seed, step, device, echo)
        out_dir = resume.parent if resume.parent.name != "checkpoints" else resume.parent.parent
        echo(f"resuming {out_dir} at step {step}")
    else:
        out_dir = _run_dir(config)
        if world is not None:
            out_dir = Path(world.broadcast_text(str(out_dir)))
            pool_rng = torch.Generator()
            pool_rng.set_state(torch.get_rng_state())  # the stream one process's pools draw from
            if not world.main:
                torch.manual_seed(rank_seed(config.seed, world.rank, 0))
        if (out_dir / "latest.pt").exists():
            raise BenchError(f"{out_dir} already holds a training run; continue it with "
                             f"--resume {out_dir}, or choose another --out")
    if step >= config.iterations:
        raise TrainingError(f"{resume} is already at step {step} of {config.iterations}; "
                            "raise --iterations to train further")

    perceptual = perceptual if perceptual is not None else _perceptual(config, device)
    if perceptual is not None:
        perceptual = perceptual.to(device)
    elif config.loss.perceptual > 0:
        echo("the perceptual loss is off (--no-perceptual): L1 and adversarial terms only")
    gan = GANLoss(config.gan_mode).to(device)
    weights = config.loss if perceptual is not None else dataclasses.replace(config.loss, perceptual=0.0)
    training = {**config.to_dict(), "perceptual_used": perceptual is not None}

    pool = pools
    if pools is not None and world is not None:
        pools.generator = pool_rng
        pool = SharedPool(pools, world)
    d_step = DiscriminatorStep(d_app, d_shape, gan, weights.gan, pool)
    g_model: torch.nn.Module = net
    if world is not None:
        ids = [world.local_rank] if device.startswith("cuda") else None
        g_model = DistributedDataParallel(net, device_ids=ids)
        d_step = DistributedDataParallel(d_step, device_ids=ids)

    heldout = _Heldout(config, size, echo) if main else None
    log_path = out_dir / "log.jsonl"
    log = None
    if main:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "train_config.json").write_text(json.dumps(training, indent=2) + "\n")
        log = log_path.open("a", encoding="utf-8")
    evals: list[tuple[int, float]] = []

    def write_log(row: dict) -> None:
        log.write(json.dumps(row) + "\n")
        log.flush()

    def evaluate(at: int) -> None:
        if not heldout.batches:
            return
        fakes = heldout.render(net, device)
        value = heldout.ssim(fakes)
        evals.append((at, value))
        write_log({"kind": "eval", "step": at, "heldout_ssim": value, "n": heldout.n})
        heldout.grid(fakes, out_dir / "samples" / f"step_{at:07d}.png")

    def save(at: int, gather: bool = True) -> Path | None:
        """Rank 0 writes; with ``gather`` every rank takes part (its random streams)."""
        extra = {} if world is None else _rank_state(world, pool_rng, accumulate, gather)
        if not main:
            return None
        state = {**_train_state(d_app, d_shape, opt_g, opt_d, scaler, pools), **extra}
        path = save_checkpoint(out_dir / "checkpoints" / f"step_{at:07d}.pt", net, files.name, at,
                               training=training, train_state=state)
        shutil.copyfile(path, out_dir / "latest.pt.tmp")
        (out_dir / "latest.pt.tmp").replace(out_dir / "latest.pt")
        return path

    if step == 0 and main:
        evaluate(0)
        if evals:
            echo(f"held-out SSIM of the untrained generator ({heldout.n} test pairs): {evals[-1][1]:.4f}")
    if world is not None:
        world.barrier()

    dataset = PairImages(split, pairs)
    stream = PairStream(len(pairs), config.batch_size, config.seed, step)
    sampler = (stream if n_ranks == 1 and accumulate == 1
               else RankBatches(stream, n_ranks, rank, accumulate))
    loader = torch.utils.data.DataLoader(
        dataset, batch_sampler=sampler,
        num_workers=config.workers, persistent_workers=config.workers > 0,
        generator=torch.Generator().manual_seed(config.seed),  # not the global stream (dropout)
    )
    bar = Progress(total=config.iterations, desc=f"{config.network} train", enabled=progress, unit="step")
    bar.update(step)
    net.train()
    d_app.train()
    d_shape.train()
    tic, samples, sums = time.perf_counter(), 0, {}
    batches = iter(loader)
    caught = (KeyboardInterrupt, TrainingError, DataError)
    if world is not None:  # another rank failed (gloo: RuntimeError; NCCL: DistError), or OOM
        caught = (*caught, dist.DistError, RuntimeError)
    try:
        while step < config.iterations:
            lr = config.lr_at(step)
            for opt in (opt_g, opt_d):
                for group in opt.param_groups:
                    group["lr"] = lr
            opt_g.zero_grad(set_to_none=True)
            opt_d.zero_grad(set_to_none=True)
            terms: dict[str, float] = {}
            for micro in range(accumulate):
                last = micro == accumulate - 1
                with _no_sync(g_model, d_step, enabled=not last):
                    step_terms = _micro_step(
                        next(batches), net, g_model, d_step, d_app, d_shape, gan, perceptual,
                        weights, scaler, amp_dtype, device, accumulate, world, step)
                for k, v in step_terms.items():
                    terms[k] = terms.get(k, 0.0) + v
            if accumulate > 1:
                terms = {k: v / accumulate for k, v in terms.items()}
            if world is not None:
                terms = world.mean(terms)  # before the optimiser steps: a failure leaves `step`
            _optimiser_step(opt_g, scaler)
            _optimiser_step(opt_d, scaler)
            if scaler is not None:
                scaler.update()

            step += 1
            samples += config.batch_size
            for k, v in terms.items():
                sums[k] = sums.get(k, 0.0) + v
            bar.update(1)
            if main and (step % config.log_every == 0 or step == config.iterations):
                count = config.log_every if step % config.log_every == 0 else step % config.log_every
                row = {k: v / count for k, v in sums.items()}
                elapsed = time.perf_counter() - tic
                write_log({"kind": "loss", "step": step, "lr": lr, **row,
                           "samples_per_s": samples / max(elapsed, 1e-9)})
                bar.note(f"g {row['g_total']:.3f} d {row['d_total']:.3f}")
            if step % config.log_every == 0 or step == config.iterations:
                tic, samples, sums = time.perf_counter(), 0, {}
            if step % config.checkpoint_every == 0 or step == config.iterations:
                save(step)
                if main:
                    evaluate(step)
                if world is not None:
                    world.barrier()
            elif step % config.sample_every == 0 and main and heldout.batches:
                heldout.grid(heldout.render(net, device), out_dir / "samples" / f"step_{step:07d}.png")
    except caught as exc:
        if world is not None:
            _ignore_sigterm()  # torchrun's SIGTERM must not cut the save below short
        bar.close()
        path = save(step, gather=False)  # no collective: another rank may be gone
        if log is not None:
            log.close()
        if path is not None:
            echo(f"\nstopped at step {step}: weights saved to {path} (resume with --resume {out_dir})")
        if isinstance(exc, KeyboardInterrupt):
            raise
        kind = type(exc) if isinstance(exc, BenchError) else TrainingError
        where = "" if world is None else f"rank {world.rank} of {world.size}: "
        saved = (f"\nweights up to step {step} were saved to {path}" if path is not None
                 else f"\nrank 0 saves the weights up to step {step}")
        raise kind(f"{where}{exc}{saved}") from None
    bar.close()
    if log is not None:
        log.close()
    if evals:
        first, last = evals[0], evals[-1]
        echo(f"held-out SSIM: {first[1]:.4f} at step {first[0]} -> {last[1]:.4f} at step {last[0]}")
    echo(f"checkpoint: {out_dir / 'latest.pt'}\nevaluate it: python -m bench run --models "
         f"{config.network} --dataset {files.name} --checkpoint "
         f"{config.network}={out_dir / 'latest.pt'}")
    return TrainResult(out_dir=out_dir, checkpoint=out_dir / "latest.pt", step=step, log=log_path,
                       evals=tuple(evals))


def _micro_step(batch, net, g_model, d_step, d_app, d_shape, gan, perceptual, weights, scaler,
                amp_dtype, device, accumulate: int, world: World | None, step: int) -> dict:
    """Forward and backward of one micro-batch (gradients accumulate; no optimiser step): the
    generator against frozen discriminators, then the discriminators on the detached output.
    Returns the unweighted loss terms and both totals."""
    src_u8, tgt_u8, src_kp, tgt_kp = batch
    src = _to_generator_range(src_u8, device)
    real = _to_generator_range(tgt_u8, device)
    src_pose = net.pose_maps(src_kp.to(device))
    tgt_pose = net.pose_maps(tgt_kp.to(device))
    with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
        fake = g_model(src, src_pose, tgt_pose)
    for d in (d_app, d_shape):
        d.requires_grad_(False)
    with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
        # the bare discriminators: their parameters are frozen, only `fake` gets gradients
        g_total, g_terms = generator_loss(fake, real, src, tgt_pose, d_app, d_shape, gan,
                                          perceptual, weights)
    g_value = g_total.item()
    finite = math.isfinite(g_value if world is None else world.mean({"g": g_value})["g"])
    if not finite:
        raise TrainingError(f"the generator loss is not finite at step {step} ({g_terms}); "
                            "lower --lr, or turn --amp off")
    _backward(g_total / accumulate if accumulate > 1 else g_total, scaler)
    for d in (d_app, d_shape):
        d.requires_grad_(True)
    with torch.autocast("cuda", dtype=amp_dtype, enabled=amp_dtype is not None):
        d_total, d_terms = d_step(fake.detach(), real, src, tgt_pose)
    _backward(d_total / accumulate if accumulate > 1 else d_total, scaler)
    return {**g_terms, **d_terms, "g_total": g_value, "d_total": d_total.item()}


def _no_sync(*models: torch.nn.Module, enabled: bool) -> contextlib.AbstractContextManager:
    """DistributedDataParallel's ``no_sync`` on every wrapper (accumulation micro-batches before
    the last: gradients stay local until the last one's backward averages the sum)."""
    stack = contextlib.ExitStack()
    if enabled:
        for model in models:
            if isinstance(model, DistributedDataParallel):
                stack.enter_context(model.no_sync())
    return stack


class FakePools:
    """PATN's image pools (pix2pix's ImagePool), one per discriminator, drawn from the global
    torch random stream so that a resumed run draws as an uninterrupted one (or from
    ``generator``: multi-process runs share pools through :class:`ctat.distributed.SharedPool`).

    Until a pool holds ``size`` items every fake passes through and is stored; then each
    fake is, with probability 1/2, swapped for a stored one (which it replaces)."""

    def __init__(self, size: int, generator: torch.Generator | None = None) -> None:
        self.size = size
        self.generator = generator
        self.items: dict[str, list[torch.Tensor]] = {"appearance": [], "shape": []}

    def __call__(self, which: str, fakes: torch.Tensor) -> torch.Tensor:
        stored = self.items[which]
        out = []
        for fake in fakes.detach():
            if len(stored) < self.size:
                stored.append(fake.clone())
                out.append(fake)
            elif torch.rand((), generator=self.generator) < 0.5:
                i = int(torch.randint(self.size, (), generator=self.generator))
                out.append(stored[i].clone())
                stored[i] = fake.clone()
            else:
                out.append(fake)
        return torch.stack(out)

    def state(self) -> dict:
        return {k: [t.cpu() for t in v] for k, v in self.items.items()}

    def load(self, state: dict, device: str) -> None:
        self.items = {k: [t.to(device) for t in v] for k, v in state.items()}


def _backward(loss: torch.Tensor, scaler) -> None:
    if scaler is None:
        loss.backward()
    else:
        scaler.scale(loss).backward()


def _optimiser_step(opt: torch.optim.Optimizer, scaler) -> None:
    if scaler is None:
        opt.step()
    else:
        scaler.step(opt)


def read_log(path: Path, kind: str = "loss") -> list[dict]:
    """The rows of a training log of one kind ("loss" or "eval")."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            if row.get("kind") == kind:
                rows.append(row)
    return rows
