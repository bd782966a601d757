"""``bench.load_run``: a real small run as tidy DataFrames (records, per-pair values), the
documented notebook lines, and clear errors on malformed files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bench
from bench.analysis import PAIR_COLUMNS, RECORD_COLUMNS, records_frame
from bench.api import run
from bench.config import RunConfig
from bench.errors import BenchError
from bench.records import read_records

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def small_run(synthetic_parent, tmp_path_factory):
    """oracle, source, warp on 12 synthetic pairs: SSIM, mask-SSIM, L1 with intervals."""
    out = tmp_path_factory.mktemp("analysis") / "run"
    result = run(RunConfig(models=("oracle", "source", "warp"), data_root=synthetic_parent,
                           metrics=("ssim", "mask_ssim", "l1"), limit=12, bootstrap=50,
                           out=out, efficiency=False), progress=False, echo=lambda s: None)
    return out, result


def test_records_one_row_each_with_raw_values_and_intervals(small_run):
    out, result = small_run
    df = bench.load_run(out)
    records = read_records(out / "records.jsonl")
    assert list(df.columns) == list(RECORD_COLUMNS) and len(df) == len(records) == 9
    assert df.equals(bench.load_run(out / "records.jsonl"))
    for row, record in zip(df.itertuples(index=False), records, strict=True):
        assert (row.model, row.key, row.kind, row.n) == (record.model, record.key, record.kind,
                                                         record.n)
        assert row.value == record.value  # raw, never rounded
        assert row.extra == record.extra
        assert (row.ci_low, row.ci_high) == (record.extra["ci_low"], record.extra["ci_high"])
        assert row.ci_low <= row.value <= row.ci_high and row.ci_level == 0.95
    # the README's pivot: models x metrics, the run's values
    table = df[df.kind == "metric"].pivot(index="model", columns="key", values="value")
    assert table.shape == (3, 3)
    for (model, key), value in result.values.items():
        assert table.loc[model, key] == value
    assert df.value.dtype == np.float64 and df.n.dtype == np.int64


def test_per_pair_one_row_per_model_pair_and_key(small_run):
    out, result = small_run
    pairs = bench.load_run(out, per_pair=True)
    assert list(pairs.columns) == list(PAIR_COLUMNS) and len(pairs) == 3 * 12 * 3
    assert list(pairs.model.unique()) == ["oracle", "source", "warp"]  # the run's order
    assert (pairs.run_id == result.run_id).all() and (pairs.error == "").all()
    for model in ("oracle", "source", "warp"):
        written = pd.read_csv(out / "per_pair" / f"{model}.csv", keep_default_na=False)
        for key in ("ssim", "mask_ssim", "l1"):
            rows = pairs[(pairs.model == model) & (pairs.key == key)]
            assert list(rows["from"]) == list(written["from"])
            assert list(rows["index"]) == list(written["index"])
            np.testing.assert_array_equal(rows.value.to_numpy(), written[key].astype(float))
    # per-pair means are the records' values (SSIM, mask-SSIM and L1 are means over pairs)
    means = pairs.groupby(["model", "key"]).value.mean()
    for (model, key), value in result.values.items():
        assert means[(model, key)] == pytest.approx(value, rel=1e-12)


def test_errors_become_nan_values_with_the_reason(market_folder, tmp_path):
    images = sorted((market_folder / "test").iterdir())
    images[0].write_bytes(b"not an image")
    out = tmp_path / "r"
    run(RunConfig(models=("source",), dataset="market", data_root=market_folder,
                  metrics=("ssim",), out=out, bootstrap=0, efficiency=False),
        progress=False, echo=lambda s: None)
    df = bench.load_run(out)
    errors = df[df.kind == "pair_error"]
    assert len(errors) > 0 and errors.value.isna().all() and errors.error.str.len().gt(0).all()
    assert errors.ci_low.isna().all()
    pairs = bench.load_run(out, per_pair=True)
    failed = pairs[pairs.error != ""]
    assert len(failed) == len(errors) and failed.value.isna().all()
    assert pairs[pairs.error == ""].value.notna().all()


def test_import_bench_stays_light():
    code = ("import sys, bench; assert 'pandas' not in sys.modules, 'pandas imported'; "
            "assert 'torch' not in sys.modules; f = bench.load_run; "
            "assert 'pandas' not in sys.modules; print(f.__module__)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "bench.analysis"
    with pytest.raises(AttributeError, match="no attribute 'lode_run'"):
        bench.lode_run  # noqa: B018


def _copy_run(src: Path, dst: Path) -> Path:
    import shutil

    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("images"))
    return dst


def test_malformed_files_name_the_file_and_line(small_run, tmp_path):
    out, _ = small_run
    bad = _copy_run(out, tmp_path / "bad")
    lines = (bad / "records.jsonl").read_text().splitlines()

    (bad / "records.jsonl").write_text("\n".join([*lines[:2], "{not json", *lines[2:]]) + "\n")
    with pytest.raises(BenchError, match=r"records.jsonl:3: not a JSON record"):
        bench.load_run(bad)
    record = json.loads(lines[1])
    record["value"] = "0.5"
    (bad / "records.jsonl").write_text("\n".join([lines[0], json.dumps(record)]) + "\n")
    with pytest.raises(BenchError, match=r"records.jsonl:2: value must be a number or null"):
        bench.load_run(bad)
    del record["model"]
    record["value"] = 0.5
    (bad / "records.jsonl").write_text(json.dumps(record) + "\n")
    with pytest.raises(BenchError, match=r"records.jsonl:1: not a record .*'model'"):
        bench.load_run(bad)
    (bad / "records.jsonl").write_text("\n".join(lines) + "\n")

    table = bad / "per_pair" / "warp.csv"
    rows = table.read_text().splitlines()
    cells = rows[3].split(",")
    cells[3] = "x"
    table.write_text("\n".join([*rows[:3], ",".join(cells), *rows[4:]]) + "\n")
    with pytest.raises(BenchError, match=r"warp.csv:4: ssim 'x' is not a number"):
        bench.load_run(bad, per_pair=True)
    table.write_text("\n".join([*rows[:2], rows[2] + ",extra", *rows[3:]]) + "\n")
    with pytest.raises(BenchError, match=r"warp.csv:3: expected 7 cells .* found 8"):
        bench.load_run(bad, per_pair=True)
    table.write_text("\n".join(["pair,ssim", *rows[1:]]) + "\n")
    with pytest.raises(BenchError, match=r"warp.csv:1: expected the header index,from,to"):
        bench.load_run(bad, per_pair=True)

    with pytest.raises(BenchError, match="expected a run folder with records.jsonl at .*found "
                                         "no such folder"):
        bench.load_run(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(BenchError, match="found an empty folder"):
        bench.load_run(tmp_path / "empty")


def test_records_frame_of_records_in_memory(small_run):
    out, result = small_run
    frame = records_frame(result.records)
    assert frame.equals(bench.load_run(out))
    assert records_frame([]).columns.tolist() == list(RECORD_COLUMNS)


def test_the_report_table_is_a_projection_of_the_frame(small_run, tmp_path):
    """Every value of the report's table is the frame's value of that model and key, raw."""
    import csv

    from bench.report.build import ReportConfig, build_report

    out, _ = small_run
    build_report([out], tmp_path / "rep", ReportConfig(formats=("csv",), plots=None, grid=None,
                                                       html=False))
    df = bench.load_run(out)
    frame = df[df.kind == "metric"].pivot(index="model", columns="key", values="value")
    with (tmp_path / "rep" / "table.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted(r["model"] for r in rows) == sorted(frame.index)
    keys = [k for k in frame.columns]
    assert keys and all(k in rows[0] for k in keys)
    for row in rows:
        for key in keys:
            assert float(row[key]) == frame.loc[row["model"], key]
