"""``python -m bench``: a thin shell over :mod:`bench.api`.

    python -m bench run                                   # oracle,source,warp on the synthetic set
    python -m bench run --models ctat,pg2,pata --dataset market --data-root /data/market_data
  python -m bench run --dataset market --workers 4 --device cuda   4 processes (torchrun)
  python -m bench run --resume results/<run>            finish an interrupted run
    python -m bench run --models warp,folder:defgan=/results/defgan --dataset market
    python -m bench list models
    python -m bench data generate synthetic
    python -m bench data check market --data-root /data/market_data
    python -m bench data prepare pidm --dataset deepfashion --images DIR --out DIR
    python -m bench weights                               # pretrained files: where, present?
    python -m bench weights add ~/Downloads/alexnet-owt-7be5be79.pth
    python -m bench compare results/<run> --models warp,source
    python -m bench report results/<run> --out reports/paper
    python -m bench profile --models ctat,pg2,patn --resolution 128x64   # size, MACs, speed

Every user error (unknown name, missing data, bad file) prints one clear message and exits 2.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

from bench.errors import BenchError

EPILOG = """examples:
  python -m bench run                                   reference methods on the synthetic set
  python -m bench run --models oracle,source,warp --limit 200 --out results/quick
  python -m bench run --models ctat,pg2,pata --dataset market --data-root /data/market_data
  python -m bench run --dataset market --workers 4 --device cuda   4 processes (torchrun)
  python -m bench run --resume results/<run>            finish an interrupted run
  python -m bench run --models warp,folder:defgan=/results/defgan --dataset market
                                                        a folder of images a method released
  python -m bench run --models folder:patn-released=/results/patn --protocol patn-strips \\
      --dataset market --data-root /data/market_csv_only   PATN's strips scored as it did
  python -m bench list
  python -m bench data check market --data-root /data/market_data
  python -m bench weights                               pretrained files: where looked, present?
  python -m bench weights add FILE                      install a weights file you downloaded
  python -m bench compare results/<run> --models warp,source   paired test per metric
                                                        (IS/FID/KID: joint bootstrap)
  python -m bench report results/<run> --out reports/paper      tables, plots, grid, HTML
  python -m bench compare results/reference-synthetic results/<run>   regression report
  python -m bench profile --models ctat,pg2,patn --resolution 128x64 [--device cuda] [--json]
                                                        parameters, MACs, latency, memory
"""


def _csv_list(text: str) -> tuple[str, ...]:
    items = tuple(s.strip() for s in text.split(",") if s.strip())
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


def _model_list(text: str) -> tuple[str, ...]:
    """``--models``: names and ``folder:NAME=PATH[,panels=K,panel=I,target=J]`` entries."""
    from bench.models.folder import FolderError, split_model_list

    try:
        items = split_model_list(text)
    except FolderError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not items:
        raise argparse.ArgumentTypeError("expected a comma-separated list of names")
    return items


def _checkpoint(text: str) -> tuple[str, str]:
    model, sep, path = text.partition("=")
    if not sep or not model or not path:
        raise argparse.ArgumentTypeError(f"expected MODEL=PATH, got {text!r}")
    return model.strip(), path.strip()


def _named_path(text: str) -> tuple[str, str]:
    name, sep, path = text.partition("=")
    if not sep or not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=PATH, got {text!r}")
    return name.strip(), path.strip()


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected 0 or more, got {value}")
    return value


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1, got {value}")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="ctat-bench: evaluate pose-guided person image generation models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True,
                                metavar="{run,merge,list,data,weights,report,compare,profile}")

    run = sub.add_parser("run", help="generate and score images, write results/<run-id>/",
                         epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    run.add_argument("--models", type=_model_list, default=None,
                     help="comma-separated model names (default: oracle,source,warp); pata = patn; "
                          "folder:NAME=PATH scores images a method already generated "
                          "(options follow: folder:NAME=PATH,panels=5,panel=4,target=2)")
    run.add_argument("--dataset", default=None, help="dataset name (default: synthetic)")
    run.add_argument("--data-root", type=Path, default=None,
                     help="dataset folder (default: $BENCH_<NAME>_ROOT, then data/<name>)")
    run.add_argument("--split", default="test")
    run.add_argument("--metrics", type=_csv_list, default=None,
                     help="comma-separated metric names (default: all)")
    run.add_argument("--protocol", default=None,
                     help="evaluation protocol (default: patn; patn-strips: ground truth from "
                          "the result strips, no dataset images needed)")
    group = run.add_mutually_exclusive_group()
    group.add_argument("--limit", type=_positive, default=None, help="first N pairs in file order")
    group.add_argument("--subset", type=_positive, default=None,
                       help="N pairs sampled reproducibly with --seed")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--batch-size", type=_positive, default=None,
                     help="pairs per batch (default: 32 on a CPU, 256 on a GPU)")
    run.add_argument("--network-batch", type=_positive, default=None, metavar="N",
                     help="run every network (generators, Inception, LPIPS, pose estimator) "
                          "in chunks of at most N of the batch (default: on a GPU, each "
                          "network's size that fills the device, probed; on a CPU, the batch)")
    run.add_argument("--device", default="cpu", help="torch device for the generators")
    run.add_argument("--out", type=Path, default=None, help="run folder (default: results/<run-id>)")
    run.add_argument("--no-images", action="store_true", help="do not save generated images")
    run.add_argument("--workers", type=_positive, default=1,
                     help="processes on this machine (torchrun started for you; default 1); "
                          "several machines: torchrun ... -m bench run")
    run.add_argument("--decode-threads", type=_positive, default=2,
                     help="image decoding threads per process (default 2)")
    run.add_argument("--unit-size", type=_positive, default=256,
                     help="pairs per work unit, rounded up to whole batches (default 256): "
                          "what is kept on disk, resumed and shared between processes")
    run.add_argument("--resume", type=Path, default=None, metavar="RUN_DIR",
                     help="finish an interrupted run: its settings from RUN_DIR/config.json, "
                          "complete units kept (any number of processes)")
    run.add_argument("--dist-timeout", type=_positive, default=1800, metavar="SECONDS",
                     help="multi-process runs: how long a process waits for the others at a "
                          "collective before the run stops (default 1800)")
    run.add_argument("--checkpoint", type=_checkpoint, action="append", default=[],
                     metavar="MODEL=PATH",
                     help="weights for a model (repeatable); PATH 'untrained' runs seeded "
                          "initial weights, labelled untrained on every record")
    run.add_argument("--weights", type=_named_path, action="append", default=[],
                     metavar="NETWORK=PATH",
                     help="explicit weights file for a network (repeatable; see `weights`)")
    run.add_argument("--offline", action="store_true",
                     help="never download missing weights (metrics needing them: unavailable)")
    run.add_argument("--stats-cache", type=Path, default=None,
                     help="real-statistics cache folder (default: $BENCH_CACHE/real-stats)")
    run.add_argument("--no-cache", action="store_true",
                     help="neither read nor write cached real statistics")
    run.add_argument("--keypoints", type=_named_path, action="append", default=[],
                     metavar="MODEL=CSV",
                     help="keypoints estimated on MODEL's images (a results folder: its "
                          "NAME), annotation format, rows named as the result files "
                          "({from}___{to}_vis.jpg, Def-GAN's {from}_{to}.png, ...); PCKh uses "
                          "them (repeatable)")
    run.add_argument("--pose-estimator", default=None,
                     help="PCKh estimator without --keypoints (default: markers on synthetic "
                          "sets, keypointrcnn otherwise)")
    run.add_argument("--train-folder", type=Path, default=None,
                     help="training images: the FID real set of the script protocols (gfla, "
                          "dptn, pidm, cfld) and of fid_train / kid_train (fair)")
    run.add_argument("--bootstrap", type=_non_negative, default=1000,
                     help="bootstrap resamples for confidence intervals (0: none)")
    run.add_argument("--confidence", type=_fraction, default=0.95,
                     help="confidence level of the intervals (default 0.95)")
    run.add_argument("--precision", choices=["fp32", "bf16", "fp16"], default="fp32",
                     help="generation under autocast (opt in; default fp32): the learned "
                          "models' records and table labels say it, metric networks stay "
                          "float32 (docs/run.md, Precision)")
    run.add_argument("--quiet", action="store_true", help="no progress display")
    run.add_argument("--no-efficiency", action="store_true",
                     help="skip the learned models' efficiency records (parameters, MACs, "
                          "latency, memory; see `profile`)")
    _add_mode_arguments(run)
    run.add_argument("--dry-run", action="store_true",
                     help="print the resolved configuration as JSON and exit")

    merger = sub.add_parser("merge", help="write a run's records from its unit files (after "
                            "a multi-process run whose rank 0 could not merge)")
    merger.add_argument("run_dir", type=Path, metavar="RUN", help="the run folder")
    merger.add_argument("--quiet", action="store_true", help="no progress display")

    lister = sub.add_parser("list", help="list models, datasets, metrics and protocols")
    lister.add_argument("what", nargs="?", default="all",
                        choices=["all", "models", "datasets", "metrics", "protocols"])

    data = sub.add_parser("data", help="generate the synthetic set, check a dataset folder, or "
                          "prepare images as a paper did")
    data_sub = data.add_subparsers(dest="data_command", required=True,
                                   metavar="{generate,check,prepare}")
    gen = data_sub.add_parser("generate", help="generate a synthetic dataset into the cache")
    gen.add_argument("name", nargs="?", default="synthetic")
    gen.add_argument("--seed", type=int, default=None)
    gen.add_argument("--data-root", type=Path, default=None,
                     help="parent folder to generate into (default: the cache)")
    check = data_sub.add_parser("check", help="validate a dataset folder without running models")
    check.add_argument("name")
    check.add_argument("--data-root", type=Path, default=None)
    check.add_argument("--split", default="test")
    check.add_argument("--protocol", default=None,
                       help="also accept the file names its script's test folder used "
                       "(pidm: PIDM's deep{stem}.png)")
    prep = data_sub.add_parser(
        "prepare", help="make a test or training folder the way a protocol's paper made it "
        "(resize filter, size, format) from source images named as in the CSVs")
    prep.add_argument("protocol", help="gfla, dptn, pidm, cfld or fair")
    prep.add_argument("--dataset", default="deepfashion")
    prep.add_argument("--images", type=Path, required=True,
                      help="folder of source images (e.g. img_highres), CSV file names")
    prep.add_argument("--out", type=Path, required=True, help="folder to write")
    prep.add_argument("--overwrite", action="store_true", help="rewrite existing files")

    weights = sub.add_parser(
        "weights", help="list pretrained weight files (where looked, present, checksum) or add one")
    weights.add_argument("action", nargs="?", default="list", choices=["list", "add"])
    weights.add_argument("file", nargs="?", type=Path, default=None,
                         help="for add: the file to install")
    weights.add_argument("--as", dest="as_name", default=None, metavar="NETWORK",
                         help="for add: which network the file is (checked against its checksum)")
    weights.add_argument("--weights", type=_named_path, action="append", default=[],
                         metavar="NETWORK=PATH", help="for list: explicit paths to check")

    from bench.report.command import add_parser as add_report_parser

    add_report_parser(sub)

    compare = sub.add_parser(
        "compare", help="RUN --models A,B: paired comparison of two models of one run; "
                        "BASELINE CANDIDATE: the regression report between two runs")
    compare.add_argument("runs", type=Path, nargs="+", metavar="RUN",
                         help="one run (with --models A,B), or BASELINE CANDIDATE")
    compare.add_argument("--models", type=_csv_list, default=None,
                         help="A,B: the two models (one run; a results folder by its NAME); a "
                              "filter (two runs)")
    compare.add_argument("--metrics", type=_csv_list, default=None,
                         help="metric keys (default: every per-pair one both models have, and "
                              "every set-level one the run computed)")
    compare.add_argument("--resamples", type=_positive, default=10000,
                         help="resamples of the per-pair comparisons")
    compare.add_argument("--set-resamples", type=_non_negative, default=None,
                         help="joint bootstrap resamples of IS, mask-IS, FID, KID (each costs "
                              "a fit per model; default 100; 0: per-pair metrics only)")
    compare.add_argument("--alpha", type=_fraction, default=0.05)
    compare.add_argument("--seed", type=int, default=0)
    compare.add_argument("--weights", type=_named_path, action="append", default=[],
                         metavar="NETWORK=PATH",
                         help="explicit weights file for a network (repeatable; default: the "
                              "run's)")
    compare.add_argument("--offline", action="store_true",
                         help="never download missing weights (implied by a run made offline)")
    compare.add_argument("--data-root", type=Path, default=None,
                         help="the dataset folder the run used, if it moved (default: "
                              "data_root in the run's config.json)")
    compare.add_argument("--stats-cache", type=Path, default=None,
                         help="real-statistics cache folder (default: the run's)")
    compare.add_argument("--no-cache", action="store_true",
                         help="neither read nor write cached real statistics")
    compare.add_argument("--device", default="cpu", help="torch device of the metric networks")
    compare.add_argument("--quiet", action="store_true", help="no progress display")
    compare.add_argument("--allow-different-weights", action="store_true",
                         help="compare values computed with different pretrained weight files "
                              "(SHA-256 on the records, or of the file found now for a "
                              "set-level recomputation); default: refused as incomparable")
    from bench.report.command import add_regression_arguments

    add_regression_arguments(compare)
    _add_profile_parser(sub)
    return parser


def _resolution(text: str) -> tuple[int, int]:
    h, sep, w = text.lower().partition("x")
    try:
        size = (int(h), int(w))
    except ValueError:
        size = None
    if not sep or size is None or min(size) < 1:
        raise argparse.ArgumentTypeError(f"expected HxW (e.g. 128x64), got {text!r}")
    return size


def _batch_list(text: str) -> tuple[int, ...]:
    if text.strip().lower() in ("none", ""):
        return ()
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected batch sizes like 1,2,4,8, got {text!r}") from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive batch sizes, got {text!r}")
    return values


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {value}")
    return value


def _add_profile_parser(sub) -> None:
    profile = sub.add_parser(
        "profile", help="parameters, MACs, latency, throughput and memory of models (no data, "
                        "no weights needed)",
        description="Count and time the inference module of each model: parameters (total, "
                    "per top-level submodule), fvcore MACs (FLOPs = 2 x MACs), uncounted "
                    "operators, a torch.utils.flop_counter cross-check, batch-1 latency "
                    "(median, p90, min), throughput, peak memory; each model timed in a fresh "
                    "process. Learned models run seeded untrained weights unless --checkpoint "
                    "names a file.")
    profile.add_argument("--models", type=_model_list, default=("ctat", "patn", "pg2"),
                         help="comma-separated model names (default: ctat,patn,pg2)")
    profile.add_argument("--resolution", type=_resolution, default=None, metavar="HxW",
                         help="image size (default: the dataset's, else 128x64)")
    profile.add_argument("--dataset", default=None,
                         help="selects per-dataset configurations only (PATN: batch norm for "
                              "market, instance norm for deepfashion); no files are read "
                              "(default: deepfashion at 256x176 / 256x256, else market)")
    profile.add_argument("--device", type=_csv_list, default=("cpu", "cuda"),
                         help="devices to time, one column each (default: cpu,cuda; cuda "
                              "columns say unavailable without a GPU)")
    profile.add_argument("--dtype", choices=["fp32", "fp16", "bf16"], default="fp32",
                         help="fp32, or autocast to fp16 / bf16")
    profile.add_argument("--channels-last", action="store_true")
    _add_mode_arguments(profile)
    profile.add_argument("--compile-backend", default="inductor", metavar="BACKEND",
                         help="torch.compile's backend (default inductor; 'aot_eager' and "
                              "'eager' check the plumbing without code generation)")
    profile.add_argument("--batch", type=_positive, default=None,
                         help="throughput batch (default: 4 on the CPU, 32 on a GPU)")
    profile.add_argument("--sweep", type=_batch_list, default=None, metavar="B,B,...",
                         help="batch sizes of a latency-vs-batch sweep ('none' for none; "
                              "default: none on the CPU, 1,4,16,64 on a GPU)")
    profile.add_argument("--warmup", type=_non_negative, default=None,
                         help="untimed calls first (default: 2 on the CPU, 10 on a GPU)")
    profile.add_argument("--iterations", type=_positive, default=None,
                         help="timed calls at most (default: 20 on the CPU, 100 on a GPU)")
    profile.add_argument("--min-iterations", type=_positive, default=None,
                         help="timed calls at least (default: 3 on the CPU, 10 on a GPU)")
    profile.add_argument("--budget", type=_seconds, default=None, metavar="SECONDS",
                         help="stop timing after the minimum once this much was timed "
                              "(default: 5 on the CPU, 3 on a GPU)")
    profile.add_argument("--threads", type=_positive, default=None,
                         help="torch CPU threads (default: torch's)")
    profile.add_argument("--no-cudnn-benchmark", action="store_true",
                         help="leave torch.backends.cudnn.benchmark off")
    profile.add_argument("--no-timing", action="store_true", help="counts and memory only")
    profile.add_argument("--no-memory", action="store_true")
    profile.add_argument("--no-ops", action="store_true", help="skip fvcore counting")
    profile.add_argument("--in-process", action="store_true",
                         help="time in this process instead of a fresh one per model")
    profile.add_argument("--breakdown", action="store_true",
                         help="also print parameters and MACs per top-level submodule")
    profile.add_argument("--checkpoint", type=_checkpoint, action="append", default=[],
                         metavar="MODEL=PATH", help="weights for a model (default: untrained)")
    profile.add_argument("--seed", type=int, default=0)
    profile.add_argument("--json", action="store_true",
                         help="print the records as JSON lines (the records.jsonl schema)")
    profile.add_argument("--out", type=Path, default=None, metavar="FILE",
                         help="also append the records to FILE (JSON lines)")
    profile.add_argument("--quiet", action="store_true", help="no progress messages")


def _add_mode_arguments(parser) -> None:
    """``--cuda-graphs`` and ``--compile [MODE]`` (``profile`` and ``run``)."""
    from bench.efficiency import COMPILE_MODES

    parser.add_argument("--cuda-graphs", action="store_true",
                        help="also time CUDA graph replay (own columns, e.g. latency "
                             "cuda-graphs; outputs checked equal to eager first)")
    parser.add_argument("--compile", nargs="?", const="default", default=None,
                        choices=COMPILE_MODES, metavar="MODE",
                        help="also time torch.compile(mode=MODE) (default mode: default; "
                             f"{', '.join(COMPILE_MODES)}); own columns, e.g. latency "
                             "cpu-compile; outputs checked equal to eager first")


def _cmd_profile(args: argparse.Namespace) -> int:
    from bench.efficiency.probe import EfficiencySettings, execution_modes, profile_models
    from bench.records import RecordWriter, record_to_json
    from bench.report.console import efficiency_breakdown, efficiency_table

    try:
        settings = EfficiencySettings(
            devices=args.device, dtype=args.dtype, channels_last=args.channels_last,
            warmup=args.warmup, iterations=args.iterations, min_iterations=args.min_iterations,
            budget_s=args.budget, throughput_batch=args.batch, sweep=args.sweep,
            threads=args.threads, cudnn_benchmark=not args.no_cudnn_benchmark,
            ops=not args.no_ops, timing=not args.no_timing, memory=not args.no_memory,
            isolation="none" if args.in_process else "process",
            modes=execution_modes(args.cuda_graphs, args.compile is not None),
            compile_mode=args.compile or "default", compile_backend=args.compile_backend,
        )
    except ValueError as exc:
        raise BenchError(str(exc)) from None
    echo = (lambda s: None) if args.quiet else (lambda s: print(s, file=sys.stderr, flush=True))
    records = profile_models(args.models, settings, size=args.resolution, dataset=args.dataset,
                             checkpoints=dict(args.checkpoint), seed=args.seed, echo=echo)
    if args.out is not None:
        with RecordWriter(args.out) as writer:
            for r in records:
                writer.write(r)
    if args.json:
        for r in records:
            print(record_to_json(r))
        return 0
    first = records[0] if records else None
    if first is not None:
        size = first.extra.get("image_size", ["?", "?"])
        print(f"efficiency at {size[0]}x{size[1]}, {first.dataset} configuration "
              f"(weights do not change counts or speed)")
    print(efficiency_table(records))
    if args.breakdown:
        print()
        print(efficiency_breakdown(records))
    if args.out is not None:
        print(f"\nrecords: {args.out}")
    return 0


# RunConfig field <- `run` option (dest) and how the option's value becomes the field's
_RUN_FIELDS = {
    "models": ("models", None), "dataset": ("dataset", None), "data_root": ("data_root", None),
    "split": ("split", None), "metrics": ("metrics", None), "protocol": ("protocol", None),
    "limit": ("limit", None), "subset": ("subset", None), "seed": ("seed", None),
    "batch_size": ("batch_size", None), "device": ("device", None), "out": ("out", None),
    "save_images": ("no_images", lambda v: not v), "decode_threads": ("decode_threads", None),
    "unit_size": ("unit_size", None), "checkpoints": ("checkpoint", tuple),
    "weights": ("weights", tuple), "offline": ("offline", None),
    "stats_cache": ("stats_cache", None), "use_cache": ("no_cache", lambda v: not v),
    "keypoints": ("keypoints", tuple), "pose_estimator": ("pose_estimator", None),
    "train_folder": ("train_folder", None), "bootstrap": ("bootstrap", None),
    "confidence": ("confidence", None), "efficiency": ("no_efficiency", lambda v: not v),
    "precision": ("precision", None),
    "efficiency_cuda_graphs": ("cuda_graphs", None), "efficiency_compile": ("compile", None),
    "network_batch": ("network_batch", None),
}


def _given_options(argv: list[str]) -> set[str]:
    """The ``run`` options (dests) written on the command line, defaults aside."""
    parser = build_parser()
    run = next(a for a in parser._subparsers._group_actions[0].choices.values()
               if a.prog.endswith(" run"))
    for action in run._actions:
        action.default = argparse.SUPPRESS
    return set(vars(parser.parse_args(argv)))  - {"command"}


def _run_config(args: argparse.Namespace):
    """The RunConfig of a ``run`` command; with ``--resume``, the run folder's own settings
    with the options written on the command line on top (the hash check then names any that
    change a value)."""
    from bench.config import DEFAULT_DATASET, DEFAULT_MODELS, RunConfig

    fields = {}
    for field, (dest, convert) in _RUN_FIELDS.items():
        value = getattr(args, dest)
        fields[field] = convert(value) if convert else value
    if args.resume is None:
        fields["models"] = fields["models"] or DEFAULT_MODELS
        fields["dataset"] = fields["dataset"] or DEFAULT_DATASET
        return RunConfig(**fields)
    from bench.api import saved_config

    given = _given_options(args.argv) if args.argv is not None else set()
    saved = saved_config(args.resume)
    changes = {field: fields[field] for field, (dest, _) in _RUN_FIELDS.items() if dest in given}
    return dataclasses.replace(saved, **changes)


def _launch_workers(args: argparse.Namespace) -> int:
    """``--workers N``: the same command under torchrun with N processes on this machine."""
    import subprocess

    argv = list(args.argv)
    for i, item in enumerate(argv):
        if item == "--workers":
            del argv[i:i + 2]
            break
        if item.startswith("--workers="):
            del argv[i]
            break
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={args.workers}", "-m", "bench", *argv]
    print(f"starting {args.workers} processes: torchrun --standalone "
          f"--nproc-per-node={args.workers} -m bench {' '.join(argv)}", flush=True)
    proc = subprocess.Popen(command)
    try:
        return proc.wait()
    except KeyboardInterrupt:  # torchrun passes Ctrl-C on to the processes; let them finish
        return proc.wait()


def _cmd_run(args: argparse.Namespace) -> int:
    from bench.api import run
    from bench.report.console import summary_table

    if args.workers > 1:
        if "RANK" in os.environ:
            raise BenchError("--workers under torchrun: torchrun has started the processes "
                             "already (leave --workers out)")
        if args.dry_run or args.argv is None:
            raise BenchError("--workers needs the command line (python -m bench run ...)")
        return _launch_workers(args)
    config = _run_config(args)
    if args.dry_run:
        print(config.resolved().to_json())
        return 0
    result = run(config, resume=args.resume, progress=not args.quiet,
                 timeout_s=args.dist_timeout)
    if int(os.environ.get("RANK", "0")) != 0:
        return 130 if result.interrupted else 0  # rank 0 prints the results
    if not result.records:
        return 130 if result.interrupted else 0
    print()
    print(summary_table(result.records, run_dir=result.run_dir))
    for line in _folder_notes(result.records):
        print(line)
    print(f"\nresults: {result.run_dir}")
    return 130 if result.interrupted else 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from bench.api import merge
    from bench.report.console import summary_table

    result = merge(args.run_dir, progress=not args.quiet)
    print()
    print(summary_table(result.records, run_dir=result.run_dir))
    print(f"\nresults: {result.run_dir}")
    return 0


def _folder_notes(records) -> list[str]:
    """One line per results-folder model, from its records: where its images came from."""
    seen, lines = set(), []
    for r in records:
        info = r.extra.get("results_folder") if r.kind == "metric" else None
        if info and r.model not in seen:
            seen.add(r.model)
            layout = (info.get("layout") or {}).get("description", "?")
            lines.append(
                f"{r.model}: results folder {info['path']} ({layout}); "
                f"{info['pairs_found']} pairs found, {info['pairs_missing']} missing, "
                f"{info['files_ignored']} other files ignored"
            )
    return lines


def _cmd_list(args: argparse.Namespace) -> int:
    from bench.data import DATASETS
    from bench.metrics import METRICS
    from bench.models import GENERATORS
    from bench.protocols import DEFAULT_PROTOCOL, PROTOCOLS

    sections = []
    if args.what in ("all", "models"):
        lines = []
        for name in GENERATORS.names():
            aliases = GENERATORS.aliases_of(name)
            lines.append(f"  {name}" + (f" (alias: {', '.join(aliases)})" if aliases else ""))
        lines.append("  folder:NAME=PATH   images a method already generated (single images or "
                     "result strips), named NAME")
        sections.append(("models", lines))
    if args.what in ("all", "datasets"):
        lines = []
        for name in DATASETS.names():
            spec = DATASETS.get(name)
            lines.append(f"  {name:<18} {spec.size[0]}x{spec.size[1]}  {spec.description}")
        sections.append(("datasets", lines))
    if args.what in ("all", "metrics"):
        lines = []
        for name in METRICS.names():
            cls = METRICS.get(name)
            arrow = "higher is better" if cls.higher_is_better else "lower is better"
            lines.append(f"  {name:<18} v{cls.version:<16} {arrow}")
        sections.append(("metrics", lines))
    if args.what in ("all", "protocols"):
        lines = []
        for name in PROTOCOLS.names():
            p = PROTOCOLS.get(name)
            default = " (default)" if name == DEFAULT_PROTOCOL else ""
            lines.append(f"  {name} v{p.version}{default}: {p.description}")
        sections.append(("protocols", lines))
    for i, (title, lines) in enumerate(sections):
        if i:
            print()
        print(f"{title}:")
        print("\n".join(lines))
    return 0


def _cmd_data(args: argparse.Namespace) -> int:
    from bench import api
    from bench.data import DATASETS, locate

    if args.data_command == "generate":
        spec = DATASETS.get(args.name)
        if spec.synthetic is None:
            raise BenchError(
                f"{args.name!r} is a real dataset and cannot be generated; "
                f"generated sets: {', '.join(n for n in DATASETS.names() if DATASETS.get(n).synthetic)}"
            )
        files = locate(args.name, args.data_root, "test", seed=args.seed, progress=True)
        print(f"{args.name}: {files.root}")
        return 0
    if args.data_command == "prepare":
        from bench.data.prepare import preparation, prepare_folder
        from bench.protocols import PROTOCOLS

        prep = preparation(PROTOCOLS.canonical(args.protocol), DATASETS.canonical(args.dataset))
        h, w = prep.size
        print(f"{prep.protocol} {prep.dataset}: {h}x{w} {prep.format.upper()}, {prep.method}, "
              f"from {prep.source}\n  note: {prep.note}")
        report = prepare_folder(prep, args.images, args.out, overwrite=args.overwrite)
        print(f"  wrote {report.written} images to {args.out}; {len(report.skipped)} existing "
              f"left alone (--overwrite rewrites them); {len(report.problems)} problems")
        for line in report.problems[:10]:
            print(f"    {line}")
        return 1 if report.problems else 0
    _, lines = api.check_dataset(args.name, args.data_root, args.split, args.protocol)
    print("\n".join(lines))
    return 0


def _cmd_weights(args: argparse.Namespace) -> int:
    from bench import weights

    if args.action == "add":
        if args.file is None:
            raise BenchError("weights add needs the file to install: python -m bench weights add FILE")
        spec, target = weights.install(args.file, args.as_name)
        print(f"{spec.name}: installed {args.file} as {target} (used by {', '.join(spec.used_by)})")
        return 0
    if args.file is not None:
        raise BenchError(f"unexpected argument {args.file} (did you mean `weights add {args.file}`?)")
    explicit = {weights.WEIGHTS.canonical(n): p for n, p in args.weights}
    print(weights.format_status(weights.locate_all(explicit)))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from bench.compare import (
        compare_run,
        format_comparisons,
        format_set_level,
        prepare_set_level,
        resolve_models,
        split_keys,
    )

    if len(args.runs) == 2:  # BASELINE CANDIDATE: the regression report
        from bench.report.command import cmd_regression

        return cmd_regression(args)
    if len(args.runs) != 1 or args.models is None:
        raise BenchError("compare takes RUN --models A,B (two models of one run) or BASELINE "
                         f"CANDIDATE (two runs); got {len(args.runs)} runs"
                         + ("" if args.models else " and no --models"))
    args.run_dir = args.runs[0]
    if len(args.models) != 2:
        raise BenchError(f"--models needs exactly two models A,B, got {','.join(args.models)}")
    model_a, model_b = resolve_models(args.run_dir, args.models)
    per_pair, set_level = split_keys(args.run_dir, args.metrics)
    job = None
    if set_level and args.set_resamples != 0:  # checked (dataset, images) before any output
        job = prepare_set_level(
            args.run_dir, model_a, model_b, set_level, data_root=args.data_root,
            weights=tuple(args.weights), offline=args.offline, stats_cache=args.stats_cache,
            use_cache=not args.no_cache, device=args.device, resamples=args.set_resamples,
            seed=args.seed, alpha=args.alpha,
            allow_different_weights=args.allow_different_weights)
    if per_pair is None or per_pair:
        results = compare_run(args.run_dir, model_a, model_b, keys=per_pair,
                              resamples=args.resamples, alpha=args.alpha, seed=args.seed,
                              allow_different_weights=args.allow_different_weights)
        print(format_comparisons(model_a, model_b, results, args.run_dir), flush=True)
    if job is not None:
        result = job.run(progress=not args.quiet)
        print(format_set_level(model_a, model_b, result, args.run_dir))
    elif set_level:
        print(f"set-level metrics not compared (--set-resamples 0): {', '.join(set_level)}")
    return 0


def _cmd_report(args: argparse.Namespace) -> int:
    from bench.report.command import cmd_report

    return cmd_report(args)


def dispatch(handlers: dict, args: argparse.Namespace) -> int:
    """Run ``handlers[args.command]``; user errors become a message and exit code 2, never
    a traceback (shared by ``python -m bench`` and ``python -m ctat``)."""
    try:
        return handlers[args.command](args)
    except BenchError as exc:
        if not getattr(exc, "printed", False):  # a process of a multi-process run said it
            print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `python -m bench list | head`
        return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    return dispatch({"run": _cmd_run, "merge": _cmd_merge, "list": _cmd_list, "data": _cmd_data,
                     "weights": _cmd_weights, "compare": _cmd_compare,
                     "report": _cmd_report, "profile": _cmd_profile}, args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
