"""CTAT's building blocks: encoders, the appearance transfer and multi-scale context modules,
two-stream fusion, one stage, and the decoder.

    from ctat.modules import AppearanceTransfer
    at = AppearanceTransfer(channels=256)
    transferred = at(source_features, target_features)   # (N, 256, H/4, W/4) each

Each class says which facts come from the CTAT abstract, which from its predecessor 2s-ATN
(PROTOCOL.md 1.1-1.2) and which are this reconstruction's choices.
"""

from __future__ import annotations

import torch
from torch import nn


def norm_layer(kind: str, channels: int) -> nn.Module:
    """PATN's get_norm_layer: InstanceNorm2d(affine=False) or BatchNorm2d(affine=True)."""
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=False)
    if kind == "batch":
        return nn.BatchNorm2d(channels, affine=True)
    raise ValueError(f"norm must be 'instance' or 'batch', got {kind!r}")


_CONV = (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
         nn.ConvTranspose3d, nn.Linear)
_NORM = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm, nn.InstanceNorm1d,
         nn.InstanceNorm2d, nn.InstanceNorm3d, nn.GroupNorm, nn.LayerNorm)


def init_weights(module: nn.Module, gain: float = 0.02) -> nn.Module:
    """PATN's ``init_type='normal'`` on every submodule, in place; returns ``module``.

    Convolutions (transposed too) and linear layers: weight ~ N(0, gain), bias 0.
    Norm layers with affine parameters: weight ~ N(1, gain), bias 0. PATN leaves conv biases
    at PyTorch's default (and never initialises its discriminators); zeroing the biases and
    initialising the discriminators the same way are our choices (the pix2pix convention
    PATN's code derives from).
    """
    for m in module.modules():
        if isinstance(m, _CONV):
            nn.init.normal_(m.weight, 0.0, gain)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, _NORM):
            if getattr(m, "weight", None) is not None:
                nn.init.normal_(m.weight, 1.0, gain)
            if getattr(m, "bias", None) is not None:
                nn.init.zeros_(m.bias)
    return module


def conv_block(
    cin: int, cout: int, norm: str, kernel: int = 3, stride: int = 1, dilation: int = 1,
    act: bool = True, reflect: bool = False,
) -> list[nn.Module]:
    """conv (bias only before instance norm, as PATN) -> norm -> ReLU."""
    pad = dilation * (kernel - 1) // 2
    layers: list[nn.Module] = []
    if reflect and pad:
        layers.append(nn.ReflectionPad2d(pad))
        pad = 0
    layers.append(nn.Conv2d(cin, cout, kernel, stride, pad, dilation=dilation,
                            bias=norm == "instance"))
    layers.append(norm_layer(norm, cout))
    if act:
        layers.append(nn.ReLU(inplace=True))
    return layers


class Encoder(nn.Sequential):
    """7x7 stem then ``n_down`` stride-2 3x3 convolutions, doubling the width each time.

    2s-ATN: "two down-sampling convolutional layers" per stream, streams not weight-shared.
    The 7x7 reflection-padded stem is ours (PATN's encoder shape).
    """

    def __init__(self, cin: int, ngf: int, n_down: int, norm: str) -> None:
        layers = conv_block(cin, ngf, norm, kernel=7, reflect=True)
        for i in range(n_down):
            layers += conv_block(ngf * 2**i, ngf * 2 ** (i + 1), norm, stride=2)
        super().__init__(*layers)


class Decoder(nn.Sequential):
    """``n_up`` stride-2 3x3 transposed convolutions halving the width, then 7x7 conv + tanh.

    2s-ATN: "two deconvolutional layers" on the target stream of the last block. The final
    7x7 reflection-padded convolution to RGB with tanh is ours (PATN's decoder shape).
    """

    def __init__(self, channels: int, n_up: int, norm: str, cout: int = 3) -> None:
        layers: list[nn.Module] = []
        c = channels
        for _ in range(n_up):
            layers += [
                nn.ConvTranspose2d(c, c // 2, 3, stride=2, padding=1, output_padding=1,
                                   bias=norm == "instance"),
                norm_layer(norm, c // 2),
                nn.ReLU(inplace=True),
            ]
            c //= 2
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(c, cout, 7), nn.Tanh()]
        super().__init__(*layers)


class AppearanceTransfer(nn.Module):
    """The target stream queries the source stream and transfers its appearance.

    2s-ATN's AT module: both streams pass a convolution, then ``Q = W_q T`` (C/8 channels,
    from the target stream), ``K = W_k S`` (C/8), ``V = W_v S`` (C/2); ``D = softmax_rows(Q^T K)``
    with no temperature; ``A = W_o V D^T``; output ``sigma * A + T`` with a learnable scalar
    sigma. CTAT: "the first ... to use the target stream to query and transfer the source
    stream". Ours: the pre-convolutions are 3x3 conv + norm + ReLU; sigma starts at
    ``scale_init`` (0 as in SAGAN, so an untrained block passes the target through); the 1x1
    projections have biases. The products are explicit ``matmul`` + ``softmax`` so FLOP
    counters see them.
    """

    def __init__(self, channels: int, norm: str = "instance", key_ratio: int = 8,
                 value_ratio: int = 2, scale_init: float = 0.0) -> None:
        super().__init__()
        ck, cv = channels // key_ratio, channels // value_ratio
        self.pre_source = nn.Sequential(*conv_block(channels, channels, norm))
        self.pre_target = nn.Sequential(*conv_block(channels, channels, norm))
        self.query = nn.Conv2d(channels, ck, 1)
        self.key = nn.Conv2d(channels, ck, 1)
        self.value = nn.Conv2d(channels, cv, 1)
        self.out = nn.Conv2d(cv, channels, 1)
        self.scale = nn.Parameter(torch.tensor(float(scale_init)))

    def forward(self, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        n, c, h, w = target.shape
        s = self.pre_source(source)
        t = self.pre_target(target)
        q = self.query(t).flatten(2)  # (N, C/8, HW)
        k = self.key(s).flatten(2)  # (N, C/8, HW)
        v = self.value(s).flatten(2)  # (N, C/2, HW)
        d = torch.softmax(torch.matmul(q.transpose(1, 2), k), dim=-1)  # (N, HW_t, HW_s)
        a = torch.matmul(v, d.transpose(1, 2)).view(n, -1, h, w)  # (N, C/2, H, W)
        return self.scale * self.out(a) + t


class MultiScaleContext(nn.Module):
    """Parallel atrous 3x3 convolutions at several rates, fused by a 1x1 convolution.

    CTAT: "atrous convolutions of different sampling rates" for contextual modelling, to
    recover occluded pixels. Ours: the rates, one branch of C / len(rates) channels per rate
    (norm + ReLU each), the 1x1 fusion to C channels and the residual connection.
    """

    def __init__(self, channels: int, rates: tuple[int, ...] = (1, 2, 4, 8),
                 norm: str = "instance") -> None:
        super().__init__()
        width = channels // len(rates)
        self.branches = nn.ModuleList(
            nn.Sequential(*conv_block(channels, width, norm, dilation=r)) for r in rates
        )
        self.fuse = nn.Sequential(*conv_block(width * len(rates), channels, norm, kernel=1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fuse(torch.cat([b(x) for b in self.branches], dim=1))


class Fusion(nn.Module):
    """Two-stream feature fusion: ``x + f(x (+) y)``, (+) concatenation or addition.

    2s-ATN: each stream is updated by fusing the other, "plus a residual connection";
    concatenation beats summation (Table 4). Ours: f = 3x3 conv, norm, ReLU, dropout,
    3x3 conv, norm (PATN's block shape); dropout is the 2s-ATN "0.5 only inside the blocks".
    """

    def __init__(self, channels: int, mode: str = "cat", norm: str = "instance",
                 dropout: float = 0.5) -> None:
        super().__init__()
        self.mode = mode
        cin = 2 * channels if mode == "cat" else channels
        layers = conv_block(cin, channels, norm, reflect=True)
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
        layers += conv_block(channels, channels, norm, reflect=True, act=False)
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([x, y], dim=1) if self.mode == "cat" else x + y
        return x + self.body(joined)


class Stage(nn.Module):
    """One CTAT stage: appearance transfer, multi-scale context, then the two fusions.

    CTAT: each stage has an AT module, an MSC module and two two-stream fusion modules. The
    order is ours: the target stream's transferred appearance passes the MSC module, the
    target stream fuses it with the source stream, then the source stream fuses the new
    target stream (2s-ATN's order of the two fusions). Without AT the target features go to
    the MSC module directly; without MSC the transferred appearance goes to the fusion.
    The last stage has no source fusion (``update_source=False``): only its target stream is
    decoded, so a source update there would be computed and never used.
    """

    def __init__(self, channels: int, config, update_source: bool = True) -> None:
        super().__init__()
        self.transfer = (
            AppearanceTransfer(channels, config.norm, config.key_ratio, config.value_ratio,
                               config.attn_scale_init)
            if config.attention else None
        )
        self.context = (
            MultiScaleContext(channels, config.atrous_rates, config.norm)
            if config.context else None
        )
        self.fuse_target = Fusion(channels, config.fusion_target, config.norm, config.dropout)
        self.fuse_source = (
            Fusion(channels, config.fusion_source, config.norm, config.dropout)
            if update_source else None
        )

    def forward(self, source: torch.Tensor, target: torch.Tensor):
        appearance = self.transfer(source, target) if self.transfer is not None else target
        if self.context is not None:
            appearance = self.context(appearance)
        # fuse_target(x, y) = x + f(x (+) y): the appearance carries the target residual
        target = self.fuse_target(appearance, source)
        if self.fuse_source is not None:
            source = self.fuse_source(source, target)
        return source, target
