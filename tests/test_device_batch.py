"""Each network's chunk of a batch: probed on a GPU (here: a simulated device memory), given
with --network-batch, the old default on a CPU; the values do not depend on it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.api import run
from bench.cli import _run_config, build_parser
from bench.config import CPU_BATCH, GPU_BATCH, RunConfig
from bench.device_batch import (
    BatchSizes,
    CudaMemory,
    DeviceTooSmallError,
    blank_batch,
    chunks,
    probe,
)
from bench.errors import BenchError
from bench.evaluation import generate
from bench.metrics.lpips import LPIPS
from bench.metrics.settings import MetricSettings, with_settings
from bench.plan import configuration

MB = 1 << 20


class FakeOOM(RuntimeError):
    pass


class FakeMemory:
    """A device whose peak memory for ``n`` inputs is ``peak(n)`` bytes beyond what is
    allocated; a call that would pass ``capacity`` raises FakeOOM."""

    def __init__(self, free: int, peak, capacity: int | None = None) -> None:
        self._free, self._peak, self.capacity = free, peak, capacity
        self.sizes: list[int] = []  # the batch of each call, in order
        self.released = 0

    def run_at(self, n: int) -> None:
        self.sizes.append(n)

    def release(self) -> None:
        self.released += 1

    def free(self) -> int:
        return self._free

    def peak_of(self, call) -> int:
        call()
        peak = self._peak(self.sizes[-1])
        if self.capacity is not None and peak > self.capacity:
            raise FakeOOM("CUDA out of memory")
        return peak

    def out_of_memory(self, exc: BaseException) -> bool:
        return isinstance(exc, FakeOOM)


def test_the_probe_takes_the_largest_power_of_two_that_fits_the_budget():
    # 50 MB besides the inputs, 3 MB per input; 40% of 1000 MB free: (400 - 50) / 3 = 116 fit
    memory = FakeMemory(1000 * MB, lambda n: 50 * MB + 3 * MB * n)
    fill = probe(memory.run_at, 256, memory, fraction=0.4)
    assert fill.batch == 64 and fill.how == "probed"
    assert (fill.per_item_bytes, fill.fixed_bytes) == (3 * MB, 50 * MB)
    assert fill.budget_bytes == 400 * MB and fill.peak_bytes == (50 + 3 * 64) * MB
    assert memory.sizes == [1, 1, 2, 64]  # warm-up, the two measured sizes, the confirmation
    assert probe(memory.run_at, 48, memory, fraction=0.4).batch == 48  # the run's batch is the cap
    assert probe(memory.run_at, 1, memory, fraction=0.4).batch == 1


def test_a_network_that_grows_faster_than_its_first_inputs_say_is_halved_to_the_budget():
    # linear from 1 to 2, then quadratic: the estimate (128) is over the budget when run
    memory = FakeMemory(1000 * MB, lambda n: 10 * MB + MB * n + (n > 2) * MB * n * n // 32)
    fill = probe(memory.run_at, 512, memory, fraction=0.4)
    assert fill.peak_bytes <= fill.budget_bytes == 400 * MB
    assert fill.batch == 64 and "over the budget at 128" in fill.note
    assert memory.sizes[-3:] == [256, 128, 64]


def test_running_out_of_memory_halves_the_batch_and_empties_the_cache():
    memory = FakeMemory(1000 * MB, lambda n: MB * n, capacity=20 * MB)
    fill = probe(memory.run_at, 512, memory, fraction=0.4)
    assert fill.batch == 16 and fill.note == "out of memory at 32"
    assert memory.sizes == [1, 1, 2, 256, 128, 64, 32, 16]
    assert memory.released == 5  # after each out-of-memory, and at the end


def test_a_network_that_fits_one_input_but_not_two_runs_one_at_a_time():
    memory = FakeMemory(1000 * MB, lambda n: 300 * MB * n, capacity=500 * MB)
    fill = probe(memory.run_at, 32, memory, fraction=0.4)
    assert (fill.batch, fill.note, fill.peak_bytes) == (1, "out of memory at 2", 300 * MB)


def test_a_network_that_does_not_fit_one_input_is_an_error_naming_it():
    memory = FakeMemory(1000 * MB, lambda n: MB * n, capacity=MB // 2)
    sizes = BatchSizes("cuda:0", cap=32, memory=memory)
    with pytest.raises(DeviceTooSmallError, match=r"inception-fid cannot run on cuda:0: out of "
                                                  r"device memory on a single input \(1000 MiB"):
        sizes.of("inception-fid", memory.run_at)


def test_sizes_are_chosen_once_per_network_and_kept_for_the_record():
    memory = FakeMemory(1000 * MB, lambda n: 50 * MB + 3 * MB * n)
    sizes = BatchSizes("cuda:0", cap=256, memory=memory)
    assert sizes.probes
    assert sizes.of("inception-fid", memory.run_at) == 64
    calls = len(memory.sizes)
    assert sizes.of("inception-fid", memory.run_at) == 64 and len(memory.sizes) == calls
    assert sizes.chosen()["inception-fid"] == {
        "batch": 64, "how": "probed", "per_item_bytes": 3 * MB, "fixed_bytes": 50 * MB,
        "budget_bytes": int(0.4 * 1000 * MB), "peak_bytes": (50 + 3 * 64) * MB}
    assert sizes.summary() == "inception-fid 64 (probed)"


def test_a_probe_that_fails_otherwise_leaves_the_default_and_says_why():
    def broken(n):
        raise ValueError("blank keypoints rejected")

    sizes = BatchSizes("cuda:0", cap=256, memory=FakeMemory(MB, lambda n: n))
    assert sizes.of("ctat", broken, default=8) == 8
    assert sizes.chosen()["ctat"] == {"batch": 8, "how": "default",
                                      "note": "probe failed: ValueError: blank keypoints rejected"}


def test_given_and_cpu_sizes_run_nothing():
    def never(n):
        raise AssertionError("no probe expected")

    given = BatchSizes("cuda:0", cap=32, given=8)
    assert not given.probes and given.of("ctat", never) == 8
    assert BatchSizes("cuda:0", cap=4, given=8).of("ctat", never) == 4  # at most the batch
    cpu = BatchSizes("cpu", cap=32)
    assert not cpu.probes
    assert cpu.of("keypointrcnn", never, default=8) == 8  # the network's own default
    assert cpu.of("lpips-alex-v0.1", never) == 32  # else the run's batch: as before
    assert cpu.summary() == "keypointrcnn 8, lpips-alex-v0.1 32 (default)"


def test_chunks_and_blank_batches():
    assert chunks(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert chunks(2, 8) == [(0, 2)] and chunks(0, 8) == []
    batch = blank_batch(3, (16, 8))
    assert batch.src_img.shape == (3, 16, 8, 3) and batch.src_img.dtype == np.uint8
    assert (batch.tgt_kpts == -1).all() and len(batch) == 3
    part = batch.rows(1, 3)
    assert len(part) == 2 and part.pairs == batch.pairs[1:3]


class _Conv:
    """A generator with a network that records the batch of each call."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        self.module = torch.nn.Conv2d(3, 3, 3, padding=1)
        self.seen: list[int] = []

    def generate(self, src, src_kpts, tgt_kpts):
        self.seen.append(len(src))
        return torch.sigmoid(self.module(src) + tgt_kpts.mean())


def _random_batch(n: int, size=(16, 8)):
    batch = blank_batch(n, size)
    rng = np.random.default_rng(1)
    batch.src_img[...] = rng.integers(0, 256, batch.src_img.shape, dtype=np.uint8)
    return batch


def test_a_generator_runs_a_batch_in_chunks_joined_in_pair_order():
    gen = _Conv()
    batch = _random_batch(7)
    whole = generate(gen, batch, "cpu")
    chunked = generate(gen, batch, "cpu", chunk=3)
    assert gen.seen == [7, 3, 3, 1]
    torch.testing.assert_close(chunked, whole, rtol=0, atol=1e-6)
    assert generate(gen, batch, "cpu", chunk=7) is not None and gen.seen[-1] == 7


def test_lpips_in_chunks_gives_the_same_distances(standin_alexnet):
    def metric(network_batch):
        settings = MetricSettings(weights=(("alexnet", str(standin_alexnet)),), download=False,
                                  network_batch=network_batch, image_size=(128, 64))
        return LPIPS(with_settings({}, settings))

    rng = np.random.default_rng(2)
    fake = rng.integers(0, 256, (5, 128, 64, 3), dtype=np.uint8)
    batch = _random_batch(5, (128, 64))
    batch.tgt_img[...] = rng.integers(0, 256, batch.tgt_img.shape, dtype=np.uint8)
    whole, split = metric(None), metric(2)
    assert (whole.network_batch, split.network_batch) == (32, 2)
    np.testing.assert_allclose(split.pair_values(fake, batch), whole.pair_values(fake, batch),
                               rtol=0, atol=1e-6)


def test_the_run_batch_defaults_by_device_and_hashes_as_before():
    assert RunConfig().resolved().batch_size == CPU_BATCH == 32
    assert RunConfig(device="cuda").resolved().batch_size == GPU_BATCH == 256
    assert RunConfig(device="cuda:1", batch_size=8).resolved().batch_size == 8
    before = configuration(RunConfig(batch_size=32), "abc", 10, (128, 64))
    assert configuration(RunConfig(), "abc", 10, (128, 64)) == before
    # the chunk changes no value (beyond float rounding on a GPU): a resume may change it
    assert configuration(RunConfig(network_batch=4), "abc", 10, (128, 64)) == before
    with pytest.raises(BenchError, match="--network-batch must be at least 1, got 0"):
        RunConfig(network_batch=0).resolved()


def test_the_cli_takes_the_network_batch():
    args = build_parser().parse_args(["run", "--network-batch", "4"])
    config = _run_config(args)
    assert (config.network_batch, config.batch_size) == (4, None)


@pytest.fixture(scope="module")
def chunked_runs(synthetic_parent, standin_alexnet, tmp_path_factory):
    out = {}
    for name, network_batch in (("default", None), ("given", 3)):
        lines: list[str] = []
        config = RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=6,
                           batch_size=4, metrics=("ssim", "l1", "lpips"), bootstrap=0,
                           efficiency=False, save_images=False, network_batch=network_batch,
                           weights=(("alexnet", str(standin_alexnet)),), offline=True,
                           out=tmp_path_factory.mktemp("nb") / name)
        result = run(config, progress=False, echo=lines.append)
        (rank,) = json.loads((result.run_dir / "env.json").read_text())["ranks"]
        out[name] = (result, lines, rank["network_batches"])
    return out


def test_a_given_network_batch_changes_no_value_and_is_on_the_record(chunked_runs):
    default, default_lines, default_batches = chunked_runs["default"]
    given, lines, batches = chunked_runs["given"]
    assert batches == {"lpips-alex-v0.1": {"batch": 3, "how": "given"},
                       "ctat": {"batch": 3, "how": "given"}}
    assert "  network batches of the 4-pair batches: lpips-alex-v0.1 3, ctat 3 (given)" in lines
    assert default_batches == {"lpips-alex-v0.1": {"batch": 4, "how": "default"},
                               "ctat": {"batch": 4, "how": "default"}}
    assert not any("network batches" in line for line in default_lines)  # nothing changed
    assert default.values.keys() == given.values.keys()
    for key, value in default.values.items():
        assert given.values[key] == pytest.approx(value, abs=1e-6), key


@pytest.mark.gpu
def test_on_a_gpu_the_probe_reads_the_device_memory():
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 64, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(64, 3, 3, padding=1)).cuda()

    def run_at(n):
        with torch.inference_mode():
            net(torch.zeros(n, 3, 256, 176, device="cuda"))

    fill = probe(run_at, 1024, CudaMemory("cuda"), fraction=0.4)
    assert 1 <= fill.batch <= 1024 and fill.peak_bytes <= fill.budget_bytes
    assert fill.per_item_bytes >= 64 * 256 * 176 * 4  # at least one 64-channel activation


def test_cuda_memory_reads_torchs_allocator(monkeypatch):
    """The CUDA reader through torch's own functions (each must exist: monkeypatch refuses a
    missing one), faked here: the peak is the allocator's peak less what was allocated before."""
    calls = []
    state = {"allocated": 100, "peak": 100}

    def record(name, value=None):
        def fake(*args, **kwargs):
            calls.append(name)
            return value() if callable(value) else value
        return fake

    def run():
        state["peak"] = state["allocated"] + 700  # the call's transient memory

    cuda = torch.cuda
    monkeypatch.setattr(cuda, "synchronize", record("synchronize"))
    monkeypatch.setattr(cuda, "empty_cache", record("empty_cache"))
    monkeypatch.setattr(cuda, "mem_get_info", record("mem_get_info", (5 * MB, 80 * MB)))
    monkeypatch.setattr(cuda, "memory_allocated", record("memory_allocated",
                                                         lambda: state["allocated"]))
    monkeypatch.setattr(cuda, "reset_peak_memory_stats",
                        record("reset", lambda: state.update(peak=state["allocated"])))
    monkeypatch.setattr(cuda, "max_memory_allocated", record("max", lambda: state["peak"]))
    memory = CudaMemory("cuda:0")
    assert memory.peak_of(run) == 700
    assert calls == ["synchronize", "memory_allocated", "reset", "synchronize", "max"]
    assert memory.free() == 5 * MB and calls[-3:] == ["synchronize", "empty_cache",
                                                      "mem_get_info"]
    assert memory.out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert not memory.out_of_memory(RuntimeError("other"))


class _ProbePeaks:
    """A device memory for a whole run: every probe's four passes (warm-up, 1, 2, the
    confirmation) peak at 10, 10, 20 and 40 MB, whatever the network; the passes really run."""

    def __init__(self) -> None:
        self.passes = 0

    def release(self) -> None:
        pass

    def free(self) -> int:
        return 1000 * MB

    def peak_of(self, call) -> int:
        call()
        self.passes += 1
        return MB * (10, 10, 20, 40)[(self.passes - 1) % 4]

    def out_of_memory(self, exc) -> bool:
        return False


def test_a_probing_run_probes_every_network_on_blank_inputs(synthetic_parent, standin_alexnet,
                                                            standin_inception, tmp_path,
                                                            monkeypatch):
    """The probes of a GPU run, on this CPU: each network (the generator, LPIPS, Inception)
    runs on blank inputs through the run's own code, and the sizes reach the record."""
    memory = _ProbePeaks()
    monkeypatch.setattr(BatchSizes, "probes", property(lambda self: self.given is None))
    monkeypatch.setattr(BatchSizes, "_memory_reader", lambda self: memory)
    lines: list[str] = []
    config = RunConfig(models=("source", "ctat"), data_root=synthetic_parent, limit=4,
                       batch_size=4, metrics=("ssim", "lpips", "is"), bootstrap=0,
                       efficiency=False, save_images=False, offline=True,
                       weights=(("alexnet", str(standin_alexnet)),
                                ("inception-fid", str(standin_inception))),
                       stats_cache=tmp_path / "cache", out=tmp_path / "r")
    result = run(config, progress=False, echo=lines.append)
    (rank,) = json.loads((result.run_dir / "env.json").read_text())["ranks"]
    batches = rank["network_batches"]
    assert set(batches) == {"lpips-alex-v0.1", "inception-fid", "ctat"}
    assert memory.passes == 12  # four passes per network, none failed
    for fill in batches.values():  # 10 MB a pair, 400 MB of budget: the run's batch of 4
        assert fill == {"batch": 4, "how": "probed", "per_item_bytes": 10 * MB,
                        "fixed_bytes": 0, "budget_bytes": 400 * MB, "peak_bytes": 40 * MB}
    assert any(line.startswith("  network batches of the 4-pair batches: ") and
               line.endswith("(probed)") for line in lines)
    assert all(np.isfinite(v) for v in result.values.values())
