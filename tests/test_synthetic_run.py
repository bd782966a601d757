"""The README's main job on the embedded synthetic set: reference methods order as expected."""

import pytest

from bench.api import run
from bench.config import RunConfig


@pytest.fixture(scope="module")
def reference_run(synthetic_parent, tmp_path_factory):
    config = RunConfig(models=("oracle", "source", "warp"), data_root=synthetic_parent,
                       subset=300, seed=0, out=tmp_path_factory.mktemp("run") / "r",
                       metrics=("ssim", "mask_ssim", "ssim_fixed", "l1", "psnr"))
    return run(config, progress=False, echo=lambda s: None)


@pytest.mark.parametrize("key", ["ssim", "mask_ssim", "ssim_fixed", "psnr"])
def test_oracle_beats_warp_beats_source(reference_run, key):
    v = reference_run.values
    assert v[("oracle", key)] > v[("warp", key)] > v[("source", key)]


def test_lower_is_better_metrics_order_the_same_way(reference_run):
    v = reference_run.values
    assert v[("oracle", "l1")] == 0 < v[("warp", "l1")] < v[("source", "l1")]


def test_oracle_is_the_exact_bound(reference_run):
    v = reference_run.values
    assert v[("oracle", "ssim")] == pytest.approx(1.0, abs=1e-12)
    assert v[("oracle", "psnr")] == float("inf")
    records = [r for r in reference_run.records if r.kind == "metric"]
    assert {r.model for r in records if r.reference_bound} == {"oracle", "source"}
    assert all(r.n == 300 and r.dataset == "synthetic" for r in records)
    assert not reference_run.errors()
