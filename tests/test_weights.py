"""Pretrained files: lookup in the library's place and explicit paths, install by checksum,
clear reasons when missing, the `weights` command."""

from __future__ import annotations

import hashlib

import pytest

from bench import weights
from bench.cli import main
from bench.errors import BenchError, WeightsUnavailableError


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """An empty torch hub cache (TORCH_HOME) for the test."""
    import torch

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr(torch.hub, "_hub_dir", None)
    return tmp_path / "torch" / "hub" / "checkpoints"


@pytest.fixture
def fake_network(tmp_path):
    """A registered network whose published checksum prefix is that of a temporary file."""
    blob = tmp_path / "downloads" / "standin.pth"
    blob.parent.mkdir()
    blob.write_bytes(b"stand-in weights " * 100)
    prefix = hashlib.sha256(blob.read_bytes()).hexdigest()[:8]
    spec = weights.WeightsSpec(name="standin-net", file=f"standin-{prefix}.pth",
                               url="https://example.invalid/standin.pth", sha256_prefix=prefix,
                               used_by=("a test",), library="torchvision")
    weights.WEIGHTS.register(spec.name)(spec)
    yield spec, blob
    weights.WEIGHTS.unregister(spec.name)


def test_known_files_include_every_network_the_metrics_and_ctat_need():
    files = {weights.WEIGHTS.get(n).file for n in weights.WEIGHTS.names()}
    assert {"weights-inception-2015-12-05-6726825d.pth", "alexnet-owt-7be5be79.pth",
            "vgg19-dcbb9e9d.pth", "keypointrcnn_resnet50_fpn_coco-fc266e95.pth"} <= files
    for name in weights.WEIGHTS.names():
        spec = weights.WEIGHTS.get(name)
        if spec.sha256_prefix:  # torch hub convention: the prefix is in the file name
            assert f"-{spec.sha256_prefix}." in spec.file


def test_missing_file_is_unavailable_with_every_place_looked_and_how_to_provide(hub):
    with pytest.raises(WeightsUnavailableError) as info:
        weights.resolve("alexnet", download=False)
    text = str(info.value)
    assert str(hub / "alexnet-owt-7be5be79.pth") in text
    assert "weights add" in text and "--weights alexnet=PATH" in text and "offline" in text


def test_explicit_path_wins_and_a_wrong_one_is_reported(hub, tmp_path):
    path = tmp_path / "mine.pth"
    path.write_bytes(b"x")
    assert weights.resolve("alexnet", path, download=False) == path
    with pytest.raises(WeightsUnavailableError, match="not found at the given path"):
        weights.resolve("alexnet", tmp_path / "nope.pth", download=False)


def test_install_identifies_by_checksum_and_places_in_the_hub_cache(hub, fake_network):
    spec, blob = fake_network
    found, target = weights.install(blob)
    assert found.name == spec.name and target == hub / spec.file
    assert target.read_bytes() == blob.read_bytes()
    status = weights.locate(spec.name, checksum=True)
    assert status.present and status.checksum_ok is True
    assert weights.resolve(spec.name, download=False) == target


def test_install_refuses_unknown_or_mismatching_files(hub, fake_network, tmp_path):
    spec, _ = fake_network
    other = tmp_path / spec.file
    other.write_bytes(b"something else")
    with pytest.raises(BenchError, match="name matches standin-net but the checksum does not"):
        weights.install(other)
    with pytest.raises(BenchError, match="must start with"):
        weights.install(other, spec.name)
    assert not (hub / spec.file).exists()


def test_weights_command_lists_and_adds(hub, fake_network, capsys):
    spec, blob = fake_network
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    assert "alexnet-owt-7be5be79.pth" in out and "MISSING" in out
    assert str(hub) in out
    assert main(["weights", "add", str(blob)]) == 0
    assert "installed" in capsys.readouterr().out
    assert main(["weights"]) == 0
    out = capsys.readouterr().out
    block = out[out.index("standin-net"):]
    assert "present" in block.splitlines()[3] and "checksum ok" in block.splitlines()[3]
    assert main(["weights", "add", str(blob.parent / "missing.pth")]) == 2
