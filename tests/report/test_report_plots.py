"""Plots from records: the fixture run (efficiency, sweep, intervals) and a run on the published
Def-GAN samples (quality only: the efficiency plots are skipped with a note, not an error)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from report_helpers import FIXTURE_RUN, published_run, shared_data_reason

from bench.report.build import ReportConfig, build_report
from bench.report.plots import PALETTE, PlotOptions, Skip, _pareto, save_plots
from bench.report.runs import load_run


def _rgb(hex_colour: str) -> np.ndarray:
    return np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])


def _pixels_of(png, hex_colour: str, tol: int = 6) -> int:
    with Image.open(png) as img:
        arr = np.asarray(img.convert("RGB")).astype(int)
    return int((np.abs(arr - _rgb(hex_colour)).max(axis=-1) <= tol).sum())


def test_palette_is_okabe_ito():
    assert PALETTE[:3] == ("#0072B2", "#E69F00", "#009E73")


def test_pareto_front():
    pts = [(1, 0.5), (2, 0.4), (3, 0.7), (4, 0.6), (5, 0.9)]
    assert _pareto(pts, higher=True) == [(1, 0.5), (3, 0.7), (5, 0.9)]
    assert _pareto(pts, higher=False) == [(1, 0.5), (2, 0.4)]


def test_fixture_plots_have_size_and_content(tmp_path):
    records = load_run(FIXTURE_RUN).records
    written, notes = save_plots(records, tmp_path, PlotOptions(dpi=100))
    names = sorted(p.name for p in written)
    assert names == sorted(f"{stem}.{ext}" for ext in ("png", "pdf") for stem in (
        "quality_vs_latency_cuda", "quality_vs_latency_cpu", "quality_vs_params",
        "metric_bars", "latency_vs_batch"))
    assert notes == []
    for path in written:
        if path.suffix == ".pdf":
            assert path.read_bytes()[:5] == b"%PDF-" and path.stat().st_size > 5000
            continue
        with Image.open(path) as img:
            w, h = img.size
        assert w >= 450 and h >= 300, (path.name, w, h)
    # one colour per model in model order: ctat blue, warp orange, patn green (the bounds'
    # bars are translucent and hatched)
    bars = tmp_path / "metric_bars.png"
    for colour in PALETTE[:3]:
        assert _pixels_of(bars, colour) > 200, colour
    # the frontier plots show ctat (filled) and patn (hollow): both colours present; warp has no
    # latency (training-free), so its orange is absent; the bounds are dashed lines
    frontier = tmp_path / "quality_vs_params.png"
    assert _pixels_of(frontier, PALETTE[0]) > 50 and _pixels_of(frontier, PALETTE[2]) > 10
    assert _pixels_of(frontier, PALETTE[1]) == 0
    sweep = tmp_path / "latency_vs_batch.png"
    assert _pixels_of(sweep, PALETTE[0]) > 100 and _pixels_of(sweep, PALETTE[2]) > 100


def test_missing_data_is_a_skip_not_an_error(tmp_path):
    from bench.report.plots import latency_vs_batch, quality_vs_latency

    quality_only = [r for r in load_run(FIXTURE_RUN).records if r.kind != "efficiency"]
    assert isinstance(quality_vs_latency(quality_only, PlotOptions())["quality_vs_latency"], Skip)
    skip = latency_vs_batch(quality_only, PlotOptions())["latency_vs_batch"]
    assert "no latency sweep records" in skip.reason
    written, notes = save_plots(quality_only, tmp_path, PlotOptions(dpi=60))
    assert [p.name for p in written] == ["metric_bars.png", "metric_bars.pdf"]
    assert len(notes) == 3


@pytest.mark.skipif(shared_data_reason() is not None, reason=str(shared_data_reason()))
def test_plots_of_a_run_on_the_published_samples(tmp_path):
    run = published_run(tmp_path)
    result = build_report([run], tmp_path / "rep", ReportConfig(formats=("md",)))
    bars = tmp_path / "rep" / "plots" / "metric_bars.png"
    assert bars in result.files and (tmp_path / "rep" / "plots" / "metric_bars.pdf").is_file()
    with Image.open(bars) as img:
        w, h = img.size
    assert w > 800 and h > 500
    # defgan's bars (blue) are taller than copy's (orange) on SSIM, Mask-SSIM and PSNR, lower
    # on L1: both colours cover a substantial area
    assert _pixels_of(bars, PALETTE[0]) > 2000 and _pixels_of(bars, PALETTE[1]) > 2000
    assert any("quality vs latency" in n for n in result.notes)
    assert any("latency vs batch size" in n for n in result.notes)
