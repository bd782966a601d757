"""The real PATN split files load and validate; malformed files fail with line numbers."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.data import DATASETS, load_split
from bench.data.annotations import read_annotations, read_pairs
from bench.data.datasets import locate_files
from bench.data.split import pairs_sha256
from bench.errors import DataError


def _folder_with(tmp_path: Path, files: dict[str, Path], size: tuple[int, int]) -> Path:
    """A dataset folder holding the given CSVs and one image of ``size`` in test/."""
    root = tmp_path / "root"
    (root / "test").mkdir(parents=True)
    for name, src in files.items():
        (root / name).symlink_to(src)
    Image.fromarray(np.zeros((*size, 3), np.uint8)).save(root / "test" / "probe.png")
    return root


def test_market_test_split_loads_all_12000_pairs(shared_data, tmp_path):
    splits = shared_data / "pose-transfer-splits"
    root = _folder_with(tmp_path, {
        "market-pairs-test.csv": splits / "market-pairs-test.csv",
        "market-annotation-test.csv": splits / "market-annotation-test.csv",
    }, (128, 64))
    files = locate_files(DATASETS.get("market"), root, "test root", "test")
    split = load_split(files, check_images=False)
    assert len(split.pairs) == 12000
    assert split.pairs[0].src == "0188_c2s2_149727_03.jpg"
    assert split.pairs[0].tgt == "0188_c4s6_008910_07.jpg"
    assert len({n for p in split.pairs for n in (p.src, p.tgt)}) == 9872  # PROTOCOL.md 3.1
    assert not split.image_problems  # every keypoint inside 128x64
    kp = split.keypoints["0188_c2s2_149727_03.jpg"]
    assert kp.dtype == np.float32 and kp.shape == (18, 2)
    assert tuple(kp[1]) == (35.0, 27.0)  # (x, y) from 'y: [-1, 27, ...]: x: [-1, 35, ...]'
    assert tuple(kp[0]) == (-1.0, -1.0)


def test_deepfashion_test_split_loads_8570_pairs_in_both_frames(shared_data, tmp_path):
    splits = shared_data / "pose-transfer-splits"
    csvs = {
        "fashion-pairs-test.csv": splits / "fashion-pairs-test.csv",
        "fasion-annotation-test.csv": splits / "fasion-annotation-test.csv",
    }
    spec = DATASETS.get("deepfashion")
    original = load_split(
        locate_files(spec, _folder_with(tmp_path / "a", csvs, (256, 256)), "x", "test"),
        check_images=False,
    )
    assert len(original.pairs) == 8570
    assert not original.image_problems
    cropped_files = locate_files(spec, _folder_with(tmp_path / "b", csvs, (256, 176)), "x", "test")
    assert cropped_files.kpt_shift_x == -40 and cropped_files.size == (256, 176)
    cropped = load_split(cropped_files, check_images=False)
    name = "fashionWOMENTees_Tanksid0000508545_1front.jpg"
    assert original.keypoints[name][0, 0] == 128 and cropped.keypoints[name][0, 0] == 88
    assert cropped.keypoints[name][9, 0] == -1  # missing stays missing
    # PATN's x - 40 can leave the 176 crop; such joints are valid within the 256 frame
    assert not cropped.image_problems


def test_pairs_hash_depends_on_content_and_order():
    from bench.types import Pair

    a = (Pair("x.jpg", "y.jpg", 0), Pair("y.jpg", "x.jpg", 1))
    assert pairs_sha256(a) == pairs_sha256(tuple(a))
    assert pairs_sha256(a) != pairs_sha256(a[::-1])
    assert len(pairs_sha256(a)) == 64


@pytest.mark.parametrize(
    "content, match",
    [
        ("name,keypoints_y,keypoints_x\n", r":1: expected the header"),
        ("name:keypoints_y:keypoints_x\na.jpg: [1, 2]: [3, 4]\n", r":2: keypoints_y must be a JSON list of 18"),
        ("name:keypoints_y:keypoints_x\na.jpg: [1, 2: [3]\n", r":2: keypoints_y is not a JSON list"),
        ("name:keypoints_y:keypoints_x\n" + "a.jpg: " + str([1] * 18) + "\n", r":2: expected 'name: \[18 y values\]"),
        ("name:keypoints_y:keypoints_x\n\nb.jpg: " + str([1] * 18) + ": " + str([-1] + [1] * 17) + "\n",
         r":3: joint 0 has one coordinate -1"),
        ("name:keypoints_y:keypoints_x\nb.jpg: " + str([1.5] * 18) + ": " + str([1] * 18) + "\n",
         r":2: keypoints_y must be a JSON list of 18 integers"),
    ],
)
def test_malformed_annotation_rows_report_line_numbers(tmp_path, content, match):
    path = tmp_path / "ann.csv"
    path.write_text(content)
    with pytest.raises(DataError, match=match):
        read_annotations(path)


def test_duplicate_annotation_and_pair_rows(tmp_path):
    row = "a.jpg: " + str([1] * 18) + ": " + str([2] * 18)
    path = tmp_path / "ann.csv"
    path.write_text(f"name:keypoints_y:keypoints_x\n{row}\n{row}\n")
    with pytest.raises(DataError, match=r":3: image 'a.jpg' is annotated twice"):
        read_annotations(path)
    pairs = tmp_path / "pairs.csv"
    pairs.write_text("from,to\na.jpg,b.jpg\nc.jpg\n")
    with pytest.raises(DataError, match=r"pairs.csv:3: expected two image names"):
        read_pairs(pairs)
    pairs.write_text(",from,to\n0,a.jpg,b.jpg\n")  # pandas index column
    assert read_pairs(pairs) == [("a.jpg", "b.jpg", 2)]
    pairs.write_text("source,target\n")
    with pytest.raises(DataError, match="expected the header 'from,to'"):
        read_pairs(pairs)


def test_pairs_naming_unannotated_images_stop_before_work(market_folder):
    pairs = market_folder / "market-pairs-test.csv"
    pairs.write_text(pairs.read_text() + "ghost_1.jpg,ghost_2.jpg\n")
    files = locate_files(DATASETS.get("market"), market_folder, "x", "test")
    with pytest.raises(DataError, match=r"2 pair entries name images that have no row(.|\n)*line 42: ghost_1.jpg"):
        load_split(files)


def test_selection_limit_subset_and_seed(market_folder):
    split = load_split(locate_files(DATASETS.get("market"), market_folder, "x", "test"))
    assert [p.src for p in split.select(limit=3)] == [p.src for p in split.pairs[:3]]
    a, b = split.select(subset=10, seed=1), split.select(subset=10, seed=1)
    assert a == b and len(a) == 10
    assert split.select(subset=10, seed=2) != a
    order = [next(i for i, q in enumerate(split.pairs) if (q.src, q.tgt) == (p.src, p.tgt)) for p in a]
    assert order == sorted(order)  # file order kept
    assert [p.index for p in a] == list(range(10))
    with pytest.raises(DataError, match="exclusive"):
        split.select(limit=2, subset=2)
