"""The qualitative comparison grid: rows of pairs, columns source | target pose | ground truth |
each model (the standard figure of pose-transfer papers)::

    from bench.report.grid import GridSelection, select_pairs, compose_grid, save_grid
    from bench.report.grid_sources import RunGridSource
    source = RunGridSource(Path("results/run"))
    chosen = select_pairs(source, GridSelection(method="pose", count=6))
    grid = compose_grid([source.load(p) for p in chosen], source.models)
    save_grid(grid, Path("reports/x"), "grid")        # grid.png (exact pixels) and grid.pdf

Pair selection (:data:`SELECTORS`, by ``GridSelection.method``):

* ``index``: the given pair indices (positions in the evaluated pair list);
* ``random``: ``count`` pairs drawn with ``seed`` (the same pairs every time);
* ``pose``: the largest pose change (mean distance between the source and target keypoints
  present in both, in units of the image height);
* ``disagreement``: where the models' outputs differ most (mean absolute pixel difference over
  every pair of models; needs two models or more). At most ``max_candidates`` pairs are
  examined (a seeded sample beyond that), since it reads every model's image of each pair.

The PNG holds the panels at their native resolution, exactly (tests compare pixels); the PDF
places the same pixels with vector column titles.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image, ImageDraw

from bench.keypoints import present
from bench.registry import Registry
from bench.report.runs import ReportError
from bench.report.skeleton import draw_skeleton
from bench.types import Pair

GAP = 2  # pixels between panels
HEADER = 14  # pixels of column titles in the PNG (per 128 pixels of panel height)
MISSING_GREY = 200


@dataclass(frozen=True)
class GridSelection:
    method: str = "pose"  # a SELECTORS name
    count: int = 6
    indices: tuple[int, ...] = ()
    seed: int = 0
    max_candidates: int = 2000  # disagreement: pairs examined at most


@dataclass(frozen=True, eq=False)
class GridPair:
    """One row: the pair and every panel (uint8 H x W x 3); None where absent."""

    pair: Pair
    source: np.ndarray
    target_kpts: np.ndarray  # (18, 2) x, y in image pixels
    target: np.ndarray | None
    generated: dict[str, np.ndarray | None] = field(default_factory=dict)


class GridSource(Protocol):
    """Where a grid's pairs, keypoints and images come from (a run folder, ...)."""

    models: list[str]
    pairs: list[Pair]

    def keypoints(self, pair: Pair) -> tuple[np.ndarray | None, np.ndarray | None]: ...
    def generated(self, pair: Pair, model: str) -> np.ndarray | None: ...
    def load(self, pair: Pair) -> GridPair: ...


SELECTORS: Registry = Registry("grid selection")


@SELECTORS.register("index")
def by_index(source: GridSource, sel: GridSelection) -> list[Pair]:
    if not sel.indices:
        raise ReportError("grid selection 'index' needs pair indices (--grid-pairs 0,5,17)")
    by = {p.index: p for p in source.pairs}
    missing = [i for i in sel.indices if i not in by]
    if missing:
        raise ReportError(f"grid pair indices {missing} are not in the run (it evaluated pairs "
                          f"0..{len(source.pairs) - 1})")
    return [by[i] for i in sel.indices]


@SELECTORS.register("random")
def at_random(source: GridSource, sel: GridSelection) -> list[Pair]:
    rng = np.random.default_rng(sel.seed)
    count = min(sel.count, len(source.pairs))
    chosen = np.sort(rng.choice(len(source.pairs), size=count, replace=False))
    return [source.pairs[i] for i in chosen]


def pose_change(src: np.ndarray | None, tgt: np.ndarray | None, height: float) -> float:
    """Mean distance of the joints present in both poses, in image heights (-1 if < 2)."""
    if src is None or tgt is None:
        return -1.0
    both = present(src) & present(tgt)
    if both.sum() < 2:
        return -1.0
    return float(np.linalg.norm(src[both] - tgt[both], axis=1).mean() / height)


def _top(pairs: list[Pair], scores: list[float], count: int) -> list[Pair]:
    order = sorted(range(len(pairs)), key=lambda i: (-scores[i], pairs[i].index))
    return [pairs[i] for i in order[:count] if scores[i] >= 0]


@SELECTORS.register("pose")
def largest_pose_change(source: GridSource, sel: GridSelection) -> list[Pair]:
    height = float(getattr(source, "size", (128, 64))[0])
    scores = [pose_change(*source.keypoints(p), height) for p in source.pairs]
    chosen = _top(source.pairs, scores, sel.count)
    if not chosen:
        raise ReportError("grid selection 'pose': no pair has keypoints in both images")
    return chosen


def disagreement(images: list[np.ndarray | None]) -> float:
    """Mean absolute difference (0-255) over every pair of outputs present; -1 if < 2."""
    present_ = [i.astype(np.float32) for i in images if i is not None]
    if len(present_) < 2:
        return -1.0
    return float(np.mean([np.abs(a - b).mean() for a, b in itertools.combinations(present_, 2)]))


@SELECTORS.register("disagreement")
def largest_disagreement(source: GridSource, sel: GridSelection) -> list[Pair]:
    if len(source.models) < 2:
        raise ReportError(f"grid selection 'disagreement' needs two models or more with saved "
                          f"images; this run has {', '.join(source.models) or 'none'}")
    pairs = source.pairs
    if len(pairs) > sel.max_candidates:
        pairs = at_random(source, GridSelection(count=sel.max_candidates, seed=sel.seed))
    scores = [disagreement([source.generated(p, m) for m in source.models]) for p in pairs]
    return _top(pairs, scores, sel.count)


def select_pairs(source: GridSource, sel: GridSelection) -> list[Pair]:
    selector: Callable = SELECTORS.get(sel.method)
    if sel.count < 1 and not sel.indices:
        raise ReportError(f"grid needs at least one pair, got count={sel.count}")
    return selector(source, sel)


# -- composing -----------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class GridImage:
    pixels: np.ndarray  # uint8 (H, W, 3), the header row included
    columns: tuple[str, ...]
    rows: tuple[Pair, ...]
    boxes: dict[tuple[int, int], tuple[int, int, int, int]]  # (row, col) -> y0, x0, y1, x1
    header: int  # pixels of the title row


def _fit(img: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    h, w = size
    if img is None:
        panel = np.full((h, w, 3), MISSING_GREY, np.uint8)
        d = ImageDraw.Draw(pil := Image.fromarray(panel))
        d.line([(0, 0), (w - 1, h - 1)], fill=(120, 120, 120))
        d.line([(0, h - 1), (w - 1, 0)], fill=(120, 120, 120))
        return np.asarray(pil)
    if img.shape[:2] == (h, w):
        return img
    return np.asarray(Image.fromarray(img).resize((w, h), Image.Resampling.LANCZOS))


def compose_grid(rows: list[GridPair], models: list[str],
                 size: tuple[int, int] | None = None) -> GridImage:
    """Panels side by side (``size`` (H, W), default the first source's), titled columns."""
    if not rows:
        raise ReportError("a grid needs at least one pair")
    h, w = size or rows[0].source.shape[:2]
    columns = ("source", "target pose", "ground truth", *models)
    header = max(12, round(HEADER * h / 128))
    height = header + len(rows) * (h + GAP) - GAP
    width = len(columns) * (w + GAP) - GAP
    canvas = np.full((height, width, 3), 255, np.uint8)
    boxes = {}
    for r, row in enumerate(rows):
        panels = [row.source, draw_skeleton(row.target_kpts, row.source.shape[:2]), row.target,
                  *(row.generated.get(m) for m in models)]
        for c, panel in enumerate(panels):
            y0, x0 = header + r * (h + GAP), c * (w + GAP)
            canvas[y0:y0 + h, x0:x0 + w] = _fit(panel, (h, w))
            boxes[(r, c)] = (y0, x0, y0 + h, x0 + w)
    pil = Image.fromarray(canvas)
    draw = ImageDraw.Draw(pil)
    for c, name in enumerate(columns):
        text = name if len(name) * 6 <= w + GAP else name[: max(1, (w + GAP) // 6 - 1)] + "."
        draw.text((c * (w + GAP) + 2, max(0, (header - 11) // 2)), text, fill=(0, 0, 0))
    return GridImage(np.asarray(pil).copy(), columns, tuple(r.pair for r in rows), boxes, header)


def save_grid(grid: GridImage, out_dir: Path, stem: str = "grid", dpi: int = 200) -> list[Path]:
    """``stem.png`` (the exact pixels) and ``stem.pdf`` (the panels with vector titles)."""
    from matplotlib.figure import Figure

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    png = out_dir / f"{stem}.png"
    Image.fromarray(grid.pixels).save(png)
    body = grid.pixels[grid.header:]
    bh, bw = body.shape[:2]
    scale = 2.5 / 100  # inches per pixel: a 64-pixel panel is 1.6 inches wide
    title = 0.3
    fig = Figure(figsize=(bw * scale, bh * scale + title))
    ax = fig.add_axes((0, 0, 1, bh * scale / (bh * scale + title)))
    ax.imshow(body, interpolation="nearest")
    ax.set_axis_off()
    columns = len(grid.columns)
    for c, name in enumerate(grid.columns):
        fig.text((c + 0.5) / columns, 1 - 0.5 * title / (bh * scale + title), name,
                 ha="center", va="center", fontsize=8)
    pdf = out_dir / f"{stem}.pdf"
    fig.savefig(pdf, dpi=dpi, metadata={"Creator": "ctat-bench", "CreationDate": None})
    return [png, pdf]
