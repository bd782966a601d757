"""PG2 weight files: converted (or trained) generators in the project's checkpoint format.

    from baselines.pg2.checkpoint import load_pg2_checkpoint
    ckpt = load_pg2_checkpoint("pg2-market.pt", image_size=(128, 64))  # PG2CheckpointError if wrong
    net = ckpt.build()                                 # a PG2Generator with those weights
    ckpt.source                                        # where the weights came from

The file is a :mod:`ctat.checkpoint` file with ``network: "pg2"``, whose ``source`` records
the conversion: ``{"kind": "tensorflow-checkpoint", "path", "index_sha256", "step",
"variables_in_file", "ignored", "converted_by"}``. Loading verifies the weights' hash. A network
fits images of its own size, or as high and narrower (centre-padded, see
:meth:`baselines.pg2.network.PG2Generator.render`): 256x256 DeepFashion weights run the
harness's 256x176 images; anything else is refused with both sizes named. TensorFlow files
given where a converted one is expected get the conversion command.
"""

from __future__ import annotations

from pathlib import Path

from baselines.pg2.network import PG2Generator, fits
from ctat.checkpoint import Checkpoint, CheckpointError, load_checkpoint, save_checkpoint

CONVERT_HINT = "python -m baselines.pg2 convert TF_CHECKPOINT_PREFIX OUT.pt"
_TF_SUFFIXES = (".index", ".meta")

PG2CheckpointError = CheckpointError  # one error type for every checkpoint problem


def save_converted(path: Path, net: PG2Generator, dataset: str, source: dict) -> Path:
    """Write converted weights (atomically), recording where they came from."""
    return save_checkpoint(path, net, dataset=dataset, step=int(source.get("step") or 0),
                           source=source)


def load_pg2_checkpoint(path: Path, image_size: tuple[int, int] | None = None) -> Checkpoint:
    """Read and verify a PG2 checkpoint; ``image_size`` (H, W), if given, must fit it."""
    path = Path(path)
    if not path.is_file() and (Path(str(path) + ".index").is_file() or path.is_dir()):
        raise CheckpointError(f"{path} is a TensorFlow checkpoint (prefix or folder), not a "
                              f"converted PG2 file: convert it first with {CONVERT_HINT}")
    try:
        ckpt = load_checkpoint(path, network="pg2")
    except CheckpointError as exc:
        if path.suffix in _TF_SUFFIXES or ".data-" in path.name:
            raise CheckpointError(f"{exc}; it looks like a TensorFlow checkpoint file: convert "
                                  f"it with {CONVERT_HINT}") from None
        raise
    if image_size is not None and not fits(tuple(image_size), ckpt.size):
        h, w = image_size
        raise CheckpointError(
            f"{path} holds PG2 weights for {ckpt.size[0]}x{ckpt.size[1]} (H x W) images "
            f"({ckpt.dataset!r}); this dataset's images are {h}x{w}. PG2's fully connected "
            "bottleneck fixes the size: use weights converted or trained at this size (images "
            "as high and narrower are centre-padded, e.g. 256x176 into 256x256)"
        )
    return ckpt
