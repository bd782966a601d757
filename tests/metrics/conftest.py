"""Real data for the metric tests: annotation rows and the published Def-GAN result strips."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

SPLITS = "pose-transfer-splits"


def read_annotation_rows(path: Path) -> tuple[list[str], np.ndarray]:
    """Names and int (N, 18, 2) keypoints in PATN's (y, x) order, -1 missing."""
    ann = pd.read_csv(path, sep=":")
    ys = np.array([json.loads(v) for v in ann["keypoints_y"]])
    xs = np.array([json.loads(v) for v in ann["keypoints_x"]])
    return [n.strip() for n in ann["name"]], np.stack([ys, xs], axis=-1)


def load_strips(folder: Path) -> tuple[list[str], np.ndarray, np.ndarray]:
    """[source | target | generated] PNG strips -> target names, targets, generated (uint8)."""
    names, targets, generated = [], [], []
    for path in sorted(folder.glob("*.png")):
        strip = np.asarray(Image.open(path).convert("RGB"))
        w = strip.shape[1] // 3
        targets.append(strip[:, w:2 * w])
        generated.append(strip[:, 2 * w:3 * w])
        names.append(path.name[: -len(".png")].split(".jpg_", 1)[1])
    return names, np.stack(targets), np.stack(generated)


@pytest.fixture(scope="session")
def market_rows(shared_data):
    return read_annotation_rows(shared_data / SPLITS / "market-annotation-test.csv")


@pytest.fixture(scope="session")
def fashion_rows(shared_data):
    return read_annotation_rows(shared_data / SPLITS / "fasion-annotation-test.csv")


@pytest.fixture(scope="session")
def market_strips(shared_data):
    """100 Def-GAN Market results: (target names, targets, generated), 128x64 panels, and the
    target keypoints (x, y) float32 from market-annotation-train.csv (Def-GAN's sample choice)."""
    names, tgt, gen = load_strips(shared_data / "published-samples" / "deform-market")
    ann_names, kp = read_annotation_rows(shared_data / SPLITS / "market-annotation-train.csv")
    index = {n: i for i, n in enumerate(ann_names)}
    kpts = np.stack([kp[index[n]][:, ::-1] for n in names]).astype(np.float32)
    return names, tgt, gen, kpts


@pytest.fixture(scope="session")
def fashion_strips(shared_data):
    """100 Def-GAN DeepFashion results: (target names, targets, generated), 256x256 panels."""
    return load_strips(shared_data / "published-samples" / "deform-fashion")
