"""The marker detector: recovers the synthetic set's keypoints, finds nothing where none is."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from PIL import Image, ImageFilter

from bench.data.synthetic import MARKER_RGB, SyntheticSpec, iter_split, write_synthetic
from bench.data.synthetic.raster import Canvas
from bench.pose import ESTIMATORS, PoseEstimator
from bench.pose.markers import MarkerDetector

SPEC = SyntheticSpec(
    name="markers", identities_test=6, identities_train=0, images_per_identity=6, test_pairs=10,
    junk_test=2,
)


@pytest.fixture(scope="module")
def rendered():
    items = list(iter_split(SPEC, "test"))
    return np.stack([it.image for it in items]), np.stack([it.keypoints for it in items])


def _accuracy(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(share of present joints found within 1.5 px, share of missing joints reported)."""
    present = truth[..., 0] >= 0
    found = pred[..., 0] >= 0
    err = np.hypot(pred[..., 0] - truth[..., 0], pred[..., 1] - truth[..., 1])
    recall = (present & found & (err <= 1.5)).sum() / present.sum()
    false_pos = (~present & found).sum() / max(1, (~present).sum())
    return float(recall), float(false_pos)


def test_registered_lazily_under_markers():
    assert "markers" in ESTIMATORS
    detector = ESTIMATORS.get("markers")()
    assert isinstance(detector, MarkerDetector) and isinstance(detector, PoseEstimator)
    assert detector.name == "markers" and detector.version


def test_recovers_the_csv_keypoints_from_the_files(tmp_path):
    write_synthetic(SPEC, tmp_path)
    lines = (tmp_path / "market-annotation-test.csv").read_text().splitlines()[1:]
    names, truth = [], []
    for line in lines:
        name, ys, xs = line.split(":")
        names.append(name)
        truth.append(np.stack([json.loads(xs), json.loads(ys)], axis=1))
    images = []
    for name in names:
        with Image.open(tmp_path / "test" / name) as image:
            images.append(np.asarray(image.convert("RGB")))
    pred = MarkerDetector().estimate(np.stack(images))
    recall, false_pos = _accuracy(pred, np.array(truth, dtype=np.float32))
    assert recall >= 0.95 and false_pos <= 0.02, (recall, false_pos)


def test_recovers_keypoints_at_fashion_resolution():
    spec = dataclasses.replace(SPEC, size=(256, 176), identities_test=2, images_per_identity=4)
    items = list(iter_split(spec, "test"))
    pred = MarkerDetector().estimate(np.stack([it.image for it in items]))
    recall, false_pos = _accuracy(pred, np.stack([it.keypoints for it in items]))
    assert recall >= 0.95 and false_pos <= 0.02, (recall, false_pos)


def test_survives_mild_blur_on_body_joints(rendered):
    images, truth = rendered
    blurred = np.stack(
        [np.asarray(Image.fromarray(im).filter(ImageFilter.GaussianBlur(0.6))) for im in images]
    )
    body = [j for j in range(18) if j not in (0, 14, 15, 16, 17)]
    recall, false_pos = _accuracy(MarkerDetector().estimate(blurred)[:, body], truth[:, body])
    assert recall >= 0.9 and false_pos <= 0.02, (recall, false_pos)


@pytest.mark.parametrize("fill", [0, 128, 255])
def test_blank_images_have_no_keypoints(fill):
    images = np.full((3, 128, 64, 3), fill, dtype=np.uint8)
    assert (MarkerDetector().estimate(images) == -1).all()


def test_noise_without_markers_has_no_keypoints():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (4, 128, 64, 1), dtype=np.uint8)
    muted = np.clip(grey.astype(int) + rng.integers(-20, 21, (4, 128, 64, 3)), 0, 255)
    assert (MarkerDetector().estimate(muted.astype(np.uint8)) == -1).all()


def test_subpixel_centroid_of_a_lone_marker():
    canvas = Canvas(np.full((128, 64, 3), 120, np.float32), supersample=4)
    canvas.disc((20.3, 40.7), 2.0, MARKER_RGB[5].astype(np.float32))
    pred = MarkerDetector().estimate(canvas.to_uint8()[None])[0]
    assert np.hypot(pred[5, 0] - 20.3, pred[5, 1] - 40.7) < 0.25
    assert (np.delete(pred, 5, axis=0) == -1).all()


def test_the_heaviest_blob_wins_over_a_stray_pixel():
    image = np.full((1, 128, 64, 3), 90, dtype=np.uint8)
    image[0, 10, 10] = MARKER_RGB[3]  # a stray pixel
    image[0, 50:53, 30:33] = MARKER_RGB[3]  # the marker
    pred = MarkerDetector().estimate(image)[0]
    assert pred[3].tolist() == [31.0, 51.0]


def test_batching_does_not_change_results(rendered):
    images, _ = rendered
    whole = MarkerDetector(chunk=64).estimate(images)
    one_by_one = MarkerDetector(chunk=1).estimate(images)
    assert np.array_equal(whole, one_by_one)


@pytest.mark.parametrize(
    "bad",
    [np.zeros((128, 64, 3), np.uint8), np.zeros((1, 128, 64, 3), np.float32),
     np.zeros((1, 128, 64, 4), np.uint8), [[0]]],
)
def test_rejects_what_is_not_uint8_nhwc(bad):
    with pytest.raises(ValueError, match="images must"):
        MarkerDetector().estimate(bad)
