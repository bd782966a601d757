"""The CTAT generator: a source stream and a target stream through three stages, then a decoder.

    import torch
    from ctat.config import CTATConfig
    from ctat.network import CTATGenerator

    net = CTATGenerator(CTATConfig(), size=(128, 64), seed=0)     # seeded initial weights
    src_img, src_pose, tgt_pose = net.example_inputs(batch=2)
    fake = net(src_img, src_pose, tgt_pose)                       # (2, 3, 128, 64) in [-1, 1]

Inputs are in the generator's own convention: the source image in [-1, 1] and 18-channel
Gaussian pose heatmaps in [0, 1] (:func:`bench.models.pose_maps.gaussian_heatmaps`). The source
stream encodes concat(source image, source pose), the target stream the target pose (2s-ATN);
the decoder renders the target stream of the last stage. :class:`ctat.adapter.CTATAdapter`
maps keypoints and [0, 1] images to and from this convention for the harness.
"""

from __future__ import annotations

import torch
from torch import nn

from bench.models.pose_maps import HeatmapPoseGenerator
from ctat.config import CTATConfig
from ctat.modules import Decoder, Encoder, Stage, init_weights


class CTATGenerator(HeatmapPoseGenerator, nn.Module):
    """Two-stream context-aware appearance transfer network (documented reconstruction)."""

    network_name = "ctat"
    config_class = CTATConfig

    def __init__(self, config: CTATConfig | None = None, size: tuple[int, int] = (128, 64),
                 seed: int | None = 0) -> None:
        super().__init__()
        config = config or CTATConfig()
        h, w = size
        m = config.size_multiple
        if h % m or w % m or h < m or w < m:
            raise ValueError(
                f"CTAT needs image sides divisible by {m} (2**n_downsampling), got {h}x{w}"
            )
        self.config = config
        self.size = (int(h), int(w))
        c, p = config.channels, config.pose_channels
        # a seeded build leaves the caller's random stream as it was
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.source_encoder = Encoder(3 + p, config.ngf, config.n_downsampling, config.norm)
            self.target_encoder = Encoder(p, config.ngf, config.n_downsampling, config.norm)
            self.stages = nn.ModuleList(Stage(c, config, update_source=i < config.stages - 1)
                                        for i in range(config.stages))
            self.decoder = Decoder(c, config.n_downsampling, config.norm)
            if seed is not None:
                init_weights(self)

    def forward(self, src_img: torch.Tensor, src_pose: torch.Tensor,
                tgt_pose: torch.Tensor) -> torch.Tensor:
        source = self.source_encoder(torch.cat([src_img, src_pose], dim=1))
        target = self.target_encoder(tgt_pose)
        for stage in self.stages:
            source, target = stage(source, target)
        return self.decoder(target)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
