"""The torchvision Inception of GFLA's ``script/inception.py`` (and DPTN's, PIDM's, CFLD's copies).

2048-d average-pool features of torchvision's ImageNet ``inception_v3`` run through its
submodules (``Inception3.forward`` and its ``transform_input`` never run), fed as the scripts
fed it: float32 images in [0, 1], ``F.interpolate(x, (299, 299), mode='bilinear',
align_corners=False)`` (no antialias; every size is stretched to 299x299), then per channel
``x * (std / 0.5) + (mean - 0.5) / 0.5`` with ImageNet's mean and std: torchvision's
transform_input formula applied to [0, 1] input, a published normalisation bug kept on purpose
(PROTOCOL.md 3.9.1). This is not torch-fidelity's TF Inception: its FID is a separate metric::

    from bench.gfla.inception import load_torchvision_inception, pool_features
    loaded = load_torchvision_inception(path)         # inception_v3_google-0cc3c7bd.pth
    feats = pool_features(loaded.net, images01)       # float32 (N, H, W, 3) in [0, 1] -> (N, 2048)
    loaded.weights_used.record()                      # file, SHA-256, published: for the record

Weights: ``inception-torchvision`` (torchvision >= 0.10) and ``inception-torchvision-v0``
(torchvision <= 0.9) in :mod:`bench.weights`. A file is read as data (``bench.weights.load_state_dict``: ``torch.load(weights_only=True)``)
and loaded strictly into ``inception_v3(weights=None, aux_logits=True, init_weights=False)``;
the only keys supplied when absent are BatchNorm's ``num_batches_tracked`` counters (files saved
before torch 0.4.1 lack them; they are unused in eval mode), and the record says so.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import WeightsUnavailableError
from bench.weights import WeightsUsed, load_state_dict

INPUT_SIZE = (299, 299)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TRUNK = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "maxpool",
         "Conv2d_3b_1x1", "Conv2d_4a_3x3", "maxpool",
         "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
         "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c")


@dataclass(frozen=True)
class LoadedInception:
    """The network and what loading it involved (for the record)."""

    net: nn.Module
    path: Path
    filled_keys: tuple[str, ...]  # num_batches_tracked counters the file lacked
    weights_used: WeightsUsed  # the file's SHA-256 and whether it is the published one


class ScriptInception(nn.Module):
    """The scripts' ``InceptionV3([3])``: resize, the buggy normalisation, the trunk, avg pool."""

    def __init__(self, inception: nn.Module) -> None:
        super().__init__()
        layers = []
        for name in TRUNK:
            # The scripts build their own MaxPool2d(3, 2) (equal to torchvision's maxpool1/2).
            layers.append(nn.MaxPool2d(kernel_size=3, stride=2) if name == "maxpool"
                          else getattr(inception, name))
        layers.append(nn.AdaptiveAvgPool2d(output_size=(1, 1)))
        self.blocks = nn.Sequential(*layers)
        self.eval()
        self.requires_grad_(False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """float32 (N, 3, H, W) in [0, 1] -> (N, 2048)."""
        x = F.interpolate(x, size=INPUT_SIZE, mode="bilinear", align_corners=False)
        x = x.clone()
        for c in range(3):
            x[:, c] = x[:, c] * (IMAGENET_STD[c] / 0.5) + (IMAGENET_MEAN[c] - 0.5) / 0.5
        return self.blocks(x).reshape(x.shape[0], -1)


def build_inception3() -> nn.Module:
    """torchvision's Inception3 with the layout of the published files (aux classifier kept),
    no initialisation work (the weights are loaded next)."""
    import torchvision

    return torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)


def load_torchvision_inception(path: str | Path, device: str = "cpu",
                               network: str = "inception-torchvision") -> LoadedInception:
    """The scripts' feature network with the weights file at ``path`` (strict; see module).

    The file is read as data by :func:`bench.weights.load_state_dict` (``network`` names the
    registry entry it stands for: ``inception-torchvision`` or ``inception-torchvision-v0``,
    which decides whether it is the published file on the record)."""
    path = Path(path)
    state, used = load_state_dict(network, path)
    net = build_inception3()
    expected = net.state_dict()
    state = OrderedDict(state)
    filled = []
    for key, value in expected.items():
        if key.endswith("num_batches_tracked") and key not in state:
            state[key] = torch.zeros_like(value)
            filled.append(key)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if state[k].shape != expected[k].shape)
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected),
                            ("wrong shape", wrong)):
            if keys:
                parts.append(f"{len(keys)} {label} (e.g. {', '.join(keys[:3])})")
        raise WeightsUnavailableError(
            f"{path} is not a torchvision inception_v3 state dict (aux_logits=True): "
            + "; ".join(parts))
    net.load_state_dict(state, strict=True)
    return LoadedInception(net=ScriptInception(net).to(device), path=path,
                           filled_keys=tuple(filled), weights_used=used)


def pool_features(net: nn.Module, images: np.ndarray, *, batch_size: int = 64,
                  device: str = "cpu") -> np.ndarray:
    """float32 (N, H, W, 3) images in [0, 1] -> float32 (N, 2048), in batches of ``batch_size``
    consecutive images (the scripts' batches; see :mod:`bench.gfla.frechet` for which images
    they keep). A large set can be passed in consecutive slices whose lengths are multiples of
    ``batch_size``: the batches, and so the features, are the same."""
    if (not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[3] != 3
            or images.dtype != np.float32):
        found = (f"{images.dtype} array of shape {images.shape}"
                 if isinstance(images, np.ndarray) else type(images).__name__)
        raise ValueError(f"pool_features expects float32 (N, H, W, 3) in [0, 1], found {found}")
    out = np.empty((len(images), 2048), dtype=np.float32)
    for start in range(0, len(images), batch_size):
        part = np.ascontiguousarray(images[start:start + batch_size].transpose(0, 3, 1, 2))
        with torch.inference_mode():
            feats = net(torch.from_numpy(part).to(device))
        out[start:start + len(part)] = feats.float().cpu().numpy()
    return out
