"""ctat.train: the run folder, resume exactness, perceptual handling, stopping safely, the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bench.errors import BenchError, WeightsUnavailableError
from ctat.checkpoint import load_checkpoint
from ctat.cli import main
from ctat.config import CTATConfig
from ctat.losses import PerceptualLoss
from ctat.train import PRESETS, PairStream, TrainConfig, TrainingError, read_log, train

QUIET = {"progress": False, "echo": lambda s: None}


def tiny(data_root, out, **changes) -> TrainConfig:
    base = TrainConfig(
        dataset="synthetic", data_root=data_root, out=out,
        model=CTATConfig(ngf=8, stages=1, atrous_rates=(1, 2), dropout=0.5),
        iterations=6, decay_iterations=2, batch_size=3, lr=2e-4, ndf=8, d_blocks=1,
        perceptual=False, checkpoint_every=3, sample_every=2, log_every=1, eval_pairs=6,
        workers=0,
    )
    return base.replace(**changes)


class StandIn(nn.Module):
    """A deterministic stand-in for VGG19 relu1_2 (the real weights are not on this machine)."""

    def __init__(self, hook=None) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, padding=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.linspace(-1, 1, self.conv.weight.numel()).view_as(self.conv.weight))
        self.hook = hook

    def forward(self, x):
        if self.hook is not None:
            self.hook(x)
        return torch.relu(self.conv(x))


def test_run_folder_holds_log_samples_checkpoints(synthetic_parent, tmp_path):
    result = train(tiny(synthetic_parent, tmp_path / "r"), **QUIET)
    out = tmp_path / "r"
    assert result.step == 6 and result.checkpoint == out / "latest.pt"
    assert sorted(p.name for p in (out / "checkpoints").iterdir()) == ["step_0000003.pt", "step_0000006.pt"]
    assert sorted(p.name for p in (out / "samples").iterdir()) == [
        "step_0000000.png", "step_0000002.png", "step_0000003.png", "step_0000004.png",
        "step_0000006.png"]
    losses = read_log(result.log)
    assert [r["step"] for r in losses] == [1, 2, 3, 4, 5, 6]
    assert {"g_gan", "g_l1", "d_appearance", "d_shape", "g_total", "lr"} <= set(losses[0])
    assert "g_perceptual" not in losses[0]
    assert [r["lr"] for r in losses] == pytest.approx([2e-4] * 4 + [2e-4, 1e-4])
    assert [s for s, _ in result.evals] == [0, 3, 6] and all(0 < v < 1 for _, v in result.evals)
    ckpt = load_checkpoint(out / "latest.pt", size=(128, 64))
    assert ckpt.step == 6 and ckpt.dataset == "synthetic"
    assert ckpt.training["perceptual_used"] is False and ckpt.train_state is not None
    assert json.loads((out / "train_config.json").read_text())["iterations"] == 6
    with pytest.raises(BenchError, match="already holds a training run"):
        train(tiny(synthetic_parent, out), **QUIET)


def test_resume_reproduces_an_uninterrupted_run(synthetic_parent, tmp_path):
    straight = train(tiny(synthetic_parent, tmp_path / "a", decay_iterations=0), **QUIET)
    first = train(tiny(synthetic_parent, tmp_path / "b", decay_iterations=0, iterations=3), **QUIET)
    resumed = train(tiny(synthetic_parent, None, decay_iterations=0), resume=first.out_dir, **QUIET)
    assert resumed.out_dir == tmp_path / "b" and resumed.step == 6
    a = load_checkpoint(straight.checkpoint).generator
    b = load_checkpoint(resumed.checkpoint).generator
    for name in a:
        assert torch.equal(a[name], b[name]), name
    assert [r["step"] for r in read_log(resumed.log)] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(TrainingError, match="already at step 6"):
        train(tiny(synthetic_parent, None), resume=resumed.checkpoint, **QUIET)


def test_pair_stream_depends_only_on_seed_and_step():
    whole = iter(PairStream(10, 4, seed=1))
    batches = [next(whole) for _ in range(6)]
    later = iter(PairStream(10, 4, seed=1, start_step=3))
    assert [next(later) for _ in range(3)] == batches[3:]
    assert sorted(sum(batches[:5], [])[:10]) == list(range(10))  # an epoch is a permutation


def test_perceptual_term_through_a_stand_in_network(synthetic_parent, tmp_path):
    seen = []
    loss = PerceptualLoss(StandIn(hook=lambda x: seen.append(x.shape)))
    result = train(tiny(synthetic_parent, tmp_path / "p", perceptual=True, iterations=2,
                        eval_pairs=0), perceptual=loss, **QUIET)
    rows = read_log(result.log)
    assert all(r["g_perceptual"] > 0 for r in rows)
    assert seen and seen[0][1:] == (3, 128, 64)
    assert load_checkpoint(result.checkpoint).training["perceptual_used"] is True


def test_missing_vgg_weights_stop_with_the_path_and_the_flag(synthetic_parent, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))

    def offline(*args, **kwargs):
        raise OSError("no network")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError) as err:
        train(tiny(synthetic_parent, tmp_path / "v", perceptual=True), **QUIET)
    message = str(err.value)
    assert str(tmp_path / "hub") in message and "--no-perceptual" in message
    assert not (tmp_path / "v").exists()  # stopped before any work


def test_non_finite_loss_stops_and_keeps_the_weights(synthetic_parent, tmp_path):
    calls = []

    def poison(x):
        calls.append(1)
        if len(calls) > 4:  # steps 1-2 are fine (fake and real pass once each per step)
            raise_nan.append(1)

    raise_nan: list = []

    class NaNAfter(StandIn):
        def forward(self, x):
            out = super().forward(x)
            return out * float("nan") if raise_nan else out

    with pytest.raises(TrainingError, match=r"not finite at step 2[\s\S]*saved to"):
        train(tiny(synthetic_parent, tmp_path / "n", perceptual=True, eval_pairs=0),
              perceptual=PerceptualLoss(NaNAfter(hook=poison)), **QUIET)
    ckpt = load_checkpoint(tmp_path / "n" / "latest.pt")
    assert ckpt.step == 2
    assert all(torch.isfinite(t).all() for t in ckpt.generator.values())


def test_interrupt_saves_the_current_step(synthetic_parent, tmp_path):
    calls = []

    def interrupt(x):
        calls.append(1)
        if len(calls) == 7:  # during step 4
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(tiny(synthetic_parent, tmp_path / "k", perceptual=True, eval_pairs=0),
              perceptual=PerceptualLoss(StandIn(hook=interrupt)), **QUIET)
    assert load_checkpoint(tmp_path / "k" / "latest.pt").step == 3


def test_cli_flags_override_the_preset(capsys):
    assert main(["train", "--dataset", "market", "--no-attention", "--fusion", "add",
                 "--stages", "2", "--iterations", "900", "--lambda-gan", "5", "--dry-run"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["dataset"] == "market" and config["batch_size"] == 32  # the market preset
    assert config["model"]["attention"] is False and config["model"]["stages"] == 2
    assert config["model"]["fusion_target"] == config["model"]["fusion_source"] == "add"
    assert config["iterations"] == 900 and config["decay_iterations"] == 300
    assert config["loss"] == {"gan": 5.0, "l1": 17.0, "perceptual": 17.0}
    assert main(["train", "--dataset", "synthetic", "--dry-run"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == PRESETS.get("smoke").model.to_dict()


def test_cli_errors_are_messages(capsys, tmp_path):
    assert main(["train", "--amp", "fp16", "--dry-run", "--stages", "0"]) == 2
    assert "stages must be at least 1" in capsys.readouterr().err
    assert main(["train", "--amp", "fp16", "--device", "cpu", "--no-perceptual",
                 "--out", str(tmp_path / "x")]) == 2
    assert "needs a CUDA device" in capsys.readouterr().err
    assert main(["info", str(tmp_path / "absent.pt")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_cli_info_describes_a_checkpoint(synthetic_parent, tmp_path, capsys):
    result = train(tiny(synthetic_parent, tmp_path / "i", iterations=1, decay_iterations=0, eval_pairs=0), **QUIET)
    assert main(["info", str(result.checkpoint)]) == 0
    text = capsys.readouterr().out
    assert "trained on synthetic at 128x64, step 1" in text and "resumable: yes" in text


@pytest.mark.slow
def test_smoke_training_lowers_the_loss_and_raises_heldout_ssim(synthetic_parent, tmp_path):
    # 30 steps (about 40 s here; 60 took 90 s): held-out SSIM 0.039 -> 0.121 on this machine
    config = PRESETS.get("smoke").replace(
        data_root=synthetic_parent, out=tmp_path / "s", perceptual=False, iterations=30,
        decay_iterations=10, checkpoint_every=30, sample_every=30, log_every=5, eval_pairs=32,
        workers=0,
    )
    result = train(config, **QUIET)
    rows = read_log(result.log)
    assert rows[-1]["g_l1"] < rows[0]["g_l1"]
    assert rows[-1]["g_total"] < rows[0]["g_total"]
    (_, before), (_, after) = result.evals
    assert after > before + 0.05
