"""Time estimates: the progress lines' time left (fake clock) and the notice before a long CPU
run (injected timings), which changes no generated image or metric value."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import bench.estimate as estimate
from bench.api import run
from bench.config import RunConfig
from bench.models import GENERATORS
from bench.precision import has_network
from bench.progress import Progress, format_duration, format_rate


class FakeClock:
    """Advances ``step`` seconds at every reading."""

    def __init__(self, step: float, start: float = 0.0) -> None:
        self.now, self.step = start - step, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_durations_and_rates_are_worded_for_people():
    assert [format_duration(s) for s in (0.2, 40, 89, 95, 300, 5399, 5400, 36000 - 1, 40000)] == [
        "1 s", "40 s", "89 s", "2 min", "5 min", "90 min", "1.5 h", "10 h", "11 h"]
    assert [format_rate(r) for r in (0.414, 2.83, 35.4, 1200.0)] == [
        "0.41/s", "2.8/s", "35/s", "1200/s"]


def test_periodic_lines_say_the_time_left_at_the_mean_rate(capsys):
    # every reading of the clock is 10 s after the previous one; the bar reads it once at start
    bar = Progress(total=12000, desc="pairs", every_s=10.0, clock=FakeClock(10.0))
    for _ in range(3):
        bar.update(350)  # 350 pairs per 10 s: 35/s
    bar.note("loss 0.4")
    bar.update(10950)
    bar.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "  pairs: 350/12000 (35/s, about 6 min left)"  # 11650 / 35 = 333 s
    assert lines[2] == "  pairs: 1050/12000 (35/s, about 5 min left)"  # 10950 / 35 = 313 s
    assert lines[3] == "  pairs: 12000/12000 (300/s, 40 s) loss 0.4"
    assert len(lines) == 4
    assert Progress(total=5, desc="x", enabled=False).line(0.0).endswith("(0/s, no estimate yet)")


def test_the_notice_says_how_long_and_how_to_sample():
    line = estimate.long_run_notice({"ctat": 0.52, "pg2": 0.2, "patn": 0.31}, 2000, "cpu", 7)
    assert line == (
        "note: generating 2000 pairs with ctat (0.52 s/pair), pg2 (0.2 s/pair), patn "
        "(0.31 s/pair) on the cpu will take about 34 min (one warm batch timed; the metrics add "
        "to it); to sample: --subset 290 --seed 7 (about 5 min), or --limit 290 for the first "
        "pairs")
    assert estimate.long_run_notice({"ctat": 0.29}, 2000, "cpu", 0) is None  # 580 s: quiet
    assert estimate.long_run_notice({}, 10**6, "cpu", 0) is None
    slow = estimate.long_run_notice({"ctat": 400.0}, 100, "cpu", 0)
    assert "about 11 h" in slow and "--subset 1 --seed 0" in slow
    assert [estimate._round_down(n) for n in (0, 7, 99, 100, 293, 1234, 57000)] == [
        1, 7, 99, 100, 290, 1200, 57000]


class _Noisy:
    """A learned stand-in (a 1x1 convolution) whose output draws from torch's random state:
    any generate() call the estimate made without restoring it would change the images."""

    sees_target = False

    def __init__(self, spec) -> None:
        torch.manual_seed(spec.seed)
        self.module = torch.nn.Conv2d(3, 3, 1)

    def generate(self, src, src_kpts, tgt_kpts):
        return (0.8 * src + 0.2 * torch.rand_like(src)).clamp(0, 1)


@pytest.fixture
def noisy_model():
    GENERATORS.register("noisy")(_Noisy)
    yield "noisy"
    GENERATORS.unregister("noisy")


def _timed_by(monkeypatch, step: float) -> list:
    """Every probe call of bench.estimate takes ``step`` seconds on a fake clock."""
    real = estimate.time_call
    calls = []

    def timed(gen, inputs, clock=None):
        calls.append(tuple(inputs[0].shape))
        return real(gen, inputs, clock=FakeClock(step))

    monkeypatch.setattr(estimate, "time_call", timed)
    return calls


def test_a_long_run_says_so_before_work_and_the_probe_changes_nothing(
        noisy_model, market_folder, tmp_path, monkeypatch):
    calls = _timed_by(monkeypatch, 80.0)  # 80 s per pair
    monkeypatch.setattr(estimate, "MIN_PAIRS", 10)
    config = dict(models=("source", "noisy"), dataset="market", data_root=market_folder,
                  metrics=("ssim", "l1"), bootstrap=0, efficiency=False, seed=3)
    lines = []
    probed = run(RunConfig(**config, out=tmp_path / "a"), progress=False, echo=lines.append)
    notice = [line for line in lines if line.startswith("note: generating")]
    assert notice == [
        "note: generating 40 pairs with noisy (80 s/pair) on the cpu will take about 53 min "
        "(one warm batch timed; the metrics add to it); to sample: --subset 3 --seed 3 (about "
        "4 min), or --limit 3 for the first pairs"]
    assert calls == [(1, 3, 128, 64)] * 2  # learned models only: a cold call, then a warm one
    assert lines.index(notice[0]) > next(i for i, li in enumerate(lines) if li.startswith("run "))

    monkeypatch.setattr(estimate, "MIN_PAIRS", 10**9)  # not estimated
    lines = []
    plain = run(RunConfig(**config, out=tmp_path / "b"), progress=False, echo=lines.append)
    assert not any(line.startswith("note: generating") for line in lines)
    assert probed.values == plain.values and len(probed.values) == 4
    a = sorted((tmp_path / "a" / "images" / "noisy").glob("*.png"))
    b = sorted((tmp_path / "b" / "images" / "noisy").glob("*.png"))
    assert [p.name for p in a] == [p.name for p in b] and len(a) == 40
    assert all(np.array_equal(np.asarray(_read(x)), np.asarray(_read(y)))
               for x, y in zip(a, b, strict=True))


def test_a_fast_first_call_is_the_only_one(noisy_model, market_folder, tmp_path, monkeypatch):
    calls = _timed_by(monkeypatch, 0.5)  # 40 pairs x 0.5 s: well under 10 minutes
    monkeypatch.setattr(estimate, "MIN_PAIRS", 10)
    lines = []
    run(RunConfig(models=("noisy",), dataset="market", data_root=market_folder, metrics=("l1",),
                  bootstrap=0, efficiency=False, out=tmp_path / "r"),
        progress=False, echo=lines.append)
    assert len(calls) == 1 and not any(li.startswith("note: generating") for li in lines)


def test_short_runs_and_other_devices_are_not_timed(noisy_model):
    gen = _Noisy(type("Spec", (), {"seed": 0})())
    built = [("noisy", gen), ("source", object())]
    pairs = tuple(range(5))
    assert estimate.estimate_generation(built, None, pairs, (128, 64), "cpu") == {}
    assert estimate.estimate_generation(built, None, tuple(range(500)), (128, 64), "cuda") == {}
    assert has_network(gen) and not has_network(object())


def _read(path):
    from PIL import Image

    with Image.open(path) as img:
        return img.convert("RGB").copy()
