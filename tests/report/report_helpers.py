"""Helpers of the report tests (imported as `report_helpers`: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
FIXTURE_RUN = DATA / "fixture-run"
# ../shared/data beside the project (BENCH_SHARED_DATA overrides)
SHARED = Path(os.environ.get("BENCH_SHARED_DATA")
              or Path(__file__).resolve().parents[3] / "shared" / "data")
PUBLISHED = SHARED / "published-samples"
SPLITS = SHARED / "pose-transfer-splits"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/report/golden/NAME; BENCH_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("BENCH_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with BENCH_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"


def shared_data_reason() -> str | None:
    """Why the published samples cannot be used here, or None."""
    if not (PUBLISHED / "deform-market").is_dir() or not (SPLITS / "market-annotation-train.csv").is_file():
        return f"published samples not found under {SHARED} (the project's shared data folder)"
    return None


def published_pairs(dataset: str = "market") -> list[tuple[str, str]]:
    """(from, to) of the Def-GAN strips ({from}_{to}.png) in the published samples."""
    folder = PUBLISHED / f"deform-{dataset}"
    pairs = []
    for path in sorted(folder.glob("*.png")):
        stem = path.name[: -len(".png")]
        src, _, tgt = stem.partition(".jpg_")
        pairs.append((src + ".jpg", tgt))
    return pairs


def published_run(root: Path, metrics=("ssim", "mask_ssim", "l1", "psnr")) -> Path:
    """A run of the harness on the published Def-GAN Market strips (protocol patn-strips: the
    strips' own target panels are the ground truth; no dataset images needed)."""
    from bench.api import run
    from bench.config import RunConfig

    data = root / "market-csv"
    data.mkdir(parents=True)
    lines = ["from,to"] + [f"{a},{b}" for a, b in published_pairs("market")]
    (data / "market-pairs-test.csv").write_text("\n".join(lines) + "\n")
    # Def-GAN sampled these pairs from training images: their keypoints are in the train file
    (data / "market-annotation-test.csv").symlink_to(SPLITS / "market-annotation-train.csv")
    out = root / "run"
    strips = PUBLISHED / "deform-market"
    # two models from the same strips: Def-GAN's generated panel, and the source panel as a
    # copy-the-input baseline (so that the models disagree, as real ones do)
    models = (f"folder:defgan={strips}", f"folder:copy={strips},panels=3,panel=0,target=1")
    run(RunConfig(models=models, dataset="market",
                  data_root=data, protocol="patn-strips", metrics=tuple(metrics), out=out,
                  bootstrap=200, decode_threads=1), progress=False, echo=lambda s: None)
    return out
