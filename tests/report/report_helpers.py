"""Helpers of the report tests (imported as `report_helpers`: pytest puts this folder on sys.path)."""

from __future__ import annotations

import os
from pathlib import Path

DATA = Path(__file__).parent / "data"
GOLDEN = Path(__file__).parent / "golden"
FIXTURE_RUN = DATA / "fixture-run"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
PUBLISHED = SHARED / "published-samples"
SPLITS = SHARED / "pose-transfer-splits"


def check_golden(name: str, text: str) -> None:
    """Compare with tests/report/golden/NAME; BENCH_UPDATE_GOLDEN=1 rewrites it."""
    path = GOLDEN / name
    if os.environ.get("BENCH_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no golden file {path}: run with BENCH_UPDATE_GOLDEN=1 once"
    assert text == path.read_text(encoding="utf-8"), f"{name} differs from its golden file"
