"""End-to-end runs through the library API: outputs, reproducibility, and bad input."""

import json

import numpy as np
import pytest
import torch
from PIL import Image

from bench.api import run
from bench.config import RunConfig
from bench.models import GENERATORS
from bench.records import read_records

METRICS = ("ssim", "mask_ssim", "l1")


def _config(folder, out, **kw):
    base = dict(models=("oracle", "source"), dataset="market", data_root=folder, out=out,
                metrics=METRICS, batch_size=8)
    base.update(kw)
    return RunConfig(**base)


def _metric_values(records):
    return {(r.model, r.key): r.value for r in records if r.kind == "metric"}


@pytest.fixture
def temporary_model():
    """Register generators for one test only."""
    added = []

    def add(name, cls):
        GENERATORS.register(name)(cls)
        added.append(name)

    yield add
    for name in added:
        GENERATORS.unregister(name)


def test_run_writes_every_output(market_folder, tmp_path):
    out = tmp_path / "run"
    result = run(_config(market_folder, out), progress=False, echo=lambda s: None)
    assert result.run_dir == out
    for name in ("records.jsonl", "config.json", "env.json", "per_pair/oracle.csv",
                 "per_pair/source.csv"):
        assert (out / name).is_file(), name
    assert len(list((out / "images" / "oracle").glob("*.png"))) == 40
    config = json.loads((out / "config.json").read_text())
    assert config["models"] == ["oracle", "source"] and config["n_pairs"] == 40
    env = json.loads((out / "env.json").read_text())
    assert {"git_sha", "device_name", "torch_threads", "versions"} <= set(env)
    records = read_records(out / "records.jsonl")
    assert records == result.records
    metric = [r for r in records if r.kind == "metric"]
    assert {(r.model, r.key) for r in metric} == {(m, k) for m in ("oracle", "source") for k in METRICS}
    for r in metric:
        assert r.n == 40 and r.pairs_sha256 == config["pairs_sha256"]
        assert r.protocol == "patn" and r.protocol_version == "1" and r.metric_version
        assert r.dataset == "market" and r.split == "test" and r.error is None
    values = _metric_values(records)
    assert values[("oracle", "ssim")] == pytest.approx(1.0) and values[("oracle", "l1")] == 0.0
    assert values[("source", "ssim")] < 0.9
    assert all(r.reference_bound for r in metric)  # oracle and source are bounds


def test_per_pair_values_average_to_the_record(market_folder, tmp_path):
    import pandas as pd

    result = run(_config(market_folder, tmp_path / "r"), progress=False, echo=lambda s: None)
    table = pd.read_csv(tmp_path / "r" / "per_pair" / "source.csv")
    assert len(table) == 40 and list(table.columns[:3]) == ["index", "from", "to"]
    assert table["ssim"].mean() == pytest.approx(result.values[("source", "ssim")], abs=1e-12)


def test_scores_from_saved_images_equal_the_records(market_folder, tmp_path):
    """The metric layer sees exactly what is saved: re-scoring the PNGs gives the same values."""
    from bench.data import load_split, locate
    from bench.metrics import METRICS as REGISTRY
    from bench.types import PairBatch

    result = run(_config(market_folder, tmp_path / "r", models=("source",)),
                 progress=False, echo=lambda s: None)
    split = load_split(locate("market", market_folder))
    pairs = split.select()
    fake = np.stack([np.asarray(Image.open(tmp_path / "r" / "images" / "source" /
                                           f"{p.src[:-4]}___{p.tgt[:-4]}.png")) for p in pairs])
    tgt = np.stack([np.asarray(Image.open(market_folder / "test" / p.tgt).convert("RGB")) for p in pairs])
    src = np.stack([np.asarray(Image.open(market_folder / "test" / p.src).convert("RGB")) for p in pairs])
    batch = PairBatch(pairs=pairs, src_img=src, tgt_img=tgt,
                      src_kpts=np.stack([split.keypoints[p.src] for p in pairs]),
                      tgt_kpts=np.stack([split.keypoints[p.tgt] for p in pairs]))
    metric = REGISTRY.get("ssim")()
    metric.update(fake, batch)
    assert metric.compute()["ssim"] == pytest.approx(result.values[("source", "ssim")], abs=1e-12)


def test_same_command_gives_identical_records(market_folder, tmp_path):
    a = run(_config(market_folder, tmp_path / "a", subset=25, seed=3), progress=False, echo=lambda s: None)
    b = run(_config(market_folder, tmp_path / "b", subset=25, seed=3), progress=False, echo=lambda s: None)
    strip = ("run_id", "created")
    rows_a = [{k: v for k, v in vars(r).items() if k not in strip} for r in a.records]
    rows_b = [{k: v for k, v in vars(r).items() if k not in strip} for r in b.records]
    assert rows_a == rows_b
    c = run(_config(market_folder, tmp_path / "c", subset=25, seed=4), progress=False, echo=lambda s: None)
    assert c.records[0].pairs_sha256 != a.records[0].pairs_sha256


def test_refuses_to_overwrite_a_previous_run(market_folder, tmp_path):
    from bench.errors import BenchError

    run(_config(market_folder, tmp_path / "a", limit=2), progress=False, echo=lambda s: None)
    with pytest.raises(BenchError, match="already holds a run"):
        run(_config(market_folder, tmp_path / "a", limit=2), progress=False, echo=lambda s: None)


def _errors(result, model="source"):
    return [r for r in result.records if r.kind == "pair_error" and r.model == model]


def test_corrupt_and_wrong_size_images_become_pair_errors(market_folder, tmp_path):
    images = sorted((market_folder / "test").iterdir())
    images[0].write_bytes(b"\x89PNG\r\n\x1a\n not really")  # corrupt
    Image.fromarray(np.zeros((100, 50, 3), np.uint8)).save(images[1], "PNG")  # wrong size
    result = run(_config(market_folder, tmp_path / "r"), progress=False, echo=lambda s: None)
    errors = _errors(result)
    names = {images[0].name, images[1].name}
    affected = [p for p in read_pairs_of(market_folder) if names & set(p)]
    assert len(errors) == len(affected) > 0
    messages = " ".join(e.error for e in errors)
    assert "corrupt or unreadable image" in messages and "expected 128x64" in messages
    assert all(e.extra["file"] and e.extra["stage"] == "load" for e in errors)
    ssim = next(r for r in result.records if r.kind == "metric" and r.key == "ssim" and r.model == "source")
    assert ssim.n == 40 - len(affected) and ssim.extra["failed_pairs"] == len(affected)


def read_pairs_of(folder):
    lines = (folder / "market-pairs-test.csv").read_text().splitlines()[1:]
    return [tuple(line.split(",")) for line in lines]


def test_keypoints_outside_the_frame_become_pair_errors(market_folder, tmp_path):
    path = market_folder / "market-annotation-test.csv"
    lines = path.read_text().splitlines()
    name, ys, xs = lines[1].split(":")
    xs = json.loads(xs)
    xs[1] = 300
    lines[1] = f"{name}:{ys}: {json.dumps(xs)}"
    path.write_text("\n".join(lines) + "\n")
    result = run(_config(market_folder, tmp_path / "r"), progress=False, echo=lambda s: None)
    errors = _errors(result)
    assert errors and all("outside the 128x64 frame" in e.error for e in errors)
    assert all(name.strip() in (e.extra["from"], e.extra["to"]) for e in errors)


class _Broken:
    """Generator returning NaN for the first pair of each batch and [-1, 1] for the second."""

    name = "broken"

    def __init__(self, spec):
        self.module = torch.nn.Identity()

    def generate(self, src_img, src_kpts, tgt_kpts):
        out = src_img.clone()
        out[0, 0, 0, 0] = float("nan")
        out[1] = out[1] * 2 - 1
        return out


def test_nan_and_out_of_range_output_become_pair_errors(market_folder, tmp_path, temporary_model):
    temporary_model("broken", _Broken)
    result = run(_config(market_folder, tmp_path / "r", models=("broken", "source")),
                 progress=False, echo=lambda s: None)
    errors = _errors(result, "broken")
    assert len(errors) == 10  # 2 per batch of 8, 5 batches
    assert sum("NaN" in e.error for e in errors) == 5
    assert sum("expected [0, 1]" in e.error for e in errors) == 5
    ssim = {r.model: r for r in result.records if r.kind == "metric" and r.key == "ssim"}
    assert ssim["broken"].n == 30 and ssim["source"].n == 40
    assert ssim["broken"].value == pytest.approx(ssim["source"].value, abs=0.1)


class _Interrupting:
    name = "interrupting"
    calls = 0

    def __init__(self, spec):
        self.module = torch.nn.Identity()

    def generate(self, src_img, src_kpts, tgt_kpts):
        type(self).calls += 1
        if type(self).calls == 3:
            raise KeyboardInterrupt
        return src_img.clone()


def test_interrupted_run_keeps_what_was_computed(market_folder, tmp_path, temporary_model):
    temporary_model("interrupting", _Interrupting)
    result = run(_config(market_folder, tmp_path / "r", models=("interrupting",)),
                 progress=False, echo=lambda s: None)
    assert result.interrupted
    records = read_records(tmp_path / "r" / "records.jsonl")
    ssim = next(r for r in records if r.kind == "metric" and r.key == "ssim")
    assert ssim.n == 16 and not ssim.extra["complete"]
    assert "interrupted: 16 of 40 pairs evaluated" in ssim.error
    assert len((tmp_path / "r" / "per_pair" / "interrupting.csv").read_text().splitlines()) == 17


def test_missing_image_files_become_pair_errors_and_all_missing_stops(market_folder, tmp_path):
    from bench.errors import DataError

    images = sorted((market_folder / "test").iterdir())
    images[2].unlink()
    result = run(_config(market_folder, tmp_path / "r"), progress=False, echo=lambda s: None)
    errors = _errors(result)
    assert errors and all("does not exist" in e.error and images[2].name in e.error for e in errors)
    for path in images[:2] + images[3:]:
        path.unlink()
    Image.fromarray(np.zeros((128, 64, 3), np.uint8)).save(market_folder / "test" / "other.png")
    with pytest.raises(DataError, match="none of the 12 images named in market-pairs-test.csv"):
        run(_config(market_folder, tmp_path / "s"), progress=False, echo=lambda s: None)


def test_unusable_device_stops_before_work(market_folder, tmp_path):
    from bench.errors import BenchError

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is available here")
    with pytest.raises(BenchError, match="--device 'cuda' cannot be used here"):
        run(_config(market_folder, tmp_path / "r", device="cuda"), progress=False, echo=lambda s: None)
    assert not (tmp_path / "r").exists()

