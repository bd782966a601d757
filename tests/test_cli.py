"""The command line: exit codes, did-you-mean, the missing-data message, list and data check."""

import json
import subprocess
import sys

import pytest

from bench.cli import main


def test_unknown_model_gets_did_you_mean_and_exit_2(capsys):
    assert main(["run", "--models", "oracle,patm"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'patm'; did you mean 'patn'" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv, needle", [
    (["run", "--dataset", "markt"], "unknown dataset 'markt'; did you mean 'market'"),
    (["run", "--metrics", "ssim,msk_ssim"], "did you mean 'mask_ssim'"),
    (["run", "--protocol", "patnn"], "unknown protocol 'patnn'; did you mean 'patn'"),
])
def test_unknown_names_everywhere_exit_2(capsys, argv, needle):
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_market_without_data_prints_layout_and_exits_2(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("BENCH_MARKET_ROOT", raising=False)
    assert main(["run", "--models", "oracle", "--dataset", "market"]) == 2
    err = capsys.readouterr().err
    assert "dataset 'market' (test split) not found" in err
    assert "data/market (default folder" in err
    for needle in ("market-pairs-test.csv", "market-annotation-test.csv", "test/",
                   "header 'name:keypoints_y:keypoints_x'", "how to obtain", "BENCH_MARKET_ROOT"):
        assert needle in err
    assert not (tmp_path / "results").exists()  # nothing started


def test_env_variable_root_is_used_and_reported(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("BENCH_MARKET_ROOT", str(tmp_path / "elsewhere"))
    assert main(["data", "check", "market"]) == 2
    assert "environment variable BENCH_MARKET_ROOT" in capsys.readouterr().err


def test_models_that_cannot_run_refuse_before_work(market_folder, tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["run", "--models", "oracle,ctat", "--dataset", "market",
                 "--data-root", str(market_folder), "--out", str(out), "--quiet"])
    assert code == 2
    assert "ctat: no checkpoint given for market" in capsys.readouterr().err
    assert not (out / "records.jsonl").exists()
    assert main(["run", "--models", "pata", "--dataset", "market",
                 "--data-root", str(market_folder), "--quiet"]) == 2
    assert "patn: no checkpoint given for market" in capsys.readouterr().err


def test_dry_run_prints_resolved_config(capsys):
    assert main(["run", "--models", "pata,source,pata", "--limit", "5", "--dry-run"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["models"] == ["patn", "source"]
    assert config["limit"] == 5 and config["protocol"] == "patn" and "ssim" in config["metrics"]


def test_bad_flag_values_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", "--limit", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit):
        main(["run", "--limit", "3", "--subset", "3"])
    assert "not allowed with argument" in capsys.readouterr().err


def test_list_shows_every_registry(capsys):
    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for needle in ("patn (alias: pata)", "oracle", "warp", "market", "deepfashion", "synthetic",
                   "ssim", "mask_ssim", "patn v1 (default)"):
        assert needle in out


def test_data_check_validates_a_folder(market_folder, capsys):
    assert main(["data", "check", "market", "--data-root", str(market_folder)]) == 0
    out = capsys.readouterr().out
    assert "pairs: 40" in out and "ok: every pair has annotations" in out
    (market_folder / "test" / sorted((market_folder / "test").iterdir())[0].name).write_bytes(b"junk")
    assert main(["data", "check", "market", "--data-root", str(market_folder)]) == 0
    assert "problems: 1 images" in capsys.readouterr().out


def test_python_m_bench_runs_end_to_end(market_folder, tmp_path):
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "bench", "run", "--models", "oracle,source", "--dataset", "market",
         "--data-root", str(market_folder), "--limit", "8", "--out", str(out),
         "--metrics", "ssim,l1"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert "oracle (bound)" in proc.stdout and "ssim ↑" in proc.stdout
    assert (out / "records.jsonl").is_file() and (out / "config.json").is_file()


def test_data_generate_reuses_the_cache_and_refuses_real_datasets(synthetic_parent, capsys):
    assert main(["data", "generate", "synthetic", "--data-root", str(synthetic_parent)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("synthetic: ") and str(synthetic_parent) in out
    assert main(["data", "generate", "market"]) == 2
    assert "'market' is a real dataset and cannot be generated" in capsys.readouterr().err
