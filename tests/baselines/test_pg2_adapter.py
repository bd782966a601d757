"""baselines.pg2 in the harness: converted weights, untrained weights labelled, bad files refused."""

from __future__ import annotations

import pytest
import torch

from baselines.pg2.adapter import PG2Adapter, network_size
from baselines.pg2.checkpoint import PG2CheckpointError, load_pg2_checkpoint, save_converted
from baselines.pg2.network import PG2Config, PG2Generator
from bench.api import run
from bench.cli import main as bench_main
from bench.config import RunConfig
from bench.errors import ModelUnavailableError
from bench.models import GENERATORS, UNTRAINED, ModelSpec
from bench.records import KIND_METRIC, read_records
from ctat.checkpoint import file_sha256
from ctat.checkpoint import save_checkpoint as save_ctat
from ctat.config import CTATConfig
from ctat.network import CTATGenerator

TINY = dict(hidden_num=4, z_num=8)
SOURCE = {"kind": "npz", "path": "vars.npz", "step": 59999}


def _saved(tmp_path, size=(128, 64), variant="market", seed=3, name="pg2.pt"):
    net = PG2Generator(PG2Config(variant=variant, **TINY), size, seed=seed).eval()
    return net, save_converted(tmp_path / name, net, dataset=variant, source=SOURCE)


def _kpts(n, size):
    g = torch.Generator().manual_seed(0)
    k = torch.rand(n, 18, 2, generator=g) * torch.tensor([size[1] - 1.0, size[0] - 1.0])
    k[:, 3] = -1
    return k


def test_registered_under_pg2_with_provenance():
    assert GENERATORS.get("pg2") is PG2Adapter
    assert "437.09" in PG2Adapter.provenance.notes and PG2Adapter.sees_target is False


def test_converted_weights_are_the_ones_that_run(tmp_path):
    net, path = _saved(tmp_path)
    gen = GENERATORS.get("pg2")(ModelSpec(name="pg2", size=(128, 64), dataset="market",
                                          checkpoint=path))
    assert gen.weights.label == str(path) and gen.weights.sha256 == file_sha256(path)
    assert gen.trained == {"dataset": "market", "source": SOURCE}
    src, kpts = torch.rand(1, 3, 128, 64), _kpts(1, (128, 64))
    out = gen.generate(src, kpts, kpts)
    with torch.no_grad():
        torch.testing.assert_close(out, net.render(src, kpts, kpts))
    assert out.shape == (1, 3, 128, 64) and 0 <= out.min() and out.max() <= 1
    assert isinstance(gen.module, PG2Generator) and not gen.module.training
    assert set(gen.module.parameter_counts()) == {"g1", "g2"}  # both stages are the module


def test_deepfashion_256_weights_run_on_256x176_images(tmp_path):
    net, path = _saved(tmp_path, size=(256, 256), variant="deepfashion")
    gen = PG2Adapter(ModelSpec(name="pg2", size=(256, 176), dataset="deepfashion", checkpoint=path))
    assert gen.module.size == (256, 256)
    src, kpts = torch.rand(1, 3, 256, 176), _kpts(1, (256, 176))
    out = gen.generate(src, kpts, kpts)
    assert out.shape == (1, 3, 256, 176)
    with torch.no_grad():
        torch.testing.assert_close(out, net.render(src, kpts, kpts))


def test_weights_of_another_size_are_refused(tmp_path):
    _, path = _saved(tmp_path, size=(128, 64))
    with pytest.raises(PG2CheckpointError, match=r"for 128x64 .*images are 256x176"):
        PG2Adapter(ModelSpec(name="pg2", size=(256, 176), dataset="deepfashion", checkpoint=path))
    _, path = _saved(tmp_path, size=(256, 176), variant="deepfashion", name="narrow.pt")
    with pytest.raises(PG2CheckpointError, match=r"for 256x176 .*images are 256x256"):
        PG2Adapter(ModelSpec(name="pg2", size=(256, 256), dataset="deepfashion", checkpoint=path))


def test_real_datasets_refuse_untrained_weights_unless_asked():
    with pytest.raises(ModelUnavailableError, match="python -m baselines.pg2 convert .*"
                                                    f"--checkpoint pg2={UNTRAINED}"):
        PG2Adapter(ModelSpec(name="pg2", size=(128, 64), dataset="market"))
    small = PG2Config(**TINY)
    spec = ModelSpec(name="pg2", size=(128, 64), dataset="market", untrained=True, seed=0)
    gen = PG2Adapter(spec, config=small)
    assert gen.weights.untrained and len(gen.weights.sha256) == 64 and gen.trained is None
    assert PG2Adapter(spec, config=small).weights.sha256 == gen.weights.sha256  # seeded
    other = ModelSpec(name="pg2", size=(128, 64), dataset="market", untrained=True, seed=1)
    assert PG2Adapter(other, config=small).weights.sha256 != gen.weights.sha256


def test_untrained_deepfashion_is_built_in_the_original_frame():
    assert network_size((256, 176)) == (256, 256) and network_size((128, 64)) == (128, 64)
    spec = ModelSpec(name="pg2", size=(256, 176), dataset="deepfashion", untrained=True)
    gen = PG2Adapter(spec, config=PG2Config.for_dataset("deepfashion", **TINY))
    assert gen.module.size == (256, 256) and gen.module.config.variant == "deepfashion"
    src, kpts = torch.rand(1, 3, 256, 176), _kpts(1, (256, 176))
    assert gen.generate(src, kpts, kpts).shape == (1, 3, 256, 176)


def test_truncated_foreign_and_tensorflow_files(tmp_path):
    _, path = _saved(tmp_path)
    cut = tmp_path / "cut.pt"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(PG2CheckpointError, match=r"cut.pt cannot be read .*truncated"):
        load_pg2_checkpoint(cut)
    junk = tmp_path / "notes.pt"
    junk.write_text("these are not weights")
    with pytest.raises(PG2CheckpointError, match="notes.pt cannot be read"):
        load_pg2_checkpoint(junk)
    tf_data = tmp_path / "model.ckpt-59999.data-00000-of-00001"
    tf_data.write_bytes(b"\x00" * 64)
    with pytest.raises(PG2CheckpointError, match="looks like a TensorFlow checkpoint file: "
                                                 "convert it with python -m baselines.pg2"):
        load_pg2_checkpoint(tf_data)
    (tmp_path / "model.ckpt-59999.index").write_bytes(b"")
    with pytest.raises(PG2CheckpointError, match="is a TensorFlow checkpoint .*convert it first"):
        load_pg2_checkpoint(tmp_path / "model.ckpt-59999")
    other = tmp_path / "latest_net_netG.pth"
    torch.save({"model.0.weight": torch.zeros(3)}, other)
    with pytest.raises(PG2CheckpointError, match=r"is not a ctat-bench checkpoint .*model.0.weight"):
        load_pg2_checkpoint(other)
    ctat = save_ctat(tmp_path / "ctat.pt", CTATGenerator(CTATConfig(ngf=8, stages=1,
                                                                    atrous_rates=(1, 2)),
                                                         (32, 16)), "synthetic", 1)
    with pytest.raises(PG2CheckpointError, match=r"ctat.pt holds a ctat network, not pg2"):
        load_pg2_checkpoint(ctat)


def test_missing_file_directory_version_and_edited_weights(tmp_path):
    with pytest.raises(PG2CheckpointError, match="no such file"):
        load_pg2_checkpoint(tmp_path / "absent.pt")
    _, path = _saved(tmp_path)
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "v99.pt")
    with pytest.raises(PG2CheckpointError, match="format version 99"):
        load_pg2_checkpoint(tmp_path / "v99.pt")
    payload = torch.load(path, weights_only=True)
    payload["generator"]["g1.conv_in.bias"] += 1
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(PG2CheckpointError, match="do not match the hash"):
        load_pg2_checkpoint(tmp_path / "edited.pt")
    payload = torch.load(path, weights_only=True)
    del payload["config"]
    torch.save(payload, tmp_path / "noconfig.pt")
    with pytest.raises(PG2CheckpointError, match="malformed checkpoint"):
        load_pg2_checkpoint(tmp_path / "noconfig.pt")


def test_untrained_run_on_synthetic_is_labelled_everywhere(synthetic_parent, tmp_path):
    """The full official Market configuration (76.85 M parameters) through bench.api.run."""
    result = run(RunConfig(models=("pg2",), data_root=synthetic_parent, limit=4, efficiency=False,
                           metrics=("ssim",), out=tmp_path / "run", batch_size=4,
                           checkpoints=(("pg2", UNTRAINED),)),
                 progress=False, echo=lambda s: None)
    records = [r for r in read_records(result.run_dir / "records.jsonl")
               if r.model == "pg2" and r.kind == KIND_METRIC]
    assert records and all(r.checkpoint == UNTRAINED and r.checkpoint_sha256 for r in records)


def test_cli_runs_converted_weights(synthetic_parent, tmp_path):
    _, path = _saved(tmp_path)
    out = tmp_path / "run"
    code = bench_main(["run", "--models", "pg2", "--no-efficiency", "--data-root", str(synthetic_parent),
                       "--metrics", "ssim", "--limit", "4", "--checkpoint", f"pg2={path}",
                       "--out", str(out), "--quiet"])
    assert code == 0
    records = [r for r in read_records(out / "records.jsonl") if r.kind == KIND_METRIC]
    assert records and all(r.checkpoint == str(path) and r.checkpoint_sha256 == file_sha256(path)
                           for r in records)
