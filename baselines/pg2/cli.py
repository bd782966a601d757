"""``python -m baselines.pg2``: convert the official PG2 weights, inspect them, count parameters.

    python -m baselines.pg2 convert Market1501/model.ckpt-59999 pg2-market.pt   # needs TensorFlow
    python -m baselines.pg2 convert DF/ pg2-deepfashion.pt        # folder: its latest checkpoint
    python -m baselines.pg2 convert vars.npz pg2-market.pt        # {TF name: array}, no TF needed
    python -m baselines.pg2 info pg2-market.pt
    python -m baselines.pg2 count --size 256x256 --variant deepfashion

``convert`` reads the configuration off the variables' shapes (``--size`` / ``--variant`` only
check it, or settle what the shapes cannot tell); user errors exit 2 with a message.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from bench.cli import dispatch
from bench.errors import BenchError


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 128x64, got {text!r}") from None
    return h, w


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m baselines.pg2",
                                     description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("convert", help="official TF checkpoint -> PG2 .pt")
    c.add_argument("source", type=Path,
                   help="TF checkpoint prefix (model.ckpt-N), its folder, or an .npz")
    c.add_argument("out", type=Path, help="the .pt to write")
    c.add_argument("--size", type=_size, help="image size HxW (default: from the shapes)")
    c.add_argument("--variant", choices=("market", "deepfashion"),
                   help="G2 variant (default: from the shapes)")
    c.add_argument("--dataset", help="recorded in the file (default: the variant)")
    i = sub.add_parser("info", help="what a converted PG2 file holds")
    i.add_argument("checkpoint", type=Path)
    n = sub.add_parser("count", help="parameters of the generator and of the TF checkpoint")
    n.add_argument("--size", type=_size, default=(128, 64))
    n.add_argument("--variant", choices=("market", "deepfashion"), default="market")
    return parser


def _cmd_convert(args: argparse.Namespace) -> int:
    from baselines.pg2.checkpoint import load_pg2_checkpoint
    from baselines.pg2.convert import convert_checkpoint

    out = convert_checkpoint(args.source, args.out, size=args.size, variant=args.variant,
                             dataset=args.dataset)
    ckpt = load_pg2_checkpoint(out)
    print(f"wrote {out}: PG2 {ckpt.config.variant} at {ckpt.size[0]}x{ckpt.size[1]} from "
          f"{ckpt.source.get('path')} ({ckpt.source.get('ignored')} non-generator variables "
          f"skipped)\n  file sha256 {ckpt.file_sha256}")
    return 0


def _cmd_info(args: argparse.Namespace) -> int:
    from baselines.pg2.checkpoint import load_pg2_checkpoint

    ckpt = load_pg2_checkpoint(args.checkpoint)
    counts = ckpt.build().parameter_counts()
    print(f"{ckpt.path}\n  PG2 for {ckpt.dataset} at {ckpt.size[0]}x{ckpt.size[1]}\n"
          f"  parameters G1 {counts['g1']:,} + G2 {counts['g2']:,} = "
          f"{sum(counts.values()):,}\n  weights sha256 {ckpt.generator_sha256}\n"
          f"  file sha256 {ckpt.file_sha256}")
    print("  network " + json.dumps(ckpt.config.to_dict()))
    print("  source " + json.dumps(ckpt.source))
    return 0


def _cmd_count(args: argparse.Namespace) -> int:
    from baselines.pg2.counts import checkpoint_variable_count

    try:
        parts = checkpoint_variable_count(args.size, args.variant)
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    h, w = args.size
    official = {(128, 64): "market", (256, 256): "deepfashion"}.get((h, w)) == args.variant
    print(f"PG2 {args.variant} at {h}x{w}"
          + ("" if official else " (not an official configuration: D and checkpoint are "
             "what the official code would build if it could)") + "\n"
          f"  generator (what runs, what efficiency counts): G1 {parts['g1']:,} + "
          f"G2 {parts['g2']:,} = {parts['g1'] + parts['g2']:,}")
    print(f"  official TF checkpoint, every variable: {parts['total']:,} "
          f"({parts['total'] / 1e6:.2f} M) = G1 + G2 + D {parts['d']:,} + Adam slots "
          f"{parts['adam_slots']:,} + D moving averages {parts['d_moving_averages']:,} + "
          f"{parts['scalars']} scalars")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return dispatch({"convert": _cmd_convert, "info": _cmd_info, "count": _cmd_count}, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
