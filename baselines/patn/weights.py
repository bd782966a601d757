"""Loading PATN weights: the authors' released ``latest_net_netG.pth`` or our own checkpoints.

    from baselines.patn.weights import load_patn
    net, info = load_patn(path, size=(128, 64))     # CheckpointError naming what is wrong
    info.source                                     # "official" or "ctat-bench"

The released generators (Google Drive links in the official README, folders Market1501/ and
DeepFashion/) are plain state dicts of ``PATNetwork`` saved by PyTorch 0.3.1: keys
``model.stream1_down.1.weight`` and so on, no metadata. The configuration is read from the
tensors (norm: batch norm has affine weights; blocks: the ``model.att.N`` indices; dropout: the
position of the second convolution in ``conv_block_stream1``; widths from the shapes). As the
authors' ``tool/rm_insnorm_running_vars.py`` does (tengteng95/Pose-Transfer issue #12),
InstanceNorm running statistics stored by 0.3.1 are dropped; BatchNorm's
``num_batches_tracked``, which 0.3.1 did not have, is filled in by PyTorch. ``module.``
prefixes (DataParallel) are removed. Anything else that does not fit (missing, unexpected or
mis-shaped tensors) is an error that names the keys.

Checkpoints written by ``python -m baselines.patn train`` (the ctat-bench format,
:mod:`ctat.checkpoint`) load too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch

from baselines.patn.network import PATNConfig, PATNGenerator
from ctat.checkpoint import FORMAT, CheckpointError, file_sha256, load_checkpoint

_RUNNING = (".running_mean", ".running_var", ".num_batches_tracked")


@dataclass(frozen=True)
class PATNWeights:
    source: str  # "official" or "ctat-bench"
    config: PATNConfig
    file_sha256: str
    dataset: str | None = None  # ctat-bench checkpoints record it; official files do not
    step: int | None = None
    dropped: tuple[str, ...] = ()  # InstanceNorm running statistics removed from the file


def infer_config(state: dict[str, torch.Tensor]) -> PATNConfig:
    """The :class:`PATNConfig` an official-layout state dict was built with."""
    try:
        stem = state["model.stream1_down.1.weight"]
        pose_stem = state["model.stream2_down.1.weight"]
    except KeyError as exc:
        raise ValueError(f"no {exc.args[0]!r}: not PATN's generator layout") from None
    blocks = {int(m.group(1)) for k in state if (m := re.match(r"model\.att\.(\d+)\.", k))}
    downs = sum(1 for k in state if re.fullmatch(r"model\.stream1_down\.\d+\.weight", k)
                and state[k].ndim == 4) - 1
    batch_norm = "model.stream1_down.2.weight" in state
    dropout = "model.att.0.conv_block_stream1.6.weight" in state
    return PATNConfig(ngf=int(stem.shape[0]), n_blocks=max(blocks) + 1 if blocks else 0,
                      n_downsampling=downs, norm="batch" if batch_norm else "instance",
                      dropout=dropout, pose_channels=int(pose_stem.shape[1]) // 2)


def official_state(raw: object, path: Path) -> tuple[dict[str, torch.Tensor], PATNConfig, tuple]:
    """Normalise a released state dict to our keys; (state, config, dropped keys)."""
    if not isinstance(raw, dict) or not raw or not all(isinstance(v, torch.Tensor) for v in raw.values()):
        raise CheckpointError(f"{path} is neither a ctat-bench checkpoint nor a PATN generator "
                              "state dict (latest_net_netG.pth)")
    state = {k.removeprefix("module."): v for k, v in raw.items()}
    if not any(k.startswith("model.") for k in state):
        state = {f"model.{k}": v for k, v in state.items()}
    try:
        config = infer_config(state)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    dropped: tuple[str, ...] = ()
    if config.norm == "instance":
        dropped = tuple(k for k in state if k.endswith(_RUNNING))
        state = {k: v for k, v in state.items() if not k.endswith(_RUNNING)}
    return state, config, dropped


def load_into(net: PATNGenerator, state: dict[str, torch.Tensor], path: Path) -> None:
    """Strict load, with every missing, unexpected and mis-shaped key named."""
    own = net.state_dict()
    optional = {k for k in own if k.endswith(".num_batches_tracked")}  # absent before 0.4.1
    missing = sorted(set(own) - set(state) - optional)
    unexpected = sorted(set(state) - set(own))
    shapes = sorted(f"{k} {tuple(state[k].shape)} (expected {tuple(own[k].shape)})"
                    for k in set(own) & set(state) if state[k].shape != own[k].shape)
    if missing or unexpected or shapes:
        parts = []
        for what, keys in (("missing", missing), ("unexpected", unexpected),
                           ("mis-shaped", shapes)):
            if keys:
                more = f" and {len(keys) - 6} more" if len(keys) > 6 else ""
                parts.append(f"{what}: {', '.join(keys[:6])}{more}")
        raise CheckpointError(f"{path} does not fit PATN's generator ({net.config}): "
                              + "; ".join(parts))
    full = {**{k: own[k] for k in optional if k not in state}, **state}
    net.load_state_dict(full, strict=True)


def load_patn(path: Path, size: tuple[int, int]) -> tuple[PATNGenerator, PATNWeights]:
    """A PATN generator with the weights in ``path`` (either kind), for ``size`` images."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"PATN checkpoint {path}: no such file (expected the authors' "
                              "latest_net_netG.pth or a checkpoint of python -m baselines.patn train)")
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a torch file, pickled objects ...
        first = " ".join(str(exc).split("\n")[:2])
        raise CheckpointError(f"PATN checkpoint {path} cannot be read ({path.stat().st_size} "
                              f"bytes; truncated or not a torch file?): {first}") from None
    if isinstance(raw, dict) and raw.get("format") == FORMAT:
        ckpt = load_checkpoint(path, size=size, network="patn")
        net = ckpt.build()
        return net, PATNWeights("ctat-bench", ckpt.config, ckpt.file_sha256, ckpt.dataset, ckpt.step)
    state, config, dropped = official_state(raw, path)
    try:
        net = PATNGenerator(config, size, seed=None)
    except ValueError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    load_into(net, state, path)
    return net, PATNWeights("official", config, file_sha256(path), dropped=dropped)
