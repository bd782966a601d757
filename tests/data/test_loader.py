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


def test_prefetch_runs_on_each_batch_in_the_loading_thread(market_folder):
    import threading

    split = load_split(locate("market", market_folder))
    seen = []

    def prefetch(batch):
        seen.append((threading.current_thread() is threading.main_thread(), len(batch)))
        if len(seen) == 2:
            raise ValueError("a warm-up failing is not the loader's business")

    batches = [b for b, _ in iter_batches(split, split.pairs[:10], batch_size=4,
                                          prefetch=prefetch)]
    assert [len(b) for b in batches] == [4, 4, 2]
    assert seen == [(False, 4), (False, 4), (False, 2)]


def test_a_run_draws_the_pose_masks_while_loading(market_folder, tmp_path, monkeypatch):
    """mask_ssim's masks are drawn by the loader's thread, ahead of scoring: the scoring
    thread finds them in the cache. Values are those of a run without the prefetch."""
    import threading

    import bench.evaluation as evaluation
    import bench.metrics.masks as masks

    drawn = []
    draw = masks._draw

    def counting(kpts, *args):
        if threading.current_thread().name != "warm-up":  # the run's kernel warm-up: 1 mask
            drawn.append((threading.current_thread() is threading.main_thread(), len(kpts)))
        return draw(kpts, *args)

    monkeypatch.setattr(masks, "_draw", counting)

    def go(name):
        masks.clear_mask_cache()
        return run(RunConfig(models=("warp",), dataset="market", data_root=market_folder,
                             limit=12, batch_size=4, metrics=("mask_ssim",), bootstrap=0,
                             efficiency=False, save_images=False, out=tmp_path / name),
                   progress=False, echo=lambda s: None)

    ahead = go("ahead")
    assert drawn and not any(main for main, _ in drawn)
    assert sum(n for _, n in drawn) == 12
    drawn.clear()
    monkeypatch.setattr(evaluation.UnitEvaluator, "prefetch_hook", lambda self: None)
    plain = go("plain")
    assert all(main for main, _ in drawn) and sum(n for _, n in drawn) == 12
    assert ahead.values[("warp", "mask_ssim")] == plain.values[("warp", "mask_ssim")]


def test_no_prefetch_where_the_protocol_pads_the_batch():
    """Padding protocols hand the metrics shifted keypoints in a wider frame: what the loader
    drew would never be asked for, so nothing is drawn ahead there."""
    from types import SimpleNamespace

    from bench.evaluation import UnitEvaluator
    from bench.metrics.ssim import SSIM, MaskSSIM
    from bench.protocols import PROTOCOLS

    for protocol, size, padded, hooked in (("patn", (256, 176), 256, False),
                                            ("modern", (256, 176), 256, True),
                                            ("patn", (128, 64), None, True)):
        files = SimpleNamespace(size=size, spec=SimpleNamespace(padded_width=padded))
        for metrics, expected in (([SSIM(), MaskSSIM()], hooked), ([SSIM()], False)):
            ctx = SimpleNamespace(split=SimpleNamespace(files=files),
                                  protocol=PROTOCOLS.get(protocol),
                                  models=[SimpleNamespace(metrics=metrics)])
            hook = UnitEvaluator(ctx).prefetch_hook()
            assert (hook is not None) == expected, (protocol, size, len(metrics))


def test_group_batches_cut_each_list_on_its_own(market_folder):
    from bench.data.loader import iter_group_batches

    split = load_split(locate("market", market_folder))
    groups = [split.pairs[:10], split.pairs[10:16]]
    got = list(iter_group_batches(split, groups, batch_size=4, sources=False))
    assert [(k, len(b)) for k, b, _ in got] == [(0, 4), (0, 4), (0, 2), (1, 4), (1, 2)]
    alone = [b for g in groups for b, _ in iter_batches(split, g, batch_size=4, sources=False)]
    for (_, a, _), b in zip(got, alone, strict=True):
        assert a.pairs == b.pairs
        np.testing.assert_array_equal(a.tgt_img, b.tgt_img)


def _unit_run(market_folder, out, **extra):
    return run(RunConfig(models=("warp",), dataset="market", data_root=market_folder, limit=24,
                         batch_size=4, unit_size=8, metrics=("ssim", "l1"), bootstrap=0,
                         efficiency=False, save_images=False, out=out, **extra),
               progress=False, echo=lambda s: None)


def test_the_next_unit_is_loaded_while_this_one_is_scored(market_folder, tmp_path, monkeypatch):
    """A run's units are one stream for the loader: the first batch of unit k+1 is decoded
    before unit k's last batch is scored. Values and per-pair rows are those of units loaded
    one at a time."""
    import bench.evaluation as evaluation

    events = []
    load, finish = loader._load_batch, evaluation.UnitEvaluator.finish

    def loading(split, pairs, *args):
        events.append(("load", pairs[0].index))
        return load(split, pairs, *args)

    def scoring(self, batch, *args):
        events.append(("score", batch.pairs[0].index))
        return finish(self, batch, *args)

    monkeypatch.setattr(loader, "_load_batch", loading)
    monkeypatch.setattr(evaluation.UnitEvaluator, "finish", scoring)
    streamed = _unit_run(market_folder, tmp_path / "stream")
    for next_unit_first, last_batch in ((8, 4), (16, 12)):
        assert events.index(("load", next_unit_first)) < events.index(("score", last_batch))
    events.clear()
    monkeypatch.setattr(evaluation.UnitEvaluator, "expect", lambda self, units: None)
    alone = _unit_run(market_folder, tmp_path / "alone")
    for next_unit_first, last_batch in ((8, 4), (16, 12)):  # unit by unit: after the last
        assert events.index(("load", next_unit_first)) > events.index(("score", last_batch))
    assert streamed.values == alone.values
    for name in ("per_pair/warp.csv",):
        assert ((tmp_path / "stream" / name).read_text()
                == (tmp_path / "alone" / name).read_text())


def test_units_asked_out_of_order_load_on_their_own(market_folder, tmp_path):
    """The evaluator told to expect units 0, 1, 2 and asked for 2 first (then 0, after a unit
    that stopped half-way) loads each asked unit's own pairs."""
    from bench.api import prepare
    from bench.evaluation import UnitEvaluator
    from bench.outputs import RunOutputs

    config = RunConfig(models=("warp",), dataset="market", data_root=market_folder, limit=24,
                       batch_size=4, unit_size=8, metrics=("l1",), bootstrap=0,
                       efficiency=False, save_images=False).resolved()
    ctx = prepare(config, "cpu", echo=lambda s: None, progress=False)
    ctx.outputs = RunOutputs(tmp_path, config.models, save_images=False)
    units = ctx.plan.units()
    evaluator = UnitEvaluator(ctx)
    expected = {u.index: evaluator.evaluate(u).models[0] for u in units}
    evaluator.expect(units)
    _same(evaluator.evaluate(units[2]).models[0], expected[2])
    evaluator.expect(units)
    _same(evaluator.evaluate(units[0]).models[0], expected[0])
    evaluator.close()
    evaluator.expect(units)
    calls = []
    finish = evaluator.finish

    def stop_half_way(*args):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return finish(*args)

    evaluator.finish = stop_half_way
    with pytest.raises(KeyboardInterrupt):
        evaluator.evaluate(units[0])
    evaluator.finish = finish
    _same(evaluator.evaluate(units[1]).models[0], expected[1])
    evaluator.close()


def _same(got, expected) -> None:
    """Two evaluations of a unit by one model: the same rows, values and metric states."""
    assert got.rows == expected.rows and len(got.rows) == 8
    np.testing.assert_array_equal(got.values, expected.values)
    assert got.states.keys() == expected.states.keys()
    for metric, state in got.states.items():
        assert state.keys() == expected.states[metric].keys()
        for key, value in state.items():
            np.testing.assert_array_equal(value, expected.states[metric][key])


def test_warm_up_loads_the_kernels_before_the_first_batch():
    """What a run's warm-up thread calls while it prepares: afterwards the compiled SSIM
    kernel, the mask drawing and the PNG row filters are loaded (a fresh process)."""
    import subprocess
    import sys

    code = """
from bench.data.decode import warm_up
from bench.data.png import unfilter
from bench.metrics.mask_kernel import draw
from bench.metrics.ssim import MaskSSIM
from bench.metrics.ssim_kernel import mean_ssim_pairs
assert not (mean_ssim_pairs.signatures or draw.signatures or unfilter.signatures)
MaskSSIM.warm_up()
warm_up()
assert mean_ssim_pairs.signatures and draw.signatures and unfilter.signatures
"""
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
