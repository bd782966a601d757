"""The console summary renders records only: bounds, arrows, errors, incompleteness."""

from pathlib import Path

from bench.records import Record
from bench.report.console import summary_table

BASE = dict(run_id="r", dataset="synthetic", split="test", pairs_sha256="ab" * 32,
            protocol="patn", protocol_version="1")


def _metric(model, key, value, **kw):
    return Record(**BASE, kind="metric", model=model, n=10, metric=key, key=key, value=value,
                  higher_is_better=key != "l1", extra={"precision": 3}, **kw)


def test_summary_marks_bounds_arrows_errors_and_model_failures():
    records = [
        _metric("oracle", "ssim", 1.0, reference_bound=True),
        _metric("warp", "ssim", 0.57612),
        _metric("warp", "l1", 0.3259),
        Record(**BASE, kind="pair_error", model="warp", n=0, key="a___b", error="load: bad"),
        Record(**BASE, kind="model_error", model="warp", n=0, metric="psnr",
               error="psnr: ValueError: boom"),
        _metric("source", "ssim", 0.3, error="interrupted: 5 of 10 pairs evaluated"),
    ]
    text = summary_table(records)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "ssim", "↑", "l1", "↓", "pairs", "errors"]
    assert lines[2].split() == ["oracle", "(bound)", "1.000", "n/a", "10", "0"]
    assert lines[3].split() == ["warp", "0.576", "0.326", "10", "1"]
    assert lines[4].split()[:2] == ["source", "0.300*"]
    assert "! warp: psnr: ValueError: boom" in text
    assert "* incomplete: interrupted: 5 of 10 pairs evaluated" in text
    assert "protocol patn v1; dataset synthetic (test)" in text


def _with_interval(model, key, value, dataset="synthetic", **kw):
    extra = {"precision": 4, "ci_low": value - 0.0123, "ci_high": value + 0.0234,
             "ci_level": 0.95}
    return Record(**{**BASE, "dataset": dataset}, kind="metric", model=model, n=2000,
                  metric=key, key=key, value=value, higher_is_better=key not in LOWER,
                  extra=extra, **kw)


LOWER = {"l1", "lpips", "fid", "kid"}
EVERY_KEY = ("ssim", "mask_ssim", "ssim_skimage", "mask_ssim_skimage", "ssim_fixed",
             "mask_ssim_fixed", "l1", "psnr", "lpips", "is", "mask_is", "fid", "kid", "pckh")
MODELS = {"oracle": dict(reference_bound=True), "source": dict(reference_bound=True),
          "warp": {}, "ctat": dict(checkpoint="untrained"), "defgan-released": {}}


def test_summary_of_every_default_metric_fits_120_columns():
    """Every metric of a default run, with intervals: main metrics in the field's order while
    they fit, the rest named on one line, each line at most 120 columns."""
    for dataset, main in (("synthetic", ["ssim", "mask_ssim", "is"]),
                          ("deepfashion", ["ssim", "fid", "lpips"])):
        records = [_with_interval(m, k, 12.3456 if k in ("fid", "psnr") else 0.5, dataset, **kw)
                   for m, kw in MODELS.items() for k in EVERY_KEY]
        text = summary_table(records, run_dir=Path("results/run"))  # the hint repeats the path given
        lines = text.splitlines()
        assert max(len(line) for line in lines) <= 120, text
        assert lines[0].split()[0] == "model"
        assert [w for w in lines[0].split() if w in EVERY_KEY] == main  # field order
        assert "ctat (untrained)" in lines[5] and "0.5000 [0.4877, 0.5234]" in lines[2]
        more = next(line for line in lines if line.startswith("more: "))
        named = more.removeprefix("more: ").split(" (in ")[0].split(", ")
        assert sorted(named + main) == sorted(EVERY_KEY)  # each metric shown or named
        assert "(in records.jsonl; `python -m bench report results/run`)" in text


def test_unavailable_reasons_are_said_once_and_short():
    long_lpips = ("unavailable: alexnet weights (alexnet-owt-7be5be79.pth, torchvision) not "
                  "found: looked in /root/.cache/torch/hub/checkpoints/alexnet-owt-7be5be79.pth; "
                  "downloading is off (--offline). To provide them: download "
                  "https://download.pytorch.org/models/alexnet-owt-7be5be79.pth, then ...")
    long_fid = long_lpips.replace("alexnet", "inception-fid")
    train = ("unavailable: protocol patn compares with training images: pass --train-folder DIR "
             "(the training images, e.g. PATN's train/ folder)")
    records = [_metric(m, "ssim", 0.5) for m in ("warp", "source")]
    for model in ("warp", "source"):
        records += [Record(**BASE, kind="unavailable", model=model, n=0, metric=k, key=k,
                           higher_is_better=False, error=e)
                    for k, e in (("lpips", long_lpips), ("fid", long_fid), ("kid", long_fid),
                                 ("fid_train", train))]
    text = summary_table(records)
    lines = text.splitlines()
    assert lines[0].split() == ["model", "ssim", "↑", "pairs"]  # no column of unavailable ones
    weights = [line for line in lines if "weights not provided" in line]
    assert weights == ["† lpips, fid, kid: weights not provided (alexnet, inception-fid); "
                       "see `python -m bench weights`"]
    assert "† fid_train: no training folder" in lines
    assert "/root" not in text and "https" not in text
    assert max(len(line) for line in lines) <= 120
