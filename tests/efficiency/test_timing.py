"""The latency harness with a fake clock: warm-up, synchronisation, iteration counts, budget."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from bench.efficiency.timing import OtherLoad, Timing, synchronizer, time_callable


class FakeClock:
    """Each call of the timed function advances the clock by the next programmed duration;
    every event (call, synchronise, clock read) is logged in order."""

    def __init__(self, durations):
        self.now = 100.0
        self.durations = list(durations)
        self.log: list[str] = []

    def fn(self):
        self.log.append("call")
        self.now += self.durations.pop(0) if self.durations else 0.0

    def sync(self):
        self.log.append("sync")

    def clock(self):
        self.log.append("clock")
        return self.now


def test_warms_up_synchronises_and_counts_iterations():
    fake = FakeClock([9.0, 9.0, 0.5, 0.25, 0.75, 1.0])
    t = time_callable(fake.fn, warmup=2, iterations=4, min_iterations=1, clock=fake.clock,
                      synchronize=fake.sync, batch=2)
    assert t.warmup == 2 and t.iterations == 4 and t.batch == 2
    assert t.samples == (0.5, 0.25, 0.75, 1.0)  # warm-up calls are not timed
    assert fake.log[:4] == ["call", "sync", "call", "sync"]
    timed = ["sync", "clock", "call", "sync", "clock"]  # queued work ends before the clock
    assert fake.log[4:] == timed * 4
    assert t.median == 0.625 and t.min == 0.25 and t.max == 1.0
    assert t.p90 == pytest.approx(0.925)
    assert t.images_per_s == pytest.approx(2 / 0.625)
    summary = t.summary_ms()
    assert summary["iterations"] == 4 and summary["warmup"] == 2
    assert summary["samples_ms"] == [500.0, 250.0, 750.0, 1000.0]


def test_budget_stops_after_the_minimum_and_never_before():
    fake = FakeClock([1.0] * 10)
    t = time_callable(fake.fn, warmup=0, iterations=10, min_iterations=2, budget_s=2.5,
                      clock=fake.clock)
    assert t.iterations == 3  # 1 + 1 + 1 >= 2.5
    fake = FakeClock([10.0] * 10)
    t = time_callable(fake.fn, warmup=0, iterations=10, min_iterations=4, budget_s=1.0,
                      clock=fake.clock)
    assert t.iterations == 4  # the minimum even when one call exceeds the budget
    fake = FakeClock([0.001] * 50)
    t = time_callable(fake.fn, warmup=1, iterations=5, min_iterations=9, budget_s=100.0,
                      clock=fake.clock)
    assert t.iterations == 5  # the minimum is capped by the maximum


def test_no_synchronise_on_the_cpu_and_invalid_arguments():
    assert synchronizer("cpu") is None
    fake = FakeClock([0.1] * 3)
    assert time_callable(fake.fn, warmup=0, iterations=3, clock=fake.clock).iterations == 3
    with pytest.raises(ValueError):
        time_callable(fake.fn, iterations=0)
    with pytest.raises(ValueError):
        time_callable(fake.fn, warmup=-1)


def test_spread_of_a_single_sample():
    t = Timing(samples=(0.2,), warmup=0)
    assert t.std == 0.0 and t.median == t.p90 == t.min == 0.2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc/stat is Linux's")
def test_other_processes_cpu_time_is_measured():
    busy = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        time.sleep(0.3)
        with OtherLoad() as load:
            time.sleep(1.0)  # this process idles; the neighbour spins
    finally:
        busy.kill()
        busy.wait()
    assert load.cores is not None and load.cores > 0.5


@pytest.mark.gpu
def test_cuda_synchronizer_waits_for_queued_work():
    import torch

    sync = synchronizer("cuda")
    x = torch.rand(2048, 2048, device="cuda")
    t = time_callable(lambda: x @ x, warmup=2, iterations=5, synchronize=sync)
    assert t.iterations == 5 and t.min > 0
