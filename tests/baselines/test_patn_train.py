"""PATN through the shared training loop: official presets, image pools, exact resume, the CLI."""

from __future__ import annotations

import json

import torch

from baselines.patn.network import PATNConfig
from baselines.patn.weights import load_patn
from ctat.checkpoint import load_checkpoint
from ctat.cli import main
from ctat.train import PRESETS, FakePools, read_log, train

QUIET = {"progress": False, "echo": lambda s: None}


def tiny(data_root, out, **changes):
    return PRESETS.get("patn-smoke").replace(
        data_root=data_root, out=out, model=PATNConfig(ngf=8, n_blocks=2), iterations=6,
        decay_iterations=0, batch_size=3, ndf=8, perceptual=False, checkpoint_every=3,
        sample_every=6, log_every=1, eval_pairs=0, workers=0, pool_size=4, **changes)


def test_official_settings_are_the_defaults(capsys):
    assert main(["train", "--dataset", "market", "--dry-run"], network="patn") == 0
    config = json.loads(capsys.readouterr().out)
    assert config["network"] == "patn" and config["model"]["norm"] == "batch"
    assert config["model"]["n_blocks"] == 9 and config["model"]["dropout"] is True
    assert (config["iterations"], config["decay_iterations"], config["batch_size"]) == (87_500, 25_000, 32)
    assert config["loss"] == {"gan": 5.0, "l1": 10.0, "perceptual": 10.0}
    assert (config["gan_mode"], config["pool_size"], config["lr"]) == ("bce", 50, 2e-4)
    assert (config["d_activation"], config["d_dropout"], config["d_norm"]) == ("relu", 0.5, "batch")
    assert main(["train", "--dataset", "deepfashion", "--dry-run"], network="patn") == 0
    config = json.loads(capsys.readouterr().out)
    assert config["model"]["norm"] == "instance" and config["batch_size"] == 7
    assert config["loss"] == {"gan": 5.0, "l1": 1.0, "perceptual": 1.0} and config["gan_mode"] == "lsgan"
    assert main(["train", "--stages", "2", "--dry-run"], network="patn") == 2
    assert "--stages does not apply to patn" in capsys.readouterr().err


def test_pool_passes_fakes_until_full_then_swaps_half():
    torch.manual_seed(0)
    pool = FakePools(2)
    first = torch.arange(2.0).view(2, 1)
    assert torch.equal(pool("shape", first), first)  # filling: everything passes through
    later = torch.full((200, 1), 9.0)
    out = pool("shape", later)
    swapped = (out != 9.0).sum().item()
    assert 0 < swapped <= 200 and len(pool.items["shape"]) == 2
    assert pool.items["appearance"] == []  # one pool per discriminator


def test_patn_trains_resumes_exactly_and_loads_in_the_adapter(synthetic_parent, tmp_path):
    straight = train(tiny(synthetic_parent, tmp_path / "a"), **QUIET)
    first = train(tiny(synthetic_parent, tmp_path / "b", ).replace(iterations=3), **QUIET)
    resumed = train(tiny(synthetic_parent, None), resume=first.out_dir, **QUIET)
    a = load_checkpoint(straight.checkpoint, network="patn")
    b = load_checkpoint(resumed.checkpoint, network="patn")
    for name, tensor in a.generator.items():
        assert torch.equal(tensor, b.generator[name]), name
    assert len(a.train_state["pools"]["shape"]) == 4
    assert all(r["g_total"] > 0 for r in read_log(straight.log))
    net, info = load_patn(straight.checkpoint, (128, 64))
    assert info.source == "ctat-bench" and info.dataset == "synthetic"
