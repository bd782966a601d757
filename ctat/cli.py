"""``python -m ctat``: train CTAT and inspect its checkpoints (a thin layer over ctat.train).

    python -m ctat train --dataset synthetic --no-perceptual     # smoke preset: CPU, minutes
    python -m ctat train --dataset market --data-root /data/market --device cuda --amp bf16
    python -m ctat train --preset smoke --no-attention --out runs/ctat/no-at   # an ablation
    python -m ctat train --resume runs/ctat/market-20261126T010000Z
    python -m ctat info runs/ctat/market-20261126T010000Z/latest.pt
    torchrun --nproc-per-node 4 -m ctat train --dataset market --device cuda   # 4 GPUs, batch 32

Every flag left out keeps the preset's value; ``--dataset`` alone picks the preset of the same
name (market, deepfashion) or the smoke preset (synthetic sets). ``--dry-run`` prints the
resolved configuration.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from bench.cli import dispatch
from bench.errors import BenchError
from ctat.config import FUSIONS


def build_parser(prog: str = "python -m ctat") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train a CTAT generator")
    t.add_argument("--preset", help="a training preset (default: from --dataset); "
                                    "ctat: smoke, market, deepfashion; patn: patn-smoke, ...")
    t.add_argument("--dataset", help="synthetic, synthetic-fashion, market or deepfashion")
    t.add_argument("--data-root", type=Path)
    t.add_argument("--out", type=Path, help="run folder (default: runs/ctat/<dataset>-<time>)")
    t.add_argument("--resume", type=Path, metavar="CHECKPOINT_OR_RUN",
                   help="continue a run from its latest.pt (or a given checkpoint)")
    t.add_argument("--iterations", type=int)
    t.add_argument("--decay-iterations", type=int, help="linear decay to 0 over the last N")
    t.add_argument("--batch-size", type=int,
                   help="pairs per optimiser step, over all processes (the global batch)")
    t.add_argument("--lr", type=float)
    t.add_argument("--seed", type=int)
    t.add_argument("--device")
    t.add_argument("--amp", choices=("off", "fp16", "bf16"), help="mixed precision (CUDA)")
    t.add_argument("--workers", type=int, help="data loading processes")
    t.add_argument("--no-perceptual", action="store_true",
                   help="train without the VGG19 perceptual term (e.g. weights unavailable)")
    t.add_argument("--vgg-weights", type=Path, help="vgg19-dcbb9e9d.pth (default: torch hub cache)")
    t.add_argument("--lambda-gan", type=float)
    t.add_argument("--lambda-l1", type=float)
    t.add_argument("--lambda-perceptual", type=float)
    t.add_argument("--gan-mode", choices=("lsgan", "bce"))
    t.add_argument("--checkpoint-every", type=int)
    t.add_argument("--sample-every", type=int)
    t.add_argument("--log-every", type=int)
    t.add_argument("--eval-pairs", type=int, help="held-out test pairs scored at checkpoints")
    d = t.add_argument_group("several processes (torchrun; see --batch-size)")
    d.add_argument("--accumulate", type=int, metavar="N",
                   help="micro-batches per optimiser step: --batch-size stays the global batch, "
                        "each process runs batch / (processes x N) pairs at a time")
    d.add_argument("--sync-bn", action="store_true",
                   help="batch-norm statistics over all processes (CUDA; PATN on Market)")
    d.add_argument("--dist-timeout", type=int, metavar="SECONDS",
                   help="give up joining the group or waiting for another process (default 600)")
    g = t.add_argument_group("CTAT network (ablations)")
    g.add_argument("--stages", type=int)
    g.add_argument("--no-attention", action="store_true", help="without appearance transfer")
    g.add_argument("--no-context", action="store_true", help="without multi-scale context")
    g.add_argument("--fusion", choices=FUSIONS, help="both fusions: concatenation or addition")
    g.add_argument("--fusion-target", choices=FUSIONS)
    g.add_argument("--fusion-source", choices=FUSIONS)
    g.add_argument("--ngf", type=int)
    g.add_argument("--dropout", type=float)
    g.add_argument("--atrous-rates", help="comma-separated, e.g. 1,2,4,8")
    pg = t.add_argument_group("PATN network")
    pg.add_argument("--blocks", type=int, help="pose-attentional transfer blocks (official: 9)")
    pg.add_argument("--norm", choices=("batch", "instance"))
    pg.add_argument("--no-dropout", action="store_true")
    t.add_argument("--quiet", action="store_true", help="no progress display")
    t.add_argument("--dry-run", action="store_true", help="print the configuration and exit")

    i = sub.add_parser("info", help="what a checkpoint holds")
    i.add_argument("checkpoint", type=Path)
    return parser


CTAT_FLAGS = ("stages", "no_attention", "no_context", "fusion", "fusion_target", "fusion_source",
              "dropout", "atrous_rates")
PATN_FLAGS = ("blocks", "norm", "no_dropout")


def train_config(args: argparse.Namespace, network: str = "ctat"):
    """The preset, with every flag the user gave applied on top."""
    from ctat.train import PRESETS, preset_for

    preset = args.preset or preset_for(args.dataset or "synthetic", network)
    config = PRESETS.get(preset)
    if config.network != network:
        raise BenchError(f"preset {preset!r} trains {config.network}, not {network}")
    foreign = PATN_FLAGS if network == "ctat" else CTAT_FLAGS
    given = [f for f in foreign if getattr(args, f) not in (None, False)]
    if given:
        raise BenchError(f"--{given[0].replace('_', '-')} does not apply to {network}")
    top = {
        "dataset": args.dataset, "data_root": args.data_root, "out": args.out,
        "iterations": args.iterations, "decay_iterations": args.decay_iterations,
        "batch_size": args.batch_size, "lr": args.lr, "seed": args.seed, "device": args.device,
        "amp": args.amp, "workers": args.workers, "vgg_weights": args.vgg_weights,
        "gan_mode": args.gan_mode, "checkpoint_every": args.checkpoint_every,
        "sample_every": args.sample_every, "log_every": args.log_every,
        "eval_pairs": args.eval_pairs, "accumulate": args.accumulate,
        "dist_timeout_s": args.dist_timeout,
    }
    changes = {k: v for k, v in top.items() if v is not None}
    if args.iterations is not None and args.decay_iterations is None:
        # keep the preset's share of decay (2s-ATN: the last third)
        share = config.decay_iterations / config.iterations
        changes["decay_iterations"] = int(round(args.iterations * share))
    if args.no_perceptual:
        changes["perceptual"] = False
    if args.sync_bn:
        changes["sync_bn"] = True
    loss = {k: v for k, v in (("gan", args.lambda_gan), ("l1", args.lambda_l1),
                              ("perceptual", args.lambda_perceptual)) if v is not None}
    if loss:
        changes["loss"] = dataclasses.replace(config.loss, **loss)
    if network == "ctat":
        model = {
            "stages": args.stages, "ngf": args.ngf, "dropout": args.dropout,
            "fusion_target": args.fusion_target or args.fusion,
            "fusion_source": args.fusion_source or args.fusion,
            "atrous_rates": (tuple(int(r) for r in args.atrous_rates.split(","))
                             if args.atrous_rates else None),
            "attention": False if args.no_attention else None,
            "context": False if args.no_context else None,
        }
    else:
        model = {"n_blocks": args.blocks, "ngf": args.ngf, "norm": args.norm,
                 "dropout": False if args.no_dropout else None}
    model = {k: v for k, v in model.items() if v is not None}
    if model:
        try:
            changes["model"] = config.model.replace(**model)
        except ValueError as exc:
            raise BenchError(str(exc)) from None
    return config.replace(**changes)


def _cmd_train(args: argparse.Namespace, network: str = "ctat") -> int:
    from ctat.train import train

    config = train_config(args, network)
    if args.dry_run:
        print(json.dumps(config.to_dict(), indent=2))
        return 0
    train(config, resume=args.resume, progress=not args.quiet)
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from ctat.checkpoint import load_checkpoint
    from ctat.network import count_parameters

    ckpt = load_checkpoint(args.checkpoint)
    net = ckpt.build()
    print(f"{ckpt.path}\n  {ckpt.network} trained on {ckpt.dataset} at {ckpt.size[0]}x{ckpt.size[1]}, "
          f"step {ckpt.step}\n  parameters {count_parameters(net):,}\n"
          f"  weights sha256 {ckpt.generator_sha256}\n  file sha256 {ckpt.file_sha256}\n"
          f"  resumable: {'yes' if ckpt.train_state is not None else 'no'}")
    print("  network " + json.dumps(ckpt.config.to_dict()))
    if ckpt.training:
        keep = ("iterations", "batch_size", "lr", "loss", "gan_mode", "perceptual_used", "seed")
        print("  training " + json.dumps({k: ckpt.training.get(k) for k in keep}))
    return 0


def main(argv: list[str] | None = None, network: str = "ctat") -> int:
    """``python -m ctat``; ``python -m baselines.patn`` is the same with ``network="patn"``."""
    prog = "python -m ctat" if network == "ctat" else f"python -m baselines.{network}"
    args = build_parser(prog).parse_args(argv)
    return dispatch({"train": lambda a: _cmd_train(a, network), "info": _cmd_info}, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
