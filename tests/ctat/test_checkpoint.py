"""ctat.checkpoint: round trip, and a clear error for every way a checkpoint can be wrong."""

from __future__ import annotations

import pytest
import torch

from bench.errors import BenchError
from ctat.checkpoint import CheckpointError, load_checkpoint, save_checkpoint, state_sha256
from ctat.config import CTATConfig
from ctat.network import CTATGenerator

CONFIG = CTATConfig(ngf=8, stages=2, atrous_rates=(1, 2))


@pytest.fixture
def saved(tmp_path):
    net = CTATGenerator(CONFIG, (32, 16), seed=7)
    with torch.no_grad():  # weights unlike any seeded init
        for p in net.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = save_checkpoint(tmp_path / "ckpt.pt", net, dataset="synthetic", step=123,
                           training={"lr": 1e-4})
    return net.eval(), path


def test_round_trip_gives_identical_output(saved):
    net, path = saved
    ckpt = load_checkpoint(path, size=(32, 16))
    assert (ckpt.config, ckpt.size, ckpt.dataset, ckpt.step) == (CONFIG, (32, 16), "synthetic", 123)
    assert ckpt.training == {"lr": 1e-4}
    assert ckpt.generator_sha256 == state_sha256(net.state_dict())
    assert len(ckpt.file_sha256) == 64
    loaded = ckpt.build().eval()
    x = net.example_inputs(2)
    with torch.no_grad():
        assert torch.equal(net(*x), loaded(*x))
    assert not (path.parent / "ckpt.pt.tmp").exists()


def test_wrong_resolution_is_refused_with_both_sizes(saved):
    _, path = saved
    with pytest.raises(CheckpointError, match=r"trained at 32x16 .* images are 256x176"):
        load_checkpoint(path, size=(256, 176))


def test_truncated_file(saved, tmp_path):
    _, path = saved
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match=r"cut.pt cannot be read .*truncated"):
        load_checkpoint(cut)


def test_a_file_that_is_not_a_torch_file(tmp_path):
    junk = tmp_path / "notes.pt"
    junk.write_text("these are not weights")
    with pytest.raises(CheckpointError, match="notes.pt cannot be read"):
        load_checkpoint(junk)


def test_a_torch_file_of_another_kind(tmp_path):
    other = tmp_path / "latest_net_netG.pth"
    torch.save({"model.0.weight": torch.zeros(3)}, other)
    with pytest.raises(CheckpointError, match=r"is not a ctat-bench checkpoint .*model.0.weight"):
        load_checkpoint(other)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "absent.pt")
    with pytest.raises(CheckpointError, match="a directory"):
        load_checkpoint(tmp_path)


def test_edited_weights_fail_the_hash(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    name = next(iter(payload["generator"]))
    payload["generator"][name] = payload["generator"][name] + 1
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="do not match the hash"):
        load_checkpoint(tmp_path / "edited.pt")


def test_a_newer_format_version_is_named(saved, tmp_path):
    _, path = saved
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "future.pt")
    with pytest.raises(CheckpointError, match="format version 99"):
        load_checkpoint(tmp_path / "future.pt")


def test_checkpoint_errors_are_user_errors():
    assert issubclass(CheckpointError, BenchError)
