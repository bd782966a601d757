"""PATN's generator, layer for layer as the official code builds it, with its state-dict keys.

    from baselines.patn.network import PATNConfig, PATNGenerator
    net = PATNGenerator(PATNConfig.for_dataset("market"), size=(128, 64), seed=0)
    src_img, src_pose, tgt_pose = net.example_inputs(batch=2)
    fake = net(src_img, src_pose, tgt_pose)        # (2, 3, 128, 64) in [-1, 1]
    net.state_dict().keys()                        # 'model.stream1_down.1.weight', ... as official

Official code: github.com/tengteng95/Pose-Transfer, models/model_variants.py (``PATNetwork``
wrapping ``PATNModel`` under the attribute ``model``; ``PATBlock``), models/networks.py
(``define_G``: ``n_blocks=9`` hard-coded, ``use_dropout = not opt.no_dropout``, norm from
``--norm``), PROTOCOL.md 4.1. Structure, attribute names and ``nn.Sequential`` positions are kept
so that the released ``latest_net_netG.pth`` files load with ``strict=True``:

* ``model.stream1_down`` (image) and ``model.stream2_down`` (36-channel pose: source and target
  heatmaps): ReflectionPad(3), conv 7x7 -> ngf, norm, ReLU, then ``n_downsampling`` x (conv 3x3
  stride 2, doubling, norm, ReLU);
* ``model.att.i`` (PATB): ``conv_block_stream1`` = pad, conv, norm, ReLU, [Dropout(0.5)], pad,
  conv, norm on the image stream; ``conv_block_stream2`` = pad, conv (2C -> 2C for blocks >= 1),
  norm, ReLU, [Dropout], pad, conv (-> C, no norm) on the pose stream; attention
  ``sigmoid(pose_out)``; ``image = image + image_branch * attention``; ``pose = cat(pose_out,
  image)``;
* ``model.stream1_up``: ``n_downsampling`` x (transposed conv 3x3 stride 2, halving, norm, ReLU),
  ReflectionPad(3), conv 7x7 -> 3 (with bias), tanh.

Conv biases exist only with instance norm (``use_bias``), the final conv always has one;
BatchNorm has affine parameters, InstanceNorm none. Released checkpoints were saved by
PyTorch 0.3.1, whose InstanceNorm also stored running statistics: :mod:`baselines.patn.weights`
removes them as the authors' ``tool/rm_insnorm_running_vars.py`` does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from bench.models.base import NetworkConfig
from bench.models.pose_maps import HeatmapPoseGenerator
from ctat.modules import init_weights, norm_layer

#: PATN's normalisation per dataset (scripts/train_*.sh: --norm batch for Market, instance
#: for DeepFashion); the synthetic sets follow the real dataset of the same size.
DATASET_NORM = {"market": "batch", "synthetic": "batch", "deepfashion": "instance",
                "synthetic-fashion": "instance"}


@dataclass(frozen=True)
class PATNConfig(NetworkConfig):
    label = "PATN"

    ngf: int = 64  # define_G: ngf=64
    n_blocks: int = 9  # define_G hard-codes 9 for both datasets
    n_downsampling: int = 2
    norm: str = "batch"  # Market; DeepFashion: "instance"
    dropout: bool = True  # use_dropout = not opt.no_dropout; the training scripts keep it
    pose_channels: int = 18  # per pose; the pose stream takes source + target (36)
    heatmap_sigma: float = 6.0

    def __post_init__(self) -> None:
        if self.n_blocks < 1:
            raise ValueError(f"invalid PATN configuration: n_blocks must be >= 1, got {self.n_blocks}")
        if self.norm not in ("batch", "instance"):
            raise ValueError(f"invalid PATN configuration: norm must be 'batch' or 'instance', "
                             f"got {self.norm!r}")

    @classmethod
    def for_dataset(cls, dataset: str, **changes) -> PATNConfig:
        return cls(norm=DATASET_NORM.get(dataset, "batch"), **changes)

    @property
    def size_multiple(self) -> int:
        return 2**self.n_downsampling


def _pad_conv(cin: int, cout: int, bias: bool) -> list[nn.Module]:
    return [nn.ReflectionPad2d(1), nn.Conv2d(cin, cout, kernel_size=3, padding=0, bias=bias)]


class PATBlock(nn.Module):
    """One pose-attentional transfer block (official ``PATBlock``, reflect padding)."""

    def __init__(self, dim: int, norm: str, dropout: bool, bias: bool, cated_stream2: bool) -> None:
        super().__init__()
        image = [*_pad_conv(dim, dim, bias), norm_layer(norm, dim), nn.ReLU(True)]
        if dropout:
            image.append(nn.Dropout(0.5))
        image += [*_pad_conv(dim, dim, bias), norm_layer(norm, dim)]
        self.conv_block_stream1 = nn.Sequential(*image)
        width = dim * 2 if cated_stream2 else dim
        pose = [*_pad_conv(width, width, bias), norm_layer(norm, width), nn.ReLU(True)]
        if dropout:
            pose.append(nn.Dropout(0.5))
        pose += _pad_conv(width, dim, bias)  # no norm: its output is the attention logit
        self.conv_block_stream2 = nn.Sequential(*pose)

    def forward(self, image: torch.Tensor, pose: torch.Tensor):
        image_out = self.conv_block_stream1(image)  # the official order (dropout draws)
        pose_out = self.conv_block_stream2(pose)
        image = image + image_out * torch.sigmoid(pose_out)
        return image, torch.cat((pose_out, image), 1)


class PATNModel(nn.Module):
    """The official ``PATNModel``: two encoders, the PATB cascade, the image decoder."""

    def __init__(self, config: PATNConfig, image_channels: int = 3) -> None:
        super().__init__()
        ngf, norm, bias = config.ngf, config.norm, config.norm == "instance"

        def encoder(cin: int) -> nn.Sequential:
            layers = [nn.ReflectionPad2d(3), nn.Conv2d(cin, ngf, kernel_size=7, padding=0, bias=bias),
                      norm_layer(norm, ngf), nn.ReLU(True)]
            for i in range(config.n_downsampling):
                c = ngf * 2**i
                layers += [nn.Conv2d(c, c * 2, kernel_size=3, stride=2, padding=1, bias=bias),
                           norm_layer(norm, c * 2), nn.ReLU(True)]
            return nn.Sequential(*layers)

        self.stream1_down = encoder(image_channels)
        self.stream2_down = encoder(2 * config.pose_channels)
        dim = ngf * 2**config.n_downsampling
        self.att = nn.ModuleList(
            PATBlock(dim, norm, config.dropout, bias, cated_stream2=i > 0)
            for i in range(config.n_blocks)
        )
        up: list[nn.Module] = []
        for i in range(config.n_downsampling):
            c = ngf * 2 ** (config.n_downsampling - i)
            up += [nn.ConvTranspose2d(c, c // 2, kernel_size=3, stride=2, padding=1,
                                      output_padding=1, bias=bias),
                   norm_layer(norm, c // 2), nn.ReLU(True)]
        up += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, kernel_size=7, padding=0), nn.Tanh()]
        self.stream1_up = nn.Sequential(*up)

    def forward(self, image: torch.Tensor, poses: torch.Tensor) -> torch.Tensor:
        image = self.stream1_down(image)
        poses = self.stream2_down(poses)
        for block in self.att:
            image, poses = block(image, poses)
        return self.stream1_up(image)


class PATNGenerator(HeatmapPoseGenerator, nn.Module):
    """The official ``PATNetwork`` (the model under ``.model``) with the harness's interface:
    ``forward(src_img, src_pose, tgt_pose)``, ``render``, ``pose_maps``, ``example_inputs``."""

    network_name = "patn"
    config_class = PATNConfig

    def __init__(self, config: PATNConfig | None = None, size: tuple[int, int] = (128, 64),
                 seed: int | None = 0) -> None:
        super().__init__()
        config = config or PATNConfig()
        h, w = size
        m = config.size_multiple
        if h % m or w % m or h < m or w < m:
            raise ValueError(f"PATN needs image sides divisible by {m}, got {h}x{w}")
        self.config = config
        self.size = (int(h), int(w))
        with torch.random.fork_rng(devices=[], enabled=seed is not None):
            if seed is not None:
                torch.manual_seed(seed)
            self.model = PATNModel(config)
            if seed is not None:
                init_weights(self)  # PATN's init_type 'normal' (0, 0.02)

    def forward(self, src_img: torch.Tensor, src_pose: torch.Tensor,
                tgt_pose: torch.Tensor) -> torch.Tensor:
        return self.model(src_img, torch.cat((src_pose, tgt_pose), 1))
