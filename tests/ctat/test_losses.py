"""ctat.losses: GAN, perceptual and L1 terms, the VGG19 relu1_2 loader, G/D loss assembly."""

from __future__ import annotations

import math
import urllib.error
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn

from bench.errors import WeightsUnavailableError
from ctat.discriminators import build_discriminators
from ctat.losses import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    VGG19_FILE,
    VGG19_URL,
    GANLoss,
    GeneratorLossWeights,
    PerceptualLoss,
    discriminator_loss,
    generator_loss,
    relu1_2_layers,
    vgg19_cache_path,
    vgg19_relu1_2,
)

# ---------------------------------------------------------------------------- GANLoss


def test_lsgan_known_values():
    gan = GANLoss("lsgan")
    half = torch.full((2, 4, 3, 3), 0.5)
    assert gan(half, True).item() == pytest.approx(0.25)
    assert gan(half, False).item() == pytest.approx(0.25)
    assert gan(torch.ones(1, 2, 2, 2), True).item() == 0.0
    assert gan(torch.ones(1, 2, 2, 2), False).item() == 1.0


def test_bce_known_values_on_logits():
    gan = GANLoss("bce")
    zero = torch.zeros(2, 4, 3, 3)
    assert gan(zero, True).item() == pytest.approx(math.log(2))
    assert gan(zero, False).item() == pytest.approx(math.log(2))
    assert gan(torch.full((1, 1, 2, 2), 2.0), False).item() == pytest.approx(
        2.0 + math.log1p(math.exp(-2.0)))


def test_bce_equals_patn_sigmoid_plus_bceloss_and_is_stable():
    gan = GANLoss("bce")
    x = torch.linspace(-6, 6, 50).view(1, 2, 5, 5)
    for real in (True, False):
        target = torch.full_like(x, float(real))
        ref = nn.BCELoss()(torch.sigmoid(x), target)
        assert gan(x, real).item() == pytest.approx(ref.item(), rel=1e-5)
    big = torch.full((1, 1, 1, 1), 200.0)
    assert gan(big, False).item() == pytest.approx(200.0)  # BCELoss on sigmoid caps at 100
    assert gan(-big, True).item() == pytest.approx(200.0)


def test_gan_loss_gradient_and_bad_mode():
    x = torch.full((1, 1, 2, 2), 0.5, requires_grad=True)
    GANLoss("lsgan")(x, True).backward()
    assert torch.allclose(x.grad, torch.full_like(x, 2 * (0.5 - 1) / 4))
    with pytest.raises(ValueError, match="lsgan"):
        GANLoss("wgan")


# ---------------------------------------------------------------------- PerceptualLoss


def identity_relu_features() -> nn.Module:
    """A deterministic stand-in for VGG: a 1x1 identity conv (with parameters to freeze), ReLU."""
    conv = nn.Conv2d(3, 3, 1, bias=False)
    with torch.no_grad():
        conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
    return nn.Sequential(conv, nn.ReLU())


def test_perceptual_zero_for_identical_positive_otherwise():
    loss = PerceptualLoss(identity_relu_features())
    x = torch.rand(2, 3, 8, 4) * 2 - 1
    assert loss(x, x.clone()).item() == 0.0
    assert loss(x, -x).item() > 0


def test_perceptual_normalisation_by_hand():
    # fake = 0 -> 0.5 in [0, 1] -> (0.5 - mean) / std > 0; real = -1 -> 0 -> -mean / std < 0,
    # which the ReLU zeroes: the loss is the channel mean of (0.5 - mean) / std.
    loss = PerceptualLoss(identity_relu_features())
    fake, real = torch.zeros(1, 3, 4, 2), -torch.ones(1, 3, 4, 2)
    expected = sum((0.5 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD, strict=True)) / 3
    assert loss(fake, real).item() == pytest.approx(expected, rel=1e-6)
    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 3, 1, 1)
    by_hand = [((v + 1) / 2 - m) / s for v, m, s in zip((-1.0, 0.0, 1.0), IMAGENET_MEAN,
                                                         IMAGENET_STD, strict=True)]
    assert loss.normalise(x).flatten().tolist() == pytest.approx(by_hand, rel=1e-6)


def test_perceptual_gradient_reaches_fake_only_and_features_stay_frozen():
    features = identity_relu_features()
    loss = PerceptualLoss(features)
    loss.train()
    assert not features.training and loss.training
    assert not any(p.requires_grad for p in features.parameters())
    fake = torch.rand(1, 3, 4, 2, requires_grad=True)
    real = torch.rand(1, 3, 4, 2, requires_grad=True)
    loss(fake, real).backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0
    assert real.grad is None
    assert all(p.grad is None for p in features.parameters())
    assert not loss.state_dict().keys() & {"mean", "std"}


def test_perceptual_rejects_mismatched_shapes():
    loss = PerceptualLoss(identity_relu_features())
    with pytest.raises(ValueError, match="3, H, W"):
        loss(torch.zeros(1, 3, 4, 2), torch.zeros(1, 3, 4, 4))


# ---------------------------------------------------------------------- vgg19_relu1_2


@pytest.fixture
def torch_home(tmp_path, monkeypatch) -> Path:
    """An empty torch hub cache under tmp_path: the user's real cache is never touched."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    return tmp_path / "torch"


def standin_relu1_2(seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {"0.weight": torch.randn(64, 3, 3, 3, generator=g), "0.bias": torch.randn(64, generator=g),
            "2.weight": torch.randn(64, 64, 3, 3, generator=g), "2.bias": torch.randn(64, generator=g)}


def full_vgg19_layout(cut: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """torchvision's vgg19 state-dict key layout; later layers are tiny placeholders (ignored)."""
    state = {f"features.{k}": v for k, v in cut.items()}
    state["features.5.weight"] = torch.zeros(2, 2, 1, 1)
    state["classifier.0.weight"] = torch.zeros(2, 2)
    return state


def assert_loaded(features: nn.Module, expected: dict[str, torch.Tensor]) -> None:
    state = features.state_dict()
    assert state.keys() == expected.keys()
    assert all(torch.equal(state[k], expected[k]) for k in expected)
    assert not features.training and not any(p.requires_grad for p in features.parameters())


def test_relu1_2_layers_match_torchvision_vgg19_features():
    with torch.device("meta"):
        reference = torchvision.models.vgg19().features[:4]
    ours = relu1_2_layers()
    assert [type(m) for m in ours] == [type(m) for m in reference]
    assert str(ours) == str(reference)
    assert {k: v.shape for k, v in ours.state_dict().items()} == {
        k: v.shape for k, v in reference.state_dict().items()}


def test_url_and_file_are_torchvisions():
    assert torchvision.models.VGG19_Weights.IMAGENET1K_V1.url == VGG19_URL
    assert VGG19_URL.endswith("/" + VGG19_FILE)


@pytest.mark.parametrize("layout", ["full", "cut"])
def test_load_explicit_path(tmp_path, torch_home, layout):
    cut = standin_relu1_2()
    path = tmp_path / "weights.pth"
    torch.save(full_vgg19_layout(cut) if layout == "full" else cut, path)
    assert_loaded(vgg19_relu1_2(path, download=False), cut)
    assert_loaded(vgg19_relu1_2(str(path), download=False), cut)


@pytest.mark.parametrize("download", [False, True])
def test_load_from_torch_hub_cache(torch_home, download):
    cache = vgg19_cache_path()
    assert cache == torch_home / "hub" / "checkpoints" / VGG19_FILE
    cache.parent.mkdir(parents=True)
    cut = standin_relu1_2(1)
    torch.save(full_vgg19_layout(cut), cache)
    # download=True: load_state_dict_from_url finds the cached file and fetches nothing
    assert_loaded(vgg19_relu1_2(download=download), cut)


def test_missing_from_cache_with_download_off(torch_home):
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(download=False)
    msg = str(err.value)
    for part in (str(vgg19_cache_path()), VGG19_URL, VGG19_FILE, "weights_path", "downloading is off"):
        assert part in msg


def test_download_failure(torch_home, monkeypatch):
    calls = []

    def offline(url, **kwargs):
        calls.append((url, kwargs))
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "load_state_dict_from_url", offline)
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(download=True)
    msg = str(err.value)
    for part in (str(vgg19_cache_path()), VGG19_URL, "could not be downloaded",
                 "name resolution", "weights_path"):
        assert part in msg
    (url, kwargs), = calls
    assert url == VGG19_URL and kwargs["model_dir"] == str(vgg19_cache_path().parent)
    assert kwargs["file_name"] == VGG19_FILE


def test_missing_explicit_path(tmp_path, torch_home):
    path = tmp_path / "nowhere" / VGG19_FILE
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(path)
    msg = str(err.value)
    assert str(path) in msg and VGG19_URL in msg and "does not exist" in msg


def test_truncated_file(tmp_path, torch_home):
    path = tmp_path / VGG19_FILE
    torch.save(standin_relu1_2(), path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(path)
    assert str(path) in str(err.value) and "could not be read" in str(err.value)


def test_truncated_file_in_cache(torch_home):
    cache = vgg19_cache_path()
    cache.parent.mkdir(parents=True)
    cache.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(download=True)
    assert str(cache) in str(err.value) and "could not be read" in str(err.value)


def test_wrong_keys(tmp_path, torch_home):
    path = tmp_path / "resnet.pth"
    torch.save({"conv1.weight": torch.zeros(1), "fc.bias": torch.zeros(1)}, path)
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(path)
    msg = str(err.value)
    assert str(path) in msg and "features.0.weight" in msg and "conv1.weight" in msg


def test_wrong_shapes(tmp_path, torch_home):
    cut = standin_relu1_2()
    cut["2.weight"] = torch.zeros(64, 64, 1, 1)
    path = tmp_path / "bad.pth"
    torch.save(cut, path)
    with pytest.raises(WeightsUnavailableError) as err:
        vgg19_relu1_2(path)
    assert str(path) in str(err.value) and "size mismatch" in str(err.value)


def test_not_a_state_dict(tmp_path, torch_home):
    path = tmp_path / "tensor.pth"
    torch.save(torch.zeros(3), path)
    with pytest.raises(WeightsUnavailableError, match="expected a state dict"):
        vgg19_relu1_2(path)


# ------------------------------------------------------------- generator / discriminator


class Recorder(nn.Module):
    """A stand-in discriminator: remembers its inputs, scores by a fixed linear map."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, 2, 1)
        self.inputs: list[torch.Tensor] = []

    def forward(self, x):
        self.inputs.append(x.detach().clone())
        return self.conv(x)


def batch(seed: int = 0, size=(8, 4)):
    g = torch.Generator().manual_seed(seed)
    fake = (torch.rand(2, 3, *size, generator=g) * 2 - 1).requires_grad_()
    real = torch.rand(2, 3, *size, generator=g) * 2 - 1
    src = torch.rand(2, 3, *size, generator=g) * 2 - 1
    pose = torch.rand(2, 18, *size, generator=g)
    return fake, real, src, pose


def test_weights_are_2s_atn():
    w = GeneratorLossWeights()
    assert (w.gan, w.l1, w.perceptual) == (20.0, 17.0, 17.0)
    with pytest.raises(AttributeError):
        w.gan = 1.0  # frozen


@pytest.mark.parametrize("mode", ["lsgan", "bce"])
def test_generator_loss_terms_and_total(mode):
    torch.manual_seed(0)
    fake, real, src, pose = batch()
    d_app, d_shape = Recorder(6), Recorder(21)
    gan, perceptual = GANLoss(mode), PerceptualLoss(identity_relu_features())
    w = GeneratorLossWeights(gan=2.0, l1=3.0, perceptual=5.0)
    total, terms = generator_loss(fake, real, src, pose, d_app, d_shape, gan, perceptual, w)

    assert torch.equal(d_app.inputs[0], torch.cat([fake, src], 1).detach())
    assert torch.equal(d_shape.inputs[0], torch.cat([fake, pose], 1).detach())
    with torch.no_grad():
        g_gan = (gan(d_app.conv(torch.cat([fake, src], 1)), True)
                 + gan(d_shape.conv(torch.cat([fake, pose], 1)), True)) / 2
    assert set(terms) == {"g_gan", "g_l1", "g_perceptual"}
    assert all(isinstance(v, float) for v in terms.values())
    assert terms["g_gan"] == pytest.approx(g_gan.item(), rel=1e-6)
    assert terms["g_l1"] == pytest.approx((fake - real).abs().mean().item(), rel=1e-6)
    assert terms["g_perceptual"] == pytest.approx(perceptual(fake, real).item(), rel=1e-6)
    weighted = 2 * terms["g_gan"] + 3 * terms["g_l1"] + 5 * terms["g_perceptual"]
    assert total.item() == pytest.approx(weighted, rel=1e-6)
    total.backward()
    assert fake.grad is not None and fake.grad.abs().sum() > 0


@pytest.mark.parametrize("case", ["no module", "zero weight"])
def test_generator_loss_skips_perceptual(case):
    fake, real, src, pose = batch(1, size=(32, 16))
    d_app, d_shape = build_discriminators(ndf=4, n_blocks=1)
    perceptual = None if case == "no module" else PerceptualLoss(identity_relu_features())
    w = GeneratorLossWeights(perceptual=0.0) if case == "zero weight" else GeneratorLossWeights()
    total, terms = generator_loss(fake, real, src, pose, d_app, d_shape, GANLoss("lsgan"),
                                  perceptual, w)
    assert set(terms) == {"g_gan", "g_l1"}
    assert total.item() == pytest.approx(20 * terms["g_gan"] + 17 * terms["g_l1"], rel=1e-6)


def test_generator_loss_default_weights():
    fake, real, src, pose = batch(2)
    d_app, d_shape = Recorder(6), Recorder(21)
    total, terms = generator_loss(fake, real, src, pose, d_app, d_shape, GANLoss("bce"),
                                  PerceptualLoss(identity_relu_features()))
    expected = 20 * terms["g_gan"] + 17 * terms["g_l1"] + 17 * terms["g_perceptual"]
    assert total.item() == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("mode", ["lsgan", "bce"])
def test_discriminator_loss_terms_total_and_gradients(mode):
    torch.manual_seed(0)
    fake, real, src, pose = batch(3)
    d_app, d_shape = Recorder(6), Recorder(21)
    gan = GANLoss(mode)
    total, terms = discriminator_loss(fake, real, src, pose, d_app, d_shape, gan, weight=4.0)

    assert set(terms) == {"d_appearance", "d_shape"}
    assert all(isinstance(v, float) for v in terms.values())
    with torch.no_grad():
        app = (gan(d_app.conv(torch.cat([real, src], 1)), True)
               + gan(d_app.conv(torch.cat([fake, src], 1)), False)) / 2
        shape = (gan(d_shape.conv(torch.cat([real, pose], 1)), True)
                 + gan(d_shape.conv(torch.cat([fake, pose], 1)), False)) / 2
    assert terms["d_appearance"] == pytest.approx(app.item(), rel=1e-6)
    assert terms["d_shape"] == pytest.approx(shape.item(), rel=1e-6)
    assert total.item() == pytest.approx(4 * (app + shape).item(), rel=1e-6)
    # real and fake pass separately, image first, then the condition
    assert len(d_app.inputs) == 2 and len(d_shape.inputs) == 2
    assert torch.equal(d_shape.inputs[0][:, :3], real) and torch.equal(d_shape.inputs[0][:, 3:], pose)

    total.backward()
    assert fake.grad is None  # detached inside
    assert d_app.conv.weight.grad is not None and d_shape.conv.weight.grad is not None


def test_discriminator_loss_default_weight_is_gan_weight():
    fake, real, src, pose = batch(4, size=(32, 16))
    d_app, d_shape = build_discriminators(ndf=4, n_blocks=1)
    total, terms = discriminator_loss(fake, real, src, pose, d_app, d_shape, GANLoss("lsgan"))
    expected = GeneratorLossWeights().gan * (terms["d_appearance"] + terms["d_shape"])
    assert total.item() == pytest.approx(expected, rel=1e-6)


def test_losses_with_real_discriminators_match_functional_l1():
    fake, real, src, pose = batch(5, size=(32, 16))
    d_app, d_shape = build_discriminators(ndf=4, n_blocks=1)
    _, terms = generator_loss(fake, real, src, pose, d_app, d_shape, GANLoss("lsgan"))
    assert terms["g_l1"] == pytest.approx(F.l1_loss(fake, real).item(), rel=1e-6)
