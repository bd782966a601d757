"""The script protocols (gfla v2, gfla-skimage014, dptn, pidm, cfld) end to end on the published
Def-GAN DeepFashion samples, renamed into ``{src}_2_{tgt}_vis`` result files, against an
independent transcription of each script's computation written here (scikit-image's
``structural_similarity`` / ``peak_signal_noise_ratio`` with the scripts' arguments, numpy for
l1 / mae / pad_256, the lpips package called directly, the scripts' Inception wrapper and
Fréchet code); FID with a seeded stand-in torchvision-Inception state dict passed via
``--weights``."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from PIL import Image
from scipy import linalg
from scipy import ndimage as ndi
from script_samples import QUIET, build, build_market, read, values
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from bench.api import run
from bench.cli import main
from bench.config import RunConfig
from bench.errors import BenchError
from bench.metrics import default_metrics
from bench.records import read_records

SAMPLES = "published-samples/deform-fashion"
RECON = ("ssim_box51", "ssim_256", "psnr_script", "l1_script", "mae_script")


# -- the scripts' computations, transcribed --------------------------------------------------
def pad_256(img):
    out = np.ones((256, 256, 3)) * 255
    out[:, 40:216] = img
    return out


def script_reconstruction(gt_u8, pred_u8, *, sigma, skimage, pad):
    """GFLA metrics.py's per-image loop (ssim, ssim_256, psnr, l1, mae) at that skimage."""
    gt = gt_u8.astype(np.float32) / 255.0
    pred = pred_u8.astype(np.float32) / 255.0
    if pad:
        gt, pred = pad_256(gt_u8).astype(np.float32) / 255.0, pad_256(pred_u8).astype(
            np.float32) / 255.0
    float64 = skimage != "0.20.0"
    a, b = (gt.astype(np.float64), pred.astype(np.float64)) if float64 else (gt, pred)
    ssim = structural_similarity(a, b, data_range=1, win_size=51, channel_axis=-1)
    g256, p256 = gt * 255.0, pred * 255.0
    if float64:
        g256, p256 = g256.astype(np.float64), p256.astype(np.float64)
    rng = float(p256.max() - p256.min())
    if skimage == "0.14.2":
        ssim_256 = legacy_ssim(g256, p256, rng)
    else:
        ssim_256 = structural_similarity(g256, p256, gaussian_weights=True, sigma=sigma,
                                         use_sample_covariance=False, data_range=rng,
                                         channel_axis=-1)
    return {"ssim_box51": ssim, "ssim_256": ssim_256,
            "psnr_script": peak_signal_noise_ratio(gt, pred, data_range=1),
            "l1_script": float(np.mean(np.abs(gt - pred))),
            "mae_script": float(np.sum(np.abs(gt - pred)) / np.sum(gt + pred))}


def legacy_ssim(x, y, rng):
    """scikit-image 0.14.2: scipy's gaussian_filter (truncate 4.0: 13 taps), crop 5."""
    out = []
    for c in range(3):
        a, b = x[..., c], y[..., c]
        ux, uy = ndi.gaussian_filter(a, 1.5), ndi.gaussian_filter(b, 1.5)
        vx = ndi.gaussian_filter(a * a, 1.5) - ux * ux
        vy = ndi.gaussian_filter(b * b, 1.5) - uy * uy
        vxy = ndi.gaussian_filter(a * b, 1.5) - ux * uy
        c1, c2 = (0.01 * rng) ** 2, (0.03 * rng) ** 2
        s = (2 * ux * uy + c1) * (2 * vxy + c2) / ((ux ** 2 + uy ** 2 + c1) * (vx + vy + c2))
        out.append(s[5:-5, 5:-5].mean())
    return float(np.mean(out))


class ScriptInceptionV3(torch.nn.Module):
    """script/inception.py InceptionV3([3]) over torchvision's inception_v3, transcribed."""

    def __init__(self, path):
        super().__init__()
        net = torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False)
        net.load_state_dict(torch.load(path, weights_only=True))
        self.net = net.eval()

    def forward(self, x):
        n = self.net
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False).clone()
        for c, (m, s) in enumerate(zip((0.485, 0.456, 0.406), (0.229, 0.224, 0.225),
                                       strict=True)):
            x[:, c] = x[:, c] * (s / 0.5) + (m - 0.5) / 0.5
        for layer in (n.Conv2d_1a_3x3, n.Conv2d_2a_3x3, n.Conv2d_2b_3x3,
                      torch.nn.MaxPool2d(3, 2), n.Conv2d_3b_1x1, n.Conv2d_4a_3x3,
                      torch.nn.MaxPool2d(3, 2), n.Mixed_5b, n.Mixed_5c, n.Mixed_5d, n.Mixed_6a,
                      n.Mixed_6b, n.Mixed_6c, n.Mixed_6d, n.Mixed_6e, n.Mixed_7a, n.Mixed_7b,
                      n.Mixed_7c, torch.nn.AdaptiveAvgPool2d((1, 1))):
            x = layer(x)
        return x.reshape(len(x), -1)


def script_fid(model, fake, real, batch=64, drop=True):
    """get_activations (sorted files, n // batch batches) + calculate_frechet_distance."""
    def acts(images):
        images = images[: (len(images) // min(batch, len(images))) * min(batch, len(images))] \
            if drop else images
        with torch.no_grad():
            feats = model(torch.from_numpy(images.transpose(0, 3, 1, 2).copy()))
        return feats.numpy().astype(np.float64)

    a1, a2 = acts(real), acts(fake)
    mu1, s1, mu2, s2 = a1.mean(0), np.cov(a1, rowvar=False), a2.mean(0), np.cov(a2, rowvar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        covmean = linalg.sqrtm(s1.dot(s2))
        if not np.isfinite(covmean).all():
            off = np.eye(len(s1)) * 1e-6
            covmean = linalg.sqrtm((s1 + off).dot(s2 + off))
    covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


def lpips_direct(standin_alexnet, x, y, normalize=False):
    import lpips

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        net = lpips.LPIPS(net="alex", version="0.1", pretrained=True, pnet_rand=True,
                          verbose=False).eval()
    alex = torchvision.models.alexnet()
    alex.load_state_dict(torch.load(standin_alexnet, weights_only=True))
    for sl in (net.net.slice1, net.net.slice2, net.net.slice3, net.net.slice4, net.net.slice5):
        for idx, module in sl.named_children():
            module.load_state_dict(alex.features[int(idx)].state_dict())
    with torch.no_grad():
        return net(torch.from_numpy(x), torch.from_numpy(y), normalize=normalize).reshape(-1)\
            .double().numpy()


# -- the cases -------------------------------------------------------------------------------
CASES = {  # protocol: (panel width, result suffix, sigma, skimage, pad, lpips input)
    "gfla": (256, ".jpg", 1.5, "0.17.2", False, "signed"),
    "gfla-skimage014": (256, ".jpg", 1.5, "0.14.2", False, "signed"),
    "dptn": (176, ".jpg", 1.5, "0.17.2", True, "signed"),
    "pidm": (256, ".png", 1.2, "0.17.2", False, "cv2"),
    "cfld": (176, ".png", 1.5, "0.20.0", False, "normalize"),
}


def cv2_176(img):
    import cv2

    return cv2.resize(img.astype(np.float32), (176, 256))


@pytest.mark.parametrize("protocol", list(CASES))
def test_reconstruction_and_lpips_match_the_script(protocol, shared_data, tmp_path,
                                                   standin_alexnet):
    width, suffix, sigma, skimage, pad, lp = CASES[protocol]
    n = 12
    data, res, _, files = build(shared_data, tmp_path, n, width, suffix)
    result = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                           protocol=protocol, metrics=(*RECON, "lpips_script"), bootstrap=0,
                           weights=(("alexnet", str(standin_alexnet)),), offline=True,
                           out=tmp_path / "run"), **QUIET)
    got = values(result)
    gts = [read(data / "test" / t) for t, _ in files]
    preds = [read(f) for _, f in files]
    expected = [script_reconstruction(g, p, sigma=sigma, skimage=skimage, pad=pad)
                for g, p in zip(gts, preds, strict=True)]
    for key in RECON:
        want = float(np.mean([e[key] for e in expected]))
        assert got[key].value == pytest.approx(want, rel=1e-6, abs=1e-9), key
        assert got[key].protocol == protocol and got[key].n == n
        assert got[key].extra["script"] == protocol.split("-")[0]
    assert got["ssim_box51"].extra["script_key"] == "ssim"
    assert got["ssim_256"].extra["taps"] == {"0.14.2": 13, "0.17.2": 9 if sigma == 1.2 else 11,
                                             "0.20.0": 11}[skimage]
    # LPIPS: the script's inputs; with 12 pairs the batch is 12 (fewer than 64): none dropped
    g, p = np.stack(gts), np.stack(preds)
    if lp == "signed":
        x, y = (a.astype(np.float32) / 127.5 - 1 for a in (p, g))
    elif lp == "cv2":
        x, y = (np.stack([cv2_176(i) for i in a]) / np.float32(127.5) - 1 for a in (p, g))
    else:
        x, y = (a.astype(np.float32) / 255.0 for a in (p, g))
    d = lpips_direct(standin_alexnet, x.transpose(0, 3, 1, 2).copy(),
                     y.transpose(0, 3, 1, 2).copy(), normalize=lp == "normalize")
    assert got["lpips_script"].value == pytest.approx(float(d.mean()), rel=1e-5)
    assert got["lpips_script"].extra["dropped"] == 0
    assert set(got["lpips_script"].extra["weights"]) == {"alexnet", "lpips-alex-v0.1"}


def test_gfla_skimage_variants_differ_only_in_ssim_256(shared_data, tmp_path):
    data, res, _, _ = build(shared_data, tmp_path, 6, 256, ".jpg")
    out = {}
    for protocol in ("gfla", "gfla-skimage014"):
        r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                          protocol=protocol, metrics=RECON, bootstrap=0,
                          out=tmp_path / protocol), **QUIET)
        out[protocol] = {k: v.value for k, v in values(r).items()}
    assert out["gfla"]["ssim_box51"] == out["gfla-skimage014"]["ssim_box51"]
    assert abs(out["gfla"]["ssim_256"] - out["gfla-skimage014"]["ssim_256"]) > 1e-5


def test_lpips_remainder_rule_drops_the_last_sorted_pairs(shared_data, tmp_path, monkeypatch,
                                                          standin_alexnet):
    import bench.metrics.script as script

    monkeypatch.setattr(script, "SCRIPT_BATCH", 4)  # 10 pairs: 2 batches of 4, 2 dropped
    data, res, _, files = build(shared_data, tmp_path, 10, 256, ".jpg")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="gfla", metrics=("lpips_script",), bootstrap=20,
                      weights=(("alexnet", str(standin_alexnet)),), out=tmp_path / "run"),
            **QUIET)
    rec = values(r)["lpips_script"]
    names = sorted(f.name[: -len(".jpg")] for _, f in files)
    assert rec.extra["dropped"] == 2 and rec.extra["dropped_names"] == names[-2:]
    gts = np.stack([read(data / "test" / t) for t, _ in files])
    preds = np.stack([read(f) for _, f in files])
    x, y = (a.astype(np.float32) / 127.5 - 1 for a in (preds, gts))
    d = lpips_direct(standin_alexnet, x.transpose(0, 3, 1, 2).copy(),
                     y.transpose(0, 3, 1, 2).copy())
    order = np.argsort([f.name for _, f in files])
    assert rec.value == pytest.approx(float(d[order[:8]].mean()), rel=1e-5)
    # intervals resample only the kept pairs: they bracket the kept pairs' values
    assert d[order[:8]].min() <= rec.extra["ci_low"] <= rec.extra["ci_high"] <= d[order[:8]].max()
    # cut into work units of 2 pairs (bench.plan), merged from their saved states: the same
    # names in the same order, so the same pairs dropped and the same bits
    units = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                          protocol="gfla", metrics=("lpips_script",), bootstrap=20,
                          batch_size=2, unit_size=2, weights=(("alexnet", str(standin_alexnet)),),
                          out=tmp_path / "units"), **QUIET)
    assert len(list((tmp_path / "units" / "units").glob("unit-*.npz"))) == 5
    merged = values(units)["lpips_script"]
    assert merged.extra["dropped_names"] == rec.extra["dropped_names"]
    assert (merged.value, merged.extra["ci_low"], merged.extra["ci_high"]) == (
        rec.value, rec.extra["ci_low"], rec.extra["ci_high"])


FID_CASES = {  # protocol: (width, suffix, fake/real input, train input, drop, weights network)
    "gfla": (256, ".jpg", "files", "files", True, "inception-torchvision-v0"),
    "pidm": (256, ".png", "cv2", "cv2", True, "inception-torchvision"),
    "cfld": (176, ".png", "files", "tv-bicubic", False, "inception-torchvision"),
}


@pytest.mark.slow  # ~40 Inception passes at 299x299 on CPU
@pytest.mark.parametrize("protocol", list(FID_CASES))
def test_fid_tv_matches_the_scripts_wrapper_and_frechet(protocol, shared_data, tmp_path,
                                                        monkeypatch, standin_tv_inception):
    import bench.metrics.script_fid as script_fid_module

    monkeypatch.setattr(script_fid_module, "SCRIPT_BATCH", 4)  # the rule on a small set
    width, suffix, inp, train_inp, drop, network = FID_CASES[protocol]
    data, res, train, files = build(shared_data, tmp_path, 10, width, suffix, n_train=7)
    config = RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                       protocol=protocol, metrics=("fid_tv",), bootstrap=0, train_folder=train,
                       weights=((network, str(standin_tv_inception)),), offline=True,
                       stats_cache=tmp_path / "cache", out=tmp_path / "run")
    rec = values(run(config, **QUIET))["fid_tv"]
    fake = [read(f) for _, f in sorted(files, key=lambda x: x[1].name)]
    real = [read(p) for p in sorted(train.iterdir())]
    if inp == "cv2":
        fake = [cv2_176(i) / np.float32(255) for i in fake]
    else:
        fake = [i.astype(np.float32) / 255.0 for i in fake]
    if train_inp == "cv2":
        real = [cv2_176(i) / np.float32(255) for i in real]
    elif train_inp == "tv-bicubic":  # CFLD: Resize([256, 176], BICUBIC) on PIL, ToTensor
        real = [np.asarray(Image.fromarray(i).resize((176, 256), Image.Resampling.BICUBIC))
                .astype(np.float32) / 255.0 for i in real]
    else:
        real = [i.astype(np.float32) / 255.0 for i in real]
    model = ScriptInceptionV3(standin_tv_inception)
    want = script_fid(model, np.stack(fake), np.stack(real), batch=4, drop=drop)
    assert rec.value == pytest.approx(want, rel=1e-4)
    assert rec.key == "fid_tv" and rec.metric == "fid_tv" and rec.protocol == protocol
    assert rec.extra["weights"][network]["sha256"] == _sha256(standin_tv_inception)
    assert rec.extra["inception"] == network and "weights_note" not in rec.extra
    if drop:
        assert rec.extra["dropped"] == 2 and rec.extra["real_dropped"] == 3
        assert rec.extra["dropped_names"] == sorted(f.stem for _, f in files)[-2:]
    else:
        assert rec.extra["dropped"] == 0 and rec.extra["real_dropped"] == 0
    if protocol != "gfla":
        return  # the cache is the same code for every protocol: checked once (~15 s a run)
    # the training features are cached by content: a second run reads them back
    again = values(run(config.__class__(**{**config.__dict__, "out": tmp_path / "run2"}),
                       **QUIET))["fid_tv"]
    assert again.extra["real_cache"].startswith("hit") and again.value == rec.value


def _sha256(path: Path) -> str:
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_fid_tv_small_run_other_weights_version_is_used_and_said(shared_data, tmp_path,
                                                                 standin_tv_inception):
    """The fast end-to-end FID check (3 generated, 3 training images: one batch each, nothing
    dropped): the value as the transcribed scripts compute it, and the weights version."""
    data, res, train, files = build(shared_data, tmp_path, 3, 256, ".jpg", n_train=3)
    config = RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                       protocol="gfla", metrics=("fid_tv",), bootstrap=5, train_folder=train,
                       weights=(("inception-torchvision", str(standin_tv_inception)),),
                       offline=True, use_cache=False, out=tmp_path / "run")
    r = run(config, **QUIET)
    rec = values(r)["fid_tv"]
    assert "inception-torchvision-v0" in rec.extra["weights_note"]
    assert set(rec.extra["weights"]) == {"inception-torchvision"}
    assert rec.extra["weights"]["inception-torchvision"]["sha256"] == _sha256(
        standin_tv_inception)
    fake = np.stack([read(f) for _, f in sorted(files, key=lambda x: x[1].name)])
    real = np.stack([read(q) for q in sorted(train.iterdir())])
    want = script_fid(ScriptInceptionV3(standin_tv_inception), fake.astype(np.float32) / 255.0,
                      real.astype(np.float32) / 255.0)
    assert rec.value == pytest.approx(want, rel=1e-4)
    assert rec.extra["dropped"] == 0 and rec.extra["fake_images"] == 3
    # resamples of the generated set give an interval (fast Frechet equivalent)
    assert rec.extra["bootstrap_resamples"] == 5 and rec.extra["ci_low"] <= rec.extra["ci_high"]


def test_wrong_frame_and_dataset_are_refused_with_what_was_expected(shared_data, tmp_path):
    data, res, _, _ = build(shared_data, tmp_path, 3, 256, ".png")
    with pytest.raises(BenchError, match=r"protocol 'dptn' compares with deepfashion test "
                                         r"images of 256x176.*are 256x256"):
        run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="dptn", metrics=RECON, out=tmp_path / "r1"), **QUIET)
    with pytest.raises(BenchError, match=r"protocol 'pidm' is defined for deepfashion 256x256"):
        run(RunConfig(models=("source",), dataset="synthetic", protocol="pidm",
                      metrics=RECON, limit=2, out=tmp_path / "r2"), **QUIET)


def test_results_of_another_size_are_resized_as_the_script_did_or_refused(shared_data,
                                                                           tmp_path):
    """DPTN resized its 256x256 outputs with cv2 (uint8) to 256x176 and saved JPEG: a 256x256
    results folder under dptn is read that way, never centre-cropped; a size no script used
    is an error naming the expected sizes."""
    import cv2

    data, _, _, files = build(shared_data, tmp_path / "a", 4, 176, ".jpg")
    _, res, _, big = build(shared_data, tmp_path / "b", 4, 256, ".png")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="dptn", metrics=("l1_script",), bootstrap=0,
                      out=tmp_path / "r"), **QUIET)
    rec = values(r)["l1_script"]
    assert rec.extra["results_folder"]["layout"]["resize"] == "cv2-uint8"
    want = []
    for (t, _), (_, f) in zip(files, big, strict=True):
        small = cv2.resize(read(f), (176, 256))
        Image.fromarray(small).save(tmp_path / "x.jpg", quality=75)
        pred = read(tmp_path / "x.jpg").astype(np.float32) / 255.0
        gt = read(data / "test" / t).astype(np.float32) / 255.0
        want.append(np.mean(np.abs(pad_256(gt * 255).astype(np.float32) / 255.0
                                   - pad_256(pred * 255).astype(np.float32) / 255.0)))
    assert rec.value == pytest.approx(float(np.mean(want)), rel=1e-6)
    gfla_data, _, _, _ = build(shared_data, tmp_path / "c", 2, 256, ".jpg")
    _, narrow, _, _ = build(shared_data, tmp_path / "d", 2, 176, ".jpg")
    with pytest.raises(BenchError, match=r"256x176 \(HxW\).*expected 256x\(k\*256\)"):
        run(RunConfig(models=(f"folder:m={narrow}",), dataset="deepfashion",
                      data_root=gfla_data, protocol="gfla", metrics=RECON,
                      out=tmp_path / "r2"), **QUIET)
    with pytest.raises(BenchError, match=r"or single images of 256x256, resized"):
        _, odd, _, _ = build(shared_data, tmp_path / "e", 2, 200, ".jpg")
        run(RunConfig(models=(f"folder:m={odd}",), dataset="deepfashion", data_root=data,
                      protocol="dptn", metrics=RECON, out=tmp_path / "r3"), **QUIET)


def test_script_metrics_need_a_script_protocol_and_are_not_defaults(shared_data, tmp_path):
    assert "fid_tv" not in default_metrics() and "ssim" in default_metrics()
    data, res, _, _ = build(shared_data, tmp_path, 2, 176, ".png")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="modern", metrics=("ssim_256", "ssim_box51"), bootstrap=0,
                      out=tmp_path / "r"), **QUIET)
    unavailable = [x for x in r.records if x.kind == "unavailable"]
    assert [x.key for x in unavailable] == ["ssim_256"]
    assert "--protocol gfla" in unavailable[0].error
    assert values(r)["ssim_box51"].value is not None  # the fair/modern box variant


def test_cli_run_under_a_script_protocol_writes_protocol_and_version(shared_data, tmp_path,
                                                                    capsys):
    data, res, _, _ = build(shared_data, tmp_path, 3, 256, ".jpg")
    out = tmp_path / "cli"
    rc = main(["run", "--protocol", "gfla", "--dataset", "deepfashion", "--data-root", str(data),
               "--models", f"folder:m={res}", "--metrics", "ssim_box51,ssim_256",
               "--out", str(out), "--bootstrap", "0", "--no-efficiency"])
    assert rc == 0
    records = [r for r in read_records(out / "records.jsonl") if r.kind == "metric"]
    assert {(r.protocol, r.protocol_version) for r in records} == {("gfla", "2")}
    capsys.readouterr()


def test_images_the_harness_generates_are_scored_as_the_script_saved_them(shared_data,
                                                                         tmp_path):
    """GFLA saved its outputs with imageio as JPEG (quality 75) and scored the files: a model
    run by the harness under gfla is scored on the JPEG round trip of its images; under pidm
    (PNG) on the images themselves."""
    data, _, _, _ = build(shared_data, tmp_path, 4, 256, ".png")
    pairs = (data / "fashion-pairs-test.csv").read_text().splitlines()[1:]
    out = {}
    for protocol in ("gfla", "pidm"):
        r = run(RunConfig(models=("source",), dataset="deepfashion", data_root=data,
                          protocol=protocol, metrics=("l1_script",), bootstrap=0,
                          efficiency=False, out=tmp_path / protocol), **QUIET)
        out[protocol] = values(r, "source")["l1_script"].value
    jpeg, png = [], []
    for line in pairs:
        src, tgt = line.split(",")
        source, target = read(data / "test" / src), read(data / "test" / tgt)
        Image.fromarray(source).save(tmp_path / "x.jpg", quality=75)
        saved = read(tmp_path / "x.jpg")
        t = target.astype(np.float32) / 255.0
        jpeg.append(np.mean(np.abs(t - saved.astype(np.float32) / 255.0)))
        png.append(np.mean(np.abs(t - source.astype(np.float32) / 255.0)))
    assert out["gfla"] == pytest.approx(float(np.mean(jpeg)), rel=1e-6)
    assert out["pidm"] == pytest.approx(float(np.mean(png)), rel=1e-6)
    assert out["gfla"] != pytest.approx(out["pidm"], rel=1e-6)


@pytest.mark.parametrize("protocol", ["gfla", "dptn"])
def test_market_is_scored_at_128x64_without_padding(protocol, shared_data, tmp_path):
    data, res, files = build_market(shared_data, tmp_path, 8, ".jpg")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="market", data_root=data,
                      protocol=protocol, metrics=RECON, bootstrap=0, out=tmp_path / "run"),
            **QUIET)
    got = values(r)
    expected = [script_reconstruction(read(data / "test" / t), read(f), sigma=1.5,
                                      skimage="0.17.2", pad=False) for t, f in files]
    for key in RECON:
        want = float(np.mean([e[key] for e in expected]))
        assert got[key].value == pytest.approx(want, rel=1e-6, abs=1e-9), key
    assert got["ssim_box51"].extra["padded"] is False


@pytest.mark.slow  # ~20 Inception passes on CPU
def test_compare_two_results_folders_on_fid_tv(shared_data, tmp_path, standin_tv_inception):
    """``bench compare`` on a gfla run: fid_tv recomputed from the saved images equals the
    run's value, and a paired bootstrap over the kept pairs compares the two folders."""
    from bench.compare import format_set_level, prepare_set_level

    data, res, train, files = build(shared_data, tmp_path, 4, 256, ".jpg", n_train=4)
    other = tmp_path / "other"
    other.mkdir()
    for tgt, f in files:  # a second "method": the ground truth, blurred, as its results
        blurred = ndi.uniform_filter(read(data / "test" / tgt), size=(5, 5, 1))
        Image.fromarray(blurred).save(other / f.name, "JPEG")
    out = tmp_path / "run"
    r = run(RunConfig(models=(f"folder:a={res}", f"folder:b={other}"), dataset="deepfashion",
                      data_root=data, protocol="gfla", metrics=("fid_tv",), bootstrap=0,
                      train_folder=train, stats_cache=tmp_path / "cache", offline=True,
                      weights=(("inception-torchvision-v0", str(standin_tv_inception)),),
                      out=out), **QUIET)
    recorded = {rec.model: rec.value for rec in r.records if rec.key == "fid_tv"}
    job = prepare_set_level(out, "a", "b", offline=True, resamples=10)
    result = job.run()
    c = result.comparisons["fid_tv"]
    assert c.mean_a == pytest.approx(recorded["a"], rel=1e-4)
    assert c.mean_b == pytest.approx(recorded["b"], rel=1e-4)
    assert "fid_tv" in format_set_level("a", "b", result, out)


def test_multi_panel_strips_are_scored_like_single_images(shared_data, tmp_path):
    """Released comparison strips (here Def-GAN's [source | target | generated], 256x256
    panels, renamed ``{src}_2_{tgt}_vis.png``; PIDM-style strips with ``panels=``, ``panel=``)
    give the generated panel, scored as the single image would be."""
    data, res, _, files = build(shared_data, tmp_path, 5, 256, ".png")
    strips = tmp_path / "strips"
    four = tmp_path / "four"
    strips.mkdir()
    four.mkdir()
    for path in sorted((shared_data / SAMPLES).glob("*.png"))[:5]:
        src, tgt = path.name[: -len(".png")].split(".jpg_", 1)
        name = f"{src}_2_{Path(tgt).stem}_vis.png"
        strip = read(path)
        Image.fromarray(strip).save(strips / name)
        pose = np.zeros_like(strip[:, :256])  # a target-pose panel first, as PIDM's strips
        Image.fromarray(np.concatenate([pose, strip], axis=1)).save(four / name)
    got = {}
    for label, entry in (("single", f"folder:m={res}"), ("strips", f"folder:m={strips}"),
                         ("four", f"folder:m={four},panels=4,panel=3,target=2")):
        r = run(RunConfig(models=(entry,), dataset="deepfashion", data_root=data,
                          protocol="pidm", metrics=("ssim_box51", "l1_script"), bootstrap=0,
                          out=tmp_path / label), **QUIET)
        recs = values(r)
        got[label] = {k: v.value for k, v in recs.items()}
        got[label + "-layout"] = recs["l1_script"].extra["results_folder"]["layout"]["kind"]
    assert got["strips"] == got["single"] == got["four"]
    assert (got["single-layout"], got["strips-layout"], got["four-layout"]) == (
        "single", "defgan-3", "custom")
