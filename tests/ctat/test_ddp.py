"""Training under torchrun: rank slices of one global batch, gradient accumulation, shared image
pools, rank-0 files, exact resume at the same world size, refusals that need no other process.

The two-process tests start ``torchrun --standalone`` (gloo on this CPU) on tests/ctat/ddp_worker.py
or on ``-m ctat train``; the GPU-marked ones run the NCCL path where CUDA devices are present."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.models import GENERATORS, ModelSpec
from ctat.checkpoint import load_checkpoint
from ctat.cli import main
from ctat.config import CTATConfig
from ctat.discriminators import ResnetDiscriminator
from ctat.distributed import DistributedError, RankBatches, micro_batch_size, rank_batches
from ctat.losses import GANLoss, GeneratorLossWeights, PerceptualLoss
from ctat.network import CTATGenerator
from ctat.train import (
    DiscriminatorStep,
    PairStream,
    TrainConfig,
    _micro_step,
    read_log,
    train,
)

REPO = Path(__file__).resolve().parents[2]
WORKER = Path(__file__).with_name("ddp_worker.py")
QUIET = {"progress": False, "echo": lambda s: None}
LR = 2e-4


def tiny(data_root, out, **changes) -> TrainConfig:
    """No dropout and instance norm: the settings whose numbers do not depend on the world size."""
    base = TrainConfig(
        dataset="synthetic", data_root=data_root, out=out,
        model=CTATConfig(ngf=8, stages=1, atrous_rates=(1, 2), dropout=0.0),
        iterations=4, decay_iterations=0, batch_size=4, lr=LR, ndf=8, d_blocks=1,
        perceptual=False, checkpoint_every=2, sample_every=3, log_every=1, eval_pairs=0,
        workers=0, pool_size=3,
    )
    return base.replace(**changes)


def torchrun(args: list[str], n: int = 2, timeout: int = 300,
             check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={n}", *args], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0 or not check, done.stdout[-3000:] + done.stderr[-6000:]
    return done


def run_worker(config: TrainConfig, spec_path: Path, resume: Path | None = None, n: int = 2,
               fail: dict | None = None):
    spec_path.write_text(json.dumps({"config": config.to_dict(), "fail": fail,
                                     "resume": None if resume is None else str(resume)}))
    return torchrun([str(WORKER), str(spec_path)], n=n, check=fail is None)


def state(path: Path) -> dict[str, torch.Tensor]:
    """Generator and discriminator tensors of a checkpoint, by name."""
    ckpt = load_checkpoint(path)
    out = {f"g.{k}": v for k, v in ckpt.generator.items()}
    for d in ("d_appearance", "d_shape"):
        out.update({f"{d}.{k}": v for k, v in ckpt.train_state[d].items()})
    return out


def assert_within_adam_steps(a: dict, b: dict, steps: int) -> None:
    """Equal within float tolerance: the summation order of gradients differs, and Adam's first
    steps turn a rounding-level gradient (e.g. a bias before instance norm, whose exact gradient
    is 0) into a step of up to lr; so no element may differ by more than 2 lr per step, and the
    median element agrees to 1e-5 (weights are ~1e-2). Adam does not see a loss's scale: the
    gradients themselves are compared in test_accumulated_gradients_equal_the_whole_batch's."""
    assert a.keys() == b.keys()
    diffs = torch.cat([(a[k].double() - b[k].double()).abs().flatten() for k in a])
    assert diffs.max() <= 2 * LR * steps, f"a weight differs by {diffs.max():.2e}"
    assert diffs.median() < 1e-5 and (diffs < LR).double().mean() > 0.99


def assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name


def assert_logs_close(a: Path, b: Path) -> None:
    rows_a, rows_b = read_log(a), read_log(b)
    assert [r["step"] for r in rows_a] == [r["step"] for r in rows_b]
    for ra, rb in zip(rows_a, rows_b, strict=True):
        for key in ("g_gan", "g_l1", "d_appearance", "d_shape", "g_total", "d_total"):
            assert ra[key] == pytest.approx(rb[key], rel=1e-4), (ra["step"], key)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launched_as(monkeypatch, rank: int, world: int, port: int | None = None) -> None:
    for name, value in (("RANK", rank), ("WORLD_SIZE", world), ("LOCAL_RANK", rank),
                        ("MASTER_ADDR", "127.0.0.1"), ("MASTER_PORT", port or free_port())):
        monkeypatch.setenv(name, str(value))


# -- the arithmetic: no world needed ------------------------------------------------------------

@pytest.mark.parametrize("world,accumulate", [(1, 1), (2, 1), (3, 2), (2, 3), (6, 1)])
def test_every_global_batch_is_cut_into_rank_slices_without_repeats(world, accumulate):
    stream = PairStream(n=17, batch_size=6 * accumulate, seed=3)
    per_rank = [iter(RankBatches(stream, world, r, accumulate)) for r in range(world)]
    for batch in [b for b, _ in zip(stream, range(5), strict=False)]:
        micro = [[next(per_rank[r]) for _ in range(accumulate)] for r in range(world)]
        # chunk a, then rank r: the global order is kept
        assert [i for a in range(accumulate) for r in range(world) for i in micro[r][a]] == batch
        assert {len(m) for ms in micro for m in ms} == {6 * accumulate // (world * accumulate)}


def test_a_batch_that_does_not_divide_is_refused_with_the_choices():
    assert rank_batches(list(range(8)), world=2, rank=1, accumulate=2) == [[2, 3], [6, 7]]
    with pytest.raises(DistributedError, match=r"7 pairs[\s\S]*2 process\(es\) x 1[\s\S]*"
                                               r"--batch-size 6 or 8"):
        micro_batch_size(7, world=2, accumulate=1)


def test_refusals_come_before_joining_the_group(synthetic_parent, tmp_path, monkeypatch):
    # no other process exists: a refusal that waited for one would hang (this would time out)
    launched_as(monkeypatch, rank=0, world=3)
    with pytest.raises(DistributedError, match="does not split evenly into 3 process"):
        train(tiny(synthetic_parent, tmp_path / "u"), **QUIET)
    launched_as(monkeypatch, rank=0, world=2)
    with pytest.raises(DistributedError, match="--sync-bn needs CUDA devices"):
        train(tiny(synthetic_parent, tmp_path / "s", sync_bn=True), **QUIET)
    with pytest.raises(DistributedError, match="pass --device cuda"):
        train(tiny(synthetic_parent, tmp_path / "c", device="cuda:1"), **QUIET)
    assert not (tmp_path / "u").exists() and not (tmp_path / "s").exists()


def test_cli_flags_for_several_processes(capsys):
    assert main(["train", "--dataset", "market", "--accumulate", "4", "--sync-bn",
                 "--dist-timeout", "30", "--dry-run"], network="patn") == 0
    config = json.loads(capsys.readouterr().out)
    assert (config["batch_size"], config["accumulate"]) == (32, 4)  # the global batch is kept
    assert config["sync_bn"] is True and config["dist_timeout_s"] == 30
    assert main(["train", "--dataset", "market", "--accumulate", "3", "--dry-run"]) == 2
    assert "batch_size 32 (the global batch) must be a multiple of accumulate 3" in (
        capsys.readouterr().err)


# -- one process ----------------------------------------------------------------------------------

def test_accumulated_gradients_equal_the_whole_batch():
    torch.manual_seed(0)
    net = CTATGenerator(CTATConfig(ngf=8, stages=1, atrous_rates=(1, 2), dropout=0.0), (128, 64))
    d_app, d_shape = ResnetDiscriminator(6, ndf=8, n_blocks=1), ResnetDiscriminator(21, ndf=8, n_blocks=1)
    # no image pool: with accumulation its two pools draw in another order (documented)
    d_step = DiscriminatorStep(d_app, d_shape, GANLoss("lsgan"), weight=20.0)
    images = torch.randint(0, 256, (2, 4, 128, 64, 3), dtype=torch.uint8)
    kpts = torch.rand(2, 4, 18, 2) * torch.tensor([63.0, 127.0])
    weights = GeneratorLossWeights()
    params = list(net.parameters()) + list(d_step.parameters())

    def gradients(accumulate: int) -> tuple[list[torch.Tensor], dict]:
        for p in params:
            p.grad = None
        n = 4 // accumulate
        terms = {}
        for a in range(accumulate):
            part = slice(a * n, (a + 1) * n)
            batch = (images[0, part], images[1, part], kpts[0, part], kpts[1, part])
            got = _micro_step(batch, net, net, d_step, d_app, d_shape, GANLoss("lsgan"), None,
                              weights, None, None, "cpu", accumulate, None, 0)
            terms = {k: terms.get(k, 0.0) + v / accumulate for k, v in got.items()}
        return [p.grad.clone() for p in params], terms

    whole, whole_terms = gradients(1)
    scale = max(g.abs().max() for g in whole)
    for accumulate in (2, 4):
        parts, part_terms = gradients(accumulate)
        for g1, g2 in zip(whole, parts, strict=True):
            # float noise, relative to the tensor's largest gradient (a wrong 1/A gives 0.5), or
            # to the largest of all for the biases before instance norm (exact gradient 0)
            assert (g1 - g2).abs().max() <= 1e-4 * max(g1.abs().max(), scale / 100), accumulate
        assert part_terms == pytest.approx(whole_terms, rel=1e-5)


def test_accumulation_equals_one_step_with_the_whole_batch(synthetic_parent, tmp_path):
    whole = train(tiny(synthetic_parent, tmp_path / "whole", iterations=3, pool_size=0), **QUIET)
    parts = train(tiny(synthetic_parent, tmp_path / "parts", iterations=3, pool_size=0,
                       accumulate=2), **QUIET)
    assert_within_adam_steps(state(whole.checkpoint), state(parts.checkpoint), steps=3)
    assert_logs_close(whole.log, parts.log)
    assert load_checkpoint(parts.checkpoint).training["accumulate"] == 2


def test_a_group_of_one_equals_a_plain_process_bit_for_bit(synthetic_parent, tmp_path, monkeypatch):
    plain = train(tiny(synthetic_parent, tmp_path / "plain", iterations=3), **QUIET)
    launched_as(monkeypatch, rank=0, world=1)  # torchrun --nproc-per-node 1: DDP, shared pools
    group = train(tiny(synthetic_parent, tmp_path / "group", iterations=3), **QUIET)
    assert not torch.distributed.is_initialized()  # the group was left
    assert_same(state(plain.checkpoint), state(group.checkpoint))
    assert [r["g_total"] for r in read_log(plain.log)] == [r["g_total"] for r in read_log(group.log)]
    extra = load_checkpoint(group.checkpoint).train_state
    assert extra["world_size"] == 1 and len(extra["rng_ranks_cpu"]) == 1


def test_sigterm_under_torchrun_saves_like_ctrl_c(synthetic_parent, tmp_path, monkeypatch):
    calls = []

    class TermDuringStep3(nn.Module):  # the perceptual network runs twice per step
        def forward(self, x):
            calls.append(1)
            if len(calls) == 5:
                os.kill(os.getpid(), signal.SIGTERM)
            return x

    launched_as(monkeypatch, rank=0, world=1)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        train(tiny(synthetic_parent, tmp_path / "t", perceptual=True),
              perceptual=PerceptualLoss(TermDuringStep3()), **QUIET)
    assert load_checkpoint(tmp_path / "t" / "latest.pt").step == 2
    assert signal.getsignal(signal.SIGTERM) is before and not torch.distributed.is_initialized()


# -- two processes (torchrun, gloo) -------------------------------------------------------------

@pytest.mark.slow
def test_two_processes_equal_one_with_the_same_global_batch(synthetic_parent, tmp_path):
    one = train(tiny(synthetic_parent, tmp_path / "one", eval_pairs=4), **QUIET)
    run_worker(tiny(synthetic_parent, tmp_path / "two", eval_pairs=4), tmp_path / "two.json")
    two = tmp_path / "two"
    assert_within_adam_steps(state(one.checkpoint), state(two / "latest.pt"), steps=4)
    assert_logs_close(one.log, two / "log.jsonl")
    # the shared pools hold what one process's pools hold: the same pairs in the same slots (the
    # conditioning channels, source image or target pose, are equal), fakes within tolerance
    pools_one = load_checkpoint(one.checkpoint).train_state["pools"]
    pools_two = load_checkpoint(two / "latest.pt").train_state["pools"]
    for which in ("appearance", "shape"):
        assert len(pools_two[which]) == 3
        for x, y in zip(pools_one[which], pools_two[which], strict=True):
            assert torch.equal(x[3:], y[3:]) and (x[:3] - y[:3]).abs().max() < 0.05
    # rank 0 alone wrote the run folder: one log row per step, one file per checkpoint/sample
    rows = [json.loads(line) for line in (two / "log.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["step"]) for r in rows] == [
        ("eval", 0), ("loss", 1), ("loss", 2), ("eval", 2), ("loss", 3), ("loss", 4), ("eval", 4)]
    assert sorted(p.name for p in two.iterdir()) == [
        "checkpoints", "latest.pt", "log.jsonl", "samples", "train_config.json"]
    assert sorted(p.name for p in (two / "samples").iterdir()) == [
        "step_0000000.png", "step_0000002.png", "step_0000003.png", "step_0000004.png"]
    # the checkpoint format is unchanged: the harness's adapter loads it in one process
    ckpt = load_checkpoint(two / "latest.pt")
    assert ckpt.train_state["world_size"] == 2 and len(ckpt.train_state["rng_ranks_cpu"]) == 2
    gen = GENERATORS.get("ctat")(ModelSpec(name="ctat", size=(128, 64), checkpoint=two / "latest.pt"))
    x = ckpt.build().example_inputs(2)
    src01 = (x[0] + 1) / 2
    kpts = torch.full((2, 18, 2), -1.0)
    kpts[:, :5] = torch.tensor([[30.0, 20], [32, 40], [28, 60], [34, 80], [30, 100]])
    with torch.no_grad():
        assert torch.equal(gen.generate(src01, kpts, kpts), ckpt.build().eval().render(src01, kpts, kpts))
    # resumed in one process from the two-process checkpoint of step 2: pairs, pools,
    # optimisers continue; without dropout it equals the uninterrupted run within tolerance
    (tmp_path / "cross" / "checkpoints").mkdir(parents=True)
    shutil.copy(two / "checkpoints" / "step_0000002.pt", tmp_path / "cross" / "checkpoints")
    notes = []
    cross = train(tiny(synthetic_parent, None, eval_pairs=4), progress=False, echo=notes.append,
                  resume=tmp_path / "cross" / "checkpoints" / "step_0000002.pt")
    assert any("checkpoint of 2 processes in one" in n for n in notes)
    assert_within_adam_steps(state(one.checkpoint), state(cross.checkpoint), steps=4)


@pytest.mark.slow
def test_two_processes_resume_exactly_through_the_cli(synthetic_parent, tmp_path):
    # dropout on: each rank draws its own masks, so resuming exactly needs every rank's stream
    args = ["-m", "ctat", "train", "--dataset", "synthetic", "--data-root", str(synthetic_parent),
            "--ngf", "8", "--stages", "1", "--atrous-rates", "1,2", "--dropout", "0.5",
            "--iterations", "4", "--decay-iterations", "0", "--batch-size", "4",
            "--checkpoint-every", "2", "--eval-pairs", "0", "--workers", "0", "--no-perceptual",
            "--log-every", "1", "--quiet", "--dist-timeout", "120"]
    torchrun([*args, "--out", str(tmp_path / "a")])
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "checkpoints" / "step_0000002.pt", tmp_path / "b" / "checkpoints")
    done = torchrun([*args, "--resume", str(tmp_path / "b" / "checkpoints" / "step_0000002.pt")])
    assert "new streams" not in done.stdout  # the same world size: every rank's own stream
    a, b = tmp_path / "a" / "latest.pt", tmp_path / "b" / "latest.pt"
    assert_same(state(a), state(b))
    for opt in ("opt_g", "opt_d"):
        sa = load_checkpoint(a).train_state[opt]["state"]
        sb = load_checkpoint(b).train_state[opt]["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    assert [r["step"] for r in read_log(tmp_path / "b" / "log.jsonl")] == [3, 4]
    streams = load_checkpoint(a).train_state["rng_ranks_cpu"]
    assert not torch.equal(streams[0], streams[1])  # each rank draws its own dropout masks


@pytest.mark.slow
def test_a_failing_rank_ends_the_job_and_rank_0_keeps_the_weights(synthetic_parent, tmp_path):
    config = tiny(synthetic_parent, tmp_path / "f", perceptual=True, checkpoint_every=10,
                  iterations=6)
    done = run_worker(config, tmp_path / "f.json", fail={"rank": 1, "call": 5})  # in step 3
    assert done.returncode != 0  # and no hang: torchrun returned within the subprocess timeout
    assert "rank 1 of 2" in done.stderr and "broken.jpg" in done.stderr
    assert load_checkpoint(tmp_path / "f" / "latest.pt").step == 2


# -- NCCL (where CUDA devices are lent) ---------------------------------------------------------

@pytest.mark.gpu
@pytest.mark.slow
def test_nccl_group_with_sync_bn_trains_patn(synthetic_parent, tmp_path):
    """PATN as on Market (batch norm in G and D, pool, BCE) under NCCL with --sync-bn; two ranks
    where two GPUs exist, else one (the NCCL and SyncBatchNorm code paths all the same)."""
    n = 2 if torch.cuda.device_count() >= 2 else 1
    args = ["-m", "baselines.patn", "train", "--dataset", "synthetic",
            "--data-root", str(synthetic_parent), "--ngf", "8", "--blocks", "2", "--no-dropout",
            "--iterations", "4", "--decay-iterations", "0", "--batch-size", "4",
            "--checkpoint-every", "2", "--eval-pairs", "4", "--workers", "0", "--no-perceptual",
            "--quiet", "--device", "cuda", "--sync-bn", "--dist-timeout", "120"]
    torchrun([*args, "--out", str(tmp_path / "a")], n=n)
    ckpt = load_checkpoint(tmp_path / "a" / "latest.pt", network="patn")
    assert ckpt.train_state["world_size"] == n and len(ckpt.train_state["rng_ranks_cuda"]) == n
    assert any(k.endswith("running_mean") for k in ckpt.generator)  # BatchNorm keys, as always
    assert all(torch.isfinite(t.float()).all() for t in ckpt.generator.values())
    (tmp_path / "b" / "checkpoints").mkdir(parents=True)
    shutil.copy(tmp_path / "a" / "checkpoints" / "step_0000002.pt", tmp_path / "b" / "checkpoints")
    torchrun([*args, "--resume", str(tmp_path / "b" / "checkpoints" / "step_0000002.pt")], n=n)
    b = load_checkpoint(tmp_path / "b" / "latest.pt", network="patn")
    # GPU kernels may be non-deterministic (atomics in backward): within tolerance, not bits
    for name, t in ckpt.generator.items():
        assert torch.allclose(t.float(), b.generator[name].float(), atol=4 * LR * 4), name
