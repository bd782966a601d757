"""Peak memory of one call: CPU resident growth, CUDA max allocated."""

from __future__ import annotations

import subprocess
import sys

import pytest
import torch

from bench.efficiency.memory import peak_memory


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM is Linux's")
def test_cpu_peak_sees_a_transient_allocation():
    # in a fresh process, as the probes measure: a long-lived process (the test session) can
    # serve the allocation from pages it already holds, and resident growth is then 0
    code = (
        "import torch\n"
        "from bench.efficiency.memory import cpu_peak, peak_memory\n"
        "def allocate():\n"
        "    x = torch.ones(64 * 2**20 // 4)\n"
        "    return float(x[-1])\n"
        "peak = cpu_peak(allocate)\n"
        "small = peak_memory(lambda: torch.ones(16), 'cpu')\n"
        "print(peak.method, peak.baseline_bytes, peak.bytes, small.bytes, sep='|')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120).stdout.strip().splitlines()[-1]
    method, baseline, peak, small = out.split("|")
    mib = 2**20
    assert "VmHWM" in method and int(baseline) > 0
    assert 56 * mib <= int(peak) <= 256 * mib
    assert int(small) < 32 * mib


@pytest.mark.gpu
def test_cuda_peak_counts_the_call_not_what_was_there_before():
    resident = torch.empty(32 * 2**20, device="cuda")  # 128 MiB allocated before the call

    def allocate():
        torch.ones(16 * 2**20, device="cuda")  # 64 MiB, freed on return

    peak = peak_memory(allocate, "cuda")
    assert peak.bytes == 64 * 2**20
    assert peak.baseline_bytes >= resident.numel() * 4
