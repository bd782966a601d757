"""Ground-truth matching of the GFLA-lineage scripts (bench.gfla.naming) against the scripts'
``preprocess_path_for_deform_task``, transcribed, on real DeepFashion and Market names; PIDM's
result names (``data/fashion_data.py`` ``get_paths``, ``get_image_path``,
``path_to_fashion_name`` @ e4f1d88, transcribed) matched to the pairs by the results-folder
reader and to the ``deep{stem}.png`` file its metric script compared them with."""

from __future__ import annotations

import os
import re

import pytest

from bench.gfla.naming import NAMINGS, ground_truth_name, match_ground_truth
from bench.models.folder import FolderIndex, candidate_names
from bench.types import Pair


def gfla_gt(distorted_image, gt_path="gt"):
    """GFLA / DPTN preprocess_path_for_deform_task, one file."""
    image = os.path.basename(distorted_image)
    image = image.split('_2_')[-1]
    image = image.split('_vis')[0] + '.jpg'
    return os.path.join(gt_path, image)


def pidm_gt(distorted_image, gt_path="gt"):
    """PIDM utils/metrics.py preprocess_path_for_deform_task, one file."""
    image = os.path.basename(distorted_image)
    image = image.split('_2_')[-1]
    image = image.split('_vis')[0] + '.png'
    return os.path.join(gt_path, 'deep' + image)


@pytest.fixture(scope="module")
def result_names(shared_data):
    """Result names in the papers' convention built from real test pairs of both datasets."""
    names = []
    for csv in ("fashion-pairs-test.csv", "market-pairs-test.csv"):
        lines = (shared_data / "pose-transfer-splits" / csv).read_text().splitlines()[1:40]
        for line in lines:
            src, tgt = line.split(",")
            names.append(os.path.splitext(src)[0] + "_2_" + os.path.splitext(tgt)[0] + "_vis.jpg")
    return names


def test_names_are_the_scripts(result_names):
    for name in result_names + ["dir/a_2_b_2_c_vis_vis.png", "no_marker.png"]:
        assert ground_truth_name(name, "gfla") == os.path.basename(gfla_gt(name))
        assert ground_truth_name(name, "dptn") == os.path.basename(gfla_gt(name))
        assert ground_truth_name(name, "pidm") == os.path.basename(pidm_gt(name))
    assert ground_truth_name(result_names[0], "gfla").startswith("fashion")
    with pytest.raises(ValueError, match="known for"):
        ground_truth_name(result_names[0], "cfld")


def test_matching_sorts_and_reports_missing_ground_truth(result_names):
    missing = ground_truth_name(result_names[0], "gfla")
    gts = ["gt/" + g for g in {ground_truth_name(n, "gfla") for n in result_names} if g != missing]
    matched, unmatched = match_ground_truth(reversed(result_names), gts, "gfla")
    assert unmatched == sorted(n for n in result_names
                               if ground_truth_name(n, "gfla") == missing)
    assert len(unmatched) >= 1 and len(matched) + len(unmatched) == len(result_names)
    assert [r for r, _ in matched] == [n for n in sorted(result_names) if n not in unmatched]
    assert all(g == ground_truth_name(r, "gfla") for r, g in matched)


# -- PIDM's result names, transcribed (data/fashion_data.py @ e4f1d88) -----------------------
def pidm_path_to_fashion_name(path_in):
    path_in = path_in.split('img/')[-1]
    path_in = os.path.join('fashion', path_in)
    path_names = path_in.split('/')
    path_names[3] = path_names[3].replace('_', '')
    path_names[4] = path_names[4].split('_')[0] + "_" + "".join(path_names[4].split('_')[1:])
    path_names = "".join(path_names)
    return path_names


def pidm_result_name(source_line_path, target_line_path):
    """get_paths (``.jpg`` -> ``.png`` on the pairs file's paths), then get_image_path."""
    source_name = pidm_path_to_fashion_name(source_line_path.replace('.jpg', '.png'))
    target_name = pidm_path_to_fashion_name(target_line_path.replace('.jpg', '.png'))
    return os.path.splitext(source_name)[0] + '_2_' + os.path.splitext(target_name)[0] + '_vis.png'


INSHOP = re.compile(r"fashion(WOMEN|MEN)(.+)id(\d{8})(\d{2})_(\d)([a-z]+)\.jpg")


def inshop_path(csv_name):
    """The In-shop path a flattened CSV name stands for (``img/WOMEN/Blouses_Shirts/
    id_00006350/04_1_front.jpg`` for ``fashionWOMENBlouses_Shirtsid0000635004_1front.jpg``),
    the form of PIDM's train/test_pairs.txt entries."""
    gender, category, ident, index, pose, view = INSHOP.fullmatch(csv_name).groups()
    return f"img/{gender}/{category}/id_{ident}/{index}_{pose}_{view}.jpg"


def test_pidm_result_names_match_the_pairs_and_deep_ground_truth(shared_data, tmp_path):
    lines = (shared_data / "pose-transfer-splits/fashion-pairs-test.csv").read_text().split()
    pairs = [tuple(line.split(",")) for line in lines[1:]]
    assert len(pairs) == 8570
    assert inshop_path("fashionWOMENBlouses_Shirtsid0000635004_1front.jpg") == \
        "img/WOMEN/Blouses_Shirts/id_00006350/04_1_front.jpg"
    for i, (src, tgt) in enumerate(pairs):
        result = pidm_result_name(inshop_path(src), inshop_path(tgt))
        # {tgt} of PIDM's result name is the CSV's stem: its flattening is the CSVs'
        assert result == f"{os.path.splitext(src)[0]}_2_{os.path.splitext(tgt)[0]}_vis.png"
        # the results folder reader finds the pair under that name ...
        assert result[: -len(".png")] in dict(candidate_names(Pair(src, tgt, i)))
        # ... and the file the metric script compared it with is the dataset naming's
        assert os.path.basename(pidm_gt(result)) == NAMINGS["pidm"].file_for_image(tgt)
    assert NAMINGS["pidm"].file_for_image(pairs[0][1]) == \
        "deep" + os.path.splitext(pairs[0][1])[0] + ".png"
    assert NAMINGS["gfla"].file_for_image(pairs[0][1]) == pairs[0][1]
    for src, tgt in pairs[:5]:
        (tmp_path / pidm_result_name(inshop_path(src), inshop_path(tgt))).write_bytes(b"")
    index = FolderIndex.scan(tmp_path, "pidm")
    for i, (src, tgt) in enumerate(pairs[:5]):
        path, convention = index.find(Pair(src, tgt, i))
        assert path.name == pidm_result_name(inshop_path(src), inshop_path(tgt))
        assert convention == "{from stem}_2_{to stem}_vis.png"
