"""LPIPS (Zhang et al. 2018) through the ``lpips`` package: AlexNet trunk, linear layers v0.1.

What GFLA, DPTN and PIDM report (PROTOCOL.md 3.9: ``DistModel(model='net-lin', net='alex')`` /
``lpips.LPIPS(net='alex')``), per pair between the generated and the target image, mean over
pairs, lower is better::

    from bench.metrics.lpips import LPIPS
    metric = LPIPS(shared)                  # builds (or reuses) the network of the run
    metric.update(fake, batch)              # {"lpips": per-pair distances}; fake uint8 NHWC
    metric.compute()                        # {"lpips": mean}

Inputs are mapped explicitly from uint8 to [-1, 1] (``x / 127.5 - 1``), the range the package
expects; passing [0, 1] images, a common mistake, gives different numbers (a test checks it).

Weights: the AlexNet trunk is torchvision's ImageNet file (``alexnet-owt-7be5be79.pth`` in the
torch hub cache, or ``--weights alexnet=PATH``); the linear layers ship with the package
(``lpips/weights/v0.1/alex.pth``, or ``--weights lpips-alex-v0.1=PATH``). Both are read as data
(:func:`bench.weights.load_state_dict`) and loaded strictly: a missing, mismatching or crafted
file makes the metric unavailable, never random; ``LPIPS.weights_used()`` names both files.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from bench.device_batch import batch_sizes, chunks
from bench.errors import WeightsUnavailableError
from bench.metrics.base import PerPairMean
from bench.metrics.settings import MetricSettings, settings_of, shared_once
from bench.types import PairBatch
from bench.weights import load_state_dict, resolve

_SHARED_NET = "bench.metrics.lpips/net"


def _import_lpips():
    with warnings.catch_warnings():  # lpips imports torchvision's deprecated `pretrained` API
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        import lpips
    return lpips


def build_lpips(settings: MetricSettings) -> torch.nn.Module:
    """``lpips.LPIPS(net='alex', version='0.1')`` with its two weight files loaded strictly.

    Both files are read as data (:func:`bench.weights.load_state_dict`) and handed to the
    network as tensors; the package is built with ``pretrained=False`` so it loads nothing
    itself. The files used are on ``net.weights_used`` (network -> WeightsUsed)."""
    import torchvision

    trunk_path = resolve("alexnet", settings.weights_path("alexnet"), download=settings.download)
    lin_path = resolve("lpips-alex-v0.1", settings.weights_path("lpips-alex-v0.1"),
                       download=settings.download)
    trunk, trunk_used = load_state_dict("alexnet", trunk_path)
    linear, lin_used = load_state_dict("lpips-alex-v0.1", lin_path)
    lpips = _import_lpips()
    with warnings.catch_warnings():  # torchvision's deprecation of `pretrained=False`
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=False, pnet_rand=True,
                          verbose=False)
    alexnet = torchvision.models.alexnet()
    try:
        alexnet.load_state_dict(trunk)
    except RuntimeError as exc:
        raise WeightsUnavailableError(
            f"LPIPS trunk weights {trunk_path} could not be loaded into torchvision's AlexNet: "
            f"{' '.join(str(exc).split())[:300]}") from None
    expected = {k for k in net.state_dict() if k.startswith("lin") and not k.startswith("lins.")}
    missing = sorted(expected - set(linear))
    try:
        if missing:
            raise RuntimeError(f"missing keys {missing[:3]}")
        net.load_state_dict({k: linear[k] for k in expected}, strict=False)
    except RuntimeError as exc:
        raise WeightsUnavailableError(
            f"LPIPS linear-layer weights {lin_path} could not be loaded into lpips v0.1 (alex): "
            f"{' '.join(str(exc).split())[:300]}") from None
    for slice_ in (net.net.slice1, net.net.slice2, net.net.slice3, net.net.slice4, net.net.slice5):
        for index, module in slice_.named_children():
            module.load_state_dict(alexnet.features[int(index)].state_dict())
    net = net.eval().requires_grad_(False).to(settings.device)
    net.weights_used = {"alexnet": trunk_used, "lpips-alex-v0.1": lin_used}
    return net


def shared_lpips(shared: dict) -> torch.nn.Module:
    """The run's LPIPS network, built on first use; a failure is remembered, not retried."""
    return shared_once(shared, _SHARED_NET, lambda: build_lpips(settings_of(shared)),
                       (WeightsUnavailableError,))


def to_lpips_range(images: np.ndarray, device: str) -> torch.Tensor:
    """uint8 NHWC -> float32 NCHW in [-1, 1]."""
    t = torch.from_numpy(np.ascontiguousarray(images)).to(device)
    return t.permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)


class LPIPS(PerPairMean):
    """Per pair ``lpips.LPIPS(net='alex', version='0.1')(gen, target)`` on [-1, 1] inputs."""

    name = "lpips"
    version = "lpips-alex-v0.1"
    higher_is_better = False
    description = "learned perceptual distance (AlexNet, linear layers v0.1)"

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        self.net = shared_lpips(shared)
        settings = settings_of(shared)
        self.device = settings.device
        size = settings.scored_size()
        # pairs per network pass: the chunk that fills the device (bench.device_batch)
        self.network_batch = batch_sizes(shared).of("lpips-alex-v0.1", lambda k: self._distances(
            np.zeros((k, *size, 3), np.uint8), np.zeros((k, *size, 3), np.uint8)))
        super().__init__(shared, model)

    def weights_used(self) -> dict[str, dict]:
        return {name: used.record() for name, used in self.net.weights_used.items()}

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        if len(fake) == 0:
            return np.empty(0)
        return np.concatenate([self._distances(fake[start:stop], batch.tgt_img[start:stop])
                               for start, stop in chunks(len(fake), self.network_batch)])

    def _distances(self, fake: np.ndarray, target: np.ndarray) -> np.ndarray:
        """float64 (n,) distances of one network pass."""
        with torch.inference_mode():
            d = self.net(to_lpips_range(fake, self.device), to_lpips_range(target, self.device))
        return d.reshape(-1).double().cpu().numpy()
