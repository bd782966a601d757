"""PCKh: PATN's rules on hand-built cases and on the real annotation files, the estimators
(precomputed CSV, markers, Keypoint R-CNN) and the record."""

from __future__ import annotations

import numpy as np
import pytest

from bench.api import run
from bench.config import RunConfig
from bench.device_batch import BatchSizes
from bench.errors import DataError, WeightsUnavailableError
from bench.metrics.pckh import PCKh, pckh_counts
from bench.metrics.settings import MetricSettings, with_settings
from bench.pose.keypointrcnn import KeypointRCNN, coco17_to_18
from bench.pose.precomputed import PrecomputedKeypoints
from bench.types import Pair, PairBatch


def _kp(points: dict[int, tuple[float, float]]) -> np.ndarray:
    kp = np.full((18, 2), -1.0, np.float32)
    for j, xy in points.items():
        kp[j] = xy
    return kp


def _patn_loop(pred, target, alpha=0.5):
    """calPCKH_market.py's loops, written independently over (x, y) arrays."""
    n_all = n_correct = 0
    for p, t in zip(pred, target, strict=True):
        head = [(t[j][0], t[j][1]) for j in (0, 1, 14, 15, 16, 17) if t[j][0] != -1 and t[j][1] != -1]
        if len(head) < 2:
            continue
        w = max(x for x, _ in head) - min(x for x, _ in head)
        h = max(y for _, y in head) - min(y for _, y in head)
        n_all += sum(1 for j in range(18) if t[j][1] != -1)
        for j in range(18):
            if -1 in (p[j][0], p[j][1], t[j][0], t[j][1]):
                continue
            if abs(p[j][0] - t[j][0]) < w * alpha and abs(p[j][1] - t[j][1]) < h * alpha:
                n_correct += 1
    return n_correct, n_all


def test_hand_built_cases():
    target = _kp({0: (30, 10), 1: (30, 20), 14: (28, 8), 2: (20, 22), 5: (40, 22)})  # w 2, h 12
    # per-axis strict threshold: |dx| < 1 and |dy| < 6
    pred = _kp({0: (30.9, 15.9), 1: (31, 20), 14: (28, 14), 2: (20, 22)})  # 5 missing
    correct, valid, counted = pckh_counts(pred[None], target[None])
    assert counted[0] and valid[0] == 5 and correct[0] == 2  # nose, Rsho; neck dx=1, eye dy=6
    # fewer than two head points: skipped entirely
    lonely = _kp({0: (30, 10), 2: (20, 22), 5: (40, 22)})
    assert not pckh_counts(lonely[None], lonely[None])[2][0]
    # zero-width head box (two head points on one column): kept, nothing can be correct
    flat = _kp({0: (30, 10), 1: (30, 20), 2: (20, 22)})
    c, v, k = pckh_counts(flat[None], flat[None])
    assert k[0] and v[0] == 3 and c[0] == 0
    # a prediction outside the image is just wrong, a missing target joint is not counted
    assert pckh_counts(_kp({})[None], target[None])[:2] == (np.array([0]), np.array([5]))


@pytest.mark.parametrize("which", ["market_rows", "fashion_rows"])
def test_real_annotation_files_match_patn_loops(which, request):
    names, yx = request.getfixturevalue(which)
    target = yx[..., ::-1].astype(np.float64)[:3000]  # (x, y)
    rng = np.random.default_rng(0)
    for noise, drop in ((0.0, 0.0), (2.0, 0.1), (6.0, 0.3)):
        pred = target + rng.normal(0, noise, target.shape) * (target != -1)
        pred[(rng.random(target.shape[:2]) < drop)] = -1
        correct, valid, counted = pckh_counts(pred, target)
        assert (correct.sum(), valid.sum()) == _patn_loop(pred, target)
    gt_c, gt_v, gt_k = pckh_counts(target, target)
    assert 0.5 < gt_c.sum() / gt_v.sum() <= 1  # ground truth scores 1 but in degenerate boxes
    assert gt_k.sum() < len(target)  # rows with fewer than two head points exist and are skipped


def _batch(n=4):
    tgt = np.full((n, 128, 64, 3), 120, np.uint8)
    kp = np.stack([_kp({0: (30, 10 + i), 1: (30 + i, 20), 14: (28, 8), 2: (20, 22)})
                   for i in range(n)])
    pairs = tuple(Pair(f"a{i}.jpg", f"b{i}.jpg", i) for i in range(n))
    return PairBatch(pairs, tgt, tgt, kp, kp)


def test_precomputed_rows_named_as_result_files(tmp_path):
    """Every result-file convention names the pair (a.jpg, b.jpg); other pairs find nothing."""
    names = ["a.jpg___b.jpg_vis.jpg", "a___b.png", "a.jpg___b.jpg", "a.jpg_b.jpg.png", "a_b",
             "a.jpg_2_b.jpg.jpeg", "a___b_vis.png"]
    for i, name in enumerate(names):
        csv = tmp_path / f"{i}.csv"
        csv.write_text(f"name:keypoints_y:keypoints_x\n{name}: {list(range(18))}: "
                       f"{list(range(100, 118))}\n")
        est = PrecomputedKeypoints(csv)
        found = est.lookup(Pair("a.jpg", "b.jpg", 0).key)
        assert found is not None, name
        np.testing.assert_array_equal(found[:, 1], np.arange(18))
        assert est.lookup(Pair("a.jpg", "c.jpg", 0).key) is None
        assert est.lookup(Pair("b.jpg", "a.jpg", 0).key) is None
    bad = tmp_path / "bad.csv"
    bad.write_text(f"name:keypoints_y:keypoints_x\njustone.jpg: {[1] * 18}: {[1] * 18}\n")
    with pytest.raises(DataError, match="row 'justone.jpg' does not name a pair"):
        PrecomputedKeypoints(bad)
    twice = tmp_path / "twice.csv"
    twice.write_text(f"name:keypoints_y:keypoints_x\na___b.png: {[1] * 18}: {[1] * 18}\n"
                     f"a___b.jpg: {[2] * 18}: {[1] * 18}\n")
    with pytest.raises(DataError, match="name the same result file 'a___b'"):
        PrecomputedKeypoints(twice)


def test_precomputed_csv_rows_named_by_pair(tmp_path):
    batch = _batch()
    rows = ["name:keypoints_y:keypoints_x"]
    for i, pair in enumerate(batch.pairs[:3]):
        kp = batch.tgt_kpts[i].copy()
        if i == 1:
            kp[2] = (-1, -1)  # Rsho not found
        name = [f"{pair.src}___{pair.tgt}_vis.jpg", f"a{i}___b{i}.png", pair.key][i]
        rows.append(f"{name}: {[int(v) for v in kp[:, 1]]}: {[int(v) for v in kp[:, 0]]}")
    csv = tmp_path / "pckh.csv"
    csv.write_text("\n".join(rows) + "\n")
    shared = with_settings({}, MetricSettings(keypoints=(("warp", str(csv)),), dataset="market"))
    metric = PCKh(shared, model="warp")
    values = metric.update(batch.tgt_img.copy(), batch)["pckh"]
    assert values[0] == 1.0 and values[1] == pytest.approx(3 / 4) and np.isnan(values[3])
    assert metric.compute()["pckh"] == pytest.approx(11 / 12)
    extra = metric.summary_extra()
    assert extra["estimator"] == "precomputed" and extra["no_prediction"] == 1


def test_keypointrcnn_is_unavailable_without_weights_and_names_the_csv_way(empty_hub):
    shared = with_settings({}, MetricSettings(dataset="market", download=False))
    with pytest.raises(WeightsUnavailableError, match="--keypoints warp=CSV"):
        PCKh(shared, model="warp")


def test_coco17_mapping():
    k17 = np.arange(34, dtype=np.float32).reshape(1, 17, 2)
    present = np.ones((1, 17), bool)
    present[0, 3] = False  # left ear
    k18 = coco17_to_18(k17, present)[0]
    assert tuple(k18[0]) == tuple(k17[0, 0])  # nose
    assert tuple(k18[2]) == tuple(k17[0, 6]) and tuple(k18[5]) == tuple(k17[0, 5])  # R/L sho
    assert tuple(k18[14]) == tuple(k17[0, 2]) and tuple(k18[15]) == tuple(k17[0, 1])  # R/L eye
    assert tuple(k18[16]) == tuple(k17[0, 4]) and tuple(k18[17]) == (-1, -1)  # R ear; L ear lost
    assert tuple(k18[1]) == tuple((k17[0, 5] + k17[0, 6]) / 2)  # neck
    present[0, 6] = False
    assert tuple(coco17_to_18(k17, present)[0, 1]) == (-1, -1)  # no neck without both shoulders


@pytest.mark.slow
def test_keypointrcnn_loads_through_the_weights_path(standin_keypointrcnn):
    settings = MetricSettings(weights=(("keypointrcnn", str(standin_keypointrcnn)),),
                              download=False)
    est = KeypointRCNN.from_settings(settings, BatchSizes("cpu", cap=32))
    assert est.batch_size == 8  # on a CPU: its own default, as before the device probe
    est.net.roi_heads.detections_per_img = 10  # the seeded stand-in detects people everywhere
    images = np.random.default_rng(0).integers(0, 256, (2, 128, 64, 3), dtype=np.uint8)
    out = est.estimate(images)
    assert out.shape == (2, 18, 2) and out.dtype == np.float32
    est.batch_size = 1  # what --network-batch 1 gives: the same keypoints, image by image
    np.testing.assert_allclose(est.estimate(images), out, rtol=0, atol=1e-3)

    seen = []  # the probe's pass keeps every detection (the keypoint head's worst case)
    est._detect = lambda part: seen.append((part.shape, est.net.roi_heads.score_thresh))
    est._most_detections(3, (128, 64))
    assert seen == [((3, 128, 64, 3), 0.0)] and est.net.roi_heads.score_thresh == 0.05


def test_markers_on_the_synthetic_set_rank_oracle_above_source(synthetic_parent, tmp_path):
    config = RunConfig(models=("oracle", "source"), dataset="synthetic",
                       data_root=synthetic_parent, out=tmp_path / "r", metrics=("pckh",),
                       limit=48, bootstrap=200)
    result = run(config, progress=False, echo=lambda s: None)
    recs = {r.model: r for r in result.records if r.kind == "metric"}
    assert recs["oracle"].value > 0.9 > recs["source"].value
    assert recs["oracle"].extra["estimator"] == "markers"
    assert recs["source"].extra["ci_low"] <= recs["source"].value <= recs["source"].extra["ci_high"]
