"""Throughput of the synthetic dataset's renderer and of the marker detector.

    /work/venv/bin/pytest benchmarks --benchmark-only -q

Each benchmark records images per second in ``extra_info`` (shown with
``--benchmark-columns=...`` or in ``--benchmark-json``) and prints it.
"""

from __future__ import annotations

import dataclasses
import io

import numpy as np
import pytest
from PIL import Image

from bench.data.synthetic import FASHION_LIKE, MARKET_LIKE, iter_split
from bench.pose.markers import MarkerDetector

BATCH = 64


def _spec(base, n_images: int):
    return dataclasses.replace(
        base, identities_test=n_images // 8, images_per_identity=8, junk_test=0
    )


def _report(benchmark, what: str, n_images: int) -> None:
    per_second = n_images / benchmark.stats.stats.mean
    benchmark.extra_info["images_per_second"] = round(per_second, 1)
    print(f"\n{what}: {per_second:.0f} images/s")


@pytest.mark.parametrize("base", [MARKET_LIKE, FASHION_LIKE], ids=["128x64", "256x176"])
def test_render(benchmark, base):
    spec = _spec(base, BATCH)
    images = benchmark.pedantic(lambda: [it.image for it in iter_split(spec, "test")],
                                rounds=3, warmup_rounds=1)
    assert len(images) == BATCH
    _report(benchmark, f"render {base.size[0]}x{base.size[1]}", BATCH)


@pytest.mark.parametrize("base", [MARKET_LIKE, FASHION_LIKE], ids=["128x64", "256x176"])
def test_render_and_encode_png(benchmark, base):
    from bench.data.synthetic.write import PNG_COMPRESS_LEVEL

    spec = _spec(base, BATCH)

    def run():
        for it in iter_split(spec, "test"):
            Image.fromarray(it.image).save(io.BytesIO(), format="PNG",
                                           compress_level=PNG_COMPRESS_LEVEL)

    benchmark.pedantic(run, rounds=3, warmup_rounds=1)
    _report(benchmark, f"render + PNG {base.size[0]}x{base.size[1]}", BATCH)


@pytest.mark.parametrize("base", [MARKET_LIKE, FASHION_LIKE], ids=["128x64", "256x176"])
def test_marker_detector(benchmark, base):
    n = 4 * BATCH
    images = np.stack([it.image for it in iter_split(_spec(base, BATCH), "test")])
    images = np.concatenate([images] * 4)
    detector = MarkerDetector()
    keypoints = benchmark.pedantic(lambda: detector.estimate(images), rounds=5, warmup_rounds=1)
    assert keypoints.shape == (n, 18, 2)
    _report(benchmark, f"marker detector {base.size[0]}x{base.size[1]}", n)
