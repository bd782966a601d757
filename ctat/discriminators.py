"""CTAT's two discriminators: appearance (image + source image) and shape (image + target pose).

Both are the ResNet discriminator of PATN, configured as 2s-ATN (CTAT's predecessor) describes::

    from ctat.discriminators import build_discriminators
    d_app, d_shape = build_discriminators()           # 6 and 21 input channels, 2s-ATN defaults
    score = d_shape(torch.cat([image, tgt_pose], 1))  # (N, 3, 128, 64) + (N, 18, 128, 64)
    score.shape                                       # (N, 256, 32, 16): no final 1-channel conv

The GAN loss (:class:`ctat.losses.GANLoss`) is applied to the whole 256-channel map, as in PATN.
:func:`ctat.modules.init_weights` is PATN's normal(0, 0.02) initialisation (shared with the
generator).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn

from ctat.modules import init_weights, norm_layer

Norm = Literal["instance", "batch"]
Activation = Literal["lrelu", "relu"]

#: Input channels of the appearance discriminator D_PP: image + source image.
APPEARANCE_IN_CHANNELS = 3 + 3
#: Input channels of the shape discriminator D_PB: image + 18 OpenPose keypoint heatmaps.
SHAPE_IN_CHANNELS = 3 + 18

def _activation(activation: Activation) -> nn.Module:
    if activation == "lrelu":
        return nn.LeakyReLU(0.2, inplace=True)
    if activation == "relu":
        return nn.ReLU(inplace=True)
    raise ValueError(f"activation must be 'lrelu' or 'relu', got {activation!r}")


class ResnetBlock(nn.Module):
    """PATN's residual block: x + [pad, conv3x3, norm, act, (dropout), pad, conv3x3, norm](x).

    Reflection padding; no activation after the second norm (as in PATN). Conv bias only
    with instance norm (``use_bias``), as PATN decides it from the norm type.
    """

    def __init__(self, dim: int, norm: Norm = "instance", activation: Activation = "lrelu",
                 dropout: float = 0.0) -> None:
        super().__init__()
        use_bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias),
            norm_layer(norm, dim),
            _activation(activation),
        ]
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += [
            nn.ReflectionPad2d(1),
            nn.Conv2d(dim, dim, kernel_size=3, bias=use_bias),
            norm_layer(norm, dim),
        ]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv_block(x)


class ResnetDiscriminator(nn.Module):
    """PATN's ``ResnetDiscriminator`` with 2s-ATN's settings as defaults.

    Layers: ReflectionPad(3), conv 7x7 ``in_channels`` -> ``ndf``, norm, act;
    ``n_downsampling`` x (conv 3x3 stride 2 pad 1, channels x2, norm, act); ``n_blocks`` x
    :class:`ResnetBlock`; optional Sigmoid. No final 1-channel conv: the output is the
    (N, ndf * 4, ceil(H / 2**n), ceil(W / 2**n)) feature map, for (N, in_channels, H, W) input.

    From PATN's code ([PATN-code] models/networks.py, PATN.py): the layer list above; ndf 64,
    3 blocks, 2 down-samplings; reflection padding; conv bias only with instance norm;
    BatchNorm affine, InstanceNorm not; ReLU; Dropout(0.5) inside the blocks (PATN's training
    scripts leave ``no_dropout_D`` off, so its discriminators use it); a trailing Sigmoid when
    trained with BCE (``--no_lsgan``, Market); the third down-sampling, when ``n_downsampling``
    is 3, keeps 256 channels (PATN caps the width at 4 x ndf). PATN's ``define_D`` applies no
    weight initialisation (PyTorch defaults).

    From 2s-ATN (the paper): instance norm, LeakyReLU(0.2) "after every conv/norm in the
    discriminators", dropout only inside the generator's AT-blocks (hence none here).

    Our choices: these are the defaults for CTAT (``norm="instance"``, ``activation="lrelu"``,
    ``dropout=0``, ``sigmoid=False``); LeakyReLU replaces ReLU exactly where PATN has ReLU
    (not after the block's second norm, which feeds the residual sum); weights are initialised
    with :func:`init_weights` (normal(0, 0.02)) at construction; ``sigmoid=False`` pairs with
    ``GANLoss("bce")``, which works on logits and equals PATN's Sigmoid + BCELoss. For PATN's
    own configuration pass ``norm="batch"`` (Market) or ``"instance"`` (DeepFashion),
    ``activation="relu"``, ``dropout=0.5`` and ``sigmoid=True`` for Market.
    """

    def __init__(self, in_channels: int, ndf: int = 64, n_blocks: int = 3,
                 n_downsampling: int = 2, norm: Norm = "instance",
                 activation: Activation = "lrelu", dropout: float = 0.0,
                 sigmoid: bool = False) -> None:
        super().__init__()
        if n_blocks < 0 or not 0 <= n_downsampling <= 3:
            raise ValueError(f"need n_blocks >= 0 and 0 <= n_downsampling <= 3, got "
                             f"n_blocks={n_blocks}, n_downsampling={n_downsampling}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        use_bias = norm == "instance"
        layers: list[nn.Module] = [
            nn.ReflectionPad2d(3),
            nn.Conv2d(in_channels, ndf, kernel_size=7, bias=use_bias),
            norm_layer(norm, ndf),
            _activation(activation),
        ]
        channels = ndf
        for i in range(n_downsampling):
            out = ndf * 2 ** min(i + 1, 2)  # 2 ndf, 4 ndf, then 4 ndf again (PATN)
            layers += [
                nn.Conv2d(channels, out, kernel_size=3, stride=2, padding=1, bias=use_bias),
                norm_layer(norm, out),
                _activation(activation),
            ]
            channels = out
        layers += [ResnetBlock(channels, norm, activation, dropout) for _ in range(n_blocks)]
        if sigmoid:
            layers.append(nn.Sigmoid())
        self.model = nn.Sequential(*layers)
        self.in_channels = in_channels
        self.out_channels = channels
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model(x)


def build_discriminators(image_channels: int = 3, pose_channels: int = 18,
                         **kwargs) -> tuple[ResnetDiscriminator, ResnetDiscriminator]:
    """The appearance discriminator D_PP (image + source image) and the shape discriminator
    D_PB (image + target pose heatmaps), in that order; ``kwargs`` go to both
    :class:`ResnetDiscriminator` constructors."""
    d_app = ResnetDiscriminator(2 * image_channels, **kwargs)
    d_shape = ResnetDiscriminator(image_channels + pose_channels, **kwargs)
    return d_app, d_shape
