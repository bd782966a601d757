"""Short reasons from the harness's real messages, and text without paths or URLs."""

from __future__ import annotations

import pytest

from bench.errors import DataError, MetricUnavailableError, WeightsUnavailableError
from bench.report.reasons import (
    REASON_CLASSES,
    WEIGHTS_NOT_PROVIDED,
    WEIGHTS_NOT_USABLE,
    needs_weights,
    network_of,
    short_reason,
    without_locations,
)


def _message(call) -> str:
    with pytest.raises((WeightsUnavailableError, MetricUnavailableError, DataError)) as info:
        call()
    return str(info.value)


def test_the_harness_messages_get_their_short_class(tmp_path, empty_hub):
    from bench.efficiency.probe import cuda_unavailable_reason
    from bench.metrics.inception import RealFolder
    from bench.metrics.settings import MetricSettings
    from bench.pose.precomputed import PrecomputedKeypoints
    from bench.weights import resolve

    missing = _message(lambda: resolve("inception-fid", download=False))
    given = _message(lambda: resolve("alexnet", tmp_path / "nowhere.pth"))
    bad = tmp_path / "bad.csv"
    bad.write_text("name:keypoints_y:keypoints_x\nnot-a-pair.jpg: [1]: [2]\n")
    cases = {
        missing: WEIGHTS_NOT_PROVIDED,
        "unavailable: " + missing: WEIGHTS_NOT_PROVIDED,  # as the records hold it
        given: WEIGHTS_NOT_PROVIDED,
        "Keypoint R-CNN weights /x/k.pth could not be loaded: RuntimeError: bad": WEIGHTS_NOT_USABLE,
        _message(lambda: RealFolder(MetricSettings(), None)): "no training folder",
        _message(lambda: RealFolder(MetricSettings(train_folder=tmp_path), None)):
            "no training folder",
        _message(lambda: PrecomputedKeypoints(tmp_path / "kp.csv")): "keypoints file not usable",
        _message(lambda: PrecomputedKeypoints(bad)): "keypoints file not usable",
    }
    if cuda_unavailable_reason("cuda") is not None:  # a machine without CUDA
        cases[cuda_unavailable_reason("cuda")] = "device not available"
    assert str(empty_hub) in missing and "://" in missing  # the long text: paths and URLs
    for text, short in cases.items():
        assert short_reason(text) == short, text
    assert needs_weights(WEIGHTS_NOT_PROVIDED) and not needs_weights("no training folder")
    assert network_of(missing) == "inception-fid" and network_of("unavailable: " + given) == "alexnet"
    assert [name for name, _ in REASON_CLASSES][:2] == [WEIGHTS_NOT_PROVIDED, WEIGHTS_NOT_USABLE]


def test_unknown_reasons_are_shortened_without_locations():
    assert short_reason("unavailable: something odd happened at /srv/x/y.bin: details") == (
        "something odd happened at y.bin")
    assert short_reason("x" * 200).endswith("...") and len(short_reason("x" * 200)) == 60
    assert short_reason(None) == "unavailable"


@pytest.mark.parametrize("text, expected", [
    ("looked in /root/.cache/torch/hub/checkpoints/a-1.pth; off", "looked in a-1.pth; off"),
    ("download https://download.pytorch.org/models/a-1.pth, then", "download a-1.pth, then"),
    ("see https://example.org and (~/x/y.csv).", "see  and (y.csv)."),
    ("at C:\\data\\w.pth.", "at w.pth."),
    ("--weights alexnet=/w/a.pth", "--weights alexnet=a.pth"),
    ("higher/lower, img/s, 2 / 3, [lo, hi]", "higher/lower, img/s, 2 / 3, [lo, hi]"),
])
def test_without_locations(text, expected):
    assert without_locations(text) == expected
