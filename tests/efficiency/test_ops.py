"""Operation counts: closed forms of simple layers, the handles, no uncounted operators in the
project's models, and the cross-check with torch.utils.flop_counter."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baselines.patn.network import PATNConfig, PATNGenerator
from baselines.pg2.adapter import network_size
from baselines.pg2.network import PG2Config, PG2Generator
from bench.efficiency.ops import count_ops, cross_check, meta_copy
from ctat.config import CTATConfig
from ctat.network import CTATGenerator


def _macs(module, *inputs):
    return count_ops(module.eval(), inputs).macs


@pytest.mark.parametrize(("cin", "cout", "k", "stride", "pad", "dil", "groups", "hw"), [
    (3, 8, 3, 1, 1, 1, 1, (16, 12)),
    (8, 16, 3, 2, 1, 1, 1, (17, 9)),
    (4, 4, 3, 1, 2, 2, 1, (10, 10)),
    (8, 8, 3, 1, 1, 1, 4, (8, 8)),
    (6, 5, 7, 1, 0, 1, 1, (20, 13)),
])
def test_conv2d_macs_closed_form(cin, cout, k, stride, pad, dil, groups, hw):
    conv = nn.Conv2d(cin, cout, k, stride, pad, dil, groups)
    n = 2
    x = torch.rand(n, cin, *hw)
    ho, wo = conv(x).shape[-2:]
    expected = n * ho * wo * cout * (cin // groups) * k * k  # bias not counted
    ops = count_ops(conv, (x,))
    assert ops.macs == expected and ops.flops == 2 * expected
    assert ops.macs_by_operator == {"conv": expected} and ops.uncounted == {}


def test_transposed_conv_linear_matmul_closed_forms():
    n, cin, cout, h, w = 2, 8, 4, 5, 7
    up = nn.ConvTranspose2d(cin, cout, 3, stride=2, padding=1, output_padding=1)
    assert _macs(up, torch.rand(n, cin, h, w)) == n * h * w * cin * cout * 9  # per input pixel
    assert _macs(nn.Linear(10, 6), torch.rand(3, 10)) == 3 * 10 * 6

    class MatMul(nn.Module):
        def forward(self, a, b):
            return torch.matmul(a, b)

    assert _macs(MatMul(), torch.rand(3, 4, 5), torch.rand(3, 5, 6)) == 3 * 4 * 5 * 6


def test_elementwise_handles_count_per_element_and_free_ops_are_listed():
    class Block(nn.Module):
        def forward(self, x, y):
            z = torch.relu(x) + y * 2  # relu, mul, add: one per element each
            z = torch.softmax(z.flatten(1), dim=-1)  # 3 per element
            return torch.cat([z, torch.sigmoid(z)], 1).view(-1), z.sum()  # sum: per input

    x, y = torch.rand(2, 3, 4), torch.rand(2, 3, 4)
    ops = count_ops(Block(), (x, y))
    assert ops.macs == 0 and ops.uncounted == {}
    assert ops.elementwise_by_operator == {"add": 24, "mul": 24, "relu": 24, "sigmoid": 24,
                                           "softmax": 72, "sum": 24}
    assert ops.elementwise == 192
    assert {"cat", "view", "flatten"} <= set(ops.free)


def test_an_operator_without_handle_is_listed_with_its_calls():
    class Exotic(nn.Module):
        def forward(self, x):
            return torch.erf(torch.erf(x)) + 1

    ops = count_ops(Exotic(), (torch.rand(4),))
    assert ops.uncounted == {"aten::erf": 2}
    assert ops.elementwise_by_operator == {"add": 4}


def test_dropout_is_free_at_inference_only():
    net = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = torch.rand(2, 4)
    assert count_ops(net.eval(), (x,)).elementwise == 0
    assert "dropout (inference: identity)" in count_ops(net.eval(), (x,)).free
    assert count_ops(net.train(), (x,)).elementwise_by_operator == {"dropout": 8}


def test_per_module_breakdown_adds_up():
    net = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.Conv2d(4, 2, 1))
    ops = count_ops(net, (torch.rand(1, 3, 8, 8),))
    assert ops.by_module == {"0": {"macs": 8 * 8 * 4 * 27, "elementwise": 0},
                             "1": {"macs": 0, "elementwise": 256},
                             "2": {"macs": 8 * 8 * 2 * 4, "elementwise": 0}}
    assert sum(m["macs"] for m in ops.by_module.values()) == ops.macs


# The project's networks in tiny widths run the same operators as the full ones (the widths do
# not change the code path); full-size counts are pinned in the slow test below.
TINY = {
    "ctat": lambda size, ds: CTATGenerator(CTATConfig(ngf=4), size),
    "patn": lambda size, ds: PATNGenerator(PATNConfig.for_dataset(ds, ngf=4), size),
    "pg2": lambda size, ds: PG2Generator(PG2Config.for_dataset(ds, hidden_num=4, z_num=4),
                                         network_size(size)),
}
SIZES = {(128, 64): "market", (256, 176): "deepfashion"}


@pytest.mark.parametrize("size", list(SIZES), ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("network", list(TINY))
def test_no_uncounted_operators_in_the_project_models(network, size):
    net = TINY[network](size, SIZES[size]).eval()
    inputs = net.example_inputs(1)
    ops = count_ops(net, inputs)
    assert ops.uncounted == {}, f"{network} at {size}: operators nobody counts"
    assert ops.macs > 0 and ops.elementwise > 0
    check = cross_check(net, inputs, ops)
    assert check.device == "meta" and check.torch_only == {}
    # every operator that runs feeds the output (CTAT's last stage has no unused source
    # fusion), so the traced count (fvcore) and torch's counter agree
    assert check.agree and check.differences == {}


def test_cross_check_agrees_on_plain_layers_and_meta_copy_is_free():
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(5))
    x = torch.rand(2, 3, 10, 10)
    net(x)
    check = cross_check(net, (x,))
    assert check.agree and check.relative_difference == 0
    assert check.fvcore_by_operator == {"conv": 2 * 8 * 8 * 8 * 27, "linear": 2 * 512 * 5}
    assert check.torch_by_operator == {"convolution": 2 * 8 * 8 * 8 * 27, "addmm": 2 * 512 * 5}
    meta = meta_copy(net)
    assert all(p.device.type == "meta" for p in meta.parameters())
    assert all(p.device.type == "cpu" for p in net.parameters())


@pytest.mark.slow
@pytest.mark.parametrize(("network", "size", "macs"), [
    ("ctat", (128, 64), 9_607_053_312),
    ("patn", (128, 64), 22_534_684_672),
    ("pg2", (128, 64), 47_584_215_040),
    ("ctat", (256, 176), 55_953_063_936),
    ("patn", (256, 176), 124_020_064_256),
], ids=str)
def test_full_size_counts_are_pinned(network, size, macs):
    full = {"ctat": lambda: CTATGenerator(CTATConfig(), size),
            "patn": lambda: PATNGenerator(PATNConfig.for_dataset(SIZES[size]), size),
            "pg2": lambda: PG2Generator(PG2Config.for_dataset(SIZES[size]), network_size(size))}
    net = full[network]().eval()
    ops = count_ops(net, net.example_inputs(1))
    assert ops.uncounted == {}
    assert ops.macs == macs
