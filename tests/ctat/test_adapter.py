"""ctat.adapter in the harness: checkpoints on every record, untrained weights labelled, refusals."""

from __future__ import annotations

import pytest
import torch

from bench.api import run
from bench.cli import main
from bench.config import RunConfig
from bench.errors import ModelUnavailableError
from bench.models import GENERATORS, UNTRAINED, ModelSpec
from bench.records import KIND_METRIC, read_records
from bench.report.console import summary_table
from ctat.checkpoint import CheckpointError, file_sha256, save_checkpoint
from ctat.config import CTATConfig
from ctat.network import CTATGenerator

SMALL = CTATConfig(ngf=8, stages=1, atrous_rates=(1, 2))


def _adapter(**spec):
    return GENERATORS.get("ctat")(ModelSpec(name="ctat", **spec))


def test_checkpoint_weights_are_the_ones_that_run(tmp_path):
    net = CTATGenerator(SMALL, (128, 64), seed=3).eval()
    path = save_checkpoint(tmp_path / "c.pt", net, "market", 10)
    gen = _adapter(size=(128, 64), dataset="market", checkpoint=path)
    assert gen.weights.label == str(path) and gen.weights.sha256 == file_sha256(path)
    assert gen.trained == {"dataset": "market", "step": 10}
    src = torch.rand(2, 3, 128, 64)
    kpts = torch.rand(2, 18, 2) * torch.tensor([64.0, 128.0])
    out = gen.generate(src, kpts, kpts)
    with torch.no_grad():
        torch.testing.assert_close(out, net.render(src, kpts, kpts))
    assert out.shape == (2, 3, 128, 64) and 0 <= out.min() and out.max() <= 1
    assert gen.module is not None and not gen.module.training


def test_checkpoint_of_another_resolution_is_refused(tmp_path):
    path = save_checkpoint(tmp_path / "c.pt", CTATGenerator(SMALL, (128, 64)), "market", 1)
    with pytest.raises(CheckpointError, match="trained at 128x64"):
        _adapter(size=(256, 176), dataset="deepfashion", checkpoint=path)


def test_real_datasets_refuse_untrained_weights_unless_asked():
    with pytest.raises(ModelUnavailableError, match=f"--checkpoint ctat={UNTRAINED}"):
        _adapter(size=(128, 64), dataset="market")
    gen = _adapter(size=(128, 64), dataset="market", untrained=True, seed=0)
    assert gen.weights.untrained and len(gen.weights.sha256) == 64
    again = _adapter(size=(128, 64), dataset="market", untrained=True, seed=0)
    assert again.weights.sha256 == gen.weights.sha256  # seeded: the same weights
    assert _adapter(size=(128, 64), dataset="market", untrained=True, seed=1).weights.sha256 != gen.weights.sha256


def test_untrained_run_on_synthetic_is_labelled_everywhere(synthetic_parent, tmp_path):
    result = run(RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=8, efficiency=False,
                           metrics=("ssim", "l1"), out=tmp_path / "run", batch_size=4),
                 progress=False, echo=lambda s: None)
    ctat = [r for r in read_records(result.run_dir / "records.jsonl") if r.model == "ctat"]
    assert ctat and all(r.checkpoint == UNTRAINED and r.checkpoint_sha256 for r in ctat)
    source = [r for r in result.records if r.model == "source"]
    assert all(r.checkpoint == "none" and r.checkpoint_sha256 is None for r in source)
    table = summary_table(result.records)
    assert "ctat (untrained)" in table and "not a trained model" in table


def test_cli_checkpoint_on_a_real_layout(market_folder, tmp_path, capsys):
    path = save_checkpoint(tmp_path / "c.pt", CTATGenerator(SMALL, (128, 64), seed=1), "market", 5)
    out = tmp_path / "run"
    code = main(["run", "--models", "ctat", "--no-efficiency", "--dataset", "market",
                 "--data-root", str(market_folder),
                 "--metrics", "ssim", "--limit", "4", "--checkpoint", f"ctat={path}",
                 "--out", str(out), "--quiet"])
    assert code == 0
    records = [r for r in read_records(out / "records.jsonl") if r.kind == KIND_METRIC]
    assert records and all(r.checkpoint == str(path) and r.checkpoint_sha256 == file_sha256(path)
                           for r in records)
    code = main(["run", "--models", "ctat", "--no-efficiency", "--dataset", "market",
                 "--data-root", str(market_folder),
                 "--metrics", "ssim", "--limit", "4", "--out", str(tmp_path / "refused"), "--quiet"])
    assert code == 2
    assert "--checkpoint ctat=untrained" in capsys.readouterr().err
    assert not (tmp_path / "refused").exists()  # refused before any work
