"""ctat.discriminators: PATN's ResnetDiscriminator with 2s-ATN's settings, and init_weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ctat.discriminators import (
    APPEARANCE_IN_CHANNELS,
    SHAPE_IN_CHANNELS,
    ResnetDiscriminator,
    build_discriminators,
    init_weights,
)


def patn_param_count(in_channels: int, ndf: int = 64, n_blocks: int = 3,
                     norm: str = "instance") -> int:
    """By hand from PATN's layer list (n_downsampling = 2). Instance norm: convs have a bias,
    norms no parameters. Batch norm: convs have no bias, norms a weight and a bias each."""
    def conv(cin: int, cout: int, k: int) -> int:
        return cin * cout * k * k + (cout if norm == "instance" else 0)

    def norm_params(c: int) -> int:
        return 0 if norm == "instance" else 2 * c

    first = conv(in_channels, ndf, 7) + norm_params(ndf)
    down = conv(ndf, 2 * ndf, 3) + norm_params(2 * ndf) + conv(2 * ndf, 4 * ndf, 3) + norm_params(4 * ndf)
    block = 2 * (conv(4 * ndf, 4 * ndf, 3) + norm_params(4 * ndf))
    return first + down + n_blocks * block


def n_params(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize(("in_channels", "expected"), [(6, 3_928_384), (21, 3_975_424)])
def test_default_patn_configuration_parameter_count(in_channels, expected):
    d = ResnetDiscriminator(in_channels)
    assert n_params(d) == patn_param_count(in_channels) == expected


@pytest.mark.parametrize("in_channels", [6, 21])
def test_batch_norm_parameter_count(in_channels):
    d = ResnetDiscriminator(in_channels, norm="batch")
    assert n_params(d) == patn_param_count(in_channels, norm="batch")
    assert all(m.bias is None for m in d.modules() if isinstance(m, nn.Conv2d))


def test_build_discriminators_channels():
    d_app, d_shape = build_discriminators(ndf=4, n_blocks=1)
    assert (d_app.in_channels, d_shape.in_channels) == (6, 21)
    assert (APPEARANCE_IN_CHANNELS, SHAPE_IN_CHANNELS) == (6, 21)
    assert n_params(d_app) == patn_param_count(6, ndf=4, n_blocks=1)
    assert n_params(d_shape) == patn_param_count(21, ndf=4, n_blocks=1)


@pytest.mark.parametrize(("size", "out"), [((32, 16), (8, 4)), ((64, 44), (16, 11)),
                                           ((30, 18), (8, 5))])
def test_output_shape(size, out):
    d = ResnetDiscriminator(21, ndf=4, n_blocks=1)
    y = d(torch.randn(2, 21, *size))
    assert y.shape == (2, 16, *out)


def test_default_width_output_shape():
    d = ResnetDiscriminator(6)
    with torch.no_grad():
        assert d(torch.randn(1, 6, 32, 16)).shape == (1, 256, 8, 4)
    assert d.out_channels == 256


def test_third_downsampling_keeps_width_as_patn():
    d = ResnetDiscriminator(6, ndf=4, n_blocks=1, n_downsampling=3)
    assert d(torch.randn(1, 6, 32, 16)).shape == (1, 16, 4, 2)
    d0 = ResnetDiscriminator(6, ndf=4, n_blocks=0, n_downsampling=0)
    assert d0(torch.randn(1, 6, 8, 8)).shape == (1, 4, 8, 8)


def count(d: nn.Module, kind: type) -> list[nn.Module]:
    return [m for m in d.modules() if type(m) is kind]


def test_defaults_are_2s_atn():
    d = ResnetDiscriminator(6, ndf=4, n_blocks=3)
    lrelu = count(d, nn.LeakyReLU)
    # one after the first conv, one per down-sampling, one inside each block
    assert len(lrelu) == 1 + 2 + 3 and all(m.negative_slope == 0.2 for m in lrelu)
    assert not count(d, nn.ReLU) and not count(d, nn.Sigmoid) and not count(d, nn.Dropout)
    norms = count(d, nn.InstanceNorm2d)
    assert len(norms) == 1 + 2 + 2 * 3 and not any(m.affine for m in norms)
    assert not count(d, nn.BatchNorm2d)


def test_patn_switches():
    d = ResnetDiscriminator(6, ndf=4, n_blocks=2, norm="batch", activation="relu",
                            dropout=0.5, sigmoid=True)
    assert len(count(d, nn.ReLU)) == 1 + 2 + 2 and not count(d, nn.LeakyReLU)
    assert [m.p for m in count(d, nn.Dropout)] == [0.5, 0.5]
    assert isinstance(d.model[-1], nn.Sigmoid)
    assert all(m.affine for m in count(d, nn.BatchNorm2d))
    y = d(torch.randn(2, 6, 32, 16))
    assert ((y > 0) & (y < 1)).all()


def test_without_sigmoid_output_is_unbounded():
    d = ResnetDiscriminator(6, ndf=4, n_blocks=1)
    y = d(torch.randn(2, 6, 32, 16))
    assert (y < 0).any() and torch.isfinite(y).all()


def test_block_is_residual_with_no_activation_after_second_norm():
    d = ResnetDiscriminator(6, ndf=4, n_blocks=1)
    block = d.model[-1]
    layers = list(block.conv_block)
    assert [type(m) for m in layers] == [nn.ReflectionPad2d, nn.Conv2d, nn.InstanceNorm2d,
                                         nn.LeakyReLU, nn.ReflectionPad2d, nn.Conv2d,
                                         nn.InstanceNorm2d]
    x = torch.randn(1, 16, 8, 4)
    assert torch.allclose(block(x), x + block.conv_block(x))


@pytest.mark.parametrize("kwargs", [dict(norm="group"), dict(activation="tanh"),
                                    dict(n_downsampling=4), dict(n_blocks=-1),
                                    dict(dropout=1.0)])
def test_invalid_configuration(kwargs):
    with pytest.raises(ValueError):
        ResnetDiscriminator(6, ndf=4, **kwargs)


def test_init_weights_normal_002():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(16, 64, 3), nn.BatchNorm2d(64), nn.ConvTranspose2d(64, 32, 3),
                        nn.InstanceNorm2d(32, affine=True), nn.InstanceNorm2d(32),
                        nn.Linear(64, 64))
    assert init_weights(net) is net
    for conv in (net[0], net[2], net[5]):
        assert abs(conv.weight.mean().item()) < 0.003
        assert conv.weight.std().item() == pytest.approx(0.02, rel=0.1)
        assert (conv.bias == 0).all()
    for norm in (net[1], net[3]):
        assert norm.weight.mean().item() == pytest.approx(1.0, abs=0.01)
        assert 0.01 < norm.weight.std().item() < 0.03
        assert (norm.bias == 0).all()
    init_weights(net, gain=0.5)
    assert net[0].weight.std().item() == pytest.approx(0.5, rel=0.1)


def test_discriminator_is_initialised_at_construction():
    torch.manual_seed(0)
    d = ResnetDiscriminator(21)
    first = d.model[1]
    assert first.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert (first.bias == 0).all()
