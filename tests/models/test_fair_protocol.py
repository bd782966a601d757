"""The ``fair`` protocol v1 on the published Def-GAN DeepFashion samples (PATN's 256x176 crops of
the panels): lossless, one frame, no padding, nothing dropped; SSIM as today's scikit-image with
data range 255, the box-51 variant, FID / KID against the targets and the training folder."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from script_samples import QUIET, build, read, values
from skimage.metrics import structural_similarity

from bench.api import run
from bench.config import RunConfig
from bench.errors import BenchError
from bench.protocols import PROTOCOLS


def test_fair_declares_its_metrics_and_frames():
    fair = PROTOCOLS.get("fair")
    assert fair.version == "1" and fair.script is None and not fair.white_padding
    assert fair.default_metrics() == ("ssim_fixed", "ssim_box51", "lpips", "fid", "kid",
                                      "fid_train", "kid_train", "pckh")
    assert fair.frame("deepfashion") == (256, 176) and fair.frame("market") == (128, 64)


def test_fair_ssim_is_todays_scikit_image_with_range_255_and_box_51(shared_data, tmp_path):
    data, res, _, files = build(shared_data, tmp_path, 6, 176, ".png")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="fair", metrics=("ssim_fixed", "ssim_box51"), bootstrap=0,
                      out=tmp_path / "run"), **QUIET)
    got = values(r)
    gts = [read(data / "test" / t) for t, _ in files]
    preds = [read(f) for _, f in files]
    gauss = [structural_similarity(g, p, data_range=255, channel_axis=-1, gaussian_weights=True,
                                   sigma=1.5, use_sample_covariance=False)
             for g, p in zip(gts, preds, strict=True)]
    box = [structural_similarity(g.astype(np.float64) / 255, p.astype(np.float64) / 255,
                                 data_range=1, win_size=51, channel_axis=-1)
           for g, p in zip(gts, preds, strict=True)]
    assert got["ssim_fixed"].value == pytest.approx(float(np.mean(gauss)), rel=1e-6)
    assert got["ssim_box51"].value == pytest.approx(float(np.mean(box)), rel=1e-6)
    assert got["ssim_box51"].protocol == "fair" and got["ssim_box51"].n == 6


def test_fair_refuses_another_frame(shared_data, tmp_path):
    data, res, _, _ = build(shared_data, tmp_path, 2, 256, ".png")
    with pytest.raises(BenchError, match=r"protocol 'fair' compares with deepfashion test "
                                         r"images of 256x176"):
        run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="fair", metrics=("ssim_fixed",), out=tmp_path / "r"), **QUIET)


@pytest.mark.slow  # torch-fidelity's Inception on ~9 images on CPU
def test_fair_fid_against_targets_and_training_folder(shared_data, tmp_path, standin_inception):
    data, res, train, _ = build(shared_data, tmp_path, 3, 176, ".png", n_train=3)
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="fair", metrics=("fid", "fid_train"), bootstrap=0,
                      train_folder=train, offline=True, use_cache=False,
                      weights=(("inception-fid", str(standin_inception)),),
                      out=tmp_path / "run"), **QUIET)
    got = values(r)
    assert got["fid"].extra["reference"] == "targets"
    assert got["fid_train"].extra["reference"] == "train"
    assert got["fid_train"].extra["real_images"] == 3
    assert got["fid"].value != pytest.approx(got["fid_train"].value)


def test_fair_resizes_other_result_sizes_once_with_pil_bicubic_and_says_so(shared_data,
                                                                         tmp_path):
    data, _, _, files = build(shared_data, tmp_path / "a", 4, 176, ".png")
    _, res, _, big = build(shared_data, tmp_path / "b", 4, 256, ".png")
    r = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                      protocol="fair", metrics=("ssim_fixed",), bootstrap=0,
                      out=tmp_path / "run"), **QUIET)
    rec = values(r)["ssim_fixed"]
    layout = rec.extra["results_folder"]["layout"]
    assert layout["resize"] == "pil-bicubic" and "resized to 256x176" in layout["description"]
    want = []
    for (t, _), (_, f) in zip(files, big, strict=True):
        pred = np.asarray(Image.open(f).convert("RGB").resize((176, 256), Image.BICUBIC))
        want.append(structural_similarity(read(data / "test" / t), pred, data_range=255,
                                          channel_axis=-1, gaussian_weights=True, sigma=1.5,
                                          use_sample_covariance=False))
    assert rec.value == pytest.approx(float(np.mean(want)), rel=1e-6)
