"""Checkpoints of the networks this project trains (CTAT, and PATN through the same loop):
the generator's weights with the config, size, dataset and step they came from.

    from ctat.checkpoint import save_checkpoint, load_checkpoint
    save_checkpoint(path, net, dataset="synthetic", step=1200, train_state={...})
    ckpt = load_checkpoint(path, size=(128, 64), network="ctat")   # CheckpointError if wrong
    net = ckpt.build()                               # a CTATGenerator with those weights

A checkpoint is one ``torch.save`` file holding plain data (loadable with
``weights_only=True``)::

    format            "ctat-bench-checkpoint"
    format_version    1
    network           "ctat" or "patn" (:data:`NETWORKS`)
    config            the network's config, to_dict()
    size              [H, W] the generator was trained at
    dataset, step     what it was trained on and for how long
    generator         the generator's state dict
    generator_sha256  hash of the generator's tensors (names, shapes, dtypes, bytes)
    training          optional: the training configuration (losses, schedule, data)
    train_state       optional: optimisers, discriminators, RNG states (to resume training)
    created           ISO 8601 UTC

On load the weights' hash is recomputed and must match, so a damaged file never produces
numbers; ``file_sha256`` (the whole file) goes on every record the harness writes.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from bench.errors import ModelUnavailableError
from bench.registry import Registry

FORMAT = "ctat-bench-checkpoint"
FORMAT_VERSION = 1

#: Generator classes by the name checkpoints store; each has ``network_name``, ``config_class``
#: and ``__init__(config, size, seed)``.
NETWORKS: Registry = Registry("network")
NETWORKS.register_lazy("ctat", "ctat.network:CTATGenerator")
NETWORKS.register_lazy("patn", "baselines.patn.network:PATNGenerator")


class CheckpointError(ModelUnavailableError):
    """A file that is not a usable checkpoint (missing, damaged, other model, other size)."""


def state_sha256(state: dict[str, torch.Tensor]) -> str:
    """A hash of a state dict that does not depend on how the file was serialised."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().to("cpu").contiguous()
        h.update(f"{name}|{tuple(t.shape)}|{t.dtype}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@dataclass(frozen=True)
class Checkpoint:
    path: Path
    network: str
    config: object  # the network's config dataclass
    size: tuple[int, int]
    dataset: str
    step: int
    generator: dict = field(repr=False)
    generator_sha256: str = ""
    file_sha256: str = ""
    training: dict | None = None
    train_state: dict | None = field(default=None, repr=False)

    def build(self, device: str | torch.device = "cpu") -> torch.nn.Module:
        net = NETWORKS.get(self.network)(self.config, self.size, seed=None)
        try:
            net.load_state_dict(self.generator, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(
                f"{self.path}: the generator weights do not fit the configuration stored with "
                f"them: {_first_line(exc)}"
            ) from None
        return net.to(device)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return " ".join(text.split("\n")[:3])


def save_checkpoint(path: Path, net: torch.nn.Module, dataset: str, step: int,
                    training: dict | None = None, train_state: dict | None = None) -> Path:
    """Write atomically (a temporary file renamed into place), so an interrupted save never
    leaves a truncated checkpoint under the final name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to("cpu") for k, v in net.state_dict().items()}
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "network": net.network_name,
        "config": net.config.to_dict(),
        "size": list(net.size),
        "dataset": dataset,
        "step": int(step),
        "generator": state,
        "generator_sha256": state_sha256(state),
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if training is not None:
        payload["training"] = training
    if train_state is not None:
        payload["train_state"] = train_state
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(path: Path, size: tuple[int, int] | None = None, network: str | None = None,
                    map_location: str | torch.device = "cpu") -> Checkpoint:
    """Read and verify a checkpoint; ``size`` (H, W) must match the one it was trained at and
    ``network`` (if given) the network it holds."""
    path = Path(path)
    if not path.is_file():
        where = "a directory" if path.is_dir() else "no such file"
        raise CheckpointError(f"checkpoint {path}: {where} (expected a .pt file written by "
                              "python -m ctat train)")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as exc:  # torch raises many kinds on arbitrary bytes; all mean unreadable
        raise CheckpointError(
            f"checkpoint {path} cannot be read ({path.stat().st_size} bytes; truncated or "
            f"not a torch file?): {_first_line(exc)}"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        found = (f"keys {sorted(payload)[:6]}" if isinstance(payload, dict)
                 else type(payload).__name__)
        raise CheckpointError(
            f"{path} is not a ctat-bench checkpoint (expected a dict with format={FORMAT!r}, "
            f"found {found}); checkpoints come from python -m ctat train"
        )
    if payload.get("format_version") != FORMAT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {payload.get('format_version')!r}, this "
            f"version of ctat-bench reads version {FORMAT_VERSION}"
        )
    stored = payload.get("network")
    if network is not None and stored != network:
        raise CheckpointError(f"{path} holds a {stored} network, not {network}: pass it as "
                              f"--checkpoint {stored}=PATH")
    if stored not in NETWORKS:
        raise CheckpointError(f"{path}: unknown network {stored!r} (known: "
                              f"{', '.join(NETWORKS.names())})")
    try:
        config = NETWORKS.get(stored).config_class.from_dict(payload["config"])
        trained = tuple(int(v) for v in payload["size"])
        generator = payload["generator"]
        stored_hash = payload["generator_sha256"]
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: malformed checkpoint: {exc}") from None
    if size is not None and tuple(size) != trained:
        raise CheckpointError(
            f"{path} was trained at {trained[0]}x{trained[1]} (H x W) on "
            f"{payload.get('dataset')!r}; this dataset's images are {size[0]}x{size[1]}. "
            "Use a checkpoint trained at this resolution (the network does not resize)."
        )
    actual = state_sha256(generator)
    if actual != stored_hash:
        raise CheckpointError(
            f"{path}: the generator weights do not match the hash stored with them "
            f"({actual[:12]} != {stored_hash[:12]}); the file is damaged or was edited"
        )
    return Checkpoint(
        path=path, network=stored, config=config, size=trained, dataset=str(payload.get("dataset")),
        step=int(payload.get("step", 0)), generator=generator, generator_sha256=stored_hash,
        file_sha256=file_sha256(path), training=payload.get("training"),
        train_state=payload.get("train_state"),
    )
