"""Parameter counts of exactly the inference modules, pinned (PROTOCOL.md 2.2, the READMEs)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from baselines.patn.network import PATNConfig, PATNGenerator
from baselines.pg2.adapter import network_size
from baselines.pg2.network import PG2Config, PG2Generator
from bench.efficiency.params import count_parameters, top_level_modules, top_level_prefix
from ctat.config import CTATConfig
from ctat.network import CTATGenerator


def _on_meta(build):
    """Build a network on the meta device: shapes and counts without memory or init cost."""
    with torch.device("meta"):
        return build()


@pytest.mark.parametrize(("name", "build", "expected"), [
    ("ctat default", lambda: CTATGenerator(CTATConfig(), (128, 64)), 15_843_846),
    ("ctat 256x176", lambda: CTATGenerator(CTATConfig(), (256, 176)), 15_843_846),
    ("patn market", lambda: PATNGenerator(PATNConfig.for_dataset("market"), (128, 64)),
     41_365_763),
    ("patn deepfashion",
     lambda: PATNGenerator(PATNConfig.for_dataset("deepfashion"), (256, 176)), 41_358_019),
    ("pg2 market", lambda: PG2Generator(PG2Config.for_dataset("market"), (128, 64)), 76_853_958),
    ("pg2 deepfashion (256x176 images run at 256x256)",
     lambda: PG2Generator(PG2Config.for_dataset("deepfashion"), network_size((256, 176))),
     134_799_302),
])
def test_pinned_parameter_counts(name, build, expected):
    counts = count_parameters(_on_meta(build))
    assert counts.total == expected, name
    assert counts.trainable == expected and counts.frozen == 0
    assert sum(m["total"] for m in counts.by_module.values()) == expected


def test_pg2_top_level_modules_are_its_two_stages():
    counts = count_parameters(_on_meta(lambda: PG2Generator(PG2Config.for_dataset("market"))))
    assert counts.by_module == {"g1": {"total": 70_795_075, "trainable": 70_795_075},
                                "g2": {"total": 6_058_883, "trainable": 6_058_883}}


def test_patn_wrapper_is_descended_and_batch_norm_buffers_reported_apart():
    market = _on_meta(lambda: PATNGenerator(PATNConfig.for_dataset("market"), (128, 64)))
    assert top_level_prefix(market) == "model"
    assert [n for n, _ in top_level_modules(market)] == [
        "model.stream1_down", "model.stream2_down", "model.att", "model.stream1_up"]
    counts = count_parameters(market)
    assert counts.buffers > 0 and counts.module_class == "PATNGenerator"
    fashion = _on_meta(lambda: PATNGenerator(PATNConfig.for_dataset("deepfashion"), (256, 176)))
    assert count_parameters(fashion).buffers == 0  # instance norm without running statistics


def test_adapter_module_is_what_is_counted():
    from bench.models import GENERATORS, ModelSpec

    gen = GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(32, 16), untrained=True))
    assert count_parameters(gen.module).total == 15_843_846


def test_trainable_frozen_and_shared_parameters():
    shared = nn.Linear(4, 4)
    net = nn.Sequential(shared, nn.ReLU(), shared, nn.Conv2d(1, 2, 3))
    net[3].weight.requires_grad_(False)
    counts = count_parameters(net)
    assert counts.total == 20 + 2 * 9 + 2  # the shared layer once
    assert counts.trainable == 20 + 2 and counts.frozen == 18
    # the second use of the shared layer is the same child: listed once
    assert counts.by_module == {"0": {"total": 20, "trainable": 20},
                                "1": {"total": 0, "trainable": 0},
                                "3": {"total": 20, "trainable": 2}}


def test_parameters_on_the_module_itself_are_listed():
    class Scaled(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.ones(()))
            self.conv = nn.Conv2d(1, 1, 1)

    counts = count_parameters(Scaled())
    assert counts.by_module == {"conv": {"total": 2, "trainable": 2},
                                "(own)": {"total": 1, "trainable": 1}}
