"""Which ground-truth file the post-2020 scripts compared a result file with.

``preprocess_path_for_deform_task`` (GFLA ``script/metrics.py``, DPTN ``metrics/metrics.py``,
PIDM ``utils/metrics.py``) takes a result's file name, keeps what follows the last ``_2_`` and
precedes the first ``_vis``, and adds an extension (GFLA, DPTN: ``.jpg``) or a prefix and an
extension (PIDM: ``deep`` + ... + ``.png``); results without such a file are skipped (the
scripts print the path)::

    from bench.gfla.naming import NAMINGS, ground_truth_name, match_ground_truth
    ground_truth_name("fashionWOMEN..._1front_2_fashionWOMEN..._2side_vis.jpg", "gfla")
    matched, unmatched = match_ground_truth(result_files, gt_files, "pidm")
    NAMINGS["pidm"].file_for_image("fashionWOMEN..._1front.jpg")   # 'deepfashionWOMEN..._1front.png'

The result files' ``{tgt}`` is the pair CSV's image name without its extension: PIDM's
``data/fashion_data.py`` names a result ``splitext(path_to_fashion_name(src))[0] + '_2_' +
splitext(path_to_fashion_name(tgt))[0] + '_vis.png'``, and ``path_to_fashion_name`` flattens
``img/WOMEN/Blouses_Shirts/id_00006350/04_1_front.png`` to
``fashionWOMENBlouses_Shirtsid0000635004_1front.png``, the CSVs' flattening. So the file a
script compared with the dataset image ``X`` of a pair is :meth:`GroundTruthNaming.file_for_image`
of ``X`` (PIDM: ``deep`` + stem + ``.png``); the dataset loader reads PIDM's own test folder
through it (:attr:`bench.gfla.protocol.ScriptSteps.test_naming`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath


@dataclass(frozen=True)
class GroundTruthNaming:
    """How a script's test folder names the image with file stem ``{stem}``."""

    script: str
    prefix: str
    suffix: str
    source: str = ""  # the file of the script that states the rule

    @property
    def rule(self) -> str:
        return f"{self.prefix}{{stem}}{self.suffix}"

    def file_for_stem(self, stem: str) -> str:
        """The file name the script opened for the image with this stem."""
        return self.prefix + stem + self.suffix

    def file_for_image(self, image_name: str) -> str:
        """The file name the script opened for the pair CSV's image ``image_name``."""
        return self.file_for_stem(PurePath(image_name).stem)


NAMINGS = {
    "gfla": GroundTruthNaming("gfla", "", ".jpg", "script/metrics.py @ 3afa8fe"),
    "dptn": GroundTruthNaming("dptn", "", ".jpg", "metrics/metrics.py @ 59a7590"),
    "pidm": GroundTruthNaming("pidm", "deep", ".png", "utils/metrics.py @ e4f1d88"),
}


def ground_truth_name(result_file: str, script: str) -> str:
    """The ground-truth file name ``script`` looked for, for a result file (name or path)."""
    if script not in NAMINGS:
        raise ValueError(f"ground-truth naming is known for {sorted(NAMINGS)}, not {script!r}")
    name = PurePath(result_file).name
    return NAMINGS[script].file_for_stem(name.split("_2_")[-1].split("_vis")[0])


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
