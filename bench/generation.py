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
    """uint8 (N, H, W, 3) -> float32 (N, 3, H, W) in [0, 1] on ``device``.

    The conversions on this boundary use numpy: small torch CPU ops pay OpenMP start-up
    costs that dominate at these sizes when other threads (decoding, BLAS) share the cores.
    """
    chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2), dtype=np.float32)
    chw *= np.float32(1 / 255)
    return to_device(torch.from_numpy(chw), device)


def kpts_to_tensor(kpts: np.ndarray, device: str) -> torch.Tensor:
    return to_device(torch.from_numpy(np.ascontiguousarray(kpts, dtype=np.float32)), device)


def to_device(host: torch.Tensor, device: str) -> torch.Tensor:
    """``host`` on ``device``; to a GPU through pinned memory without waiting for the copy
    (the work queued after it on the stream sees the data)."""
    if torch.device(device).type != "cuda":
        return host.to(device)
    return host.pin_memory().to(device, non_blocking=True)


def tensor_to_images(fake, expected: tuple[int, ...]) -> tuple[np.ndarray, dict[int, str]]:
    """Check and quantise generator output; per-image problems instead of exceptions.

    ``expected`` is the NHWC shape of the target images. A wrong type or shape concerns the
    whole batch and raises :class:`GeneratorOutputError`. Quantisation is torchvision's
    ``save_image`` rule: ``floor(x * 255 + 0.5)`` clipped to [0, 255].
    """
    n, h, w, c = expected
    if not isinstance(fake, torch.Tensor):
        raise GeneratorOutputError(
            f"generate() returned {type(fake).__name__}, expected a torch.Tensor"
        )
    if tuple(fake.shape) != (n, c, h, w):
        raise GeneratorOutputError(
            f"generate() returned shape {tuple(fake.shape)}, expected {(n, c, h, w)} (N, 3, H, W)"
        )
    values = fake.detach().to("cpu", torch.float32).numpy().reshape(n, -1)
    finite = np.isfinite(values)
    safe = np.where(finite, values, np.float32(0))
    low, high = safe.min(axis=1), safe.max(axis=1)
    problems: dict[int, str] = {}
    for i in np.flatnonzero(~finite.all(axis=1)):
        problems[int(i)] = f"generated image has {int((~finite[i]).sum())} NaN/inf values"
    for i in np.flatnonzero((low < -RANGE_TOLERANCE) | (high > 1 + RANGE_TOLERANCE)):
        problems.setdefault(int(i), (
            f"generated values span [{low[i]:.4g}, {high[i]:.4g}], expected [0, 1] "
            "(a [-1, 1] output must be mapped by the adapter)"
        ))
    quantised = np.clip(np.floor(safe * np.float32(255) + np.float32(0.5)), 0, 255).astype(np.uint8)
    return quantised.reshape(n, c, h, w).transpose(0, 2, 3, 1).copy(), problems
