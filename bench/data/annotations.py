"""Read the annotation and pair CSVs of the PATN layout, reporting bad rows by line number.

Annotation files (PROTOCOL.md 3.1): header ``name:keypoints_y:keypoints_x``, one image per
line, each coordinate field a JSON list of 18 ints, -1 for a missing joint::

    0364_c2s1_084546_01.jpg: [14, 28, ...]: [45, 30, ...]

Pair files: header ``from,to`` (an unnamed leading index column, as pandas writes it, is
accepted), one ordered pair per line::

    annotations = read_annotations(Path("market-annotation-test.csv"))  # name -> (18, 2) (x, y)
    pairs = read_pairs(Path("market-pairs-test.csv"))                     # [(src, tgt), ...]
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from bench.errors import DataError
from bench.keypoints import MISSING, NUM_JOINTS

ANNOTATION_HEADER = "name:keypoints_y:keypoints_x"
PAIRS_HEADER = ("from", "to")


def _bad(path: Path, line: int, why: str, text: str) -> DataError:
    shown = text if len(text) <= 120 else text[:117] + "..."
    return DataError(f"{path}:{line}: {why}\n    {shown}")


def _coords(path: Path, line_no: int, field: str, what: str, text: str) -> list[int]:
    try:
        values = json.loads(field)
    except json.JSONDecodeError as exc:
        raise _bad(path, line_no, f"{what} is not a JSON list ({exc.msg})", text) from None
    if (
        not isinstance(values, list)
        or len(values) != NUM_JOINTS
        or not all(type(v) is int for v in values)  # JSON gives int, float, bool, ...: int only
    ):
        raise _bad(path, line_no, f"{what} must be a JSON list of {NUM_JOINTS} integers", text)
    return values


def read_annotations(path: Path) -> dict[str, np.ndarray]:
    """``{image name: float32 (18, 2) (x, y)}``; -1 marks a missing joint in both columns."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read annotation file {path}: {exc}") from None
    if not lines or lines[0].replace(" ", "") != ANNOTATION_HEADER:
        found = lines[0][:80] if lines else "an empty file"
        raise DataError(
            f"{path}:1: expected the header '{ANNOTATION_HEADER}' (PATN annotation format), "
            f"found {found!r}"
        )
    rows = [(line_no, text, text.split(":")) for line_no, text in enumerate(lines[1:], start=2)
            if text.strip()]
    kpts = _fast_keypoints(rows)
    if kpts is None:  # something is off: parse line by line and say where
        kpts = _checked_keypoints(path, rows)
    names: dict[str, None] = {}
    for line_no, text, parts in rows:
        name = parts[0].strip()
        if name in names:
            raise _bad(path, line_no, f"image {name!r} is annotated twice", text)
        names[name] = None
    return dict(zip(names, kpts, strict=True))


def _fast_keypoints(rows) -> np.ndarray | None:
    """float32 (N, 18, 2) (x, y) of well-formed rows, parsed as one JSON document; None when
    any row is not (the line-by-line parse then names it)."""
    if not rows or any(len(parts) != 3 or not parts[0].strip() for _, _, parts in rows):
        return None
    text = ",".join(f"{parts[1]},{parts[2]}" for _, _, parts in rows)
    if any(word in text for word in ("true", "false", "null", ".", "e", "E", '"')):
        return None  # JSON that is not plain integers: the checked parse explains
    try:
        values = np.asarray(json.loads(f"[{text}]"))
    except (json.JSONDecodeError, ValueError):  # ValueError: ragged lists
        return None
    if values.dtype.kind != "i" or values.shape != (2 * len(rows), NUM_JOINTS):
        return None
    ys, xs = values[0::2], values[1::2]
    if np.any((xs == MISSING) != (ys == MISSING)):
        return None
    return np.stack([xs, ys], axis=-1).astype(np.float32)


def _checked_keypoints(path: Path, rows) -> np.ndarray:
    columns: list[tuple[list[int], list[int]]] = []  # (xs, ys) per image, in file order
    for line_no, text, parts in rows:
        if len(parts) != 3:
            raise _bad(
                path, line_no, "expected 'name: [18 y values]: [18 x values]' separated by ':'",
                text,
            )
        ys = _coords(path, line_no, parts[1], "keypoints_y", text)
        xs = _coords(path, line_no, parts[2], "keypoints_x", text)
        if not parts[0].strip():
            raise _bad(path, line_no, "empty image name", text)
        for joint, (x, y) in enumerate(zip(xs, ys, strict=True)):
            if (x == MISSING) != (y == MISSING):
                raise _bad(
                    path, line_no, f"joint {joint} has one coordinate -1 and the other not", text
                )
        columns.append((xs, ys))
    if not columns:
        return np.empty((0, NUM_JOINTS, 2), np.float32)
    # One conversion for the whole file (per-line arrays cost more than the parsing).
    return np.asarray(columns).transpose(0, 2, 1).astype(np.float32, order="C")  # (N, 18, 2)


def read_pairs(path: Path) -> list[tuple[str, str, int]]:
    """``[(from, to, line number), ...]`` in file order."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            rows = list(csv.reader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"cannot read pair file {path}: {exc}") from None
    if not rows:
        raise DataError(f"{path}: empty file; expected the header 'from,to' and one pair per line")
    header = [c.strip() for c in rows[0]]
    offset = 1 if header[:1] == [""] else 0  # pandas' unnamed index column
    if tuple(header[offset:]) != PAIRS_HEADER:
        raise DataError(f"{path}:1: expected the header 'from,to', found {','.join(rows[0])!r}")
    out = []
    for line_no, row in enumerate(rows[1:], start=2):
        if not row or not "".join(row).strip():
            continue
        cells = [c.strip() for c in row[offset:]]
        if len(cells) != 2 or not all(cells):
            raise _bad(path, line_no, "expected two image names 'from,to'", ",".join(row))
        out.append((cells[0], cells[1], line_no))
    if not out:
        raise DataError(f"{path}: no pairs after the header")
    return out
