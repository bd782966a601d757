"""IS, mask-IS, FID and KID through the stand-in Inception, loaded the way users load the real
one: one pass per image set, streaming = one shot, masks, cached real statistics."""

from __future__ import annotations

import numpy as np
import pytest

from bench.api import run
from bench.config import RunConfig
from bench.errors import MetricUnavailableError
from bench.metrics.fidelity import FID, KID, InceptionScore, MaskInceptionScore, inception_score
from bench.metrics.inception import shared_inception
from bench.metrics.masks import pose_masks
from bench.metrics.settings import MetricSettings, with_settings
from bench.types import Pair, PairBatch


def _batch(n=4, size=(64, 32), seed=0, names=None):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size[0], 0:size[1]]
    tgt = np.stack([np.clip(rng.integers(40, 200, 3) + 40 * np.sin(xx / (2 + i) + yy / (3 + i))[..., None],
                            0, 255) for i in range(n)]).astype(np.uint8)
    fake = np.clip(tgt.astype(int) + rng.integers(-50, 50, tgt.shape), 0, 255).astype(np.uint8)
    kp = np.full((n, 18, 2), -1, np.float32)
    kp[:, 1] = (16, 14)
    kp[:, 2] = (10, 16)
    kp[:, 8] = (12, 40)
    kp[:, 0] = (16, 8)
    names = names or [f"t{i}.jpg" for i in range(n)]
    pairs = tuple(Pair(f"s{i}.jpg", names[i], i) for i in range(n))
    return fake, PairBatch(pairs, tgt.copy(), tgt, kp, kp)


@pytest.fixture
def shared(standin_inception, tmp_path):
    return with_settings({}, MetricSettings(
        weights=(("inception-fid", str(standin_inception)),), download=False,
        stats_cache=tmp_path / "cache", is_splits=2, kid_subset_size=3, kid_subsets=5,
        batch_size=3))


def _count_passes(shared):
    net = shared_inception(shared)
    calls = []
    original = net.net.forward

    def counting(x):
        calls.append(len(x))
        return original(x)

    net.net.forward = counting
    return calls


@pytest.mark.slow
def test_one_pass_per_image_set_and_streaming_equals_one_shot(shared):
    fake, batch = _batch()
    calls = _count_passes(shared)
    streamed = [InceptionScore(shared), MaskInceptionScore(shared), FID(shared), KID(shared)]
    halves = [np.arange(4) < 2, np.arange(4) >= 2]
    for keep in halves:
        sub_fake, sub = fake[keep], batch.select(keep)
        for m in streamed:
            m.update(sub_fake, sub)
    # per half: 2 fake + 2 masked fake + 2 real
    assert sum(calls) == 2 * (2 + 2 + 2)
    # a second model's metrics reuse the real features
    calls.clear()
    again = FID(shared)
    for keep in halves:
        again.update(fake[keep], batch.select(keep))
    assert sum(calls) == 4
    one_shot = [InceptionScore(shared), MaskInceptionScore(shared), FID(shared), KID(shared)]
    for m in one_shot:
        m.update(fake, batch)
    for a, b in zip(streamed, one_shot, strict=True):
        assert a.compute()[a.name] == pytest.approx(b.compute()[b.name], rel=1e-4, abs=1e-7)
    assert again.compute()["fid"] == pytest.approx(streamed[2].compute()["fid"], rel=1e-4)


def test_mask_is_scores_the_masked_generated_images(shared):
    fake, batch = _batch()
    net = shared_inception(shared)
    m = MaskInceptionScore(shared)
    m.update(fake, batch)
    masked = fake * pose_masks(batch.tgt_kpts, batch.size)[..., None].astype(np.uint8)
    assert masked.sum() < fake.sum() / 2
    expected = inception_score(net(masked)[1], 2, 2020)[0]
    assert m.compute()["mask_is"] == pytest.approx(expected, rel=1e-5)
    plain = InceptionScore(shared)
    plain.update(fake, batch)
    assert plain.compute()["is"] != pytest.approx(expected, rel=1e-3)


def test_fid_of_the_targets_themselves_is_zero_and_intervals_resample(shared):
    fake, batch = _batch()
    fid = FID(shared)
    fid.update(batch.tgt_img.copy(), batch)
    assert abs(fid.compute()["fid"]) < 1e-3
    other = FID(shared)
    other.update(fake, batch)
    value = other.compute()["fid"]
    assert value > 1e-3
    assert other.compute_on(np.arange(4))["fid"] == pytest.approx(value, rel=1e-4)
    assert other.summary_extra()["reference"] == "targets"


def test_train_reference_needs_a_folder(standin_inception, tmp_path):
    settings = MetricSettings(weights=(("inception-fid", str(standin_inception)),),
                              download=False, fid_reference="train", protocol="gfla")
    with pytest.raises(MetricUnavailableError, match="--train-folder"):
        FID(with_settings({}, settings))


@pytest.mark.slow
def test_run_caches_real_statistics_by_content(market_folder, tmp_path, standin_inception):
    def go(name, **kw):
        config = RunConfig(models=("source",), dataset="market", data_root=market_folder,
                           out=tmp_path / name, metrics=("fid",), limit=3, bootstrap=3,
                           weights=(("inception-fid", str(standin_inception)),), offline=True,
                           stats_cache=tmp_path / "stats", **kw)
        rec = next(r for r in run(config, progress=False, echo=lambda s: None).records
                   if r.key == "fid")
        assert rec.kind == "metric", rec.error
        return rec

    first = go("a")
    assert first.extra["real_cache"].startswith("written") and first.extra["real_computed"] > 0
    assert "ci_low" in first.extra and first.extra["bootstrap_resamples"] == 3
    second = go("b")
    assert second.extra["real_cache"].startswith("hit") and second.extra["real_computed"] == 0
    assert second.value == pytest.approx(first.value, rel=1e-6)
    bypass = go("c", use_cache=False)
    assert bypass.extra["real_cache"].startswith("off") and bypass.extra["real_computed"] > 0
    # a changed target image: a new key, never the stale statistics
    from PIL import Image

    first_target = (market_folder / "market-pairs-test.csv").read_text().splitlines()[1]
    target = market_folder / "test" / first_target.split(",")[1]
    img = np.asarray(Image.open(target)).copy()
    img[:8] = 255 - img[:8]
    Image.fromarray(img).save(target, "PNG")
    changed = go("d")
    assert changed.extra["real_cache"].startswith("written")
    assert changed.value != pytest.approx(first.value, rel=1e-6)


def test_ground_truth_from_each_models_results_gives_each_model_its_real_set(standin_inception):
    """patn-strips: every results folder brings its own (JPEG) target panels, so FID must not
    reuse one model's real features for another."""
    def settings(per_model):
        return with_settings({}, MetricSettings(
            weights=(("inception-fid", str(standin_inception)),), download=False,
            use_cache=False, real_per_model=per_model))

    shared = settings(True)
    a, b = FID(shared, model="a"), FID(shared, model="b")
    assert a.real is not b.real and FID(shared, model="a").real is a.real
    shared = settings(False)
    assert FID(shared, model="a").real is FID(shared, model="b").real
