"""The training folder of ``fid_tv`` (bench.metrics.script_fid.ScriptTrainFolder) with a stub
feature network: which files enter (sorted, the remainder rule), how each script prepared them,
the content-hash cache, and clear errors for unreadable or mixed-size folders."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import bench.metrics.script_fid as script_fid
from bench.errors import MetricUnavailableError
from bench.gfla.protocol import SCRIPTS
from bench.metrics.settings import MetricSettings


class StubNet:
    """Per-image channel means tiled to 2048 features; records what it was given."""

    class loaded:  # noqa: N801 - mirrors ScriptNetwork.loaded
        class weights_used:  # noqa: N801
            sha256 = "0" * 64

    def __init__(self):
        self.seen = []

    def __call__(self, images):
        self.seen.append(images)
        return np.tile(images.mean(axis=(1, 2)), 683)[:, :2048].astype(np.float32)


def folder(tmp_path, sizes, name="train"):
    root = tmp_path / name
    root.mkdir()
    rng = np.random.default_rng(0)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            root / f"img{i:02d}.png")
    return root


def settings(tmp_path, train, **kw):
    return MetricSettings(train_folder=train, stats_cache=tmp_path / "cache", **kw)


def test_sorted_files_and_the_remainder_rule(tmp_path, monkeypatch):
    monkeypatch.setattr(script_fid, "SCRIPT_BATCH", 4)
    train = folder(tmp_path, [(32, 24)] * 7)
    net = StubNet()
    real = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["gfla"], net)
    assert [p.name for p in real.files] == [f"img{i:02d}.png" for i in range(4)]
    assert real.plan.dropped == ("img04.png", "img05.png", "img06.png")
    pool = real.pool()
    assert pool.shape == (4, 2048) and [len(x) for x in net.seen] == [4]
    first = np.asarray(Image.open(train / "img00.png")).astype(np.float32) / 255
    np.testing.assert_allclose(pool[0, :3], first.mean(axis=(0, 1)), rtol=1e-6)
    # nothing dropped under CFLD, whose images are resized to 256x176 first
    net = StubNet()
    cfld = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["cfld"], net)
    assert len(cfld.pool()) == 7 and net.seen[0].shape[1:] == (256, 176, 3)


def test_features_are_cached_by_content(tmp_path):
    train = folder(tmp_path, [(32, 24)] * 3)
    first = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["gfla"], StubNet())
    first.pool()
    assert first.cache_state.startswith("written")
    net = StubNet()
    second = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["gfla"], net)
    assert second.cache_state.startswith("hit")
    np.testing.assert_array_equal(second.pool(), first.pool())
    assert net.seen == []
    Image.fromarray(np.zeros((32, 24, 3), np.uint8)).save(train / "img00.png")
    changed = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["gfla"], StubNet())
    assert changed.cache_state.startswith("miss")
    # another preparation (PIDM's cv2 resize) never reads GFLA's features
    pidm = script_fid.ScriptTrainFolder(settings(tmp_path, train), SCRIPTS["pidm"], StubNet())
    assert pidm.cache_state.startswith("miss")


def test_bad_folders_say_what_was_expected(tmp_path):
    with pytest.raises(MetricUnavailableError, match="pass --train-folder DIR"):
        script_fid.ScriptTrainFolder(MetricSettings(protocol="gfla"), SCRIPTS["gfla"], StubNet())
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(MetricUnavailableError, match="no images"):
        script_fid.ScriptTrainFolder(settings(tmp_path, empty), SCRIPTS["gfla"], StubNet())
    mixed = folder(tmp_path, [(32, 24), (40, 24)], "mixed")
    real = script_fid.ScriptTrainFolder(settings(tmp_path, mixed, use_cache=False),
                                        SCRIPTS["gfla"], StubNet())
    with pytest.raises(MetricUnavailableError, match=r"differ in size .*one size"):
        real.pool()
    broken = folder(tmp_path, [(32, 24)] * 2, "broken")
    (broken / "img01.png").write_bytes(b"not an image")
    real = script_fid.ScriptTrainFolder(settings(tmp_path, broken, use_cache=False),
                                        SCRIPTS["gfla"], StubNet())
    with pytest.raises(MetricUnavailableError, match=r"img01.png cannot be read"):
        real.pool()
