"""The metric manifest: names, lazy loading, declarations."""

from __future__ import annotations

import pytest

from bench.errors import MetricUnavailableError, UnknownNameError, WeightsUnavailableError
from bench.metrics import METRICS, PROTOCOL_ONLY, default_metrics
from bench.metrics.settings import MetricSettings, with_settings
from bench.types import Metric

NETWORK_FREE = ["ssim", "mask_ssim", "ssim_skimage", "mask_ssim_skimage", "ssim_fixed",
                "mask_ssim_fixed", "l1", "psnr", "ssim_box51"]
NEEDS_WEIGHTS = ["lpips", "is", "mask_is", "fid", "kid", "lpips_script", "fid_train",
                 "kid_train"]
NEEDS_SETTINGS = ["pckh"]
NEEDS_SCRIPT_PROTOCOL = ["ssim_256", "psnr_script", "l1_script", "mae_script", "fid_tv"]
NAMES = NETWORK_FREE + NEEDS_WEIGHTS + NEEDS_SETTINGS + NEEDS_SCRIPT_PROTOCOL


def test_names():
    assert sorted(METRICS.names()) == sorted(NAMES)
    assert set(PROTOCOL_ONLY) <= set(NAMES)
    assert default_metrics() == tuple(n for n in METRICS.names() if n not in PROTOCOL_ONLY)
    assert METRICS.names("*ssim*")[:2] == ["ssim", "mask_ssim"]  # the published pair first


@pytest.mark.parametrize("name", NAMES)
def test_entries_load_and_declare(name):
    cls = METRICS.get(name)
    assert issubclass(cls, Metric) and cls.name == name
    assert cls.version and cls.__doc__ and cls.description
    assert cls.result_keys(cls) in ((name,), cls.keys)


@pytest.mark.parametrize("name", NETWORK_FREE)
def test_network_free_metrics_build_from_nothing(name):
    assert METRICS.get(name)({}).result_keys() == (name,)


@pytest.mark.parametrize("name", NEEDS_WEIGHTS)
def test_network_metrics_without_weights_are_unavailable_not_random(name, empty_hub):
    shared = with_settings({}, MetricSettings(download=False))
    with pytest.raises(WeightsUnavailableError, match="not found: looked in"):
        METRICS.get(name)(shared)


@pytest.mark.parametrize("name", NEEDS_SCRIPT_PROTOCOL)
def test_script_metrics_outside_a_script_protocol_say_which_protocols(name):
    with pytest.raises(MetricUnavailableError, match=r"--protocol gfla \| .*dptn \| pidm"):
        METRICS.get(name)(with_settings({}, MetricSettings(protocol="patn")))


def test_unknown_name_suggests():
    with pytest.raises(UnknownNameError, match="did you mean 'mask_ssim'"):
        METRICS.get("mask-ssim")
