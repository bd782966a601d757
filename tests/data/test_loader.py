"""The batch loader decodes what the run's consumers use, and nothing else."""

from __future__ import annotations

import numpy as np
import pytest

import bench.data.loader as loader
from bench.api import run
from bench.config import RunConfig
from bench.data import load_split, locate
from bench.data.loader import iter_batches, read_image


def _decoded(monkeypatch) -> list[str]:
    seen: list[str] = []

    def counting(path, size):
        seen.append(path.name)
        return read_image(path, size)

    monkeypatch.setattr(loader, "read_image", counting)
    return seen


def test_sources_false_decodes_the_targets_only(market_folder, monkeypatch):
    split = load_split(locate("market", market_folder))
    pairs = split.pairs[:10]
    seen = _decoded(monkeypatch)
    full = [b for b, _ in iter_batches(split, pairs, batch_size=4)]
    assert len(seen) == 20
    seen.clear()
    lean = [b for b, _ in iter_batches(split, pairs, batch_size=4, sources=False)]
    assert sorted(seen) == sorted(p.tgt for p in pairs)
    for a, b in zip(full, lean, strict=True):
        assert b.src_img is None and a.src_img is not None
        np.testing.assert_array_equal(a.tgt_img, b.tgt_img)
        np.testing.assert_array_equal(a.src_kpts, b.src_kpts)


@pytest.mark.parametrize(("models", "decoded"), [(("results",), 10), (("results", "source"), 20)])
def test_a_run_decodes_sources_only_for_models_that_generate(
        market_folder, tmp_path, monkeypatch, models, decoded):
    split = load_split(locate("market", market_folder))
    folder = tmp_path / "results"
    folder.mkdir()
    for pair in split.pairs[:10]:  # the source image as the result (Def-GAN naming)
        (folder / f"{pair.src}_{pair.tgt}.png").write_bytes(split.image_path(pair.src).read_bytes())
    entries = tuple(f"folder:res={folder}" if m == "results" else m for m in models)
    seen = _decoded(monkeypatch)
    result = run(RunConfig(models=entries, dataset="market", data_root=market_folder, limit=10,
                           metrics=("ssim", "l1"), bootstrap=0, efficiency=False,
                           save_images=False, out=tmp_path / "r"),
                 progress=False, echo=lambda s: None)
    assert len(seen) == decoded
    assert not result.errors() and result.values[("res", "ssim")] < 1
    if "source" in models:  # the folder holds the source images: the same scores
        assert result.values[("res", "ssim")] == result.values[("source", "ssim")]
