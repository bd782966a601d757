"""The boundary between the numpy data pipeline and generators (torch, [0, 1], NCHW).

    src = images_to_tensor(batch.src_img, "cpu")          # float32 (N, 3, H, W) in [0, 1]
    fake = generator.generate(src, kpts_to_tensor(batch.src_kpts), kpts_to_tensor(batch.tgt_kpts))
    images, problems = tensor_to_images(fake, batch.tgt_img.shape)
    # images: uint8 (N, H, W, 3) exactly as saved to PNG; problems: {row: reason} for NaN/out-of-range

Generated images are quantised once here, the way they are saved, so a score never depends on
whether images were kept in memory or read back from files.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.errors import GeneratorOutputError

RANGE_TOLERANCE = 1e-3  # values this far outside [0, 1] are clipped; further is an error


def images_to_tensor(images: np.ndarray, device: str) -> torch.Tensor:
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1] on ``device``."""
    tensor = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return tensor.permute(0, 3, 1, 2).float().div_(255.0)


def kpts_to_tensor(kpts: np.ndarray, device: str) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(kpts, dtype=np.float32)).to(device)


def tensor_to_images(fake, expected: tuple[int, ...]) -> tuple[np.ndarray, dict[int, str]]:
    """Check and quantise generator output; per-image problems instead of exceptions.

    ``expected`` is the NHWC shape of the target images. A wrong type or shape concerns the
    whole batch and raises :class:`GeneratorOutputError`.
    """
    n, h, w, c = expected
    if not isinstance(fake, torch.Tensor):
        raise GeneratorOutputError(f"generate() returned {type(fake).__name__}, expected a torch.Tensor")
    if tuple(fake.shape) != (n, c, h, w):
        raise GeneratorOutputError(
            f"generate() returned shape {tuple(fake.shape)}, expected {(n, c, h, w)} (N, 3, H, W)"
        )
    values = fake.detach().to("cpu", torch.float32)
    flat = values.reshape(n, -1)
    finite = torch.isfinite(flat).all(dim=1)
    safe = torch.where(torch.isfinite(flat), flat, torch.zeros_like(flat))
    low, high = safe.min(dim=1).values, safe.max(dim=1).values
    problems: dict[int, str] = {}
    for i in range(n):
        if not bool(finite[i]):
            bad = int((~torch.isfinite(flat[i])).sum())
            problems[i] = f"generated image has {bad} NaN/inf values"
        elif low[i] < -RANGE_TOLERANCE or high[i] > 1 + RANGE_TOLERANCE:
            problems[i] = (
                f"generated values span [{float(low[i]):.4g}, {float(high[i]):.4g}], "
                "expected [0, 1] (a [-1, 1] output must be mapped by the adapter)"
            )
    quantised = safe.reshape(values.shape).mul(255.0).add_(0.5).clamp_(0, 255).to(torch.uint8)
    return quantised.permute(0, 2, 3, 1).contiguous().numpy(), problems
