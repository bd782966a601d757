"""Peak memory of one call: CPU resident growth, CUDA max allocated."""

from __future__ import annotations

import sys

import pytest
import torch

from bench.efficiency.memory import cpu_peak, peak_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_cpu_peak_sees_a_transient_allocation():
    mib = 2**20

    def allocate():
        x = torch.ones(64 * mib // 4)  # 64 MiB, touched, freed on return
        return float(x[-1])

    peak = cpu_peak(allocate)
    assert "VmHWM" in peak.method and peak.baseline_bytes > 0
    assert 56 * mib <= peak.bytes <= 256 * mib
    small = peak_memory(lambda: torch.ones(16), "cpu")
    assert small.bytes < 32 * mib


@pytest.mark.gpu
def test_cuda_peak_counts_the_call_not_what_was_there_before():
    resident = torch.empty(32 * 2**20, device="cuda")  # 128 MiB allocated before the call

    def allocate():
        torch.ones(16 * 2**20, device="cuda")  # 64 MiB, freed on return

    peak = peak_memory(allocate, "cuda")
    assert peak.bytes == 64 * 2**20
    assert peak.baseline_bytes >= resident.numel() * 4
