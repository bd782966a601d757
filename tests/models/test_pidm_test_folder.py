"""PIDM's own test folder as the ground truth under ``--protocol pidm``: the dataset images
stored as ``deep{stem}.png`` (the files PIDM's ``utils/metrics.py`` compared with) give the same
values as the CSV-named folder, the records say which files were read, a missing image names
both expected files, and the other protocols do not accept those names."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from script_samples import QUIET, build, read, values

from bench.api import check_dataset, run
from bench.config import RunConfig
from bench.errors import DataError
from bench.records import KIND_PAIR_ERROR

METRICS = ("ssim_box51", "ssim_256", "psnr_script", "l1_script", "mae_script", "lpips_script")


def as_pidm_folder(data: Path, keep: str | None = None) -> dict[str, str]:
    """Rename the test images to PIDM's ``deep{stem}.png`` (all but ``keep``): name -> file."""
    renamed = {}
    for path in sorted((data / "test").iterdir()):
        if path.name != keep:
            renamed[path.name] = "deep" + path.stem + ".png"
            path.rename(path.with_name(renamed[path.name]))
    return renamed


def pidm_run(data, res, out, alexnet, protocol="pidm"):
    return run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion", data_root=data,
                         protocol=protocol, metrics=METRICS, bootstrap=0, offline=True,
                         weights=(("alexnet", str(alexnet)),), out=out), **QUIET)


def test_deep_named_test_folder_gives_the_values_of_the_csv_named_one(shared_data, tmp_path,
                                                                       standin_alexnet):
    data, res, _, files = build(shared_data, tmp_path / "build", 10, 256, ".png")
    pidm_data = tmp_path / "pidm"
    shutil.copytree(data, pidm_data)
    kept = files[0][0]  # one image left under its CSV name: both names work in one folder
    renamed = as_pidm_folder(pidm_data, keep=kept)
    assert renamed and not any((pidm_data / "test" / n).exists() for n in renamed)

    plain = values(pidm_run(data, res, tmp_path / "plain", standin_alexnet))
    lines = []
    result = run(RunConfig(models=(f"folder:m={res}",), dataset="deepfashion",
                           data_root=pidm_data, protocol="pidm", metrics=METRICS, bootstrap=0,
                           offline=True, weights=(("alexnet", str(standin_alexnet)),),
                           out=tmp_path / "deep"), progress=False, echo=lines.append)
    deep = values(result)
    assert not [r for r in result.records if r.kind == KIND_PAIR_ERROR]
    for key in METRICS:
        assert deep[key].n == plain[key].n == 10, key
        assert deep[key].value == plain[key].value, key
        assert plain[key].extra["ground_truth"] == "dataset images"
        said = deep[key].extra["ground_truth"]
        assert f"{len(renamed)} images read from pidm's deep{{stem}}.png files" in said
        assert "utils/metrics.py @ e4f1d88" in said
    assert any("deep{stem}.png" in line for line in lines if "note:" in line)


def test_an_image_under_neither_name_is_a_pair_error_naming_both_files(shared_data, tmp_path,
                                                                       standin_alexnet):
    data, res, _, files = build(shared_data, tmp_path / "build", 6, 256, ".png")
    renamed = as_pidm_folder(data)
    gone = files[2][0]  # the target of the third pair
    (data / "test" / renamed[gone]).unlink()
    result = pidm_run(data, res, tmp_path / "run", standin_alexnet)
    errors = [r for r in result.records if r.kind == KIND_PAIR_ERROR]
    assert errors and all(r.extra["to"] == gone or r.extra["from"] == gone for r in errors)
    message = errors[0].error
    assert str(data / "test" / gone) in message and str(data / "test" / renamed[gone]) in message
    assert "deep{stem}.png" in message
    assert values(result)["ssim_box51"].n == 6 - len(errors)


def test_no_image_under_either_name_is_refused_naming_both(shared_data, tmp_path,
                                                            standin_alexnet):
    data, res, _, files = build(shared_data, tmp_path / "build", 4, 256, ".png")
    for path in (data / "test").iterdir():
        path.rename(path.with_name("other_" + path.name))
    with pytest.raises(DataError) as err:
        pidm_run(data, res, tmp_path / "run", standin_alexnet)
    first = min(n.split(",")[i] for n in (data / "fashion-pairs-test.csv").read_text()
                .split()[1:] for i in (0, 1))
    assert f"(e.g. {first} or deep{Path(first).stem}.png)" in str(err.value)
    assert "none of the" in str(err.value) and len(files) == 4


def test_other_protocols_do_not_read_deep_names(shared_data, tmp_path, standin_alexnet):
    data, res, _, _ = build(shared_data, tmp_path / "build", 4, 256, ".png")
    as_pidm_folder(data)
    with pytest.raises(DataError, match="none of the") as err:
        pidm_run(data, res, tmp_path / "run", standin_alexnet, protocol="gfla")
    assert " or deep" not in str(err.value)


def test_data_check_accepts_pidm_names_with_the_protocol(shared_data, tmp_path):
    data, _, _, _ = build(shared_data, tmp_path / "build", 5, 256, ".png")
    renamed = as_pidm_folder(data)
    split, lines = check_dataset("deepfashion", data, protocol="pidm")
    text = "\n".join(lines)
    assert "ok: every pair has annotations and readable images" in text
    assert f"{len(renamed)} images read from pidm's deep{{stem}}.png files" in text
    assert split.image_path(next(iter(renamed))).name == renamed[next(iter(renamed))]
    with pytest.raises(DataError, match="none of the"):
        check_dataset("deepfashion", data)


@pytest.mark.slow  # Inception on three image sets
def test_compare_reads_the_deep_named_folder_of_a_pidm_run(shared_data, tmp_path,
                                                           standin_tv_inception):
    """``bench compare`` re-reads the run's dataset: under pidm through the same names."""
    from bench.compare import prepare_set_level

    data, res, train, files = build(shared_data, tmp_path / "build", 4, 256, ".png", n_train=4)
    as_pidm_folder(data)
    other = tmp_path / "other"
    shutil.copytree(res, other)
    for _, f in files:  # a second "method": the first one's results, darkened
        img = read(other / f.name)
        Image.fromarray((img // 2).astype(np.uint8)).save(other / f.name, "PNG")
    out = tmp_path / "run"
    r = run(RunConfig(models=(f"folder:a={res}", f"folder:b={other}"), dataset="deepfashion",
                      data_root=data, protocol="pidm", metrics=("fid_tv",), bootstrap=0,
                      train_folder=train, stats_cache=tmp_path / "cache", offline=True,
                      weights=(("inception-torchvision", str(standin_tv_inception)),),
                      out=out), **QUIET)
    assert {rec.model for rec in r.records if rec.key == "fid_tv" and rec.value} == {"a", "b"}
    job = prepare_set_level(out, "a", "b", offline=True, resamples=10)
    # the deep-named files are the ground truth compare re-reads; that its recomputed fid_tv
    # equals the run's is tested under gfla (test_compare_two_results_folders_on_fid_tv)
    assert job.split.renamed == 8 and len(job.pairs) == 4
    assert all(job.split.image_path(p.tgt).name.startswith("deep") for p in job.pairs)
