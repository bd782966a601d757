"""The console summary renders records only: bounds, arrows, errors, incompleteness."""

from bench.records import Record
from bench.report.console import summary_table

BASE = dict(run_id="r", dataset="synthetic", split="test", pairs_sha256="ab" * 32,
            protocol="patn", protocol_version="1")


def _metric(model, key, value, **kw):
    return Record(**BASE, kind="metric", model=model, n=10, metric=key, key=key, value=value,
                  higher_is_better=key != "l1", extra={"precision": 3}, **kw)


def test_summary_marks_bounds_arrows_errors_and_model_failures():
    records = [
        _metric("oracle", "ssim", 1.0, reference_bound=True),
        _metric("warp", "ssim", 0.57612),
        _metric("warp", "l1", 0.3259),
        Record(**BASE, kind="pair_error", model="warp", n=0, key="a___b", error="load: bad"),
        Record(**BASE, kind="model_error", model="warp", n=0, metric="psnr",
               error="psnr: ValueError: boom"),
        _metric("source", "ssim", 0.3, error="interrupted: 5 of 10 pairs evaluated"),
    ]
    text = summary_table(records)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "ssim", "↑", "l1", "↓", "pairs", "errors"]
    assert lines[2].split() == ["oracle", "(bound)", "1.000", "n/a", "10", "0"]
    assert lines[3].split() == ["warp", "0.576", "0.326", "10", "1"]
    assert lines[4].split()[:2] == ["source", "0.300*"]
    assert "! warp: psnr: ValueError: boom" in text
    assert "* incomplete: interrupted: 5 of 10 pairs evaluated" in text
    assert "protocol patn v1; dataset synthetic (test)" in text
