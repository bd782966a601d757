"""Which ground-truth file the post-2020 scripts compared a result file with.

``preprocess_path_for_deform_task`` (GFLA ``script/metrics.py``, DPTN ``metrics/metrics.py``,
PIDM ``utils/metrics.py``) takes a result's file name, keeps what follows the last ``_2_`` and
precedes the first ``_vis``, and adds an extension (GFLA, DPTN: ``.jpg``) or a prefix and an
extension (PIDM: ``deep`` + ... + ``.png``); results without such a file are skipped (the
scripts print the path)::

    from bench.gfla.naming import ground_truth_name, match_ground_truth
    ground_truth_name("fashionWOMEN..._1front_2_fashionWOMEN..._2side_vis.jpg", "gfla")
    matched, unmatched = match_ground_truth(result_files, gt_files, "pidm")
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class GroundTruthNaming:
    script: str
    prefix: str
    suffix: str


NAMINGS = {
    "gfla": GroundTruthNaming("gfla", "", ".jpg"),
    "dptn": GroundTruthNaming("dptn", "", ".jpg"),
    "pidm": GroundTruthNaming("pidm", "deep", ".png"),
}


def ground_truth_name(result_file: str, script: str) -> str:
    """The ground-truth file name ``script`` looked for, for a result file (name or path)."""
    if script not in NAMINGS:
        raise ValueError(f"ground-truth naming is known for {sorted(NAMINGS)}, not {script!r}")
    naming = NAMINGS[script]
    name = PurePath(result_file).name
    stem = name.split("_2_")[-1].split("_vis")[0]
    return naming.prefix + stem + naming.suffix


def match_ground_truth(result_files: Iterable[str], gt_files: Iterable[str], script: str
                       ) -> tuple[list[tuple[str, str]], list[str]]:
    """(result, ground truth) name pairs in sorted result order, as the scripts listed them,
    and the results whose ground truth is not among ``gt_files`` (skipped by the scripts)."""
    available = {PurePath(g).name for g in gt_files}
    matched, unmatched = [], []
    for result in sorted(PurePath(r).name for r in result_files):
        gt = ground_truth_name(result, script)
        if gt in available:
            matched.append((result, gt))
        else:
            unmatched.append(result)
    return matched, unmatched
