"""CTAT's training losses: 2s-ATN's L = α_g·L_GAN + α_1·L_1 + α_p·L_p with PATN's two
discriminators, and the VGG19 relu1_2 perceptual loss.

One training step (images in the generator's [-1, 1] convention, poses as 18 heatmaps)::

    from ctat.discriminators import build_discriminators
    from ctat.losses import (GANLoss, GeneratorLossWeights, PerceptualLoss, discriminator_loss,
                             generator_loss, vgg19_relu1_2)

    d_app, d_shape = build_discriminators()
    gan = GANLoss("lsgan")
    perceptual = PerceptualLoss(vgg19_relu1_2())      # WeightsUnavailableError if not on disk
    weights = GeneratorLossWeights()                  # (20, 17, 17), as 2s-ATN

    fake = generator(src_img, src_pose, tgt_pose)
    g_total, g_terms = generator_loss(fake, tgt_img, src_img, tgt_pose, d_app, d_shape, gan,
                                      perceptual, weights)
    opt_g.zero_grad(); g_total.backward(); opt_g.step()
    d_total, d_terms = discriminator_loss(fake, tgt_img, src_img, tgt_pose, d_app, d_shape, gan,
                                          weight=weights.gan)
    opt_d.zero_grad(); d_total.backward(); opt_d.step()
    log(g_terms | d_terms)    # g_gan, g_l1, g_perceptual, d_appearance, d_shape (unweighted)

Sources: 2s-ATN (arXiv:2011.04181) gives the generator loss, its weights and the use of PATN's
appearance + shape discriminators; PATN's code ([PATN-code] models/PATN.py,
losses/L1_plus_perceptualLoss.py) gives how the terms are combined, the discriminator inputs
and the perceptual loss's layer and normalisation. See /work/shared/docs/PROTOCOL.md §1.2, §4.1.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from bench.errors import WeightsUnavailableError
from bench.weights import WEIGHTS

#: torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (the weights PATN's ``vgg19(pretrained=True)``
#: loads): file name and URL.
# the file and URL as the project's weights registry knows them (python -m bench weights)
VGG19_FILE = WEIGHTS.get("vgg19").file
VGG19_URL = WEIGHTS.get("vgg19").url

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# State-dict keys of vgg19().features[:4]: conv1_1 (index 0) and conv1_2 (index 2).
_RELU1_2_KEYS = ("0.weight", "0.bias", "2.weight", "2.bias")


class GANLoss(nn.Module):
    """Adversarial loss against an all-real (1) or all-fake (0) target of the prediction's shape,
    averaged over every element (PATN applies it to the discriminator's whole 256-channel map).

    ``mode="lsgan"``: mean squared error (PATN on DeepFashion).
    ``mode="bce"``: binary cross-entropy on raw discriminator outputs (logits), computed with
    ``binary_cross_entropy_with_logits``, which is numerically stable. It equals PATN's
    ``Sigmoid`` at the end of D followed by ``BCELoss`` (PATN on Market), except that BCELoss
    clamps each log term at -100; so pair it with ``ResnetDiscriminator(sigmoid=False)``.

        gan = GANLoss("bce")
        loss = gan(d(x), target_is_real=True)
    """

    def __init__(self, mode: Literal["lsgan", "bce"]) -> None:
        super().__init__()
        if mode not in ("lsgan", "bce"):
            raise ValueError(f"GANLoss mode must be 'lsgan' or 'bce', got {mode!r}")
        self.mode = mode

    def forward(self, prediction: torch.Tensor, target_is_real: bool) -> torch.Tensor:
        target = torch.full_like(prediction, 1.0 if target_is_real else 0.0)
        if self.mode == "lsgan":
            return F.mse_loss(prediction, target)
        return F.binary_cross_entropy_with_logits(prediction, target)

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}"


class PerceptualLoss(nn.Module):
    """Mean absolute difference between ``features`` of the fake and of the real image.

    Images come in the generator's [-1, 1] convention; both are mapped to [0, 1] and
    normalised with the ImageNet mean/std before ``features`` (as PATN does). ``features`` is
    frozen: its parameters stop requiring grad and it stays in eval mode, even when the loss
    (or a module holding it) is put in train mode. The real side is computed without grad;
    the gradient reaches ``fake`` only.

        perceptual = PerceptualLoss(vgg19_relu1_2())
        loss = perceptual(fake, real)     # (N, 3, H, W) each, in [-1, 1]
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, features: nn.Module) -> None:
        super().__init__()
        for p in features.parameters():
            p.requires_grad_(False)
        self.features = features.eval()
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1),
                             persistent=False)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()
        return self

    def normalise(self, images: torch.Tensor) -> torch.Tensor:
        """[-1, 1] -> [0, 1] -> (x - ImageNet mean) / ImageNet std, per channel."""
        return ((images + 1) / 2 - self.mean) / self.std

    def forward(self, fake: torch.Tensor, real: torch.Tensor) -> torch.Tensor:
        if fake.shape != real.shape or fake.dim() != 4 or fake.shape[1] != 3:
            raise ValueError(f"PerceptualLoss needs two (N, 3, H, W) images of one shape, got "
                             f"{tuple(fake.shape)} and {tuple(real.shape)}")
        with torch.no_grad():
            target = self.features(self.normalise(real))
        return F.l1_loss(self.features(self.normalise(fake)), target)


def relu1_2_layers() -> nn.Sequential:
    """torchvision's ``vgg19().features[:4]`` (conv1_1, ReLU, conv1_2, ReLU), built without the
    rest of VGG19 (whose classifier alone has 120 M parameters); weights are random."""
    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(64, 64, kernel_size=3, padding=1),
        nn.ReLU(inplace=True),
    )


def vgg19_cache_path() -> Path:
    """Where torch hub keeps (and ``load_state_dict_from_url`` looks for) the VGG19 weights:
    ``torch.hub.get_dir()/checkpoints/vgg19-dcbb9e9d.pth`` (``$TORCH_HOME/hub/...``)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / VGG19_FILE


def vgg19_relu1_2(weights_path: Path | str | None = None, download: bool = True) -> nn.Sequential:
    """VGG19 up to relu1_2 with the ImageNet weights, frozen and in eval mode.

    The weights are torchvision's ``VGG19_Weights.IMAGENET1K_V1`` (file ``vgg19-dcbb9e9d.pth``,
    :data:`VGG19_URL`). With ``weights_path`` they are read from that file only. Otherwise they
    come through ``torch.hub.load_state_dict_from_url``: from the torch hub cache
    (:func:`vgg19_cache_path`), downloaded there first if absent and ``download`` is true.
    The file may hold the full VGG19 state dict (``features.0.weight``, ...) or one of the
    features only (``0.weight``, ...); keys beyond conv1_1 and conv1_2 are ignored.

    Raises :class:`bench.errors.WeightsUnavailableError` when the file is absent (and cannot be
    downloaded), unreadable, or lacks the conv1_1/conv1_2 tensors of the right shapes; the
    message names the file, the places looked in, the URL and how to provide it.

        features = vgg19_relu1_2()                                # hub cache, else download
        features = vgg19_relu1_2("/data/weights/vgg19-dcbb9e9d.pth")
        features = vgg19_relu1_2(download=False)                  # offline: cache only
    """
    if weights_path is not None:
        path = Path(weights_path)
        provide = (f"Put the file at {path}, or pass the path of a copy as weights_path.")

        def load() -> object:
            return torch.load(path, map_location="cpu", weights_only=True)

        if not path.is_file():
            raise _unavailable("the file does not exist", path, provide)
    else:
        path = vgg19_cache_path()
        provide = (f"Put the file at {path} (the torch hub cache, which moves with "
                   "$TORCH_HOME), or pass its path as weights_path.")

        def load() -> object:
            return torch.hub.load_state_dict_from_url(
                VGG19_URL, model_dir=str(path.parent), map_location="cpu", check_hash=True,
                file_name=VGG19_FILE, weights_only=True)

        if not path.is_file() and not download:
            raise _unavailable("the file is not in the torch hub cache and downloading is off",
                               path, provide)
    try:
        state = load()
    except Exception as exc:  # absent network, truncated or foreign file, hash mismatch ...
        what = "could not be downloaded" if not path.is_file() else "could not be read"
        raise _unavailable(f"the file {what}: {type(exc).__name__}: {_brief(exc)}",
                           path, provide) from exc

    features = relu1_2_layers()
    try:
        features.load_state_dict(_relu1_2_state(state))
    except (RuntimeError, TypeError, ValueError) as exc:
        raise _unavailable(f"the file does not hold VGG19's conv1_1/conv1_2 weights: "
                           f"{_brief(exc)}", path, provide) from exc
    for p in features.parameters():
        p.requires_grad_(False)
    return features.eval()


def _relu1_2_state(state: object) -> dict[str, torch.Tensor]:
    if not isinstance(state, Mapping):
        raise TypeError(f"expected a state dict, found a {type(state).__name__}")
    for prefix in ("features.", ""):
        if all(prefix + k in state for k in _RELU1_2_KEYS):
            return {k: state[prefix + k] for k in _RELU1_2_KEYS}
    sample = ", ".join(list(map(str, state))[:6]) or "none"
    raise ValueError(f"expected keys {', '.join('features.' + k for k in _RELU1_2_KEYS)} (full "
                   f"VGG19) or {', '.join(_RELU1_2_KEYS)} (features only); found {sample}"
                   f"{' ...' if len(state) > 6 else ''}")


def _unavailable(reason: str, path: Path, provide: str) -> WeightsUnavailableError:
    return WeightsUnavailableError(
        f"VGG19 ImageNet weights for the perceptual loss are unavailable: {reason}. "
        f"Looked in: {path}. The file is {VGG19_FILE} (torchvision "
        f"VGG19_Weights.IMAGENET1K_V1), from {VGG19_URL}. {provide}")


def _brief(exc: BaseException, limit: int = 300) -> str:
    """The exception's message on one line, cut at ``limit`` characters."""
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    text = text or "(no message)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class GeneratorLossWeights:
    """(α_g, α_1, α_p) of L = α_g·L_GAN + α_1·L_1 + α_p·L_p: 2s-ATN's (20, 17, 17), for both
    DeepFashion and Market. (PATN's own: λ_GAN 5 with λ_A = λ_B = 10 on Market, 1 on
    DeepFashion.) A perceptual weight of 0 skips the VGG forward."""

    gan: float = 20.0
    l1: float = 17.0
    perceptual: float = 17.0


Discriminator = Callable[[torch.Tensor], torch.Tensor]


def generator_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    src_img: torch.Tensor,
    tgt_pose: torch.Tensor,
    d_app: Discriminator,
    d_shape: Discriminator,
    gan: GANLoss,
    perceptual: PerceptualLoss | None = None,
    weights: GeneratorLossWeights | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """The generator's loss and its unweighted terms for logging.

    total = gan·g_gan + l1·g_l1 + perceptual·g_perceptual, where
    g_gan = (GAN(D_shape(fake ⊕ tgt_pose), real) + GAN(D_app(fake ⊕ src_img), real)) / 2
    (PATN's combination; ⊕ = channel concat, image first), g_l1 = mean |fake - real| and
    g_perceptual = ``perceptual(fake, real)``. The perceptual term is skipped, and absent from
    the terms, when ``perceptual`` is None or its weight is 0. ``weights`` defaults to
    :class:`GeneratorLossWeights` (2s-ATN's). Images are (N, 3, H, W) in [-1, 1];
    ``tgt_pose`` is (N, 18, H, W).

    The backward pass also leaves gradients in the discriminators' parameters (as in PATN):
    zero them before the discriminator step, or freeze the discriminators meanwhile.
    """
    w = weights if weights is not None else GeneratorLossWeights()
    g_gan = (gan(d_shape(torch.cat([fake, tgt_pose], 1)), True)
             + gan(d_app(torch.cat([fake, src_img], 1)), True)) / 2
    g_l1 = F.l1_loss(fake, real)
    total = w.gan * g_gan + w.l1 * g_l1
    terms = {"g_gan": g_gan, "g_l1": g_l1}
    if perceptual is not None and w.perceptual != 0:
        terms["g_perceptual"] = perceptual(fake, real)
        total = total + w.perceptual * terms["g_perceptual"]
    return total, {name: float(value.detach()) for name, value in terms.items()}


def discriminator_loss(
    fake: torch.Tensor,
    real: torch.Tensor,
    src_img: torch.Tensor,
    tgt_pose: torch.Tensor,
    d_app: Discriminator,
    d_shape: Discriminator,
    gan: GANLoss,
    weight: float = 20.0,
    pool: Callable[[str, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """Both discriminators' loss and their unweighted terms for logging.

    d_appearance = (GAN(D_app(real ⊕ src_img), real) + GAN(D_app(fake ⊕ src_img), fake)) / 2
    d_shape = (GAN(D_shape(real ⊕ tgt_pose), real) + GAN(D_shape(fake ⊕ tgt_pose), fake)) / 2
    total = weight · (d_appearance + d_shape)

    PATN scales each discriminator's loss by λ_GAN, the weight of G's adversarial term: pass
    ``weights.gan`` (the default is 2s-ATN's 20). ``fake`` is detached here. Real and fake
    batches go through D separately (matters with batch norm), as in PATN. The two
    discriminators share no parameters, so one backward of the total gives each the gradient
    of its own loss: one optimiser over both, or one each, as PATN does.
    ``pool(which, fakes)`` ("appearance" or "shape"), when given, exchanges the concatenated
    fake inputs for earlier ones, as PATN's 50-entry image pools on Market
    (:class:`ctat.train.FakePools`).
    """
    fake = fake.detach()
    real_app, fake_app = torch.cat([real, src_img], 1), torch.cat([fake, src_img], 1)
    real_shape, fake_shape = torch.cat([real, tgt_pose], 1), torch.cat([fake, tgt_pose], 1)
    if pool is not None:
        fake_app, fake_shape = pool("appearance", fake_app), pool("shape", fake_shape)
    d_appearance = (gan(d_app(real_app), True) + gan(d_app(fake_app), False)) / 2
    d_shape_term = (gan(d_shape(real_shape), True) + gan(d_shape(fake_shape), False)) / 2
    total = weight * (d_appearance + d_shape_term)
    return total, {"d_appearance": float(d_appearance.detach()),
                   "d_shape": float(d_shape_term.detach())}
