"""Harness adapter for CTAT: keypoints and [0, 1] images in, [0, 1] images out.

    python -m bench run --models ctat --checkpoint ctat=runs/ctat/smoke/latest.pt
    python -m bench run --models ctat                          # synthetic: seeded, "untrained"
    python -m bench run --models ctat --dataset market --checkpoint ctat=untrained

    from bench.models import GENERATORS, ModelSpec
    gen = GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(128, 64), checkpoint=path))
    fake = gen.generate(src_img, src_kpts, tgt_kpts)     # (N, 3, 128, 64) float32 in [0, 1]
    gen.module                                           # the CTATGenerator (efficiency probes)

Without a checkpoint the generator runs seeded initial weights: allowed on the synthetic sets
(to try the pipeline) and, on real datasets, only when asked for with
``--checkpoint ctat=untrained`` (``ModelSpec(untrained=True)``; what efficiency measurements
use). Either way every record carries ``checkpoint: "untrained"`` and the summary says so.
A checkpoint trained at another resolution is refused (CTAT does not resize).
"""

from __future__ import annotations

import torch

from bench.models.base import UNTRAINED, ModelSpec, Provenance, Weights, check_untrained_allowed
from ctat.checkpoint import load_checkpoint, state_sha256
from ctat.config import CTATConfig
from ctat.network import CTATGenerator


class CTATAdapter:
    name = "ctat"
    sees_target = False
    provenance = Provenance(
        paper="Shen, Wang, Tang. Exploiting appearance transfer and multi-scale context for "
              "efficient person image generation. Pattern Recognition 2022",
        code="this project (ctat/), a documented reconstruction: no official code is public",
        notes="widths and atrous rates are our choices (ctat/README.md)",
    )

    def __init__(self, spec: ModelSpec, config: CTATConfig | None = None) -> None:
        self.spec = spec
        if spec.checkpoint is not None:
            ckpt = load_checkpoint(spec.checkpoint, size=spec.size, network="ctat")
            net = ckpt.build()
            self.weights = Weights(label=str(spec.checkpoint), sha256=ckpt.file_sha256)
            self.trained = {"dataset": ckpt.dataset, "step": ckpt.step}
        else:
            check_untrained_allowed(
                spec, f"train one with: python -m ctat train --dataset {spec.dataset}")
            net = CTATGenerator(config or CTATConfig(), spec.size, seed=spec.seed)
            self.weights = Weights(label=UNTRAINED, sha256=state_sha256(net.state_dict()))
            self.trained = None
        self._net = net.to(spec.device).eval()

    @property
    def module(self) -> CTATGenerator:
        return self._net

    @torch.no_grad()
    def generate(self, src_img: torch.Tensor, src_kpts: torch.Tensor,
                 tgt_kpts: torch.Tensor) -> torch.Tensor:
        return self._net.render(src_img, src_kpts, tgt_kpts)
