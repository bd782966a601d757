"""What a CTAT generator is built from: one frozen :class:`CTATConfig`.

    from ctat.config import CTATConfig
    config = CTATConfig()                                  # the documented reconstruction
    no_at = config.replace(attention=False)                # an ablation of the paper
    CTATConfig.from_dict(config.to_dict()) == config       # what checkpoints store

The journal's widths and rates are not public (PROTOCOL.md 1.6), so every choice the sources
do not fix is a field here. Where each default comes from:

====================  ============  ==========================================================
field                 default       source
====================  ============  ==========================================================
stages                3             CTAT abstract: "three-stage architecture"
attention             True          CTAT: appearance transfer (AT) module in every stage
context               True          CTAT: multi-scale context (MSC) module in every stage
atrous_rates          (1, 2, 4, 8)  ours (CTAT says only "different sampling rates")
fusion_target         "cat"         2s-ATN Table 4: concatenation in both fusions is best
fusion_source         "cat"         2s-ATN Table 4
key_ratio             8             2s-ATN: keys and queries have C/8 channels
value_ratio           2             2s-ATN: values have C/2 channels
attn_scale_init       0.0           ours (2s-ATN: learnable scalar, initial value not stated)
n_downsampling        2             2s-ATN: encoders of two stride-2 convolutions
ngf                   64            ours (PATN's width; attention runs at C = ngf * 4)
norm                  "instance"    2s-ATN: instance norm for both datasets
dropout               0.5           2s-ATN: dropout 0.5 only inside the blocks
pose_channels         18            OpenPose COCO-18 heatmaps (2s-ATN, PATN)
heatmap_sigma         6.0           PATN's pose maps (PROTOCOL.md 3.1)
====================  ============  ==========================================================
"""

from __future__ import annotations

from dataclasses import dataclass

from bench.models.base import NetworkConfig

FUSIONS = ("cat", "add")
NORMS = ("instance", "batch")


@dataclass(frozen=True)
class CTATConfig(NetworkConfig):
    label = "CTAT"

    stages: int = 3
    attention: bool = True
    context: bool = True
    atrous_rates: tuple[int, ...] = (1, 2, 4, 8)
    fusion_target: str = "cat"
    fusion_source: str = "cat"
    key_ratio: int = 8
    value_ratio: int = 2
    attn_scale_init: float = 0.0
    n_downsampling: int = 2
    ngf: int = 64
    norm: str = "instance"
    dropout: float = 0.5
    pose_channels: int = 18
    heatmap_sigma: float = 6.0

    def __post_init__(self) -> None:
        problems = []
        if self.stages < 1:
            problems.append(f"stages must be at least 1, got {self.stages}")
        if self.n_downsampling < 0:
            problems.append(f"n_downsampling must be >= 0, got {self.n_downsampling}")
        for name in ("fusion_target", "fusion_source"):
            if getattr(self, name) not in FUSIONS:
                problems.append(f"{name} must be one of {FUSIONS}, got {getattr(self, name)!r}")
        if self.norm not in NORMS:
            problems.append(f"norm must be one of {NORMS}, got {self.norm!r}")
        if not 0.0 <= self.dropout < 1.0:
            problems.append(f"dropout must be in [0, 1), got {self.dropout}")
        if not self.atrous_rates or any(r < 1 for r in self.atrous_rates):
            problems.append(f"atrous_rates must be positive integers, got {self.atrous_rates}")
        c = self.channels
        if c % len(self.atrous_rates or (1,)):
            problems.append(f"the width {c} must divide into {len(self.atrous_rates)} atrous branches")
        if c % self.key_ratio or c % self.value_ratio:
            problems.append(f"the width {c} must be divisible by key_ratio and value_ratio")
        if problems:
            raise ValueError("invalid CTAT configuration: " + "; ".join(problems))

    @property
    def channels(self) -> int:
        """C, the width of both streams in the stages (at 1 / 2**n_downsampling resolution)."""
        return self.ngf * 2**self.n_downsampling

    @property
    def size_multiple(self) -> int:
        """Image height and width must be multiples of this."""
        return 2**self.n_downsampling
