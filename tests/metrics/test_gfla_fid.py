"""The GFLA-lineage FID (bench.gfla.inception, bench.gfla.frechet): a seeded stand-in torchvision
Inception state dict saved to a file and loaded through our path, against a direct transcription
of the scripts' ``InceptionV3`` wrapper and ``calculate_frechet_distance`` written here; the
batch-64 remainder rule; the weights registry entries."""

from __future__ import annotations

import warnings
import zipfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from scipy import linalg

from bench import weights
from bench.errors import WeightsUnavailableError
from bench.gfla import frechet
from bench.gfla.frechet import BatchPlan, FrechetError, batch_plan, frechet_distance, statistics
from bench.gfla.inception import load_torchvision_inception, pool_features
from bench.gfla.prepare import script_floats


# -- a stand-in for inception_v3_google-*.pth ------------------------------------------------------
def standin_state_dict(seed: int = 21) -> dict:
    torch.manual_seed(seed)
    net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
    for m in net.modules():
        if isinstance(m, torch.nn.Conv2d):
            torch.nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.1)
            m.running_var.uniform_(0.5, 2.0)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.normal_(0, 0.1)
    return net.state_dict()


@pytest.fixture(scope="module")
def standin_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("standin") / "inception-torchvision-standin.pth"
    torch.save(standin_state_dict(), path)
    return path


@pytest.fixture(scope="module")
def loaded(standin_path):
    return load_torchvision_inception(standin_path)


@pytest.fixture(scope="module")
def images(market_strips, fashion_strips):
    """[0, 1] float32 images as the scripts read them: 2 Market results, 1 DeepFashion one."""
    _, _, market, _ = market_strips
    _, _, fashion = fashion_strips
    return script_floats(market[:2]), script_floats(fashion[:1])


@pytest.fixture(scope="module")
def script_model(standin_path):
    """The scripts' wrapper over torchvision's inception_v3 with the stand-in weights."""
    inception = torchvision.models.inception_v3(weights=None, aux_logits=True,
                                                init_weights=False)
    inception.load_state_dict(torch.load(standin_path, weights_only=True))
    return ScriptWrapper(inception).eval()


class ScriptWrapper(torch.nn.Module):
    """GFLA script/inception.py InceptionV3([3]) over a torchvision inception_v3, transcribed."""

    def __init__(self, inception):
        super().__init__()
        self.blocks = torch.nn.ModuleList([
            torch.nn.Sequential(inception.Conv2d_1a_3x3, inception.Conv2d_2a_3x3,
                                inception.Conv2d_2b_3x3, torch.nn.MaxPool2d(kernel_size=3, stride=2)),
            torch.nn.Sequential(inception.Conv2d_3b_1x1, inception.Conv2d_4a_3x3,
                                torch.nn.MaxPool2d(kernel_size=3, stride=2)),
            torch.nn.Sequential(inception.Mixed_5b, inception.Mixed_5c, inception.Mixed_5d,
                                inception.Mixed_6a, inception.Mixed_6b, inception.Mixed_6c,
                                inception.Mixed_6d, inception.Mixed_6e),
            torch.nn.Sequential(inception.Mixed_7a, inception.Mixed_7b, inception.Mixed_7c,
                                torch.nn.AdaptiveAvgPool2d(output_size=(1, 1))),
        ])

    def forward(self, inp):
        x = F.interpolate(inp, size=(299, 299), mode="bilinear", align_corners=False)
        x = x.clone()
        x[:, 0] = x[:, 0] * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
        x[:, 1] = x[:, 1] * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
        x[:, 2] = x[:, 2] * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
        for block in self.blocks:
            x = block(x)
        return x


def script_features(model, imgs: np.ndarray) -> np.ndarray:
    """get_activations: (n, 3, H, W) float batches of 64, float64 array of pool features."""
    batch = torch.from_numpy(imgs.transpose(0, 3, 1, 2).copy())
    with torch.no_grad():
        pred = model(batch)
    return pred.numpy().reshape(len(imgs), -1).astype(np.float64)


def script_frechet(mu1, sigma1, mu2, sigma2, eps=1e-6):
    """calculate_frechet_distance of GFLA script/metrics.py, transcribed (sqrtm disp=False)."""
    diff = mu1 - mu2
    with pytest.warns(DeprecationWarning, match="disp"), warnings.catch_warnings():
        # SciPy >= 1.16 deprecates disp, and warns where older SciPy printed
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean, _ = linalg.sqrtm(sigma1.dot(sigma2), disp=False)
    if not np.isfinite(covmean).all():
        offset = np.eye(sigma1.shape[0]) * eps
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", linalg.LinAlgWarning)
            covmean = linalg.sqrtm((sigma1 + offset).dot(sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError("Imaginary component")
        covmean = covmean.real
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


# -- the network --------------------------------------------------------------------------------------
def test_features_match_the_scripts_wrapper(loaded, script_model, images):
    assert loaded.filled_keys == ()
    for imgs in images:
        ours = pool_features(loaded.net, imgs)
        ref = script_features(script_model, imgs)
        assert ours.shape == (len(imgs), 2048) and ours.dtype == np.float32
        np.testing.assert_allclose(ours, ref, rtol=1e-5, atol=1e-6)
    market = pool_features(loaded.net, images[0])
    assert np.abs(market[0] - market[1]).max() > 1e-3  # input-dependent features


def test_input_is_stretched_to_299_with_the_published_normalisation(loaded):
    seen = []

    class Seen(Exception):
        pass

    def stop(module, args):  # record the trunk's input, skip the (slow) trunk
        seen.append(args[0].clone())
        raise Seen

    handle = loaded.net.blocks[0].register_forward_pre_hook(stop)
    try:
        zeros = np.zeros((1, 128, 64, 3), np.float32)
        ones = np.ones((1, 128, 64, 3), np.float32)
        with pytest.raises(Seen):
            pool_features(loaded.net, np.concatenate([zeros, ones]))
    finally:
        handle.remove()
    x = seen[0]
    assert x.shape == (2, 3, 299, 299)
    # transform_input's formula on [0, 1]: channels in [-0.03, 0.428], [-0.088, 0.36], ...
    expect_lo = [(0.485 - 0.5) / 0.5, (0.456 - 0.5) / 0.5, (0.406 - 0.5) / 0.5]
    expect_hi = [0.229 / 0.5 + expect_lo[0], 0.224 / 0.5 + expect_lo[1],
                 0.225 / 0.5 + expect_lo[2]]
    np.testing.assert_allclose(x[0, :, 0, 0].numpy(), expect_lo, atol=1e-6)
    np.testing.assert_allclose(x[1, :, 0, 0].numpy(), expect_hi, atol=1e-6)


def test_files_saved_before_torch_0_4_1_lack_batchnorm_counters(tmp_path, loaded):
    """The 1a9a5a14 file predates torch's zip format and BatchNorm's counters."""
    state = {k: v for k, v in standin_state_dict().items()
             if not k.endswith("num_batches_tracked")}
    old = tmp_path / "old.pth"
    torch.save(state, old, _use_new_zipfile_serialization=False)  # the legacy format
    assert not zipfile.is_zipfile(old)
    got = load_torchvision_inception(old)
    assert len(got.filled_keys) == 96
    ours, ref = got.net.state_dict(), loaded.net.state_dict()
    assert ours.keys() == ref.keys()
    for key in ours:  # the same network (the counters are unused in eval mode)
        assert torch.equal(ours[key], ref[key]), key


def test_wrong_files_are_refused_with_the_reason(tmp_path):
    text = tmp_path / "notes.pth"
    text.write_text("not weights")
    with pytest.raises(WeightsUnavailableError, match="is not a state dict of tensors"):
        load_torchvision_inception(text)
    scalars = tmp_path / "scalars.pth"
    torch.save({"epoch": 3}, scalars)
    with pytest.raises(WeightsUnavailableError, match="not a state dict of tensors"):
        load_torchvision_inception(scalars)
    state = standin_state_dict()
    del state["fc.weight"]
    state["head.weight"] = torch.zeros(3)
    state["Mixed_7c.branch_pool.conv.weight"] = torch.zeros(1, 1, 1, 1)
    bad = tmp_path / "bad.pth"
    torch.save(state, bad)
    with pytest.raises(WeightsUnavailableError) as info:
        load_torchvision_inception(bad)
    text = str(info.value)
    assert "1 missing (e.g. fc.weight)" in text and "1 unexpected (e.g. head.weight)" in text
    assert "1 wrong shape (e.g. Mixed_7c.branch_pool.conv.weight)" in text


def test_registry_entries_are_found_in_the_hub_cache(empty_hub, standin_path):
    for name, file, prefix in (("inception-torchvision", "inception_v3_google-0cc3c7bd.pth",
                                "0cc3c7bd"),
                               ("inception-torchvision-v0", "inception_v3_google-1a9a5a14.pth",
                                "1a9a5a14")):
        spec = weights.WEIGHTS.get(name)
        assert (spec.file, spec.sha256_prefix, spec.library) == (file, prefix, "torchvision")
        assert spec.url == f"https://download.pytorch.org/models/{file}"
        with pytest.raises(WeightsUnavailableError, match="offline"):
            weights.resolve(name, download=False)
    empty_hub.mkdir(parents=True)
    (empty_hub / "inception_v3_google-0cc3c7bd.pth").write_bytes(standin_path.read_bytes())
    assert weights.resolve("inception-torchvision", download=False).name == \
        "inception_v3_google-0cc3c7bd.pth"


# -- the remainder rule --------------------------------------------------------------------------------
def test_batch_plan_drops_the_sorted_tail_of_incomplete_batches():
    names = [f"img{i:05d}.jpg" for i in range(8570)]
    shuffled = list(np.random.default_rng(0).permutation(names))
    plan = batch_plan(shuffled)
    assert len(plan.used) == 8512 and len(plan.dropped) == 58 and plan.n_batches == 133
    assert plan.dropped == tuple(names[-58:]) and plan.used == tuple(names[:8512])
    market = batch_plan([f"m{i}" for i in range(12000)])
    assert (len(market.used), len(market.dropped)) == (11968, 32)
    assert batch_plan(names, drop_remainder=False).dropped == ()
    small = batch_plan(["b", "a", "c"])  # fewer than a batch: one batch of all
    assert small == BatchPlan(batch_size=3, used=("a", "b", "c"), dropped=())
    with pytest.raises(ValueError, match="distinct"):
        batch_plan(["a", "a"])
    with pytest.raises(ValueError, match="no images"):
        batch_plan([])


# -- the Fréchet distance --------------------------------------------------------------------------------
def gaussian_features(seed, n, d, scale=1.0, shift=0.0):
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(d, d)) / np.sqrt(d)
    return (rng.normal(size=(n, d)) @ mix * scale + shift).astype(np.float32)


def test_frechet_distance_is_the_scripts_and_the_closed_form():
    real = gaussian_features(1, 300, 24)
    fake = gaussian_features(2, 200, 24, scale=1.3, shift=0.2)
    s_real, s_fake = statistics(real), statistics(fake)
    act = real.astype(np.float64)
    np.testing.assert_array_equal(s_real[0], np.mean(act, axis=0))
    np.testing.assert_array_equal(s_real[1], np.cov(act, rowvar=False))
    result = frechet_distance(*s_real, *s_fake)
    assert result.value == script_frechet(*s_real, *s_fake)
    assert not result.retried and result.warnings == ()
    # tr sqrt(S1 S2) = sum of the square roots of the eigenvalues of S1 S2 (all >= 0)
    eig = np.linalg.eigvals(s_real[1] @ s_fake[1])
    diff = s_real[0] - s_fake[0]
    closed = (diff @ diff + np.trace(s_real[1]) + np.trace(s_fake[1])
              - 2 * np.sqrt(np.clip(eig.real, 0, None)).sum())
    assert result.value == pytest.approx(closed, rel=1e-9)
    assert result.value > 1.0
    same = frechet_distance(*s_real, *s_real)
    assert abs(same.value) < 1e-9


def test_frechet_retries_with_the_offset_when_the_root_is_not_finite(monkeypatch):
    s1, s2 = statistics(gaussian_features(3, 50, 8)), statistics(gaussian_features(4, 50, 8))
    calls = []
    real_sqrtm = linalg.sqrtm

    def fake_sqrtm(a):
        calls.append(a)
        return np.full_like(a, np.inf) if len(calls) == 1 else real_sqrtm(a)

    monkeypatch.setattr(frechet.linalg, "sqrtm", fake_sqrtm)
    result = frechet_distance(*s1, *s2)
    offset = np.eye(8) * 1e-6
    np.testing.assert_array_equal(calls[1], (s1[1] + offset).dot(s2[1] + offset))
    assert result.retried and np.isfinite(result.value)


def test_frechet_imaginary_part_check(monkeypatch):
    s1, s2 = statistics(gaussian_features(5, 50, 4)), statistics(gaussian_features(6, 50, 4))
    root = np.eye(4, dtype=complex)
    root[0, 1] += 0.5j  # off the diagonal: ignored by the check
    monkeypatch.setattr(frechet.linalg, "sqrtm", lambda a: root)
    result = frechet_distance(*s1, *s2)
    assert result.max_imag == 0.5
    diff = s1[0] - s2[0]
    assert result.value == pytest.approx(diff @ diff + np.trace(s1[1]) + np.trace(s2[1]) - 8)
    root[2, 2] += 0.01j  # a diagonal imaginary part above 1e-3: the scripts stop
    with pytest.raises(FrechetError, match="imaginary component"):
        frechet_distance(*s1, *s2)


def test_statistics_refuse_what_has_no_covariance():
    with pytest.raises(ValueError, match="at least 2 feature rows"):
        statistics(np.zeros((1, 8), np.float32))
    bad = gaussian_features(7, 10, 4)
    bad[3, 1] = np.nan
    with pytest.raises(FrechetError, match="1 Inception features are not finite"):
        statistics(bad)


@pytest.mark.slow
def test_fid_end_to_end_at_2048_dimensions(loaded, script_model, market_strips):
    """Our path (network, statistics, distance) vs the scripts' transcription, 2048-d, six
    images a side (two 2048 x 2048 matrix square roots: minutes on a small CPU)."""
    _, targets, generated, _ = market_strips
    real, fake = script_floats(targets[:6]), script_floats(generated[:6])
    ours = frechet_distance(*statistics(pool_features(loaded.net, real)),
                            *statistics(pool_features(loaded.net, fake)))
    ref_real = script_features(script_model, real)
    ref_fake = script_features(script_model, fake)
    mu1, mu2 = ref_real.mean(axis=0), ref_fake.mean(axis=0)
    ref = script_frechet(mu1, np.cov(ref_real, rowvar=False), mu2, np.cov(ref_fake, rowvar=False))
    assert ours.value == pytest.approx(ref, rel=1e-4)
    assert ours.value > 0
    assert any("singular" in w for w in ours.warnings)  # 6 images: a rank-5 covariance
