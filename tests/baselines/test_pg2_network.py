"""baselines.pg2.network: the official graph's parameter counts, shapes, padding, both variants."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from baselines.pg2.counts import checkpoint_variable_count
from baselines.pg2.network import (
    PG2Config,
    PG2Generator,
    SameConv2d,
    count_parameters,
    level_sizes,
    repeat_num,
)

TINY = dict(hidden_num=4, z_num=8)


def _conv(k: int, cin: int, cout: int) -> int:
    return k * k * cin * cout + cout  # slim.conv2d: weights and biases


def _official_counts(h: int, w: int, variant: str, n: int = 128, z: int = 64) -> tuple[int, int]:
    """G1 and G2 sizes derived from models.py / models256.py (trainer*.py: relu, noise_dim 0).

    G1 (GeneratorCNN_Pose_UAEAfterResidual), R = int(log2 H) - 2 levels, input 3 + 18 = 21:
      conv 3x3 21 -> n
      encoder level i = 0..R-1 (width c_i = n(i+1)): two 3x3 convs c_i -> c_i;
        i < R-1: stride-2 3x3 conv c_i -> c_(i+1)
      fully_connected (h_f*w_f*c_(R-1)) -> z and fully_connected_1 z -> h_f*w_f*n, where
        h_f x w_f is the map after R-1 stride-2 SAME convs: ceil(side / 2^(R-1))
        (models.py hard-codes 8 x 4, models256.py 8 x 8)
      decoder level i: width d_0 = n + nR (FC output n + skip nR), d_i = 2n(R-i) for i >= 1
        (1x1 output n(R-i) + skip n(R-i)); two 3x3 convs d_i -> d_i;
        i < R-1: 1x1 conv d_i -> n(R-i-1) after the x2 upsampling
      conv 3x3 2n -> 3
    G2 (UAE_noFC_After2Noise / _AfterNoise), D = R - 2 levels, input G1 + image = 6:
      conv 3x3 6 -> n
      encoder level i (width n(i+1)), input n for i = 0 and n*i after: conv in -> n(i+1),
        conv n(i+1) -> n(i+1); i < D-1: stride-2 conv n(i+1) -> n(i+1)
      decoder level i: input nD (i = 0) or n, plus the skip of encoder level D-1-i (width
        n(D-i)) when that level has one (Market: levels >= 1, DeepFashion: all);
        conv in -> n, conv n -> n
      conv 3x3 n -> 3
    """
    levels = int(math.log2(h)) - 2
    hf, wf = h, w
    for _ in range(levels - 1):
        hf, wf = -(-hf // 2), -(-wf // 2)
    g1 = _conv(3, 21, n)
    for i in range(levels):
        c = n * (i + 1)
        g1 += 2 * _conv(3, c, c) + (_conv(3, c, n * (i + 2)) if i < levels - 1 else 0)
    g1 += (hf * wf * n * levels) * z + z + z * (hf * wf * n) + hf * wf * n
    for i in range(levels):
        d = n + n * levels if i == 0 else 2 * n * (levels - i)
        g1 += 2 * _conv(3, d, d) + (_conv(1, d, n * (levels - i - 1)) if i < levels - 1 else 0)
    g1 += _conv(3, 2 * n, 3)

    depth, first_skip = levels - 2, {"market": 1, "deepfashion": 0}[variant]
    g2 = _conv(3, 6, n)
    for i in range(depth):
        cin, c = (n if i == 0 else n * i), n * (i + 1)
        g2 += _conv(3, cin, c) + _conv(3, c, c) + (_conv(3, c, c) if i < depth - 1 else 0)
    for i in range(depth):
        cin = n * depth if i == 0 else n
        if depth - 1 - i >= first_skip:
            cin += n * (depth - i)
        g2 += _conv(3, cin, n) + _conv(3, n, n)
    g2 += _conv(3, n, 3)
    return g1, g2


# (H, W, variant): (G1, G2) pinned; the formula above reproduces them, the network must too
PINNED = {
    (128, 64, "market"): (70_795_075, 6_058_883),  # 76,853,958 in all
    (256, 256, "deepfashion"): (122_103_235, 12_696_067),  # 134,799,302
    (256, 176, "deepfashion"): (121_183_683, 12_696_067),  # 133,879,750 (FC from 8x6)
}


@pytest.mark.parametrize("key", list(PINNED))
def test_parameter_counts_match_the_official_graph(key):
    h, w, variant = key
    assert _official_counts(h, w, variant) == PINNED[key]
    with torch.device("meta"):
        net = PG2Generator(PG2Config(variant=variant), (h, w), seed=None)
    assert net.parameter_counts() == {"g1": PINNED[key][0], "g2": PINNED[key][1]}
    assert count_parameters(net) == sum(PINNED[key])


def test_market_g2_drops_only_the_level0_skip():
    with torch.device("meta"):
        market = PG2Generator(PG2Config(variant="market"), (128, 64), seed=None)
        fashion = PG2Generator(PG2Config(variant="deepfashion"), (128, 64), seed=None)
    # the last decoder level: n inputs without the level-0 skip, 2n with it
    assert market.g2.decoder[-1].conv1.in_channels == 128
    assert fashion.g2.decoder[-1].conv1.in_channels == 256
    # the first decoder level concatenates the bottom level with itself in both: 2 * 3n
    assert market.g2.decoder[0].conv1.in_channels == fashion.g2.decoder[0].conv1.in_channels == 768
    diff = count_parameters(fashion.g2) - count_parameters(market.g2)
    assert diff == 9 * 128 * 128  # only that conv's extra input channels


def test_depth_and_bottleneck_follow_the_size():
    assert [repeat_num(h) for h in (32, 64, 128, 256, 255)] == [3, 4, 5, 6, 5]
    assert level_sizes((256, 176), 6)[-1] == (8, 6)
    with torch.device("meta"):
        market = PG2Generator(PG2Config(), (128, 64), seed=None)
        fashion = PG2Generator(PG2Config(variant="deepfashion"), (256, 256), seed=None)
        cropped = PG2Generator(PG2Config(variant="deepfashion"), (256, 176), seed=None)
    assert (market.g1.levels, market.g2.levels) == (5, 3)
    assert (fashion.g1.levels, fashion.g2.levels) == (6, 4)
    assert market.g1.fc_encode.in_features == 8 * 4 * 640  # models.py: [8, 8/2, channel_num]
    assert fashion.g1.fc_encode.in_features == 8 * 8 * 768  # models256.py: [8, 8, channel_num]
    assert cropped.g1.fc_encode.in_features == 8 * 6 * 768
    assert market.g1.fc_decode.out_features == 8 * 4 * 128


@pytest.mark.parametrize("size,variant", [((128, 64), "market"), ((256, 176), "deepfashion"),
                                          ((256, 256), "deepfashion"), ((64, 32), "deepfashion")])
def test_forward_shapes(size, variant):
    net = PG2Generator(PG2Config(variant=variant, **TINY), size, seed=0).eval()
    img, pose = net.example_inputs(batch=1)
    assert img.shape == (1, 3, *size) and pose.shape == (1, 18, *size)
    with torch.no_grad():
        final, g1 = net(img, pose, return_g1=True)
    assert final.shape == g1.shape == (1, 3, *size) and torch.isfinite(final).all()
    assert not torch.equal(final, g1)  # G2 adds a difference map


def test_final_image_is_g1_plus_the_difference_map():
    net = PG2Generator(PG2Config(**TINY), (64, 32), seed=1).eval()
    img, pose = net.example_inputs(1)
    with torch.no_grad():
        final, g1 = net(img, pose, return_g1=True)
        assert torch.equal(final, net(img, pose))
        diff = net.g2(torch.cat([net.g1(torch.cat([img, pose], 1)), img], 1))
    torch.testing.assert_close(final, g1 + diff, rtol=0, atol=0)


@pytest.mark.parametrize("side,pads", [(8, (0, 1)), (7, (1, 1))])
def test_stride2_convs_pad_like_tensorflow_same(side, pads):
    conv = SameConv2d(2, 3, 3, stride=2)
    x = torch.randn(1, 2, side, side)
    expected = F.conv2d(F.pad(x, (pads[0], pads[1], pads[0], pads[1])), conv.weight, conv.bias,
                        stride=2)
    out = conv(x)
    assert out.shape[-1] == -(-side // 2)
    torch.testing.assert_close(out, expected)
    if side % 2 == 0:  # PyTorch's symmetric padding=1 would be a different result
        sym = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1)
        assert not torch.allclose(out, sym)


def test_seeded_weights_are_reproducible_and_leave_the_global_stream_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = PG2Generator(PG2Config(**TINY), (32, 16), seed=5)
    after = torch.rand(1)
    assert torch.equal(before, after)
    b = PG2Generator(PG2Config(**TINY), (32, 16), seed=5)
    c = PG2Generator(PG2Config(**TINY), (32, 16), seed=6)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not all(torch.equal(p, q) for p, q in zip(a.parameters(), c.parameters(), strict=True))
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in a.modules() if isinstance(m, SameConv2d))


def test_render_uses_disks_of_the_target_pose_and_returns_unit_range():
    net = PG2Generator(PG2Config(**TINY), (64, 32), seed=0).eval()
    src = torch.rand(2, 3, 64, 32)
    kpts = torch.full((2, 18, 2), -1.0)
    kpts[:, 1] = torch.tensor([16.0, 20.0])
    other = kpts.clone()
    other[:, 1] = torch.tensor([10.0, 40.0])
    with torch.no_grad():
        out = net.render(src, other, kpts)
        expected = net(src * 2 - 1, net.pose_maps(kpts))
        assert torch.equal(out, net.render(src, kpts, kpts))  # the source pose is not used
    torch.testing.assert_close(out, ((expected + 1) / 2).clamp(0, 1))
    assert out.min() >= 0 and out.max() <= 1
    maps = net.pose_maps(kpts)
    assert set(maps.unique().tolist()) == {-1.0, 1.0} and (maps[:, 1] > 0).sum() == 2 * 49


def test_narrower_images_are_centre_padded_into_the_frame():
    net = PG2Generator(PG2Config(variant="deepfashion", **TINY), (64, 64), seed=0).eval()
    src = torch.rand(1, 3, 64, 44)
    kpts = torch.full((1, 18, 2), -1.0)
    kpts[0, 0] = torch.tensor([5.0, 30.0])
    with torch.no_grad():
        out, g1 = net.render(src, kpts, kpts, return_g1=True)
        padded = F.pad(src, (10, 10, 0, 0), mode="replicate")
        shifted = kpts.clone()
        shifted[0, 0, 0] += 10  # present joints move with the image, missing ones stay -1
        full = net(padded * 2 - 1, net.pose_maps(shifted))
    assert out.shape == g1.shape == (1, 3, 64, 44)
    torch.testing.assert_close(out, ((full[..., 10:54] + 1) / 2).clamp(0, 1))
    with pytest.raises(ValueError, match="built for 64x64"):
        net.render(torch.rand(1, 3, 32, 32), kpts, kpts)


def test_config_validation_and_round_trip():
    config = PG2Config.for_dataset("deepfashion", hidden_num=64)
    assert config.variant == "deepfashion" and config.g2_first_skip == 0
    assert PG2Config.for_dataset("synthetic").variant == "market"
    assert PG2Config.for_dataset("synthetic-fashion").variant == "deepfashion"
    assert PG2Config.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="variant"):
        PG2Config(variant="fashion")
    with pytest.raises(ValueError, match="unknown PG2 configuration fields"):
        PG2Config.from_dict({"ngf": 3})
    with pytest.raises(ValueError, match="at least 32 pixels high"):
        PG2Generator(PG2Config(**TINY), (16, 16))


def test_published_size_is_the_whole_deepfashion_checkpoint():
    """PROTOCOL.md 2.2: 437.09 M = G1 + G2 + D with two Adam slots each (+ D's moving averages
    and the scalars, which do not change the rounding)."""
    parts = checkpoint_variable_count((256, 256), "deepfashion")
    assert (parts["g1"], parts["g2"]) == PINNED[(256, 256, "deepfashion")]
    assert parts["d"] == 10_896_257
    assert round(3 * (parts["g1"] + parts["g2"] + parts["d"]) / 1e6, 2) == 437.09
    assert round(parts["total"] / 1e6, 2) == 437.09
    market = checkpoint_variable_count((128, 64), "market")
    assert round(market["total"] / 1e6, 2) == 243.54  # the Market checkpoint: not the 437.09
