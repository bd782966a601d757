"""``python -m bench profile``: no data, no weights; a table or JSON-lines records."""

from __future__ import annotations

import json

import pytest
import torch

from bench.cli import main
from bench.records import Record

FAST = ["--in-process", "--warmup", "0", "--iterations", "2", "--min-iterations", "1",
        "--batch", "2"]


def _records(out: str) -> list[Record]:
    return [Record(**json.loads(line)) for line in out.splitlines() if line.strip()]


def test_json_records_with_dataset_configuration(capsys):
    code = main(["profile", "--models", "pata,warp", "--resolution", "32x16", "--dataset",
                 "market", "--no-timing", "--no-memory", "--no-ops", "--json", "--quiet"])
    assert code == 0
    captured = capsys.readouterr()
    records = _records(captured.out)
    assert captured.err == ""
    params = next(r for r in records if r.model == "patn" and r.key == "params")
    assert params.value == 41_365_763 and params.extra["buffers"] > 0  # Market: batch norm
    assert params.extra["published"]["params"] == 41.36e6
    assert next(r for r in records if r.model == "warp").extra["status"] == "not_applicable"

    main(["profile", "--models", "patn", "--resolution", "32x16", "--dataset", "deepfashion",
          "--no-timing", "--no-memory", "--no-ops", "--json", "--quiet"])
    fashion = _records(capsys.readouterr().out)[0]
    assert fashion.value == 41_358_019 and fashion.extra["buffers"] == 0  # instance norm


def test_table_with_timing_and_gpu_columns(capsys, tmp_path):
    out = tmp_path / "eff.jsonl"
    code = main(["profile", "--models", "ctat", "--resolution", "32x16", "--device", "cpu,cuda",
                 "--sweep", "1,2", "--breakdown", "--out", str(out), *FAST])
    assert code == 0
    captured = capsys.readouterr()
    text = captured.out
    assert "efficiency at 32x16, market configuration" in text
    assert "latency cpu (ms) [p90, min]" in text and "latency cuda (ms) [p90, min]" in text
    row = next(line for line in text.splitlines() if line.startswith("ctat "))
    assert row.split()[1:4] == ["15.84", "0.59", "0"]
    if not torch.cuda.is_available():
        assert row.split()[-3:] == ["unavailable"] * 3
        assert "latency vs batch on cuda: unavailable" in text
    assert "latency vs batch on cpu (ms per call, median):" in text
    assert "cross-check torch.utils.flop_counter" in text and "ctat agrees" in text
    assert "timing:" in text and "in-process" in text
    assert "ctat (CTATGenerator):" in text and "uncounted operators: none" in text
    assert "ctat: memory_b1, latency, sweep on cpu" in captured.err
    written = [Record(**json.loads(line)) for line in out.read_text().splitlines()]
    assert {r.key for r in written} >= {"params", "macs", "latency_ms@cpu", "latency_ms@cuda"}


@pytest.mark.parametrize(("argv", "message"), [
    (["profile", "--models", "patm"], "unknown model 'patm'; did you mean 'patn'"),
    (["profile", "--models", "ctat", "--dataset", "markte"], "unknown dataset 'markte'"),
    (["profile", "--models", "ctat", "--checkpoint", "pg2=x.pt"], "not in --models"),
])
def test_user_errors_exit_2(capsys, argv, message):
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_bad_resolution_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--resolution", "128by64"])
    assert exc.value.code == 2
    assert "expected HxW" in capsys.readouterr().err


def test_mode_flags_parse():
    from bench.cli import build_parser

    parser = build_parser()
    plain = parser.parse_args(["profile"])
    assert (plain.cuda_graphs, plain.compile, plain.compile_backend) == (False, None, "inductor")
    args = parser.parse_args(["profile", "--cuda-graphs", "--compile"])
    assert args.cuda_graphs and args.compile == "default"
    assert parser.parse_args(["profile", "--compile", "max-autotune"]).compile == "max-autotune"
    assert parser.parse_args(["run", "--compile", "reduce-overhead"]).compile == "reduce-overhead"


def test_bad_compile_mode_is_an_argument_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["profile", "--compile", "fastest"])
    assert exc.value.code == 2
    assert "invalid choice: 'fastest'" in capsys.readouterr().err


def test_mode_flags_reach_the_records_and_the_table(capsys, tmp_path):
    out = tmp_path / "eff.jsonl"
    code = main(["profile", "--models", "ctat", "--resolution", "32x16", "--device", "cpu",
                 "--cuda-graphs", "--compile", "--compile-backend", "eager", "--no-ops",
                 "--no-memory", "--sweep", "none", "--out", str(out), *FAST])
    assert code == 0
    text = capsys.readouterr().out
    records = {r.key: r for r in (Record(**json.loads(line))
                                  for line in out.read_text().splitlines())}
    lat = records["latency_ms@cpu-compile-eager"]
    assert lat.value > 0 and lat.extra["execution_mode"] == "compile"
    assert (lat.extra["compile_mode"], lat.extra["compile_backend"]) == ("default", "eager")
    assert lat.extra["equality_check"]["passed"]
    assert records["latency_ms@cpu"].extra["execution_mode"] == "eager"
    assert records["latency_ms@cpu-graphs"].extra["status"] == "unavailable"
    header = text.splitlines()[1]
    for column in ("latency cpu (ms)", "latency cpu-graphs (ms)",
                   "latency cpu-compile-eager (ms)", "images/s cpu-compile-eager"):
        assert column in header
    row = next(line for line in text.splitlines() if line.startswith("ctat "))
    assert row.count("unavailable") == 2  # the cpu-graphs latency and images/s
    assert ("cpu-compile-eager: torch.compile (mode default, backend eager, static "
            "shapes); outputs checked against eager before timing, max |difference| ctat") in text
    assert "unavailable columns: CUDA graphs need a CUDA device" in text
