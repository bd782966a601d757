"""What a run needs to be reproduced: library versions, device, threads and the git commit.

    env = collect_env(device="cpu")     # written to results/<run>/env.json
    env["git_sha"], env["device_name"], env["versions"]["torch"]
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

PACKAGES = (
    "numpy", "scipy", "scikit-image", "pillow", "pandas", "torch", "torchvision",
    "torch-fidelity", "lpips", "fvcore", "ctat-bench",
)


def git_sha(path: Path | None = None) -> tuple[str, bool]:
    """(commit SHA, dirty) of the checkout that holds the code; ("unknown", False) outside git."""
    where = path or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5,
        )
        if sha.returncode != 0:
            return "unknown", False
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"], cwd=where,
            capture_output=True, text=True, timeout=5,
        )
        return sha.stdout.strip(), bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        return "unknown", False


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_name(device: str) -> str:
    """Human name of a torch device string ("cpu", "cuda:0")."""
    if device.startswith("cuda"):
        import torch

        if torch.cuda.is_available():
            return torch.cuda.get_device_name(torch.device(device))
        return f"{device} (unavailable)"
    return _cpu_name()


def collect_env(device: str = "cpu") -> dict:
    """The run's environment. torch's own facts (CUDA, threads, determinism) where this
    process imported torch; a run of results folders scored by the SSIM family never does,
    and says so (``torch_imported`` false, those fields null)."""
    torch = sys.modules.get("torch")
    versions = {}
    for pkg in PACKAGES:
        try:
            versions[pkg] = importlib.metadata.version(pkg)
        except importlib.metadata.PackageNotFoundError:
            versions[pkg] = None
    sha, dirty = git_sha()
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device,
        "device_name": device_name(device),
        "torch_imported": torch is not None,
        "cuda": torch.version.cuda if torch else None,
        "cuda_available": torch.cuda.is_available() if torch else None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads() if torch else None,
        "deterministic_algorithms": (torch.are_deterministic_algorithms_enabled() if torch
                                     else None),
        "versions": versions,
        "git_sha": sha,
        "git_dirty": dirty,
        "argv": sys.argv,
    }
