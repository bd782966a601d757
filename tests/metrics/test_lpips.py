"""LPIPS through the lpips package: same numbers as the package called directly on the same
networks, the [-1, 1] mapping, weights loaded strictly or the metric is unavailable."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from bench.errors import WeightsUnavailableError
from bench.metrics.lpips import LPIPS, _import_lpips
from bench.metrics.settings import MetricSettings, with_settings
from bench.types import Pair, PairBatch


def _batch(n=4, size=(64, 48), seed=0):
    rng = np.random.default_rng(seed)
    tgt = rng.integers(0, 256, (n, *size, 3), dtype=np.uint8)
    fake = np.clip(tgt.astype(int) + rng.integers(-60, 60, tgt.shape), 0, 255).astype(np.uint8)
    kp = np.full((n, 18, 2), -1, np.float32)
    pairs = tuple(Pair(f"s{i}.jpg", f"t{i}.jpg", i) for i in range(n))
    return fake, PairBatch(pairs, tgt.copy(), tgt, kp, kp)


@pytest.fixture
def shared(standin_alexnet):
    return with_settings({}, MetricSettings(weights=(("alexnet", str(standin_alexnet)),),
                                            download=False))


def test_matches_the_package_called_directly_with_the_same_weights(standin_alexnet, empty_hub,
                                                                   shared):
    # the package's own loading: torchvision finds the AlexNet file in the hub cache
    empty_hub.mkdir(parents=True)
    shutil.copyfile(standin_alexnet, empty_hub / "alexnet-owt-7be5be79.pth")
    lpips = _import_lpips()
    direct = lpips.LPIPS(net="alex", version="0.1", verbose=False).eval()
    fake, batch = _batch()
    to = lambda x: torch.from_numpy(x).permute(0, 3, 1, 2).float() / 255 * 2 - 1  # noqa: E731
    with torch.no_grad():
        expected = direct(to(fake), to(batch.tgt_img)).reshape(-1).numpy()
        as_01 = direct(to(fake) / 2 + 0.5, to(batch.tgt_img) / 2 + 0.5).reshape(-1).numpy()
    metric = LPIPS(shared)
    got = metric.update(fake, batch)["lpips"]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-7)
    # the [0, 1] mistake gives clearly different numbers
    assert np.all(np.abs(as_01 - got) > 1e-3 * np.abs(got))
    assert metric.compute()["lpips"] == pytest.approx(float(np.mean(expected)), rel=1e-6)
    # also the hub-cache path (no explicit --weights) resolves to the same network
    via_hub = LPIPS(with_settings({}, MetricSettings(download=False)))
    np.testing.assert_allclose(via_hub.update(fake, batch)["lpips"], got, rtol=1e-6)


def test_identical_images_score_zero_and_batch_size_does_not_matter(shared):
    fake, batch = _batch(n=6)
    metric = LPIPS(shared)
    assert np.allclose(metric.update(batch.tgt_img.copy(), batch)["lpips"], 0, atol=1e-7)
    whole = LPIPS(shared)
    one = whole.update(fake, batch)["lpips"]
    split = LPIPS(shared)
    parts = [split.update(fake[i:i + 4], batch.select(np.isin(np.arange(6), range(i, i + 4))))
             for i in (0, 4)]
    np.testing.assert_allclose(np.concatenate([p["lpips"] for p in parts]), one, rtol=1e-5,
                               atol=1e-7)
    assert split.compute()["lpips"] == pytest.approx(whole.compute()["lpips"], rel=1e-6)


def test_missing_or_wrong_weights_make_it_unavailable(empty_hub, tmp_path):
    with pytest.raises(WeightsUnavailableError, match="alexnet-owt-7be5be79.pth"):
        LPIPS(with_settings({}, MetricSettings(download=False)))
    wrong = tmp_path / "wrong.pth"
    torch.save({"features.0.weight": torch.zeros(1)}, wrong)
    with pytest.raises(WeightsUnavailableError, match="could not be loaded"):
        LPIPS(with_settings({}, MetricSettings(weights=(("alexnet", str(wrong)),),
                                               download=False)))
