"""Work units, their files and the merge, without extra processes: atomic files under
concurrent writers, unit files that say what is wrong with them, the real-set rows one process
would compute, ``bench merge`` and ``--resume`` settings from the command line."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import numpy as np
import pytest

from bench.api import merge, prepare, run, saved_config
from bench.cli import _run_config, build_parser
from bench.config import RunConfig
from bench.errors import BenchError
from bench.files import write_atomic
from bench.metrics.inception import RealTargets
from bench.metrics.settings import MetricSettings
from bench.records import KIND_METRIC
from bench.types import Pair, PairBatch
from bench.units import complete_units, read_unit

QUIET = dict(progress=False, echo=lambda s: None)


def test_concurrent_writers_never_leave_half_a_file(tmp_path):
    path = tmp_path / "cache" / "targets.npz"
    payloads = [bytes([i]) * 200_000 for i in range(8)]
    seen_bad = []

    def reader():
        for _ in range(200):
            if path.exists():
                data = path.read_bytes()
                if data not in payloads:
                    seen_bad.append(len(data))

    threads = [threading.Thread(target=write_atomic, args=(path, p)) for p in payloads]
    threads.append(threading.Thread(target=reader))
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert path.read_bytes() in payloads and not seen_bad
    assert [p.name for p in path.parent.iterdir()] == ["targets.npz"]  # no temporary left


@pytest.fixture
def quick_run(tmp_path, synthetic_parent) -> Path:
    out = tmp_path / "run"
    run(RunConfig(models=("source", "warp"), data_root=synthetic_parent, limit=30, batch_size=4,
                  unit_size=8, metrics=("ssim", "mask_ssim", "l1"), bootstrap=30,
                  save_images=False, efficiency=False, out=out), **QUIET)
    return out


def _metric_values(records) -> dict:
    return {(r.model, r.key): (r.value, r.n, r.extra.get("ci_low"), r.extra.get("ci_high"))
            for r in records if r.kind == KIND_METRIC}


def test_bench_merge_rewrites_the_records_from_the_units(quick_run):
    from bench.records import read_records

    before = _metric_values(read_records(quick_run / "records.jsonl"))
    tables = {p.name: p.read_bytes() for p in (quick_run / "per_pair").iterdir()}
    (quick_run / "records.jsonl").unlink()
    for p in (quick_run / "per_pair").iterdir():
        p.unlink()
    result = merge(quick_run, **QUIET)
    assert _metric_values(result.records) == before
    # the models' labels come from the units (no generator is built by a merge)
    assert {(r.model, r.reference_bound) for r in result.records} == {
        ("source", True), ("warp", False)}
    assert {p.name: p.read_bytes() for p in (quick_run / "per_pair").iterdir()} == tables
    # a unit missing: refused, naming it and how to compute it
    plan = prepare(saved_config(quick_run).resolved(), "cpu", generators=False, **QUIET).plan
    complete_units(quick_run, plan)[2].unlink()
    with pytest.raises(BenchError, match=r"1 of 4 units are missing \(2\); nothing merged.*"
                                         r"--resume"):
        merge(quick_run, **QUIET)


def test_a_damaged_unit_file_is_named_with_the_way_out(quick_run):
    plan = prepare(saved_config(quick_run).resolved(), "cpu", generators=False, **QUIET).plan
    path = complete_units(quick_run, plan)[1]
    path.write_bytes(b"PK\x03\x04 not a zip")
    with pytest.raises(BenchError, match=rf"{path}: not a readable unit file .*delete {path} "
                                         "and resume the run"):
        read_unit(path, plan)
    with pytest.raises(BenchError, match="not a readable unit file"):
        merge(quick_run, **QUIET)


def test_resume_takes_the_saved_settings_and_the_options_given(quick_run):
    from bench.records import read_records

    before = _metric_values(read_records(quick_run / "records.jsonl"))
    parser = build_parser()
    argv = ["run", "--resume", str(quick_run), "--bootstrap", "7", "--quiet"]
    args = parser.parse_args(argv)
    args.argv = argv
    config = _run_config(args)
    saved = saved_config(quick_run)
    assert config.bootstrap == 7  # given on the command line
    assert (config.models, config.limit, config.unit_size, config.metrics) == (
        saved.models, 30, 8, ("ssim", "mask_ssim", "l1"))
    assert config.data_root == saved.data_root and config.out == quick_run
    # bootstrap changes the values: the hash check names it
    with pytest.raises(BenchError, match="bootstrap: 30 -> 7"):
        run(config, resume=quick_run, **QUIET)
    # an option that changes no value (--decode-threads) is accepted; a complete run merges
    # again into the same values
    again = run(dataclasses.replace(saved_config(quick_run), decode_threads=1),
                resume=quick_run, **QUIET)
    assert _metric_values(again.records) == before


class _Net:
    """Mean intensity per image, tiled: records the batches it was given."""

    extractor_id = "stub"

    def __init__(self):
        self.calls = []

    def __call__(self, images):
        self.calls.append(len(images))
        return np.repeat(images.mean(axis=(1, 2, 3))[:, None], 2048, 1).astype(np.float32), None


def _batch(pairs, shade):
    n = len(pairs)
    img = np.stack([np.full((8, 4, 3), shade + i, np.uint8) for i in range(n)])
    kp = np.zeros((n, 18, 2), np.float32)
    return PairBatch(tuple(pairs), img, img, kp, kp)


def test_real_rows_come_from_the_batch_of_the_first_pair():
    """Targets a, b, a, c: unit 1 (pairs 2-3) meets a again; it computes a apart from c (a's
    row is only a fallback), so c's batch is the one a single process forms, and the merge
    keeps unit 0's row of a whatever the order the units arrive in."""
    settings = MetricSettings(use_cache=False, target_names=("a", "b", "c"), target_first=(0, 1, 3))
    net = _Net()
    real = RealTargets(settings, net)
    pairs = [Pair("s", "a", 0), Pair("s", "b", 1), Pair("s", "a", 2), Pair("s", "c", 3)]
    states = []
    for unit, shade in ((pairs[:2], 10), (pairs[2:], 100)):
        real.start_unit()
        net.calls.clear()
        real.add(_batch(unit, shade))
        names = [p.tgt for p in unit]
        states.append((names, real.features(names), real.owned(names), list(net.calls)))
    assert states[0][3] == [2] and states[1][3] == [1, 1]  # c alone, then a apart
    assert states[1][2].tolist() == [False, True]
    real.start_unit()
    for names, pool, owned, _ in reversed(states):  # unit 1 first: its row of a is replaced
        real.adopt(names, pool, owned)
    assert real.features(["a"])[0, 0] == pytest.approx(10.0)  # unit 0's image of a
    assert real.features(["c"])[0, 0] == pytest.approx(101.0)
    assert real.computed == 3


def test_fid_tv_state_merges_into_the_features_and_names_of_one_pass(monkeypatch):
    """fid_tv keeps a feature row and a result name per image: three units' states loaded in
    order give one process's rows, names and the script's remainder rule (which pairs count)."""
    import bench.metrics.script_fid as script_fid
    from bench.metrics.settings import with_settings

    monkeypatch.setattr(script_fid, "SCRIPT_BATCH", 4)

    class Net:
        def __call__(self, images):
            return np.repeat(images.reshape(len(images), -1).mean(1)[:, None], 2048, 1)

    shared = with_settings({}, MetricSettings(protocol="gfla", dataset="deepfashion"))
    shared[script_fid._SHARED_NET] = Net()
    shared[script_fid._SHARED_REAL] = object()
    rng = np.random.default_rng(0)
    pairs = [Pair(f"s{i}.jpg", f"t{9 - i}.jpg", i) for i in range(10)]
    batches = [pairs[0:3], pairs[3:6], pairs[6:9], pairs[9:10]]
    images = [rng.integers(0, 256, (len(b), 256, 176, 3), dtype=np.uint8) for b in batches]

    def batch(pairs_, imgs):
        kp = np.zeros((len(pairs_), 18, 2), np.float32)
        return PairBatch(tuple(pairs_), imgs, imgs, kp, kp)

    one = script_fid.TorchvisionFID(shared)
    for b, imgs in zip(batches, images, strict=True):
        one.update(imgs, batch(b, imgs))
    states = []
    for part in ((0, 1), (2,), (3,)):  # three units of whole batches
        unit = script_fid.TorchvisionFID(shared)
        for k in part:
            unit.update(images[k], batch(batches[k], images[k]))
        states.append(unit.state())
    merged = script_fid.TorchvisionFID(shared)
    merged.load_states(states)
    assert np.array_equal(merged._features(), one._features())
    assert merged._names == one._names and merged.n_items() == 10
    assert merged._used_positions() == one._used_positions()  # 8 of 10 kept by the rule
    assert len(merged._used_positions()) == 8
