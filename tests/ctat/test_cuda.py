"""CTAT on CUDA: the same numbers as on the CPU, and training with mixed precision."""

from __future__ import annotations

import pytest
import torch

from ctat.checkpoint import load_checkpoint
from ctat.config import CTATConfig
from ctat.network import CTATGenerator
from ctat.train import TrainConfig, read_log, train

pytestmark = pytest.mark.gpu


def test_cuda_forward_matches_cpu(monkeypatch):
    # full fp32 on the GPU (TF32 convolutions and matmuls round to 10-bit mantissas)
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)
    net = CTATGenerator(CTATConfig(), (128, 64)).eval()
    x = net.example_inputs(4)
    with torch.no_grad():
        cpu = net(*x)
        gpu = net.to("cuda")(*(t.cuda() for t in x)).cpu()
    diff = (gpu - cpu).abs().max().item()
    assert diff < 1e-3, f"CUDA and CPU outputs differ by up to {diff:.2e}"


@pytest.mark.parametrize("amp", ["off", "fp16", "bf16"])
def test_training_steps_on_cuda(synthetic_parent, tmp_path, amp):
    config = TrainConfig(
        dataset="synthetic", data_root=synthetic_parent, out=tmp_path / amp, device="cuda",
        amp=amp, iterations=4, decay_iterations=0, batch_size=4, perceptual=False,
        checkpoint_every=2, sample_every=4, log_every=1, eval_pairs=8, workers=0,
        model=CTATConfig(ngf=16),
    )
    result = train(config, progress=False, echo=lambda s: None)
    rows = read_log(result.log)
    assert len(rows) == 4 and all(torch.isfinite(torch.tensor(r["g_total"])) for r in rows)
    ckpt = load_checkpoint(result.checkpoint, size=(128, 64))
    assert all(t.device.type == "cpu" and t.dtype == torch.float32 for t in ckpt.generator.values())
    resumed = train(config.replace(out=None, iterations=6), resume=result.out_dir,
                    progress=False, echo=lambda s: None)
    assert resumed.step == 6
