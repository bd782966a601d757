"""Ground-truth matching of the GFLA-lineage scripts (bench.gfla.naming) against the scripts'
``preprocess_path_for_deform_task``, transcribed, on real DeepFashion and Market names."""

from __future__ import annotations

import os

import pytest

from bench.gfla.naming import ground_truth_name, match_ground_truth


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
