"""Writes tests/report/data/fixture-run/ (committed): a fixed run covering every case a table
must render. Re-run only when the fixture must change, then regenerate the golden files:

    python tests/report/make_fixture.py && BENCH_UPDATE_GOLDEN=1 pytest tests/report
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.records import Record, RecordWriter

HERE = Path(__file__).parent / "data" / "fixture-run"
PAIRS = "f" * 8 + "0123456789abcdef" * 3 + "01234567"
BASE = dict(run_id="fixture-run", dataset="market", split="test", pairs_sha256=PAIRS, n=0,
            protocol="patn", protocol_version="1", device="cuda", git_sha="0" * 40,
            created="2025-01-01T00:00:00+00:00")
METRICS = {  # key: (unit, higher_is_better, precision, metric_version)
    "ssim": (None, True, 4, "skimage-0.14.2"),
    "psnr": ("dB", True, 2, "1"),
    "lpips": (None, False, 4, "0.1"),
    "fid": (None, False, 2, "tf-1"),
    "pckh": (None, True, 4, "patn-calPCKH"),
}
# long reasons as bench.weights.resolve words them: the file, where it looked (a path), where to
# get it (a URL); tables for papers must show neither
UNAVAILABLE = (
    "unavailable: inception-fid weights (pt_inception-2015-12-05-6726825d.pth, torch-fidelity) "
    "not found: looked in /home/user/.cache/torch/hub/checkpoints/"
    "pt_inception-2015-12-05-6726825d.pth. To provide them: download "
    "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/"
    "pt_inception-2015-12-05-6726825d.pth, then `python -m bench weights add FILE` or pass "
    "--weights inception-fid=PATH")
PCKH_UNAVAILABLE = (
    "unavailable: keypointrcnn weights (keypointrcnn_resnet50_fpn_coco-fc266e95.pth, torchvision) "
    "not found: looked in /home/user/.cache/torch/hub/checkpoints/"
    "keypointrcnn_resnet50_fpn_coco-fc266e95.pth. To provide them: download "
    "https://download.pytorch.org/models/keypointrcnn_resnet50_fpn_coco-fc266e95.pth, then "
    "`python -m bench weights add FILE` (or give its keypoints with --keypoints patn=CSV)")


def metric(model, key, value, ci=None, n=400, **kw):
    unit, hib, precision, version = METRICS[key]
    extra = {"failed_pairs": kw.pop("failed", 0), "complete": kw.pop("complete", True),
             "precision": precision, "ground_truth": "dataset images"}
    if ci is not None:
        extra.update(ci_low=ci[0], ci_high=ci[1], ci_level=0.95,
                     ci_method="percentile bootstrap over pairs")
    return Record(**{**BASE, "n": n}, kind="metric", model=model, metric=key, key=key,
                  metric_version=version, value=value, unit=unit, higher_is_better=hib,
                  extra=extra, **kw)


def unavailable(model, key, error=UNAVAILABLE, **kw):
    unit, hib, precision, version = METRICS[key]
    return Record(**BASE, kind="unavailable", model=model, metric=key, key=key,
                  metric_version=version, unit=unit, higher_is_better=hib, error=error,
                  extra={"precision": precision}, **kw)


def eff(model, key, value, unit, status="ok", error=None, **kw):
    extra = {"status": status, **kw.pop("extra", {})}
    device = key.partition("@")[2].split("-")[0] or "cuda"
    return Record(**{**BASE, "device": device}, kind="efficiency", model=model,
                  metric=key.split("@")[0], metric_version="1", key=key, value=value, unit=unit,
                  higher_is_better=key.startswith("throughput"), error=error, extra=extra, **kw)


def records() -> list[Record]:
    ctat = dict(checkpoint="runs/ctat/market/latest.pt", checkpoint_sha256="c" * 64)
    patn = dict(checkpoint="untrained")
    out = [
        metric("ctat", "ssim", 0.312345, (0.3051, 0.3190), **ctat),
        metric("ctat", "psnr", 14.87654, (14.61, 15.12), **ctat),
        metric("ctat", "lpips", 0.2531, (0.2488, 0.2577), **ctat),
        unavailable("ctat", "fid", **ctat),
        metric("ctat", "pckh", 0.94, (0.93, 0.95), **ctat),
        metric("warp", "ssim", 0.31229, (0.3044, 0.3202), failed=3, n=397),
        metric("warp", "psnr", 13.5, (13.2, 13.8), failed=3, n=397),
        metric("warp", "lpips", 0.3012, None, failed=3, n=397, complete=False,
               error="interrupted: 397 of 400 pairs evaluated"),
        unavailable("warp", "fid"),
        metric("warp", "pckh", 0.9, (0.88, 0.92), failed=3, n=397),
        metric("patn", "ssim", 0.1402, (0.1390, 0.1414), **patn),
        metric("patn", "psnr", 9.1, (9.0, 9.2), **patn),
        metric("patn", "lpips", 0.61, (0.60, 0.62), **patn),
        unavailable("patn", "fid", **patn),
        unavailable("patn", "pckh", error=PCKH_UNAVAILABLE, **patn),
        metric("oracle", "ssim", 1.0, (1.0, 1.0), reference_bound=True),
        metric("oracle", "psnr", float("inf"), (float("inf"), float("inf")), reference_bound=True),
        metric("oracle", "lpips", 0.0, (0.0, 0.0), reference_bound=True),
        unavailable("oracle", "fid", reference_bound=True),
        metric("oracle", "pckh", 1.0, (1.0, 1.0), reference_bound=True),
        metric("source", "ssim", 0.2011, (0.1950, 0.2070), reference_bound=True),
        metric("source", "psnr", 11.25, (11.0, 11.5), reference_bound=True),
        metric("source", "lpips", 0.4123, (0.4050, 0.4190), reference_bound=True),
        unavailable("source", "fid", reference_bound=True),
        metric("source", "pckh", 0.12, (0.1, 0.14), reference_bound=True),
    ]
    out += [Record(**BASE, kind="pair_error", model="warp", key=f"a{i}___b{i}",
                   error="generate: NaN in output") for i in range(3)]
    for model, params, macs, lat, kw in (("ctat", 10_123_456, 28_400_000_000, 41.27, ctat),
                                         ("patn", 41_360_000, 96_100_000_000, 37.5, patn)):
        out += [
            eff(model, "params", params, "parameters", **kw),
            eff(model, "macs", macs, "MAC", **kw),
            eff(model, "flops", 2 * macs, "FLOP", extra={"convention": "2 x MACs"}, **kw),
            eff(model, "latency_ms@cuda", lat, "ms", **kw),
            eff(model, "latency_ms@cpu", 20 * lat, "ms", **kw),
            eff(model, "throughput@cuda", 1000 / lat * 3, "images/s", extra={"batch": 16}, **kw),
        ]
        out += [eff(model, f"latency_ms_b{b}@cuda", lat * (1 + 0.4 * b), "ms",
                    extra={"batch": b}, **kw) for b in (1, 2, 4, 8, 16)]
    for model in ("warp", "oracle", "source"):
        for key, unit in (("params", "parameters"), ("macs", "MAC"), ("latency_ms@cuda", "ms")):
            out.append(eff(model, key, None, unit, status="not_applicable",
                           error="training-free: no network",
                           reference_bound=model != "warp"))
    return out


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    path = HERE / "records.jsonl"
    path.unlink(missing_ok=True)
    with RecordWriter(path) as writer:
        for r in records():
            writer.write(r)
    (HERE / "config.json").write_text(json.dumps(
        {"run_id": "fixture-run", "dataset": "market", "protocol": "patn",
         "pairs_sha256": PAIRS, "n_pairs": 400, "models": ["ctat", "warp", "patn", "oracle",
                                                           "source"]}, indent=2) + "\n")
    (HERE / "env.json").write_text(json.dumps(
        {"device": "cuda", "device_name": "NVIDIA H100 80GB HBM3", "cpu_count": 16,
         "platform": "Linux-test", "git_sha": "0" * 40}, indent=2) + "\n")


if __name__ == "__main__":
    main()
