"""Wall time per stage of a run, and generation launched one batch ahead of scoring."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bench.api import run
from bench.config import RunConfig
from bench.evaluation import launch
from bench.generation import images_to_tensor, to_device
from bench.stages import Stages, add_stages, describe
from bench.types import Pair, PairBatch


def test_stages_add_up_per_model_and_describe_themselves():
    a, b = Stages(), Stages()
    a.add("load", 1.0)
    a.add("generate", 2.0, "ctat")
    a.add("score", 0.5, "ctat")
    b.add("generate", 1.0, "ctat")
    b.add("generate", 4.0, "patn")
    with pytest.raises(ValueError, match="stage must be one of"):
        b.add("generate", 1.0)
    total = add_stages([a.to_dict(), None, b.to_dict()])
    assert total == {"load": 1.0, "generate": {"ctat": 3.0, "patn": 4.0}, "score": {"ctat": 0.5}}
    assert describe(total) == ("waiting for images 1.0 s, generation 7.0 s (ctat 3.0 s, "
                               "patn 4.0 s), scoring 0.5 s")


def test_a_run_records_and_prints_its_stages(synthetic_parent, tmp_path):
    lines: list[str] = []
    run(RunConfig(models=("source", "warp"), data_root=synthetic_parent, limit=24, batch_size=8,
                  metrics=("ssim", "l1"), bootstrap=0, efficiency=False, save_images=False,
                  out=tmp_path / "r"), progress=False, echo=lines.append)
    (rank,) = json.loads((tmp_path / "r" / "env.json").read_text())["ranks"]
    stages = rank["stages"]
    assert set(stages["generate"]) == set(stages["score"]) == {"source", "warp"}
    assert stages["generate"]["warp"] > stages["generate"]["source"] > 0
    assert all(v > 0 for v in stages["score"].values()) and stages["load"] >= 0
    done = lines.index(next(line for line in lines if line.startswith("done in")))
    assert lines[done + 1] == "  " + describe(stages)


class _Failing:
    def __init__(self, exc):
        self.exc = exc

    def generate(self, src, src_kpts, tgt_kpts):
        raise self.exc


def _batch(n=2, size=(16, 8)):
    rng = np.random.default_rng(0)
    kpts = np.stack([rng.uniform(4, size[1] - 4, (n, 18)), rng.uniform(4, size[0] - 4, (n, 18))],
                    axis=-1).astype(np.float32)
    return PairBatch(pairs=tuple(Pair(i, f"a{i}", f"b{i}") for i in range(n)),
                     src_img=rng.integers(0, 256, (n, *size, 3), dtype=np.uint8),
                     tgt_img=rng.integers(0, 256, (n, *size, 3), dtype=np.uint8),
                     src_kpts=kpts, tgt_kpts=kpts[::-1].copy())


def test_a_launch_holds_the_output_or_the_generation_error():
    from bench.models.base import ModelSpec
    from bench.models.reference import Source

    batch = _batch()
    out = launch(Source(ModelSpec(name="source", size=(16, 8))), batch, "cpu").result()
    torch.testing.assert_close(out, images_to_tensor(batch.src_img, "cpu"), rtol=0, atol=0)
    error = ValueError("bad pose")
    assert launch(_Failing(error), batch, "cpu").result() is error  # scored as pair errors
    with pytest.raises(TypeError):  # a bug, not a generation failure: the run stops
        launch(_Failing(TypeError("oops")), batch, "cpu")


@pytest.mark.gpu
def test_on_a_gpu_the_output_comes_back_through_pinned_memory():
    from bench.models.base import ModelSpec
    from bench.models.warp import Warp

    batch = _batch(4, (128, 64))
    on_gpu = to_device(torch.from_numpy(batch.src_img.copy()), "cuda")
    assert on_gpu.is_cuda
    torch.testing.assert_close(on_gpu.cpu(), torch.from_numpy(batch.src_img), rtol=0, atol=0)
    spec = ModelSpec(name="warp", size=(128, 64), device="cuda")
    launched = launch(Warp(spec), batch, "cuda")
    host = launched.result()
    assert host.device.type == "cpu" and host.is_pinned()
    reference = launch(Warp(ModelSpec(name="warp", size=(128, 64))), batch, "cpu").result()
    torch.testing.assert_close(host, reference, rtol=1e-5, atol=1e-5)


class _Reading(_Failing):
    sees_pairs = True

    def __init__(self, exc=None):
        super().__init__(exc)
        self.threads: list[str] = []

    def generate(self, src, src_kpts, tgt_kpts, *, pairs):
        import threading

        self.threads.append(threading.current_thread().name)
        if self.exc is not None:
            raise self.exc
        return len(pairs)


def test_a_results_folder_reads_in_the_reader_thread():
    from concurrent.futures import ThreadPoolExecutor

    batch = _batch(3)
    with ThreadPoolExecutor(1, thread_name_prefix="results-reader") as reader:
        gen = _Reading()
        assert launch(gen, batch, "cpu", reader=reader).result() == 3
        assert gen.threads[0].startswith("results-reader")
        error = ValueError("unreadable strip")
        assert launch(_Reading(error), batch, "cpu", reader=reader).result() is error
        assert launch(gen, batch, "cpu").result() == 3  # no reader: at once, in this thread
        assert not gen.threads[1].startswith("results-reader")


class _NetworkMetric:
    """A metric that says it runs a network (it names weights), noting its thread and batches;
    ``fail_on`` makes its update of that batch raise."""

    name = version = "net"
    per_pair = True

    def __init__(self, inner, fail_on: int | None = None):
        self.inner, self.fail_on, self.seen = inner, fail_on, []

    def weights_used(self):
        return {"net": {"file": "stand-in", "sha256": "0" * 64, "published": False}}

    def update(self, fake, batch):
        import threading

        self.seen.append((threading.current_thread().name, batch.pairs[0].index))
        if self.fail_on == batch.pairs[0].index:
            raise RuntimeError("device out of memory (stand-in)")
        return self.inner.update(fake, batch)

    def __getattr__(self, name):
        return getattr(self.inner, name)


def _overlap_context(market_folder, tmp_path):
    from bench.api import prepare
    from bench.outputs import RunOutputs

    config = RunConfig(models=("warp",), dataset="market", data_root=market_folder, limit=16,
                       batch_size=4, unit_size=16, metrics=("ssim", "l1"), bootstrap=0,
                       efficiency=False, save_images=False).resolved()
    ctx = prepare(config, "cpu", echo=lambda s: None, progress=False)
    ctx.outputs = RunOutputs(tmp_path, config.models, save_images=False)
    return ctx


def test_network_metrics_update_in_the_device_thread_with_the_same_values(market_folder,
                                                                          tmp_path):
    """With ``overlap`` (a GPU's default) a metric that runs a network updates in the device
    thread while the SSIM family runs in the scoring thread; the batches keep their order
    and the rows, values and states are those of updating one after the other."""
    from bench.evaluation import UnitEvaluator

    ctx = _overlap_context(market_folder, tmp_path)
    (run_,) = ctx.models
    ssim, l1 = run_.metrics
    results = {}
    for overlap in (False, True):
        wrapped = _NetworkMetric(l1)
        run_.metrics = [ssim, wrapped]
        evaluator = UnitEvaluator(ctx, overlap=overlap)
        assert evaluator.overlap is overlap
        results[overlap] = evaluator.evaluate(ctx.plan.units()[0]).models[0]
        evaluator.close()
        threads = {name for name, _ in wrapped.seen}
        assert [i for _, i in wrapped.seen] == [0, 4, 8, 12]
        assert (threads == {"MainThread"}) is not overlap
        assert overlap is False or all(n.startswith("device-metrics") for n in threads)
    run_.metrics = [ssim, l1]
    plain, overlapped = results[False], results[True]
    assert plain.rows == overlapped.rows and len(plain.rows) == 16
    np.testing.assert_array_equal(plain.values, overlapped.values)
    for name, state in plain.states.items():
        for key, value in state.items():
            np.testing.assert_array_equal(value, overlapped.states[name][key])
    assert UnitEvaluator(ctx).overlap is False  # the CPU's default: no thread


def test_a_network_metric_failing_in_the_device_thread_fails_the_unit(market_folder,
                                                                        tmp_path):
    from bench.evaluation import UnitEvaluator

    ctx = _overlap_context(market_folder, tmp_path)
    (run_,) = ctx.models
    ssim, l1 = run_.metrics
    run_.metrics = [ssim, _NetworkMetric(l1, fail_on=8)]
    evaluator = UnitEvaluator(ctx, overlap=True)
    with pytest.raises(RuntimeError, match="out of memory"):
        evaluator.evaluate(ctx.plan.units()[0])
    evaluator.close()
    run_.metrics = [ssim, l1]
