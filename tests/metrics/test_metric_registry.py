"""The metric manifest: names, lazy loading, declarations."""

from __future__ import annotations

import pytest

from bench.errors import UnknownNameError
from bench.metrics import METRICS
from bench.types import Metric

NAMES = ["ssim", "mask_ssim", "ssim_skimage", "mask_ssim_skimage", "ssim_fixed",
         "mask_ssim_fixed", "l1", "psnr"]


def test_names():
    assert sorted(METRICS.names()) == sorted(NAMES)
    assert METRICS.names("*ssim*")[:2] == ["ssim", "mask_ssim"]  # the published pair first


@pytest.mark.parametrize("name", NAMES)
def test_entries_load_and_declare(name):
    cls = METRICS.get(name)
    assert issubclass(cls, Metric) and cls.name == name
    assert cls.version and cls.__doc__ and cls.description
    metric = cls({})
    assert metric.result_keys() == (name,)


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'mask_ssim'"):
        METRICS.get("mask-ssim")
