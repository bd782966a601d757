"""Results folders wherever a model name is accepted: ``--keypoints`` (PCKh from keypoints
estimated on a released folder, end to end), ``--checkpoint`` (refused clearly, ``run`` and
``profile``), ``compare --models`` (per-pair and set-level) and the model selection of
reports (:func:`bench.selection.select_models`)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bench.api import run
from bench.cli import main
from bench.compare import compare_run, prepare_set_level
from bench.config import RunConfig
from bench.errors import BenchError, UnknownNameError
from bench.records import read_records
from bench.selection import model_of_run, models_of_run, select_models

SAMPLES = "published-samples"
SPLITS = "pose-transfer-splits"
QUIET = dict(progress=False, echo=lambda s: None)
HEAD = (0, 1, 14, 15, 16, 17)


def defgan_pairs(folder: Path) -> list[tuple[str, str]]:
    """(from, to) of Def-GAN's ``{from}_{to}.png`` files."""
    out = []
    for path in sorted(folder.glob("*.png")):
        src, tgt = path.name[: -len(".png")].split(".jpg_", 1)
        out.append((src + ".jpg", tgt))
    return out


def read_keypoints(path: Path) -> dict[str, np.ndarray]:
    """Annotation CSV -> {name: (18, 2) (x, y)} (pandas, independent of bench.data)."""
    table = pd.read_csv(path, sep=":")
    return {row["name"].strip(): np.stack([json.loads(row["keypoints_x"]),
                                           json.loads(row["keypoints_y"])], axis=1)
            for _, row in table.iterrows()}


def write_keypoints(path: Path, rows: dict[str, np.ndarray]) -> None:
    lines = ["name:keypoints_y:keypoints_x"]
    lines += [f"{name}: {json.dumps([int(v) for v in kp[:, 1]])}: "
              f"{json.dumps([int(v) for v in kp[:, 0]])}" for name, kp in rows.items()]
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture
def defgan_market(shared_data, tmp_path):
    """(Def-GAN's published Market strips, a CSV-only data root for their 100 pairs)."""
    folder = shared_data / SAMPLES / "deform-market"
    pairs = defgan_pairs(folder)
    root = tmp_path / "market-csv"
    root.mkdir()
    (root / "market-pairs-test.csv").write_text(
        "from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    train = read_keypoints(shared_data / SPLITS / "market-annotation-train.csv")
    write_keypoints(root / "market-annotation-test.csv",
                    {n: train[n] for n in dict.fromkeys(n for p in pairs for n in p)})
    return folder, root


def patn_pckh(pred: list[np.ndarray], target: list[np.ndarray]) -> tuple[float, list[float]]:
    """PATN's calPCKH rules, one joint at a time: head box of the present target head joints
    (pair skipped with fewer than two), correct iff both present and strictly inside half the
    box on each axis; valid = target joints with y != -1; pooled over joints."""
    correct = valid = 0
    per_pair = []
    for p, t in zip(pred, target, strict=True):
        head = [j for j in HEAD if t[j][0] != -1 and t[j][1] != -1]
        if len(head) < 2:
            per_pair.append(float("nan"))
            continue
        w = max(t[j][0] for j in head) - min(t[j][0] for j in head)
        h = max(t[j][1] for j in head) - min(t[j][1] for j in head)
        c = v = 0
        for j in range(18):
            if t[j][1] == -1:
                continue
            v += 1
            if (p[j][0] != -1 and p[j][1] != -1 and t[j][0] != -1
                    and abs(p[j][0] - t[j][0]) < 0.5 * w and abs(p[j][1] - t[j][1]) < 0.5 * h):
                c += 1
        correct, valid = correct + c, valid + v
        per_pair.append(c / v)
    return correct / valid, per_pair


# -- --keypoints: PCKh from keypoints estimated on a released folder ----------------------------
def test_pckh_from_a_keypoints_csv_of_a_results_folder(defgan_market, tmp_path, capsys):
    """Keypoints "estimated" on Def-GAN's files (the target keypoints, moved and dropped with a
    fixed seed), rows named as the files are ({from}_{to}.png); 3 pairs have no row."""
    folder, root = defgan_market
    pairs = defgan_pairs(folder)
    targets = read_keypoints(root / "market-annotation-test.csv")
    rng = np.random.default_rng(7)
    rows = {}
    for src, tgt in pairs[3:]:
        kp = targets[tgt].astype(np.int64).copy()
        present = kp[:, 0] != -1
        kp[present] += rng.choice([0, 1, -2, 6, -15, 40], size=(int(present.sum()), 2))
        kp[present] = np.maximum(kp[present], 0)  # still found, at the frame's edge
        kp[rng.random(18) < 0.15] = -1  # joints the estimator did not find
        rows[f"{src}_{tgt}.png"] = kp
    rows["0000_c1s1_000000_00.jpg_0001_c1s1_000000_00.jpg.png"] = targets[pairs[0][1]]  # unused
    csv = tmp_path / "defgan-openpose.csv"
    write_keypoints(csv, rows)

    out = tmp_path / "r"
    assert main(["run", "--dataset", "market", "--data-root", str(root), "--protocol",
                 "patn-strips", "--models", f"folder:defgan={folder}", "--keypoints",
                 f"defgan={csv}", "--metrics", "pckh", "--out", str(out), "--quiet",
                 "--no-images", "--no-efficiency"]) == 0
    assert "error" not in capsys.readouterr().err
    records = read_records(out / "records.jsonl")
    pckh = next(r for r in records if r.kind == "metric" and r.key == "pckh")
    kept = [rows[f"{s}_{t}.png"] for s, t in pairs[3:]]
    expected, expected_pairs = patn_pckh(kept, [targets[t] for _, t in pairs[3:]])
    assert pckh.model == "defgan" and pckh.value == pytest.approx(expected, abs=1e-12)
    assert 0.3 < pckh.value < 0.9  # the perturbation moves some joints out, not all
    assert pckh.extra["estimator"] == "precomputed" and pckh.extra["no_prediction"] == 3
    assert pckh.n == 97 - sum(np.isnan(expected_pairs))
    table = pd.read_csv(out / "per_pair" / "defgan.csv", keep_default_na=False)
    values = table["pckh"].astype(float).to_numpy()
    assert np.isnan(values[:3]).all()
    np.testing.assert_allclose(values[3:], expected_pairs, atol=1e-12)
    assert json.loads((out / "config.json").read_text())["keypoints"] == {"defgan": str(csv)}


def test_keypoints_for_a_name_not_in_the_run_get_did_you_mean(defgan_market, capsys):
    folder, root = defgan_market
    argv = ["run", "--dataset", "market", "--data-root", str(root), "--protocol", "patn-strips",
            "--models", f"folder:defgan={folder}", "--dry-run"]
    assert main([*argv, "--keypoints", "defgn=k.csv"]) == 2
    err = capsys.readouterr().err
    assert "--keypoints names 'defgn', which is not a model of this run" in err
    assert "did you mean 'defgan'?" in err and "Traceback" not in err
    assert main([*argv, "--keypoints", "defgan=k.csv"]) == 0
    assert json.loads(capsys.readouterr().out)["keypoints"] == {"defgan": "k.csv"}


# -- --checkpoint: a clear refusal ---------------------------------------------------------------
def test_checkpoint_for_a_results_folder_is_refused_by_run_and_profile(defgan_market, tmp_path,
                                                                       capsys):
    folder, root = defgan_market
    out = tmp_path / "r"
    assert main(["run", "--dataset", "market", "--data-root", str(root), "--protocol",
                 "patn-strips", "--models", f"warp,folder:defgan={folder}", "--checkpoint",
                 f"defgan={tmp_path / 'w.pt'}", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --checkpoint given for 'defgan', a results folder")
    assert "it has no weights" in err and not out.exists()
    with pytest.raises(BenchError, match="a results folder"):
        RunConfig(models=(f"folder:defgan={folder}",), checkpoints=(("defgan", "x"),)).resolved()

    assert main(["profile", "--models", f"ctat,folder:defgan={folder},panels=3",
                 "--no-timing"]) == 2
    captured = capsys.readouterr()
    assert "a results folder holds images, not a network" in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


# -- compare --models ------------------------------------------------------------------------------
@pytest.fixture
def folder_run(market_folder, tmp_path):
    """A run of ``source`` and ``saved``: a results folder holding source's images of an
    earlier run (so both have identical images), with SSIM, L1 and FID (FID unavailable:
    --offline with an empty hub)."""
    first = tmp_path / "first"
    run(RunConfig(models=("source",), dataset="market", data_root=market_folder,
                  metrics=("l1",), out=first, bootstrap=0, efficiency=False), **QUIET)
    out = tmp_path / "r"
    run(RunConfig(models=("source", f"folder:saved={first / 'images' / 'source'},panels=1"),
                  dataset="market", data_root=market_folder, metrics=("ssim", "l1", "fid"),
                  offline=True, out=out, bootstrap=0, efficiency=False), **QUIET)
    return out


def test_compare_accepts_folder_models_per_pair(folder_run, empty_hub, capsys):
    results = compare_run(folder_run, "saved", "source", resamples=200)
    assert set(results) == {"ssim", "l1"}
    for c in results.values():
        assert c.n == 40 and c.difference == 0 and c.mean_a == c.mean_b
    assert main(["compare", str(folder_run), "--models", "saved,source", "--resamples", "200",
                 "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "saved - source on the same pairs" in text and "difference +0" in text
    # the set-level path found the folder model's saved images; FID is unavailable (no weights)
    assert "fid: unavailable: inception-fid weights" in text

    assert main(["compare", str(folder_run), "--models", "savd,source"]) == 2
    err = capsys.readouterr().err
    assert "compare --models names 'savd', which is not a model of this run" in err
    assert "did you mean 'saved'?" in err and "(its models: source, saved)" in err
    # a results folder's entry stands for its NAME; an entry naming no model of the run is refused
    assert main(["compare", str(folder_run), "--models", "folder:saved=/x,source", "--resamples",
                 "200", "--quiet"]) == 0
    assert "saved - source on the same pairs" in capsys.readouterr().out
    assert main(["compare", str(folder_run), "--models", "folder:other=/x,source"]) == 2
    assert "a results folder is named by its NAME here, and 'other' is none" in (
        capsys.readouterr().err)


def test_compare_of_folder_models_under_patn_strips_says_why_no_set_level(defgan_market, tmp_path,
                                                                         empty_hub, capsys):
    folder, root = defgan_market
    out = tmp_path / "r"
    run(RunConfig(models=(f"folder:a={folder}", f"folder:b={folder}"), dataset="market",
                  data_root=root, protocol="patn-strips", metrics=("l1", "is"), offline=True,
                  limit=20, out=out, bootstrap=0, efficiency=False), **QUIET)
    assert main(["compare", str(out), "--models", "a,b", "--resamples", "100", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "l1: " in text and "difference +0" in text
    assert "is: unavailable: protocol patn-strips scores each model against its own" in text
    job = prepare_set_level(out, "a", "b")
    assert job.unavailable == {"is": next(iter(job.unavailable.values()))}


@pytest.mark.slow
def test_set_level_comparison_of_a_folder_model_with_stand_in_inception(
        market_folder, tmp_path, standin_inception):
    """FID of a results folder holding exactly source's images: the same value, difference 0."""
    first = tmp_path / "first"
    run(RunConfig(models=("source",), dataset="market", data_root=market_folder, limit=12,
                  metrics=("l1",), out=first, bootstrap=0, efficiency=False), **QUIET)
    out = tmp_path / "r"
    weights = (("inception-fid", str(standin_inception)),)
    run(RunConfig(models=("source", f"folder:saved={first / 'images' / 'source'}"),
                  dataset="market", data_root=market_folder, limit=12, metrics=("fid",),
                  weights=weights, offline=True, stats_cache=tmp_path / "stats", out=out,
                  bootstrap=0, efficiency=False), **QUIET)
    result = prepare_set_level(out, "saved", "source", resamples=20).run()
    fid = result.comparisons["fid"]
    recorded = {r.model: r.value for r in read_records(out / "records.jsonl")
                if r.kind == "metric" and r.key == "fid"}
    assert result.n == 12 and fid.difference == 0 and fid.interval == (0, 0)
    assert fid.mean_a == pytest.approx(recorded["saved"], rel=1e-6)
    assert recorded["saved"] == recorded["source"]


# -- report selections: the library function ---------------------------------------------------------
def test_model_selection_against_records(folder_run, tmp_path):
    records = read_records(folder_run / "records.jsonl")
    assert models_of_run(folder_run) == ("source", "saved")  # config.json's order
    (folder_run / "config.json").unlink()
    assert models_of_run(folder_run) == ("source", "saved")  # the records'
    (tmp_path / "nothing").mkdir()
    with pytest.raises(BenchError, match="holds no run: expected config.json"):
        models_of_run(tmp_path / "nothing")
    assert select_models(records, None) == ("source", "saved")
    assert select_models(records, ["saved", "source", "saved"]) == ("saved", "source")
    with pytest.raises(UnknownNameError, match=r"'sved'.*did you mean 'saved'\?"):
        select_models(records, ["sved"])
    with pytest.raises(UnknownNameError, match="'warp', which is not a model of this run"):
        select_models(records, ["warp"])
    # registry aliases name the canonical model; folder names are taken as they are
    assert model_of_run("pata", ("patn", "defgan")) == "patn"
    assert model_of_run("defgan", ("patn", "defgan")) == "defgan"
