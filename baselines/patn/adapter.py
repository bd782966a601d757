"""Harness adapter for PATN (alias ``pata``): keypoints and [0, 1] images in, [0, 1] out.

    python -m bench run --models pata --dataset market --checkpoint patn=Market1501/latest_net_netG.pth
    python -m bench run --models patn                              # synthetic: seeded, "untrained"

    from bench.models import GENERATORS, ModelSpec
    gen = GENERATORS.get("pata")(ModelSpec(name="patn", size=(128, 64), checkpoint=path))
    fake = gen.generate(src_img, src_kpts, tgt_kpts)     # (N, 3, 128, 64) float32 in [0, 1]
    gen.module                                           # the PATNGenerator that runs

The generator takes the source image in [-1, 1] and 36 pose channels (source then target
Gaussian heatmaps, sigma 6, as PATN's data loader). Weights: the authors' released files or our
own checkpoints (:mod:`baselines.patn.weights`); without a checkpoint, seeded untrained weights
on the synthetic sets, and on real data only with ``--checkpoint patn=untrained``. Untrained
weights use the dataset's official configuration (batch norm for Market, instance norm for
DeepFashion).
"""

from __future__ import annotations

import torch

from baselines.patn.network import PATNConfig, PATNGenerator
from baselines.patn.weights import load_patn
from bench.models.base import UNTRAINED, ModelSpec, Provenance, Weights, check_untrained_allowed
from ctat.checkpoint import state_sha256


class PATNAdapter:
    name = "patn"
    sees_target = False
    provenance = Provenance(
        paper="Zhu et al. Progressive Pose Attention Transfer for Person Image Generation. "
              "CVPR 2019",
        code="github.com/tengteng95/Pose-Transfer (re-implemented layer for layer)",
    )

    def __init__(self, spec: ModelSpec, config: PATNConfig | None = None) -> None:
        self.spec = spec
        if spec.checkpoint is not None:
            net, info = load_patn(spec.checkpoint, spec.size)
            self.weights = Weights(label=str(spec.checkpoint), sha256=info.file_sha256)
            self.loaded = info
        else:
            check_untrained_allowed(
                spec, "the authors' latest_net_netG.pth, or train one with: "
                      f"python -m baselines.patn train --dataset {spec.dataset}")
            net = PATNGenerator(config or PATNConfig.for_dataset(spec.dataset), spec.size,
                                seed=spec.seed)
            self.weights = Weights(label=UNTRAINED, sha256=state_sha256(net.state_dict()))
            self.loaded = None
        self._net = net.to(spec.device).eval()

    @property
    def module(self) -> PATNGenerator:
        return self._net

    @torch.no_grad()
    def generate(self, src_img: torch.Tensor, src_kpts: torch.Tensor,
                 tgt_kpts: torch.Tensor) -> torch.Tensor:
        return self._net.render(src_img, src_kpts, tgt_kpts)
