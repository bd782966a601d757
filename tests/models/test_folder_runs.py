"""Results folders end to end: the published Def-GAN strips (Market and DeepFashion, 100 pairs
each) scored without dataset images under ``patn-strips``, PATN's 5-panel JPEG strips built
here, the harness's own saved images read back, and every malformed-folder case."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from scipy import ndimage as ndi

from bench.api import run
from bench.cli import main
from bench.config import RunConfig
from bench.errors import BenchError, DataError
from bench.metrics.masks import pose_masks
from bench.records import read_records

SPLITS = "pose-transfer-splits"
SAMPLES = "published-samples"
QUIET = dict(progress=False, echo=lambda s: None)


def legacy_ssim(ref: np.ndarray, gen: np.ndarray) -> float:
    """scikit-image 0.14.2 compare_ssim as PATN called it (independent of bench.metrics)."""
    data_range = gen.max() - gen.min()
    per_channel = []
    for ch in range(ref.shape[-1]):
        x, y = ref[..., ch].astype(np.float64), gen[..., ch].astype(np.float64)
        ux, uy = ndi.gaussian_filter(x, 1.5), ndi.gaussian_filter(y, 1.5)
        vx = ndi.gaussian_filter(x * x, 1.5) - ux * ux
        vy = ndi.gaussian_filter(y * y, 1.5) - uy * uy
        vxy = ndi.gaussian_filter(x * y, 1.5) - ux * uy
        c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
        s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux**2 + uy**2 + c1) * (vx + vy + c2))
        per_channel.append(s[5:-5, 5:-5].mean())
    return float(np.mean(per_channel))


def strip_pairs(folder: Path) -> list[tuple[str, str]]:
    """(from, to) of Def-GAN's ``{from}_{to}.png`` files, in file-name order."""
    out = []
    for path in sorted(folder.glob("*.png")):
        src, tgt = path.name[: -len(".png")].split(".jpg_", 1)
        out.append((src + ".jpg", tgt))
    return out


def write_root(root: Path, pairs, annotation: Path, pairs_name: str, annotation_name: str,
               shift_x: int = 0) -> Path:
    """A data root holding only the pair and annotation CSVs (no images)."""
    root.mkdir(parents=True)
    (root / pairs_name).write_text("from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    names = {n for p in pairs for n in p}
    lines = annotation.read_text().splitlines()
    kept = [lines[0]]
    for line in lines[1:]:
        name, ys, xs = line.split(":")
        if name.strip() in names:
            if shift_x:
                xs = json.dumps([x + shift_x if x >= 0 else x for x in json.loads(xs)])
            kept.append(f"{name}:{ys}: {xs}" if shift_x else line)
    (root / annotation_name).write_text("\n".join(kept) + "\n")
    return root


@pytest.fixture
def market_strips(shared_data, tmp_path):
    """(strip folder, CSV-only data root): Def-GAN's Market pairs use training images, so the
    root's market-annotation-test.csv holds their rows of market-annotation-train.csv."""
    folder = shared_data / SAMPLES / "deform-market"
    root = write_root(tmp_path / "market-csv", strip_pairs(folder),
                      shared_data / SPLITS / "market-annotation-train.csv",
                      "market-pairs-test.csv", "market-annotation-test.csv")
    return folder, root


@pytest.fixture
def fashion_strips(shared_data, tmp_path):
    """(strip folder, CSV-only data root) in the original 256x256 layout of DeepFashion."""
    folder = shared_data / SAMPLES / "deform-fashion"
    root = write_root(tmp_path / "fashion-csv", strip_pairs(folder),
                      shared_data / SPLITS / "fasion-annotation-test.csv",
                      "fashion-pairs-test.csv", "fasion-annotation-test.csv")
    return folder, root


def per_pair(run_dir: Path, model: str) -> pd.DataFrame:
    return pd.read_csv(run_dir / "per_pair" / f"{model}.csv", keep_default_na=False)


def metric(result, model, key):
    return next(r for r in result.records
                if r.kind == "metric" and r.model == model and r.key == key)


def panels(path: Path, k: int, *idx: int) -> list[np.ndarray]:
    strip = np.asarray(Image.open(path).convert("RGB"))
    w = strip.shape[1] // k
    return [strip[:, i * w:(i + 1) * w] for i in idx]


# -- the published Def-GAN strips ----------------------------------------------------------------
def test_market_strips_all_found_and_scored_without_images(market_strips, tmp_path):
    folder, root = market_strips
    lines = []
    result = run(RunConfig(models=(f"folder:defgan={folder}",), dataset="market", data_root=root,
                           protocol="patn-strips", metrics=("ssim", "mask_ssim", "l1"),
                           out=tmp_path / "r", batch_size=16),
                 progress=False, echo=lines.append)
    assert not result.errors()
    ssim = metric(result, "defgan", "ssim")
    assert ssim.n == 100 and ssim.protocol == "patn-strips" and ssim.protocol_version == "1"
    assert ssim.checkpoint == str(folder.resolve()) and len(ssim.checkpoint_sha256) == 64
    info = ssim.extra["results_folder"]
    assert info["layout"]["kind"] == "defgan-3" and info["pairs_found"] == 100
    assert info["naming"] == {"{from}_{to}.png": 100} and info["files_ignored"] == 0
    assert ssim.extra["ground_truth"].startswith("results")
    console = "\n".join(lines)
    assert "Def-GAN 3-panel strips [source | target | generated], 3 x 128x64 panels" in console
    assert "100 of 100 pairs found" in console and "no image folder" in console

    table = per_pair(tmp_path / "r", "defgan")
    kpts = pd.read_csv(root / "market-annotation-test.csv", sep=":").set_index("name")
    expected, expected_masked = [], []
    for src, tgt in zip(table["from"], table["to"], strict=True):
        target, fake = panels(folder / f"{src}_{tgt}.png", 3, 1, 2)
        expected.append(legacy_ssim(target, fake))
        row = kpts.loc[tgt]
        kp = np.stack([json.loads(row["keypoints_x"]), json.loads(row["keypoints_y"])], 1)
        mask = pose_masks(kp[None].astype(np.float32), (128, 64))[0][..., None]
        expected_masked.append(legacy_ssim(target * mask, fake * mask))
    assert np.abs(table["ssim"].to_numpy() - expected).max() < 1e-12
    assert np.abs(table["mask_ssim"].to_numpy() - expected_masked).max() < 1e-12
    assert ssim.value == pytest.approx(np.mean(expected), abs=1e-12)
    assert 0.3 < ssim.value < 0.5  # 0.3841 on these 100 (training-identity) pairs
    saved = sorted((tmp_path / "r" / "images" / "defgan").glob("*.png"))
    assert len(saved) == 100


def test_fashion_strips_all_found_and_scored_without_images(fashion_strips, tmp_path):
    folder, root = fashion_strips
    result = run(RunConfig(models=(f"folder:defgan={folder}",), dataset="deepfashion",
                           data_root=root, protocol="patn-strips", metrics=("ssim", "mask_ssim"),
                           out=tmp_path / "r", save_images=False), **QUIET)
    assert not result.errors()
    ssim = metric(result, "defgan", "ssim")
    assert ssim.n == 100 and ssim.extra["results_folder"]["layout"]["panel_hw"] == [256, 256]
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["image_size"] == [256, 256] and config["dataset_images"] is False
    table = per_pair(tmp_path / "r", "defgan")
    assert table["ssim"].notna().all() and len(table) == 100
    every = slice(None, None, 3)  # the independent reference on a third of them (256x256 is slow)
    expected = [legacy_ssim(*panels(folder / f"{s}_{t}.png", 3, 1, 2))
                for s, t in zip(table["from"][every], table["to"][every], strict=True)]
    assert np.abs(table["ssim"][every].to_numpy() - expected).max() < 1e-12
    assert ssim.value == pytest.approx(0.7588, abs=5e-5)  # Def-GAN's paper: 0.756 on 8,570

    # The same strips with PATN's 176-wide annotation frame (x - 40): the frame is still 256x256
    # (the strips' panels), the keypoints are shifted back by +40, the masks are identical.
    resize = write_root(tmp_path / "resize", strip_pairs(folder),
                        root / "fasion-annotation-test.csv", "fasion-resize-pairs-test.csv",
                        "fasion-resize-annotation-test.csv", shift_x=-40)
    run(RunConfig(models=(f"folder:defgan={folder}",), dataset="deepfashion", data_root=resize,
                  protocol="patn-strips", metrics=("mask_ssim",), limit=25, out=tmp_path / "s",
                  save_images=False), **QUIET)
    np.testing.assert_array_equal(per_pair(tmp_path / "s", "defgan")["mask_ssim"],
                                  table["mask_ssim"][:25])


def test_fashion_strips_against_176_wide_dataset_images(fashion_strips, tmp_path):
    """Dataset images = the centre 176 columns of the strips' panels (PATN's crop), in PATN's
    fasion-resize layout: 256-wide panels are cropped to the frame, and under ``patn`` (dataset
    ground truth, white padding) the values equal ``patn-strips`` on the same pairs."""
    folder, root = fashion_strips
    pairs = strip_pairs(folder)[:12]
    data = write_root(tmp_path / "data", pairs, root / "fasion-annotation-test.csv",
                      "fasion-resize-pairs-test.csv", "fasion-resize-annotation-test.csv",
                      shift_x=-40)
    (data / "test").mkdir()
    for src, tgt in pairs:
        source, target = panels(folder / f"{src}_{tgt}.png", 3, 0, 1)
        Image.fromarray(source[:, 40:216]).save(data / "test" / src, "PNG")
        Image.fromarray(target[:, 40:216]).save(data / "test" / tgt, "PNG")
    values = {}
    for protocol in ("patn", "patn-strips"):
        result = run(RunConfig(models=(f"folder:defgan={folder}",), dataset="deepfashion",
                               data_root=data, protocol=protocol, metrics=("ssim", "l1"),
                               out=tmp_path / protocol, save_images=False), **QUIET)
        assert not result.errors()
        info = metric(result, "defgan", "ssim").extra["results_folder"]
        assert info["layout"]["crop"] == 40 and info["files_ignored"] == 88
        values[protocol] = per_pair(tmp_path / protocol, "defgan")["ssim"].to_numpy()
    np.testing.assert_array_equal(values["patn"], values["patn-strips"])
    white = np.full((256, 40, 3), 255, np.uint8)
    src, tgt = pairs[0]
    target, fake = panels(folder / f"{src}_{tgt}.png", 3, 1, 2)
    padded = [np.concatenate([white, p[:, 40:216], white], 1) for p in (target, fake)]
    assert values["patn"][0] == pytest.approx(legacy_ssim(*padded), abs=1e-12)


# -- PATN's 5-panel JPEG strips, built here ------------------------------------------------------
def make_patn_strips(market_folder: Path, out: Path) -> list[tuple[str, str]]:
    """``{from}___{to}_vis.jpg`` strips [source | pose | target | pose | generated] saved as JPEG
    with PIL's default quality (PATN's util.save_image); 'generated' is a blurred target."""
    out.mkdir()
    lines = (market_folder / "market-pairs-test.csv").read_text().splitlines()[1:]
    pairs = [tuple(line.split(",")) for line in lines]
    pose = np.zeros((128, 64, 3), np.uint8)
    for src, tgt in pairs:
        s = np.asarray(Image.open(market_folder / "test" / src).convert("RGB"))
        t = np.asarray(Image.open(market_folder / "test" / tgt).convert("RGB"))
        fake = ndi.uniform_filter(t, size=(3, 3, 1))
        Image.fromarray(np.concatenate([s, pose, t, pose, fake], 1)).save(
            out / f"{src}___{tgt}_vis.jpg")
    return pairs


def test_patn_jpeg_strips_under_both_ground_truths(market_folder, tmp_path):
    folder = tmp_path / "patn_results"
    make_patn_strips(market_folder, folder)
    results = {}
    for protocol in ("patn", "patn-strips"):
        results[protocol] = run(RunConfig(
            models=(f"folder:patn-jpeg={folder}",), dataset="market", data_root=market_folder,
            protocol=protocol, metrics=("ssim",), out=tmp_path / protocol, save_images=False),
            **QUIET)
        record = metric(results[protocol], "patn-jpeg", "ssim")
        assert record.n == 40 and record.extra["results_folder"]["layout"]["kind"] == "patn-5"
        assert record.extra["results_folder"]["naming"] == {"{from}___{to}_vis.jpg": 40}
    strips = per_pair(tmp_path / "patn-strips", "patn-jpeg")
    dataset = per_pair(tmp_path / "patn", "patn-jpeg")
    for i, (src, tgt) in enumerate(zip(strips["from"], strips["to"], strict=True)):
        target, fake = panels(folder / f"{src}___{tgt}_vis.jpg", 5, 2, 4)
        assert strips["ssim"][i] == pytest.approx(legacy_ssim(target, fake), abs=1e-12)
        gt = np.asarray(Image.open(market_folder / "test" / tgt).convert("RGB"))
        assert dataset["ssim"][i] == pytest.approx(legacy_ssim(gt, fake), abs=1e-12)
    assert not np.array_equal(strips["ssim"], dataset["ssim"])  # JPEG'd vs lossless targets


def test_told_layout_and_saved_harness_images_read_back(market_folder, tmp_path):
    """A run's own images/<model>/ folder is a results folder: reading it back under the same
    protocol reproduces the model's values exactly (lossless PNG, {from stem}___{to stem})."""
    first = run(RunConfig(models=("source",), dataset="market", data_root=market_folder,
                          metrics=("ssim", "l1"), out=tmp_path / "a"), **QUIET)
    images = tmp_path / "a" / "images" / "source"
    again = run(RunConfig(models=("source", f"folder:saved={images},panels=1"), dataset="market",
                          data_root=market_folder, metrics=("ssim", "l1"), out=tmp_path / "b"),
                **QUIET)
    for key in ("ssim", "l1"):
        assert again.values[("saved", key)] == first.values[("source", key)]
    info = metric(again, "saved", "ssim").extra["results_folder"]
    assert info["layout"]["detected"] is False and info["naming"] == {
        "{from stem}___{to stem}.png": 40}


# -- malformed folders ---------------------------------------------------------------------------
def test_missing_extra_wrong_size_and_corrupt_files(market_folder, tmp_path):
    folder = tmp_path / "patn_results"
    pairs = make_patn_strips(market_folder, folder)
    for src, tgt in pairs[:3]:
        (folder / f"{src}___{tgt}_vis.jpg").unlink()
    (folder / "notes.txt").write_text("released with the paper")
    Image.fromarray(np.zeros((128, 320, 3), np.uint8)).save(folder / "a.jpg___b.jpg_vis.jpg")
    src, tgt = pairs[3]
    Image.fromarray(np.zeros((128, 300, 3), np.uint8)).save(folder / f"{src}___{tgt}_vis.jpg")
    src, tgt = pairs[4]
    (folder / f"{src}___{tgt}_vis.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    lines = []
    result = run(RunConfig(models=(f"folder:patn-released={folder}", "source"), dataset="market",
                           data_root=market_folder, metrics=("ssim",), out=tmp_path / "r"),
                 progress=False, echo=lines.append)
    errors = result.errors("patn-released")
    assert len(errors) == 5 and not result.errors("source")
    missing = [e for e in errors if "no file for this pair" in e.error]
    assert [(e.extra["from"], e.extra["to"]) for e in missing] == pairs[:3]
    assert all(e.extra["stage"] == "read" for e in errors)
    assert missing[0].extra["file"] == str(folder.resolve() / f"{pairs[0][0]}___{pairs[0][1]}_vis.jpg")
    assert any("file is 128x300 (HxW), expected 128x320 (5 panels of 128x64)" in e.error
               for e in errors)
    assert any("corrupt or unreadable image" in e.error for e in errors)
    ssim = metric(result, "patn-released", "ssim")
    assert ssim.n == 35 and ssim.extra["failed_pairs"] == 5
    info = ssim.extra["results_folder"]
    assert (info["pairs_found"], info["pairs_missing"], info["files_ignored"]) == (37, 3, 2)
    console = "\n".join(lines)
    assert "37 of 40 pairs found" in console and "3 missing; 2 other files ignored" in console
    assert f"missing: {pairs[0][0]}___{pairs[0][1]}_vis.jpg" in console
    table = per_pair(tmp_path / "r", "patn-released")
    assert (table["error"] != "").sum() == 5 and table["error"].str.startswith("read: ").sum() == 5


def test_empty_or_wrong_folder_stops_before_work(market_folder, tmp_path):
    (tmp_path / "empty").mkdir()
    out = tmp_path / "r"
    with pytest.raises(BenchError, match="none of the 40 evaluated pairs") as exc:
        run(RunConfig(models=("source", f"folder:x={tmp_path / 'empty'}"), dataset="market",
                      data_root=market_folder, out=out), **QUIET)
    assert "found: an empty folder" in str(exc.value)
    assert not (out / "records.jsonl").exists()
    wrong = tmp_path / "wrong"
    wrong.mkdir()
    for i in range(8):
        Image.fromarray(np.zeros((128, 64, 3), np.uint8)).save(wrong / f"img{i}.png")
    code = main(["run", "--models", f"folder:x={wrong}", "--dataset", "market",
                 "--data-root", str(market_folder), "--out", str(out), "--quiet"])
    assert code == 2 and not (out / "records.jsonl").exists()
    code = main(["run", "--models", f"folder:x={tmp_path / 'nowhere'}", "--dataset", "market",
                 "--data-root", str(market_folder), "--out", str(out), "--quiet"])
    assert code == 2


def test_wrong_size_folder_and_unknown_layout_stop_before_work(market_folder, tmp_path, capsys):
    folder = tmp_path / "four"
    folder.mkdir()
    lines = (market_folder / "market-pairs-test.csv").read_text().splitlines()[1:3]
    for line in lines:
        src, tgt = line.split(",")
        Image.fromarray(np.zeros((128, 256, 3), np.uint8)).save(folder / f"{src}_{tgt}.png")
    argv = ["run", "--dataset", "market", "--data-root", str(market_folder), "--quiet",
            "--metrics", "ssim", "--no-images", "--limit", "2"]
    assert main([*argv, "--models", f"folder:four={folder}", "--out", str(tmp_path / "a")]) == 2
    assert "4 panels are not a known layout" in capsys.readouterr().err
    assert main([*argv, "--models", f"folder:four={folder},panels=4,panel=3,target=1",
                 "--out", str(tmp_path / "b")]) == 0
    assert "4-panel strips, 4 x 128x64 panels" in capsys.readouterr().out


# -- results-only runs: what they need and refuse ------------------------------------------------
def test_results_only_rules(market_strips, market_folder, tmp_path, capsys):
    folder, root = market_strips
    base = ["run", "--dataset", "market", "--data-root", str(root), "--quiet"]
    # no images and a protocol that needs them: a clear message naming the way out
    assert main([*base, "--models", f"folder:defgan={folder}"]) == 2
    err = capsys.readouterr().err
    assert "no image folder" in err and "--protocol patn-strips" in err
    with pytest.raises(DataError, match="no image folder"):
        run(RunConfig(models=("warp",), dataset="market", data_root=root), **QUIET)
    # patn-strips with a model that generates images
    assert main([*base, "--protocol", "patn-strips", "--models",
                 f"source,folder:defgan={folder}"]) == 2
    assert "'source' generate images and have none" in capsys.readouterr().err
    # patn-strips with single images: no target panel to score against
    single = tmp_path / "single"
    run(RunConfig(models=("source",), dataset="market", data_root=market_folder,
                  metrics=("l1",), out=tmp_path / "src"), **QUIET)
    shutil.copytree(tmp_path / "src" / "images" / "source", single)
    assert main(["run", "--dataset", "market", "--data-root", str(market_folder), "--quiet",
                 "--protocol", "patn-strips", "--models", f"folder:single={single}"]) == 2
    assert "hold no ground-truth panel" in capsys.readouterr().err


def test_cli_names_the_folder_model_on_the_table(market_strips, tmp_path, capsys):
    folder, root = market_strips
    out = tmp_path / "r"
    assert main(["run", "--dataset", "market", "--data-root", str(root), "--protocol",
                 "patn-strips", "--models", f"folder:defgan={folder},panels=3", "--metrics",
                 "ssim,l1", "--out", str(out), "--quiet", "--no-images"]) == 0
    stdout = capsys.readouterr().out
    table = stdout.split("\n\n")[1]
    assert table.splitlines()[2].startswith("defgan ")
    assert "protocol patn-strips v1" in stdout
    assert "defgan: results folder" in stdout and "100 pairs found, 0 missing" in stdout
    records = read_records(out / "records.jsonl")
    assert {r.model for r in records} == {"defgan"}
    config = json.loads((out / "config.json").read_text())
    assert config["models"] == ["defgan"] and config["folders"][0]["panels"] == 3
