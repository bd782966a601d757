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
