"""ctat.network and ctat.modules: shapes, ranges, determinism, ablation switches, the AT module."""

from __future__ import annotations

import pytest
import torch

from ctat.config import CTATConfig
from ctat.modules import AppearanceTransfer, MultiScaleContext
from ctat.network import CTATGenerator, count_parameters

PATN_PARAMETERS = 41.36e6  # PATN's published size (PROTOCOL.md 1.3 Table 2)


@pytest.mark.parametrize("size", [(128, 64), (256, 176)])
def test_shapes_and_ranges_at_both_resolutions(size):
    net = CTATGenerator(CTATConfig(), size).eval()
    with torch.no_grad():
        out = net(*net.example_inputs(batch=2))
    assert out.shape == (2, 3, *size)
    assert torch.isfinite(out).all()
    assert out.min() >= -1 and out.max() <= 1
    assert out.std() > 0  # not a constant image


def test_render_maps_the_harness_convention():
    net = CTATGenerator(CTATConfig(ngf=8), (32, 16)).eval()
    src = torch.rand(2, 3, 32, 16)
    kpts = torch.full((2, 18, 2), -1.0)
    kpts[:, 1] = torch.tensor([8.0, 10.0])
    with torch.no_grad():
        out = net.render(src, kpts, kpts)
        direct = net(src * 2 - 1, net.pose_maps(kpts), net.pose_maps(kpts))
    assert out.min() >= 0 and out.max() <= 1
    torch.testing.assert_close(out, (direct + 1) / 2)
    with pytest.raises(ValueError, match="built for 32x16"):
        net.render(torch.rand(1, 3, 64, 32), kpts[:1], kpts[:1])


def test_any_size_divisible_by_four_and_nothing_else():
    net = CTATGenerator(CTATConfig(ngf=8), (20, 12)).eval()
    with torch.no_grad():
        assert net(*net.example_inputs()).shape == (1, 3, 20, 12)
    with pytest.raises(ValueError, match="divisible by 4"):
        CTATGenerator(CTATConfig(ngf=8), (130, 64))


def test_seeded_weights_are_deterministic_and_the_seed_matters():
    a = CTATGenerator(CTATConfig(ngf=8), (32, 16), seed=3)
    b = CTATGenerator(CTATConfig(ngf=8), (32, 16), seed=3)
    c = CTATGenerator(CTATConfig(ngf=8), (32, 16), seed=4)
    for (name, pa), pb in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(pa, pb), name
    assert any(not torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))
    x = a.eval().example_inputs(2)
    with torch.no_grad():
        assert torch.equal(a(*x), b.eval()(*x))
    # seeding does not disturb the global random stream
    torch.manual_seed(0)
    expected = torch.rand(1)
    torch.manual_seed(0)
    CTATGenerator(CTATConfig(ngf=8), (32, 16), seed=5)
    assert torch.equal(torch.rand(1), expected)


def _count(**changes) -> int:
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        return count_parameters(CTATGenerator(CTATConfig(**changes), (32, 16), seed=None))


def test_default_size_is_far_below_patn():
    assert _count() < PATN_PARAMETERS / 2


def test_ablation_switches_remove_exactly_their_modules():
    full = _count()
    c = CTATConfig().channels  # 256
    ck, cv = c // 8, c // 2
    pre = 2 * (9 * c * c + c)  # two 3x3 convs with bias (instance norm)
    projections = 2 * (c * ck + ck) + (c * cv + cv) + (cv * c + c) + 1  # q, k, v, out, scale
    assert full - _count(attention=False) == 3 * (pre + projections)
    width = c // 4
    branches = 4 * (9 * c * width + width)
    assert full - _count(context=False) == 3 * (branches + c * c + c)
    # addition halves the input of the first fusion convolution
    assert full - _count(fusion_target="add") == 3 * 9 * c * c
    # the last stage has no source fusion (its source stream is never decoded)
    assert full - _count(fusion_target="add", fusion_source="add") == (3 + 2) * 9 * c * c
    per_stage = (full - _count(stages=1)) // 2
    assert _count(stages=4) == full + per_stage
    assert _count(stages=2) == full - per_stage


def test_attention_reads_the_source_stream():
    torch.manual_seed(0)
    at = AppearanceTransfer(32, scale_init=0.0).eval()
    source, target = torch.randn(2, 32, 8, 4), torch.randn(2, 32, 8, 4)
    with torch.no_grad():
        # sigma = 0: the block passes the (pre-convolved) target stream through
        torch.testing.assert_close(at(source, target), at.pre_target(target))
        at.scale.fill_(1.0)
        moved = at(source, target)
        # the source stream changes the output only through the correspondence
        assert not torch.allclose(moved, at(source.flip(-1), target))
        assert moved.shape == target.shape


def test_attention_rows_are_distributions_over_source_positions():
    torch.manual_seed(0)
    at = AppearanceTransfer(16, scale_init=1.0).eval()
    at.pre_source = torch.nn.Identity()  # so a constant source gives constant values
    target = torch.randn(1, 16, 4, 2)
    seen = {}
    handle = at.out.register_forward_hook(lambda m, i, o: seen.update(a=i[0]))
    with torch.no_grad():
        # a source made of one repeated vector makes every attended value that vector
        flat = torch.randn(1, 16, 1, 1).expand(1, 16, 4, 2).contiguous()
        at(flat, target)
    handle.remove()
    value = at.value(flat).flatten(2)[..., :1]
    torch.testing.assert_close(seen["a"].flatten(2), value.expand(-1, -1, 8))


def test_multi_scale_context_reaches_as_far_as_its_largest_rate():
    def impulse_response(rates):
        torch.manual_seed(0)
        msc = MultiScaleContext(8, rates, norm="batch").eval()  # eval batch norm: local ops
        x = torch.zeros(1, 8, 21, 21)
        base = msc(x)
        x[0, :, 10, 10] = 1.0
        return (msc(x) - base).abs().sum(1)[0]

    with torch.no_grad():
        near = impulse_response((1, 1))
        far = impulse_response((1, 8))
    assert near[10, 10 + 8] == 0 and near[10, 10 + 1] > 0
    assert far[10, 10 + 8] > 0 and far[10 + 8, 10 - 8] > 0
    assert far[10, 10 + 5] == 0  # atrous: gaps between the taps


def test_invalid_configurations_are_named():
    with pytest.raises(ValueError, match="fusion_target"):
        CTATConfig(fusion_target="mul")
    with pytest.raises(ValueError, match="stages"):
        CTATConfig(stages=0)
    with pytest.raises(ValueError, match="atrous"):
        CTATConfig(atrous_rates=(1, 0))


def test_config_round_trips_through_a_dict():
    config = CTATConfig(stages=2, atrous_rates=(1, 3), fusion_source="add")
    assert CTATConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown CTAT configuration fields: width"):
        CTATConfig.from_dict({**config.to_dict(), "width": 3})
