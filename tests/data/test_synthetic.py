"""The embedded synthetic dataset: determinism, Market layout, appearance, occlusion, cache."""

from __future__ import annotations

import dataclasses
import json
import math
import re
from itertools import permutations
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from bench.data.synthetic import (
    FASHION_LIKE,
    MARKER_RGB,
    MARKET_LIKE,
    SyntheticSpec,
    ensure_synthetic,
    is_complete,
    iter_split,
    read_manifest,
    write_synthetic,
)
from bench.data.synthetic import write as write_module
from bench.data.synthetic.pairs import make_pairs, pairable, sample_pairs
from bench.data.synthetic.palette import (
    HAIR_COLORS,
    MARKER_CLEARANCE,
    SHADES,
    SKIN_TONES,
    background_color,
    clothing_color,
    marker_distance,
)
from bench.data.synthetic.people import sample_identity
from bench.data.synthetic.render import marker_radii
from bench.data.synthetic.skeleton import Pose, pose_body
from bench.data.synthetic.visibility import visible_joints
from bench.errors import DataError
from bench.keypoints import JOINTS

TINY = SyntheticSpec(
    name="tiny", identities_test=5, identities_train=2, images_per_identity=6, test_pairs=40,
    junk_test=2,
)
NAME = re.compile(r"^(\d{4})_c[1-6]s[1-6]_\d{6}_\d{2}\.jpg$")
ROW = re.compile(r"^(\S+\.jpg): (\[[-0-9, ]+\]): (\[[-0-9, ]+\])$")
J = {name: i for i, name in enumerate(JOINTS)}


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory) -> Path:
    return ensure_synthetic(TINY, tmp_path_factory.mktemp("cache"))


def _files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _annotation_rows(path: Path) -> dict[str, tuple[list[int], list[int]]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "name:keypoints_y:keypoints_x"
    rows = {}
    for line in lines[1:]:
        m = ROW.match(line)
        assert m, line
        rows[m.group(1)] = (json.loads(m.group(2)), json.loads(m.group(3)))
    return rows


def _pairs(path: Path) -> list[tuple[str, str]]:
    lines = path.read_text().splitlines()
    assert lines[0] == "from,to"
    return [tuple(line.split(",")) for line in lines[1:]]


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        return np.asarray(image.convert("RGB"))


def _kpts(ys: list[int], xs: list[int]) -> np.ndarray:
    return np.stack([np.array(xs), np.array(ys)], axis=1).astype(np.float32)


# ---------------------------------------------------------------------------- determinism
def test_same_seed_gives_identical_bytes(tiny_root, tmp_path):
    write_synthetic(TINY, tmp_path / "again")
    first = {k: v for k, v in _files(tiny_root).items() if k != "manifest.json"}
    assert first == _files(tmp_path / "again")


def test_different_seeds_differ(tiny_root, tmp_path):
    other = ensure_synthetic(dataclasses.replace(TINY, seed=1), tmp_path)
    assert read_manifest(other)["content_sha256"] != read_manifest(tiny_root)["content_sha256"]
    a = sorted((tiny_root / "test").iterdir())[TINY.junk_test]
    b = sorted((other / "test").iterdir())[TINY.junk_test]
    assert not np.array_equal(_load(a), _load(b))


def test_identity_looks_the_same_whatever_the_split_sizes():
    bigger = dataclasses.replace(TINY, identities_train=0, identities_test=9)
    assert sample_identity(0, 3).top.color.tolist() == sample_identity(0, 3).top.color.tolist()
    first = next(iter_split(dataclasses.replace(bigger, junk_test=0), "test"))
    again = next(iter_split(dataclasses.replace(bigger, junk_test=0, images_per_identity=2), "test"))
    assert first.name == again.name and np.array_equal(first.image, again.image)


# ---------------------------------------------------------------------------------- layout
def test_market_layout_and_csv_formats(tiny_root):
    assert sorted(p.name for p in tiny_root.iterdir()) == [
        "manifest.json", "market-annotation-test.csv", "market-annotation-train.csv",
        "market-pairs-test.csv", "market-pairs-train.csv", "test", "train",
    ]
    h, w = TINY.size
    for split in ("test", "train"):
        rows = _annotation_rows(tiny_root / f"market-annotation-{split}.csv")
        on_disk = sorted(p.name for p in (tiny_root / split).iterdir())
        assert sorted(rows) == on_disk
        for name, (ys, xs) in rows.items():
            assert NAME.match(name), name
            assert len(ys) == len(xs) == 18
            assert all(isinstance(v, int) for v in ys + xs)
            assert all((y == -1) == (x == -1) for y, x in zip(ys, xs, strict=True))
            assert all(0 <= y < h for y in ys if y != -1) and all(0 <= x < w for x in xs if x != -1)
        with Image.open(tiny_root / split / on_disk[-1]) as image:
            assert image.format == "PNG" and image.size == (w, h) and image.mode == "RGB"
    test_ids = {n[:4] for n in _annotation_rows(tiny_root / "market-annotation-test.csv")}
    train_ids = {n[:4] for n in _annotation_rows(tiny_root / "market-annotation-train.csv")}
    assert not (test_ids - {"0000"}) & train_ids
    assert sum(1 for n in test_ids if n == "0000") == 1  # junk images, all missing


def test_annotation_rows_are_written_like_patn(tiny_root):
    line = (tiny_root / "market-annotation-test.csv").read_text().splitlines()[1]
    name, ys, xs = line.split(":")
    assert ys.startswith(" [") and xs.startswith(" [") and ", " in ys
    frame = pd.read_csv(tiny_root / "market-annotation-test.csv", sep=":")
    assert list(frame.columns) == ["name", "keypoints_y", "keypoints_x"]
    assert len(json.loads(frame["keypoints_x"].iloc[0])) == 18


def test_pairs_follow_the_patn_rule(tiny_root):
    for split in ("test", "train"):
        rows = _annotation_rows(tiny_root / f"market-annotation-{split}.csv")
        pairs = _pairs(tiny_root / f"market-pairs-{split}.csv")
        assert pairs and len(set(pairs)) == len(pairs)
        keep = sorted(n for n, (ys, xs) in rows.items() if pairable(n, _kpts(ys, xs)))
        for a, b in pairs:
            assert a in rows and b in rows and a != b
            assert a.split("_")[0] == b.split("_")[0]
            assert a in keep and b in keep
            ys, xs = rows[a]
            assert all(ys[J[j]] != -1 for j in ("r_shoulder", "l_shoulder", "r_hip", "l_hip"))
        expected = [p for _, group in _by_person(keep) for p in permutations(group, 2)]
        if split == "train":
            assert pairs == expected
        else:  # pandas' sample with random_state=seed, as tool/create_pairs_dataset.py
            frame = pd.DataFrame(expected, columns=["from", "to"])
            sampled = frame.sample(n=min(TINY.test_pairs, len(frame)), replace=False,
                                   random_state=TINY.seed)
            assert pairs == list(sampled.itertuples(index=False, name=None))


def _by_person(names: list[str]):
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split("_")[0], []).append(n)
    return groups.items()


def test_pair_filter_rejects_distractors_and_missing_torso():
    full = np.zeros((18, 2), np.float32)
    assert pairable("0007_c1s1_000001_01.jpg", full)
    assert not pairable("0000_c1s1_000001_01.jpg", full)
    assert not pairable("-1_c1s1_000001_01.jpg", full)
    no_hip = full.copy()
    no_hip[J["l_hip"]] = -1
    assert not pairable("0007_c1s1_000001_01.jpg", no_hip)
    assert make_pairs(["0001_a", "0002_a", "0001_b"]) == [("0001_a", "0001_b"), ("0001_b", "0001_a")]
    assert sample_pairs([("a", "b")], 5, 0) == [("a", "b")] and sample_pairs([], 5, 0) == []


def test_the_harness_reader_accepts_it(tiny_root):
    from bench.data.annotations import read_annotations, read_pairs

    annotations = read_annotations(tiny_root / "market-annotation-test.csv")
    pairs = read_pairs(tiny_root / "market-pairs-test.csv")
    assert len(pairs) == TINY.test_pairs
    assert all(s in annotations and t in annotations for s, t, _ in pairs)


def test_presets():
    assert MARKET_LIKE.size == (128, 64) and FASHION_LIKE.size == (256, 176)
    assert MARKET_LIKE.folder_name == "synthetic-market-128x64-seed0-v1"
    assert MARKET_LIKE.test_pairs == 2000 and MARKET_LIKE.identities_test == 100
    assert FASHION_LIKE.test_pairs < MARKET_LIKE.test_pairs
    with pytest.raises(ValueError, match="size"):
        SyntheticSpec(size=(8, 8))


# ------------------------------------------------------------------------------ appearance
def test_identities_differ_more_than_images_of_one_identity():
    spec = dataclasses.replace(TINY, identities_test=8, junk_test=0)
    colors, pids = [], []
    for item in iter_split(spec, "test"):
        k = item.keypoints
        if (k[[J["neck"], J["r_hip"], J["l_hip"]], 0] < 0).any():
            continue
        chest = k[J["neck"]] + 0.45 * ((k[J["r_hip"]] + k[J["l_hip"]]) / 2 - k[J["neck"]])
        x, y = np.round(chest).astype(int)
        colors.append(np.median(item.image[y - 1 : y + 2, x - 1 : x + 2].reshape(-1, 3), axis=0))
        pids.append(item.pid)
    colors, pids = np.array(colors, dtype=float), np.array(pids)
    dist = np.linalg.norm(colors[:, None] - colors[None], axis=2)
    same = pids[:, None] == pids[None]
    within = dist[same & ~np.eye(len(pids), dtype=bool)].mean()
    between = dist[~same].mean()
    assert between > 3 * within, (between, within)


def test_identities_have_their_own_body_and_clothes():
    people = [sample_identity(0, pid) for pid in range(1, 41)]
    assert len({round(p.body.upper_arm, 6) for p in people}) == 40
    assert len({p.top.pattern for p in people}) >= 3
    assert len({p.hair_style for p in people}) >= 3
    assert len({p.bottom_kind for p in people}) >= 2


def test_backgrounds_differ_between_images_of_one_identity():
    spec = dataclasses.replace(TINY, identities_test=1, images_per_identity=5, junk_test=0)
    corners = [item.image[:6, :6].reshape(-1, 3).mean(axis=0) for item in iter_split(spec, "test")]
    for i in range(len(corners)):
        for k in range(i):
            assert np.abs(corners[i] - corners[k]).max() > 1.0


def test_palettes_keep_clear_of_the_markers():
    markers = MARKER_RGB.astype(float)
    gaps = np.linalg.norm(markers[:, None] - markers[None], axis=2) + 1e9 * np.eye(18)
    assert gaps.min() > 100
    shades = np.array(SHADES)[:, None]
    rng = np.random.default_rng(0)
    colors = [*SKIN_TONES, *HAIR_COLORS]
    colors += [clothing_color(rng) for _ in range(300)] + [background_color(rng) for _ in range(300)]
    people = [sample_identity(0, pid) for pid in range(100)]
    colors += [c for p in people for c in (p.skin, p.hair, p.top.color, p.bottom.color2, p.shoes)]
    assert min(marker_distance(np.asarray(c)[None] * shades) for c in colors) >= MARKER_CLEARANCE


# ------------------------------------------------------------------------------- occlusion
NEUTRAL = Pose(
    view="front", yaw=0.0, head_yaw=0.0, phase=0.0, stride=0.0, knee_base=0.05,
    arm_raise=(0.1, 0.1), arm_offset=(0.0, 0.0), elbow=(0.1, 0.1), leg_spread=0.05, lean=0.0,
    scale=105.0, center_x=32.0, ground_y=124.0,
)


def _missing(yaw: float, pid: int = 3) -> set[str]:
    pb = pose_body(sample_identity(0, pid).body, dataclasses.replace(NEUTRAL, yaw=yaw))
    visible = visible_joints(pb, (128, 64), marker_radii(NEUTRAL.scale))
    return {JOINTS[j] for j in range(18) if not visible[j]}


@pytest.mark.parametrize("pid", [3, 4, 5])
def test_views_hide_joints_like_a_detector(pid):
    assert _missing(0.0, pid) == set()
    assert _missing(math.pi, pid) == {"nose", "r_eye", "l_eye"}
    facing_right = _missing(math.pi / 2, pid)  # the person's left side is away from the camera
    assert {"l_eye", "l_ear", "l_shoulder", "l_hip", "l_knee"} <= facing_right
    assert not {"r_ear", "neck", "r_knee", "r_ankle"} & facing_right
    facing_left = _missing(-math.pi / 2, pid)
    assert {"r_eye", "r_ear", "r_shoulder", "r_hip", "r_knee"} <= facing_left
    assert not {"l_ear", "neck", "l_knee", "l_ankle"} & facing_left


def test_generated_views_have_missing_keypoints():
    spec = dataclasses.replace(TINY, identities_test=12, junk_test=0)
    items = list(iter_split(spec, "test"))
    back = [it for it in items if it.view == "back"]
    side = [it for it in items if it.view == "side"]
    assert back and side
    for it in back:
        assert (it.keypoints[[J["nose"], J["r_eye"], J["l_eye"]]] == -1).all()
    one_eye_or_ear_gone = [
        (it.keypoints[[J["r_eye"], J["l_eye"]], 0] == -1).any()
        or (it.keypoints[[J["r_ear"], J["l_ear"]], 0] == -1).any()
        for it in side
    ]
    assert np.mean(one_eye_or_ear_gone) > 0.9
    torso = [J["r_shoulder"], J["l_shoulder"], J["r_hip"], J["l_hip"]]
    assert np.mean([(it.keypoints[torso, 0] == -1).any() for it in side]) > 0.5
    front = [it for it in items if it.view == "front"]
    assert np.mean([(it.keypoints[torso, 0] != -1).all() for it in front]) > 0.8


# ----------------------------------------------------------------------------------- cache
def test_ensure_synthetic_reuses_the_cache(tiny_root, monkeypatch):
    stamp = (tiny_root / "manifest.json").stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("regenerated a complete cached dataset")

    monkeypatch.setattr(write_module, "write_synthetic", fail)
    assert ensure_synthetic(TINY, tiny_root.parent) == tiny_root
    assert (tiny_root / "manifest.json").stat().st_mtime_ns == stamp
    assert tiny_root.name == "tiny-128x64-seed0-v1"


def test_interrupted_generation_is_not_mistaken_for_complete(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_save = write_module._save_png

    def crash_after_ten(image, path):
        calls["n"] += 1
        if calls["n"] > 10:
            raise KeyboardInterrupt
        real_save(image, path)

    monkeypatch.setattr(write_module, "_save_png", crash_after_ten)
    with pytest.raises(KeyboardInterrupt):
        ensure_synthetic(TINY, tmp_path)
    assert list(tmp_path.iterdir()) == []  # no final folder, partial one removed
    monkeypatch.setattr(write_module, "_save_png", real_save)
    # a hard kill leaves the hidden partial folder behind: it is ignored
    leftover = tmp_path / f".{TINY.folder_name}.partial-killed"
    (leftover / "test").mkdir(parents=True)
    (leftover / "market-annotation-test.csv").write_text("name:keypoints_y:keypoints_x\n")
    root = ensure_synthetic(TINY, tmp_path)
    assert root == tmp_path / TINY.folder_name and is_complete(root, TINY)


def test_damaged_or_foreign_folders_are_not_complete(tmp_path):
    root = ensure_synthetic(TINY, tmp_path)
    victim = sorted((root / "test").iterdir())[3]
    data = victim.read_bytes()
    victim.unlink()
    assert not is_complete(root, TINY)
    with pytest.raises(DataError, match="incomplete"):
        ensure_synthetic(TINY, tmp_path)
    victim.write_bytes(data)
    assert is_complete(root, TINY)
    assert not is_complete(root, dataclasses.replace(TINY, test_pairs=7))
    with pytest.raises(DataError, match="different spec"):
        ensure_synthetic(dataclasses.replace(TINY, test_pairs=7), tmp_path)
    (root / "manifest.json").unlink()
    assert not is_complete(root, TINY)


def test_manifest_records_spec_counts_and_hashes(tiny_root):
    manifest = read_manifest(tiny_root)
    assert manifest["spec"] == TINY.to_dict()
    assert manifest["counts"]["test"] == {"images": 32, "pairs": TINY.test_pairs}
    assert manifest["counts"]["train"]["images"] == 12
    assert len(manifest["files"]) == 32 + 12 + 4
    assert re.fullmatch(r"[0-9a-f]{64}", manifest["content_sha256"])
