"""PG2 on CUDA: the same numbers as on the CPU, for both official configurations and for the
adapter's centre-padded 256x176 path."""

from __future__ import annotations

import copy

import pytest
import torch

from baselines.pg2.adapter import PG2Adapter
from baselines.pg2.network import PG2Config, PG2Generator
from bench.models import ModelSpec

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _full_fp32(monkeypatch):
    # TF32 convolutions and matmuls round to 10-bit mantissas; compare in full fp32
    monkeypatch.setattr(torch.backends.cudnn, "allow_tf32", False)
    monkeypatch.setattr(torch.backends.cuda.matmul, "allow_tf32", False)


@pytest.mark.parametrize("variant,size", [("market", (128, 64)), ("deepfashion", (256, 256))])
def test_cuda_forward_matches_cpu(variant, size):
    net = PG2Generator(PG2Config(variant=variant), size, seed=0).eval()
    x = net.example_inputs(1)
    with torch.no_grad():
        cpu_final, cpu_g1 = net(*x, return_g1=True)
        gpu_final, gpu_g1 = net.to("cuda")(*(t.cuda() for t in x), return_g1=True)
    for cpu, gpu in ((cpu_g1, gpu_g1), (cpu_final, gpu_final)):
        diff = (gpu.cpu() - cpu).abs().max().item()
        assert diff < 1e-3 * max(1.0, cpu.abs().max().item()), f"CUDA and CPU differ by {diff:.2e}"


def test_adapter_on_cuda_pads_256x176_like_the_cpu():
    spec = ModelSpec(name="pg2", size=(256, 176), dataset="deepfashion", device="cuda",
                     untrained=True)
    gen = PG2Adapter(spec)
    assert next(gen.module.parameters()).device.type == "cuda"
    cpu_net = copy.deepcopy(gen.module).cpu()
    g = torch.Generator().manual_seed(0)
    src = torch.rand(1, 3, 256, 176, generator=g)
    kpts = torch.rand(1, 18, 2, generator=g) * torch.tensor([175.0, 255.0])
    kpts[:, 4] = -1
    out = gen.generate(src.cuda(), kpts.cuda(), kpts.cuda())
    assert out.shape == (1, 3, 256, 176) and out.device.type == "cuda"
    with torch.no_grad():
        ref = cpu_net.render(src, kpts, kpts)
    assert (out.cpu() - ref).abs().max().item() < 1e-3
