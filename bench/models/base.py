"""How the harness builds a generator: a frozen :class:`ModelSpec` in, an adapter out.

Every entry of :data:`bench.models.GENERATORS` is a class (or factory) called with one
``ModelSpec``; it returns an object with ``name``, ``generate(src_img, src_kpts, tgt_kpts)`` and
``module`` (:class:`bench.types.Generator`)::

    from bench.models import GENERATORS, ModelSpec
    spec = ModelSpec(name="source", size=(128, 64), dataset="synthetic")
    gen = GENERATORS.get("source")(spec)
    fake = gen.generate(src_img, src_kpts, tgt_kpts)   # (N, 3, 128, 64) float32 in [0, 1]

An adapter that cannot run (network not yet implemented, checkpoint missing) raises
:class:`bench.errors.ModelUnavailableError` from its constructor, before any work starts.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bench.errors import ModelUnavailableError


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the canonical registry name ("patn", not the alias "pata")
    size: tuple[int, int]  # (H, W) of the dataset images the model must produce
    dataset: str = "synthetic"  # selects per-dataset configurations (e.g. PATN's norm layer)
    device: str = "cpu"
    checkpoint: Path | None = None
    untrained: bool = False  # the user asked for seeded initial weights (--checkpoint M=untrained)
    seed: int = 0


class NetworkConfig:
    """What the frozen network configurations (CTAT, PATN, PG2) share: ``replace`` and a
    plain-data round trip for checkpoints (tuples are stored as lists)::

        @dataclass(frozen=True)
        class MyConfig(NetworkConfig):
            label = "My"
            width: int = 64
        MyConfig.from_dict(MyConfig().to_dict()) == MyConfig()
    """

    label = "network"  # names the network in error messages

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict):
        fields = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - set(fields))
        if unknown:
            raise ValueError(f"unknown {cls.label} configuration fields: {', '.join(unknown)}")
        defaults = cls()
        return cls(**{k: tuple(v) if isinstance(getattr(defaults, k), tuple) else v
                      for k, v in data.items()})


UNTRAINED = "untrained"  # the --checkpoint value that asks for seeded, untrained weights


@dataclass(frozen=True)
class Weights:
    """Which weights a generator runs with; every record of the model carries them.

    ``label`` is the checkpoint path, ``"untrained"`` (seeded initial weights, never a trained
    model's numbers) or ``"none"`` (a training-free method)."""

    label: str = "none"
    sha256: str | None = None  # of the checkpoint file, or of the untrained weights

    @property
    def untrained(self) -> bool:
        return self.label == UNTRAINED


def check_untrained_allowed(spec: ModelSpec, how_to_train: str) -> None:
    """Refuse seeded untrained weights on real data unless the user asked for them.

    The synthetic sets allow them (trying the pipeline); elsewhere ``spec.untrained`` must be
    set (``--checkpoint NAME=untrained``). ``how_to_train`` completes the message."""
    from bench.data import DATASETS

    synthetic = spec.dataset in DATASETS and DATASETS.get(spec.dataset).synthetic is not None
    if not (spec.untrained or synthetic):
        raise ModelUnavailableError(
            f"{spec.name}: no checkpoint given for {spec.dataset}. Pass --checkpoint "
            f"{spec.name}=PATH ({how_to_train}), or --checkpoint {spec.name}={UNTRAINED} to score "
            "seeded untrained weights (labelled untrained; not a trained model's numbers)"
        )


@dataclass(frozen=True)
class Provenance:
    """Where a model and its weights come from (shown in reports)."""

    paper: str
    code: str = ""
    notes: str = ""
    reference_bound: bool = False  # oracle/source: calibrates tables, is not a method


def unavailable_adapter(name: str, what: str, provenance: Provenance, arrives_with: str) -> type:
    """An adapter class for a registered model whose network is not implemented yet: building
    it raises :class:`ModelUnavailableError` before any work, so no number is ever produced."""

    def __init__(self, spec: ModelSpec) -> None:
        raise ModelUnavailableError(
            f"{name}: the {what} network is not implemented in this version of ctat-bench yet "
            f"(it arrives with the {arrives_with!r} issue); no numbers are produced for it. "
            "Run the reference methods meanwhile: --models oracle,source,warp"
        )

    return type(f"{what}Adapter", (), {"name": name, "provenance": provenance,
                                       "__init__": __init__})
