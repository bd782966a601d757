"""Sharded evaluation on this CPU (gloo): plan -> units -> merge at 1, 2 and 3 processes, resume
after a kill with another process count, a failing rank that stops the job without a hang.

The multi-process runs go through the real command, ``python -m bench run --workers N``
(torchrun started for you), on the synthetic set with the stand-in Inception (the real
architecture, seeded weights): per-pair metrics (SSIM family, PCKh), set-level ones (IS,
KID, from features put back in pair order) and bootstrap intervals must be bit-identical to
the single process. 21 pairs in units of 4 (batches of 2): 6 units, not a multiple of W x 4.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bench.api import prepare, run, saved_config
from bench.config import RunConfig
from bench.errors import BenchError
from bench.plan import Plan
from bench.records import KIND_METRIC, read_records
from bench.units import complete_units, read_unit

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

ROOT = Path(__file__).resolve().parents[1]
# FID shares KID's state and merge (bench.metrics.fidelity._AgainstReal) and adds ~10 s of
# matrix square root per model and run on this CPU: KID stands for both here; FID's merged
# value is checked in-process (tests/models/test_script_protocols.py, fid_tv) and was checked
# bit for bit against the code before units (docs/DESIGN.md). mask-IS is IS's class on masked
# images (bench.metrics.fidelity.MaskInceptionScore): IS stands for both, and the Inception
# passes of every run here are 3 per pair instead of 5.
METRICS = "ssim,mask_ssim,l1,pckh,is,kid"
N_PAIRS, UNIT, BATCH = 21, 4, 2


def _args(synthetic_parent, standin_inception, out: Path, cache: Path) -> list[str]:
    return ["run", "--dataset", "synthetic", "--data-root", str(synthetic_parent),
            "--models", "source,warp", "--metrics", METRICS, "--limit", str(N_PAIRS),
            "--batch-size", str(BATCH), "--unit-size", str(UNIT), "--bootstrap", "20",
            "--weights", f"inception-fid={standin_inception}", "--stats-cache", str(cache),
            "--offline", "--no-efficiency", "--quiet", "--out", str(out)]


def _config(synthetic_parent, standin_inception, out: Path, cache: Path) -> RunConfig:
    return RunConfig(models=("source", "warp"), dataset="synthetic", data_root=synthetic_parent,
                     metrics=tuple(METRICS.split(",")), limit=N_PAIRS, batch_size=BATCH,
                     unit_size=UNIT, bootstrap=20,
                     weights=(("inception-fid", str(standin_inception)),), stats_cache=cache,
                     offline=True, efficiency=False, out=out)


def _bench(args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore"}
    env.pop("RANK", None)
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def _values(run_dir: Path) -> dict:
    """Every number of a run's metric records: value, n and the interval, by (model, key)."""
    out = {}
    for r in read_records(run_dir / "records.jsonl"):
        if r.kind == KIND_METRIC:
            out[(r.model, r.key)] = (r.value, r.n, r.extra.get("ci_low"), r.extra.get("ci_high"),
                                     r.extra.get("failed_pairs"))
    return out


def _same_run(a: Path, b: Path, metrics: int = len(METRICS.split(","))) -> None:
    va, vb = _values(a), _values(b)
    assert set(va) == set(vb)
    assert len(va) >= 2 * metrics
    for key in va:
        assert va[key] == vb[key], key  # bit for bit, not approximately
    for table in sorted((a / "per_pair").iterdir()):
        assert table.read_bytes() == (b / "per_pair" / table.name).read_bytes(), table.name


@pytest.fixture(scope="module")
def single(tmp_path_factory, synthetic_parent, standin_inception):
    """The single-process run every other one must equal. Like each process torchrun starts,
    it runs one thread (OMP_NUM_THREADS=1): the CPU's convolutions and BLAS sum in another order
    with more threads (docs/distributed.md, "What is bit-identical")."""
    base = tmp_path_factory.mktemp("sharded")
    out = base / "w1"
    done = _bench(_args(synthetic_parent, standin_inception, out, base / "cache"))
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def test_units_do_not_depend_on_the_world_size(single):
    config = saved_config(single).resolved()
    plan = Plan.of(config, tuple(range(N_PAIRS)), "h", (128, 64))  # boundaries only
    units = plan.units()
    assert [(u.start, u.stop) for u in units] == [(0, 4), (4, 8), (8, 12), (12, 16), (16, 20),
                                                  (20, 21)]
    shares = {w: [[u.index for u in plan.units_of(r, w)] for r in range(w)] for w in (1, 2, 3)}
    assert shares[2] == [[0, 2, 4], [1, 3, 5]]
    assert shares[3] == [[0, 3], [1, 4], [2, 5]]
    assert plan.units_of(6, 7) == ()  # a rank without a unit is fine
    assert sorted(complete_units(single, _plan_of(single))) == [0, 1, 2, 3, 4, 5]


def _plan_of(run_dir: Path) -> Plan:
    """The run's plan, as resume and merge rebuild it from its config.json."""
    return prepare(saved_config(run_dir).resolved(), "cpu", echo=lambda s: None,
                   progress=False, generators=False).plan


def test_unit_files_are_data_and_hold_every_state(single):
    plan = _plan_of(single)
    done = complete_units(single, plan)
    unit = read_unit(done[4], plan)
    assert (unit.unit.start, unit.unit.stop) == (16, 20)
    warp = next(m for m in unit.models if m.name == "warp")
    assert [i for i, _ in warp.rows] == list(range(16, 20))
    assert set(warp.states) == set(METRICS.split(","))
    assert warp.states["kid"]["features"].shape == (4, 2048)
    assert warp.states["kid"]["real_first"].dtype == bool
    assert warp.states["ssim"]["batches"].tolist() == [2, 2]  # the single process's batches
    assert read_unit(done[5], plan).models[0].states["ssim"]["batches"].tolist() == [1]
    with np.load(done[4], allow_pickle=False) as data:  # no object arrays anywhere
        assert all(data[k].dtype != object for k in data.files)


@pytest.mark.slow
@pytest.mark.parametrize("workers", [2])  # 3: the resume of a killed run below (mixed units)
def test_any_world_size_gives_the_single_process_values(workers, tmp_path, single,
                                                         synthetic_parent, standin_inception):
    out = tmp_path / f"w{workers}"
    done = _bench(_args(synthetic_parent, standin_inception, out, tmp_path / "cache")
                  + ["--workers", str(workers)])
    assert done.returncode == 0, done.stderr[-3000:]
    _same_run(single, out)
    env = json.loads((out / "env.json").read_text())
    assert env["world_size"] == workers and env["nodes"] == 1
    assert sorted(r["rank"] for r in env["ranks"]) == list(range(workers))
    assert all(r["device"] == "cpu" for r in env["ranks"])
    assert sorted(u for r in env["ranks"] for u in r["units"]) == [0, 1, 2, 3, 4, 5]


def _pids_with(marker: str, rank: str) -> list[int]:
    """Processes whose environment holds ``BENCH_TEST_RUN=marker`` and ``RANK=rank``."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            env = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"BENCH_TEST_RUN={marker}".encode() in env and f"RANK={rank}".encode() in env:
            found.append(int(proc.name))
    return found


@pytest.mark.slow
def test_a_killed_run_resumes_with_another_world_size(tmp_path, single, synthetic_parent,
                                                      standin_inception):
    """Rank 1 of 2 is killed (SIGKILL) once a unit is on disk: torchrun stops rank 0, which
    says how to resume; what is left - some unit files, a half-written temporary file, no
    records - is resumed by 3 processes into the uninterrupted run's records."""
    import signal
    import time

    out = tmp_path / "killed"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
           "PYTHONWARNINGS": "ignore", "BENCH_TEST_RUN": str(out)}
    env.pop("RANK", None)
    args = _args(synthetic_parent, standin_inception, out, tmp_path / "cache")
    job = subprocess.Popen([sys.executable, "-m", "bench", *args, "--workers", "2"], cwd=ROOT,
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while not list((out / "units").glob("unit-*.npz")) and time.monotonic() < deadline:
        assert job.poll() is None, job.communicate()
        time.sleep(0.2)
    victims = _pids_with(str(out), "1")
    assert victims, "rank 1 not found"
    for pid in victims:
        os.kill(pid, signal.SIGKILL)
    stdout, stderr = job.communicate(timeout=240)
    assert job.returncode != 0
    assert f"--resume {out}" in stdout + stderr
    assert not (out / "records.jsonl").exists()
    plan = _plan_of(out)
    kept = sorted(complete_units(out, plan))
    assert len(kept) < 6, "the run ended before the kill: nothing to resume"
    (out / "units" / ".tmp-unit-00004-half.npz.x").write_bytes(b"PK\x03\x04 half a file")
    resumed = _bench(["run", "--resume", str(out), "--workers", "3", "--quiet"])
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f"resume: {len(kept)} of 6 units already complete, {6 - len(kept)} to go" \
        in resumed.stdout
    _same_run(single, out)
    assert sorted(complete_units(out, plan)) == [0, 1, 2, 3, 4, 5]


def test_resume_after_ctrl_c_equals_the_uninterrupted_run(tmp_path, synthetic_parent,
                                                          monkeypatch):
    """Ctrl-C in the third unit: the first two stay on disk, the partial one is merged as an
    incomplete result and the user is told how to resume; resuming finishes the run with the
    uninterrupted run's records (in this process: per-pair metrics, which no thread count
    changes; the set-level ones are covered by the multi-process tests above)."""
    import bench.evaluation as evaluation

    def config(out):
        return RunConfig(models=("source", "warp"), data_root=synthetic_parent,
                         metrics=("ssim", "mask_ssim", "l1", "pckh"), limit=N_PAIRS,
                         batch_size=BATCH, unit_size=UNIT, bootstrap=20, efficiency=False,
                         save_images=False, out=out)

    whole = tmp_path / "whole"
    run(config(whole), progress=False, echo=lambda s: None)
    out = tmp_path / "ctrl-c"
    original = evaluation.UnitEvaluator.finish
    calls = []

    def interrupt(self, batch, errors, launched):
        calls.append(1)
        if len(calls) == 5:  # unit 2's first batch
            raise KeyboardInterrupt
        return original(self, batch, errors, launched)

    monkeypatch.setattr(evaluation.UnitEvaluator, "finish", interrupt)
    lines: list[str] = []
    first = run(config(out), progress=False, echo=lines.append)
    assert first.interrupted
    assert f"resume with: python -m bench run --resume {out}" in "\n".join(lines)
    ssim = next(r for r in first.records if r.key == "ssim" and r.model == "warp")
    assert "interrupted: 8 of 21 pairs evaluated" in ssim.error
    assert sorted(complete_units(out, _plan_of(out))) == [0, 1]
    monkeypatch.setattr(evaluation.UnitEvaluator, "finish", original)
    again = run(saved_config(out), resume=out, progress=False, echo=lines.append)
    assert not again.interrupted
    assert "resume: 2 of 6 units already complete, 4 to go" in lines
    _same_run(whole, out, metrics=4)


def test_a_different_configuration_is_refused_naming_the_difference(tmp_path, single):
    out = tmp_path / "other"
    shutil.copytree(single, out)
    with pytest.raises(BenchError, match=r"seed: 0 -> 1"):
        run(RunConfig.from_dict({**json.loads((out / "config.json").read_text()), "seed": 1}),
            resume=out, progress=False, echo=lambda s: None)
    # a fresh run into an unfinished run's folder is refused too, saying how to resume
    (out / "records.jsonl").unlink()
    with pytest.raises(BenchError, match="resume it with python -m bench run --resume"):
        run(saved_config(out), progress=False, echo=lambda s: None)


@pytest.mark.slow
def test_a_failing_rank_stops_the_job_naming_rank_unit_and_error(tmp_path, single):
    """Units 1 and 2 are left (resumed: rank 0 takes unit 1, rank 1 unit 2); unit 2 cannot be
    written (a folder is in its place): rank 1 fails on it and the job ends with one message
    naming rank, unit and error; nothing is merged, unit 1 is kept for the next resume."""
    out = tmp_path / "failing"
    shutil.copytree(single, out)
    plan = _plan_of(out)
    done = complete_units(out, plan)
    done[1].unlink()
    done[2].unlink()
    done[2].mkdir()
    (out / "records.jsonl").unlink()
    done = _bench(["run", "--resume", str(out), "--workers", "2", "--quiet",
                   "--dist-timeout", "60"], timeout=240)
    assert done.returncode != 0
    assert "rank 1 of 2 failed on unit 2 (pairs 8-11): IsADirectoryError" in done.stderr
    assert "Nothing merged" in done.stderr and f"--resume {out}" in done.stderr
    assert not (out / "records.jsonl").exists()
    assert 1 in complete_units(out, plan)


@pytest.mark.gpu
def test_nccl_processes_give_the_single_process_values(tmp_path, synthetic_parent,
                                                       standin_inception):
    """The NCCL path: torchrun with one process per GPU (up to 2) against one process on
    cuda:0; each process runs the same kernels on the same batches."""
    import torch

    workers = min(2, torch.cuda.device_count())
    args = _args(synthetic_parent, standin_inception, tmp_path / "one", tmp_path / "c1")
    done = _bench([*args, "--device", "cuda"])
    assert done.returncode == 0, done.stderr[-3000:]
    many = _args(synthetic_parent, standin_inception, tmp_path / "many", tmp_path / "c2")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONWARNINGS": "ignore"}
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone",
                           f"--nproc-per-node={workers}", "-m", "bench", *many,
                           "--device", "cuda"], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_run(tmp_path / "one", tmp_path / "many")
    env_json = json.loads((tmp_path / "many" / "env.json").read_text())
    assert env_json["backend"] == "nccl"
    assert sorted(r["device"] for r in env_json["ranks"]) == [f"cuda:{i}" for i in range(workers)]
