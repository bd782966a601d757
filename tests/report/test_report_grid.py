"""The qualitative grid on the published Def-GAN samples (a patn-strips run: source and ground
truth from the strips), the synthetic set (dataset images), and the pair selections."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from report_helpers import PUBLISHED, published_run, shared_data_reason

from bench.keypoints import MASK_LIMBS
from bench.report.build import ReportConfig, build_report
from bench.report.grid import (
    GridPair,
    GridSelection,
    compose_grid,
    disagreement,
    pose_change,
    save_grid,
    select_pairs,
)
from bench.report.grid_sources import RunGridSource, grid_unavailable_reason
from bench.report.runs import ReportError
from bench.report.skeleton import draw_skeleton
from bench.types import Pair

needs_samples = pytest.mark.skipif(shared_data_reason() is not None,
                                   reason=str(shared_data_reason()))


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    if shared_data_reason() is not None:
        pytest.skip(shared_data_reason())
    return published_run(tmp_path_factory.mktemp("published"))


def _strip(path):
    with Image.open(path) as img:
        arr = np.asarray(img.convert("RGB"))
    w = arr.shape[1] // 3
    return arr[:, :w], arr[:, w:2 * w], arr[:, 2 * w:]


def test_skeleton_draws_limbs_of_present_joints_only():
    kpts = np.full((18, 2), -1.0)
    kpts[1] = (32, 30)  # neck
    kpts[2] = (20, 32)  # right shoulder
    img = draw_skeleton(kpts, (128, 64))
    assert img.shape == (128, 64, 3) and img.dtype == np.uint8
    lit = img.max(axis=-1) > 60
    assert lit[31, 25] and lit[30, 32] and lit[32, 20]  # along the limb and at both joints
    assert not lit[100:].any() and not lit[:, 45:].any()  # nothing else
    assert (1, 2) in MASK_LIMBS
    assert not draw_skeleton(np.full((18, 2), -1.0), (128, 64)).any()
    with pytest.raises(ValueError, match=r"shape \(18, 2\)"):
        draw_skeleton(np.zeros((17, 2)), (128, 64))


def test_pose_change_and_disagreement_scores():
    a = np.full((18, 2), -1.0)
    b = a.copy()
    a[:3] = [(0, 0), (10, 0), (0, 10)]
    b[:3] = [(3, 4), (13, 4), (50, 50)]
    b[2] = -1
    assert pose_change(a, b, height=10) == pytest.approx(0.5)  # 5 px over 2 shared joints
    assert pose_change(a, a[::-1] * 0 - 1, height=10) == -1.0
    x = np.zeros((4, 4, 3), np.uint8)
    assert disagreement([x, x + 10, None]) == pytest.approx(10.0)
    assert disagreement([x, None]) == -1.0


def test_compose_grid_places_every_panel_exactly(tmp_path):
    rng = np.random.default_rng(0)
    rows = [GridPair(pair=Pair(f"s{i}.jpg", f"t{i}.jpg", i),
                     source=rng.integers(0, 255, (128, 64, 3), dtype=np.uint8),
                     target_kpts=np.full((18, 2), -1.0),
                     target=rng.integers(0, 255, (128, 64, 3), dtype=np.uint8),
                     generated={"a": rng.integers(0, 255, (128, 64, 3), dtype=np.uint8),
                                "b": None}) for i in range(3)]
    grid = compose_grid(rows, ["a", "b"])
    assert grid.columns == ("source", "target pose", "ground truth", "a", "b")
    assert grid.pixels.shape == (grid.header + 3 * 128 + 2 * 2, 5 * 64 + 4 * 2, 3)
    for r, row in enumerate(rows):
        for c, panel in ((0, row.source), (2, row.target), (3, row.generated["a"])):
            y0, x0, y1, x1 = grid.boxes[(r, c)]
            assert np.array_equal(grid.pixels[y0:y1, x0:x1], panel)
        y0, x0, y1, x1 = grid.boxes[(r, 4)]  # a missing image: a crossed grey panel
        assert grid.pixels[y0 + 64, x0 + 5, 0] == 200
    png, pdf = save_grid(grid, tmp_path)
    with Image.open(png) as img:
        assert np.array_equal(np.asarray(img), grid.pixels)
    assert pdf.read_bytes()[:5] == b"%PDF-"


@needs_samples
def test_grid_from_the_published_samples(published, tmp_path):
    source = RunGridSource(published)
    assert source.models == ["defgan", "copy"] and len(source.pairs) == 100
    chosen = select_pairs(source, GridSelection(method="index", indices=(0, 42)))
    grid = compose_grid([source.load(p) for p in chosen], source.models)
    assert grid.pixels.shape[:2] == (grid.header + 2 * 128 + 2, 5 * 64 + 4 * 2)
    for r, pair in enumerate(chosen):
        src, tgt, gen = _strip(PUBLISHED / "deform-market" / f"{pair.src}_{pair.tgt}.png")
        panels = {0: src, 2: tgt, 3: gen, 4: src}  # copy = the source panel
        for c, expected in panels.items():
            y0, x0, y1, x1 = grid.boxes[(r, c)]
            assert np.array_equal(grid.pixels[y0:y1, x0:x1], expected), (r, c)
        y0, x0, y1, x1 = grid.boxes[(r, 1)]  # the skeleton: coloured limbs on black
        skel = grid.pixels[y0:y1, x0:x1]
        assert 0.03 < (skel.max(axis=-1) > 60).mean() < 0.5


@needs_samples
def test_selections_on_the_published_samples(published):
    source = RunGridSource(published)
    pose = select_pairs(source, GridSelection(method="pose", count=5))
    scores = {p.index: pose_change(*source.keypoints(p), 128) for p in source.pairs}
    assert [p.index for p in pose] == sorted(scores, key=lambda i: (-scores[i], i))[:5]
    random = select_pairs(source, GridSelection(method="random", count=5, seed=3))
    assert random == select_pairs(source, GridSelection(method="random", count=5, seed=3))
    assert random != select_pairs(source, GridSelection(method="random", count=5, seed=4))
    worst = select_pairs(source, GridSelection(method="disagreement", count=3))
    spread = {p.index: disagreement([source.generated(p, m) for m in source.models])
              for p in source.pairs}
    assert [p.index for p in worst] == sorted(spread, key=lambda i: (-spread[i], i))[:3]
    with pytest.raises(ReportError, match="not in the run"):
        select_pairs(source, GridSelection(method="index", indices=(100,)))


@needs_samples
def test_report_grid_files(published, tmp_path):
    result = build_report([published], tmp_path / "rep",
                          ReportConfig(formats=("md",), plots=None,
                                       grid=GridSelection(method="pose", count=4)))
    png = tmp_path / "rep" / "grid.png"
    assert png in result.files and (tmp_path / "rep" / "grid.pdf").is_file()
    with Image.open(png) as img:
        assert img.size == (5 * 64 + 4 * 2, 14 + 4 * 128 + 3 * 2)
    assert any(n.startswith("qualitative grid: 4 pairs") for n in result.notes)


def test_a_run_without_images_gets_a_note(tmp_path):
    from report_helpers import FIXTURE_RUN

    assert "holds no generated images" in grid_unavailable_reason(FIXTURE_RUN)
    result = build_report([FIXTURE_RUN], tmp_path / "rep", ReportConfig(formats=("md",),
                                                                        plots=None))
    assert any("holds no generated images" in n for n in result.notes)


def test_grid_from_a_synthetic_run_reads_the_dataset_images(tmp_path):
    from bench.api import run
    from bench.config import RunConfig

    out = tmp_path / "run"
    run(RunConfig(models=("oracle", "warp"), limit=6, metrics=("ssim",), bootstrap=0, out=out),
        progress=False, echo=lambda s: None)
    source = RunGridSource(out)
    chosen = select_pairs(source, GridSelection(method="disagreement", count=2))
    rows = [source.load(p) for p in chosen]
    grid = compose_grid(rows, source.models)
    for r, row in enumerate(rows):
        # the oracle returns the ground truth: its panel equals the dataset's target image
        y0, x0, y1, x1 = grid.boxes[(r, 2)]
        assert row.target is not None
        assert np.array_equal(grid.pixels[y0:y1, x0:x1], row.target)
        assert np.array_equal(row.generated["oracle"], row.target)
