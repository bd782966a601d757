"""Results folders: score images that a method already generated, beside the models the harness runs.

Published methods (Def-GAN, VUNet, GFLA, DPTN, PIDM, ...) often release their test outputs
rather than a runnable network. ``folder:NAME=PATH`` makes such a folder a model of the run:
NAME is the model name on every record and table, PATH the folder::

    python -m bench run --dataset market --data-root /data/market \\
        --models warp,folder:defgan=/results/defgan_market
    python -m bench run --dataset market --data-root /data/market-csv-only \\
        --protocol patn-strips \\
        --models folder:patn-released=/results/market_PATN/test_latest/images
    python -m bench run --dataset deepfashion --data-root /data/fashion \\
        --models folder:mine=/results/mine,panels=4,panel=3,target=1

Options follow the path as ``,KEY=VALUE`` items (no commas in the path on the command line):

``panels=K``   the number of panels side by side in each file (1: single images);
``panel=I``    which panel holds the generated image, 0-based (negative counts from the end);
``target=I``   which panel holds the ground truth (only needed for unusual strips).

From Python, the same text or a :class:`FolderSpec`::

    from bench.config import RunConfig
    RunConfig(models=("warp", "folder:defgan=/results/defgan"), dataset="market")
    RunConfig(models=("warp",), folders=(FolderSpec("defgan", "/results/defgan", panels=3),))

**File names.** One file per pair, named after the pair in any of the usual conventions:
``{from}___{to}`` (the harness's own ``images/<model>/``, PATN), ``{from}_{to}`` (Def-GAN),
``{from}_2_{to}`` (GFLA-derived code), each with or without the images' ``.jpg``, optionally with
PATN's ``_vis`` suffix, as ``.png``, ``.jpg`` or ``.jpeg``: PATN's strips are
``{from}___{to}_vis.jpg``, Def-GAN's ``{from}_{to}.png`` (e.g.
``0007_c2s3_070952_01.jpg_0007_c3s3_077419_03.jpg.png``). Files that name no evaluated pair are
ignored and counted; subfolders are not searched.

**Layouts** (PROTOCOL.md 3.2), detected from the file size and the dataset frame H x W: a file
H x k*W holds k panels. k = 1 is a single generated image; k = 3 is Def-GAN's
[source | target | generated]; k = 5 is PATN's [source | source pose | target | target pose |
generated]; other k need ``panel=`` (and ``target=`` to use a ground-truth panel). On DeepFashion
(176 wide, 256 in the legacy frame) panels 256 wide are centre-cropped to the dataset's 176
columns (PATN's crop box 40..216), except under a protocol with frames (the script protocols,
``fair``), which never crops: there single images at a size the protocol knows (DPTN's and
CFLD's 256x256, CFLD's 512x352; ``fair``'s 256x256 and 512x352) are resized to its frame as
it states (``Layout.resize``), and other sizes are refused naming the accepted ones. A file of another size, or one that cannot be decoded, is a
per-pair error; a pair without a file is a per-pair error naming the expected file.

**Ground truth.** Under the ``patn`` and ``modern`` protocols the generated panel is scored
against the dataset's target image. Under ``patn-strips`` it is scored against the strip's own
target panel, as saved (JPEG for PATN's strips), as PATN's getMetrics did; that needs no
dataset images, only the pair and annotation files (keypoints for masks and PCKh).

The adapter declares ``sees_pairs``: the harness hands it the evaluated pair list before work
(:meth:`FolderModel.plan`, which stops the run when the folder holds none of the pairs) and each
batch's pairs (``generate(..., pairs=)``); it is never handed a target image. ``module`` is
None (no network: nothing to count or time, and torch is not imported for it) and ``weights`` is the folder's path with the
sha256 of the evaluated files (names and contents, in pair order), so a changed folder shows
on every record.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.decode import decode_rgb
from bench.errors import BenchError, ModelUnavailableError
from bench.models.base import ModelSpec, Provenance, Weights
from bench.threads import shared_pool
from bench.types import Generated, Pair

PREFIX = "folder:"
OPTION_KEYS = ("panels", "panel", "target")
RESULT_SUFFIXES = (".png", ".jpg", ".jpeg")  # preference order when a pair has several files
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")
SEPARATORS = (("___", "PATN / harness"), ("_", "Def-GAN"), ("_2_", "GFLA-style"))
SAMPLE = 16  # files whose header size decides the layout


class FolderError(BenchError):
    """A results folder that cannot be evaluated (missing, none of the pairs, unknown layout)."""


# -- the model entry ---------------------------------------------------------------------------
@dataclass(frozen=True)
class FolderSpec:
    """One ``folder:NAME=PATH[,panels=K][,panel=I][,target=J]`` entry (JSON-serialisable)."""

    name: str
    path: str
    panels: int | None = None  # None: detected from the file size and the dataset frame
    panel: int | None = None  # index of the generated panel; None: the layout's default
    target: int | None = None  # index of the ground-truth panel; None: the layout's default

    @classmethod
    def parse(cls, text: str) -> FolderSpec:
        """``folder:NAME=PATH[,KEY=VALUE...]`` -> FolderSpec; FolderError on a malformed entry."""
        if not text.startswith(PREFIX):
            raise FolderError(f"a results folder is given as folder:NAME=PATH, got {text!r}")
        name, sep, rest = text[len(PREFIX):].partition("=")
        name = name.strip()
        if not sep or not rest.strip():
            raise FolderError(
                f"expected folder:NAME=PATH (e.g. folder:defgan=/results/defgan), got {text!r}"
            )
        path_parts: list[str] = []
        options: dict[str, int] = {}
        for piece in rest.split(","):
            key, eq, value = piece.partition("=")
            key = key.strip()
            if eq and path_parts and (key in OPTION_KEYS or re.fullmatch(r"[a-z_]+", key)):
                if key not in OPTION_KEYS:
                    raise FolderError(
                        f"unknown option {key!r} in {text!r}; known: "
                        + ", ".join(f"{k}=" for k in OPTION_KEYS)
                    )
                try:
                    options[key] = int(value)
                except ValueError:
                    raise FolderError(
                        f"option {key}= takes a whole number, got {value!r} in {text!r}"
                    ) from None
            else:
                path_parts.append(piece)
        spec = cls(name=name, path=",".join(path_parts).strip(), **options)
        spec.validate()
        return spec

    def validate(self) -> None:
        if not NAME_PATTERN.fullmatch(self.name):
            raise FolderError(
                f"folder model name {self.name!r}: use letters, digits and _ . + - "
                "(it names the model on records and the run's files), e.g. folder:defgan=PATH"
            )
        if not self.path:
            raise FolderError(f"folder:{self.name}= needs a path")
        if self.panels is not None and self.panels < 1:
            raise FolderError(f"folder:{self.name}: panels= must be at least 1, got {self.panels}")

    @property
    def entry(self) -> str:
        """The entry text that parses back to this spec."""
        opts = "".join(f",{k}={getattr(self, k)}" for k in OPTION_KEYS
                       if getattr(self, k) is not None)
        return f"{PREFIX}{self.name}={self.path}{opts}"


def is_folder_entry(text: str) -> bool:
    return text.startswith(PREFIX)


def split_model_list(text: str) -> tuple[str, ...]:
    """Split a ``--models`` value on commas, keeping ``KEY=VALUE`` options with their folder.

    ``"warp,folder:dg=/r/dg,panels=3,source"`` -> ``("warp", "folder:dg=/r/dg,panels=3",
    "source")``. An option that follows no folder entry is a FolderError.
    """
    out: list[str] = []
    for item in (s.strip() for s in text.split(",")):
        if not item:
            continue
        if "=" in item and not is_folder_entry(item):
            if not out or not is_folder_entry(out[-1]):
                raise FolderError(
                    f"{item!r} in --models: options belong to a results folder, as in "
                    f"folder:NAME=PATH,{item}"
                )
            out[-1] += "," + item
        else:
            out.append(item)
    return tuple(out)


# -- layouts -----------------------------------------------------------------------------------
KNOWN_LAYOUTS = {
    # panels: (kind, description, fake, target, source)
    1: ("single", "single generated images", 0, None, None),
    3: ("defgan-3", "Def-GAN 3-panel strips [source | target | generated]", 2, 1, 0),
    5: ("patn-5", "PATN 5-panel strips [source | source pose | target | target pose | generated]",
        4, 2, 0),
}


@dataclass(frozen=True)
class Layout:
    """How a file holds one pair's images: ``panels`` side by side, each ``panel_hw``."""

    kind: str  # "single", "defgan-3", "patn-5" or "custom"
    description: str
    panels: int
    panel_hw: tuple[int, int]  # (H, W) of one panel in the file
    fake: int  # panel index of the generated image
    target: int | None = None  # panel index of the ground truth, if the files hold one
    source: int | None = None
    crop: int = 0  # columns cut from each side of a panel (256-wide panels, 176-wide dataset)
    detected: bool = True  # False: told explicitly (panels=)
    resize: str | None = None  # a protocol's resize of the generated panel (DPTN, CFLD)
    out_hw: tuple[int, int] | None = None  # (H, W) after ``resize``

    @property
    def file_hw(self) -> tuple[int, int]:
        return self.panel_hw[0], self.panel_hw[1] * self.panels

    @property
    def image_hw(self) -> tuple[int, int]:
        if self.out_hw is not None:
            return tuple(self.out_hw)
        return self.panel_hw[0], self.panel_hw[1] - 2 * self.crop

    def describe(self) -> str:
        h, w = self.panel_hw
        fh, fw = self.file_hw
        if self.panels == 1:
            text = f"{self.description}, {h}x{w}"
        else:
            text = f"{self.description}, {self.panels} x {h}x{w} panels ({fh}x{fw} files)"
        if self.kind == "custom":
            text += f", generated = panel {self.fake}" + (
                f", target = panel {self.target}" if self.target is not None else "")
        if self.crop:
            ih, iw = self.image_hw
            text += f", centre {iw} columns used ({self.crop}..{w - self.crop})"
        if self.resize:
            ih, iw = self.image_hw
            text += f", resized to {ih}x{iw} as the protocol states ({self.resize})"
        return text + ("" if self.detected else " [told: panels=]")

    def to_dict(self) -> dict:
        return {"kind": self.kind, "panels": self.panels, "panel_hw": list(self.panel_hw),
                "fake": self.fake, "target": self.target, "source": self.source,
                "crop": self.crop, "detected": self.detected, "resize": self.resize,
                "description": self.describe()}

    def split(self, strip: np.ndarray) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
        """(generated, target or None, source or None) panels of a decoded file."""
        pw = self.panel_hw[1]

        def panel(i: int | None) -> np.ndarray | None:
            if i is None:
                return None
            lo = i * pw + self.crop
            return strip[:, lo: lo + pw - 2 * self.crop]

        return panel(self.fake), panel(self.target), panel(self.source)


def _index_option(value: int | None, panels: int, what: str, name: str) -> int | None:
    if value is None:
        return None
    if not -panels <= value < panels:
        raise FolderError(
            f"folder:{name}: {what}={value} is outside the {panels} panels (0..{panels - 1})"
        )
    return value % panels


def _layout_for(spec: FolderSpec, panels: int, panel_hw, crop: int, detected: bool) -> Layout:
    known = KNOWN_LAYOUTS.get(panels)
    fake = _index_option(spec.panel, panels, "panel", spec.name)
    target = _index_option(spec.target, panels, "target", spec.name)
    if known is not None and fake in (None, known[2]) and target in (None, known[3]):
        kind, description, fake, target, source = known
    else:
        if fake is None:
            raise FolderError(
                f"folder:{spec.name}: files of {panels} panels are not a known layout (1: single "
                "images, 3: Def-GAN, 5: PATN); say which panel is generated and which is the "
                f"ground truth, e.g. folder:{spec.name}=PATH,panels={panels},panel={panels - 1}"
                ",target=1 (0-based)"
            )
        if target is not None and target == fake:
            raise FolderError(f"folder:{spec.name}: panel= and target= name the same panel")
        kind, description, source = "custom", f"{panels}-panel strips", None
    return Layout(kind=kind, description=description, panels=panels, panel_hw=tuple(panel_hw),
                  fake=fake, target=target, source=source, crop=crop, detected=detected)


def detect_layout(
    spec: FolderSpec,
    file_hw: tuple[int, int],
    size: tuple[int, int],
    padded_width: int | None = None,
    *,
    allow_crop: bool = True,
) -> Layout:
    """The layout of files of ``file_hw`` (H, W) for a dataset frame ``size``; FolderError if none.

    Panels are ``size[1]`` wide, or ``padded_width`` wide with the centre ``size[1]`` columns
    used (DeepFashion results at 256x256 against the 176-wide crops). ``spec.panels`` fixes the
    panel count instead of deriving it from the width.
    """
    h, w = size
    fh, fw = file_hw
    widths = [(w, 0)]
    if allow_crop and padded_width and padded_width > w:
        widths.append((padded_width, (padded_width - w) // 2))
    if fh == h:
        for pw, crop in widths:
            if spec.panels is not None:
                if fw == spec.panels * pw:
                    return _layout_for(spec, spec.panels, (fh, pw), crop, detected=False)
            elif fw % pw == 0:
                return _layout_for(spec, fw // pw, (fh, pw), crop, detected=True)
    expected = " or ".join(
        f"{h}x{spec.panels * pw}" if spec.panels else f"{h}x(k*{pw})" for pw, _ in widths
    )
    raise FolderError(
        f"folder:{spec.name}: its files are {fh}x{fw} (HxW), which fits no layout for the "
        f"{h}x{w} dataset frame: expected {expected}"
        + ("" if spec.panels else " (k panels: 1 single image, 3 Def-GAN, 5 PATN)")
        + "; is this folder the results of this dataset? panels=K says how many panels a file holds"
    )


# -- file names ----------------------------------------------------------------------------------
def _stem_and_suffix(name: str) -> tuple[str, str] | None:
    lower = name.lower()
    for suffix in RESULT_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)], lower[-len(suffix):]
    return None


def candidate_names(pair: Pair) -> list[tuple[str, str]]:
    """``[(stem, convention), ...]`` a result file of ``pair`` may have, most specific first."""
    return list(_candidates(pair))


def _candidates(pair: Pair) -> Iterator[tuple[str, str]]:
    """:func:`candidate_names` one at a time, each name once."""
    seen: set[str] = set()
    for name, convention in _all_candidates(pair):
        if name not in seen:
            seen.add(name)
            yield name, convention


def _stem(name: str) -> str:
    """``Path(name).stem``: the last component without its last suffix."""
    name = name.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[:dot] if 0 < dot < len(name) - 1 else name


def _all_candidates(pair: Pair) -> Iterator[tuple[str, str]]:
    """Every candidate name in order, repeats included (a search stops at the first found,
    and a name not found is not found again: no need to skip repeats there)."""
    src, tgt = pair.src, pair.tgt
    src_stem, tgt_stem = _stem(src), _stem(tgt)
    for sep, _ in SEPARATORS:
        for s, s_label in ((src, "{from}"), (src_stem, "{from stem}")):
            for t, t_label in ((tgt, "{to}"), (tgt_stem, "{to stem}")):
                for vis in ("_vis", ""):
                    yield f"{s}{sep}{t}{vis}", f"{s_label}{sep}{t_label}{vis}"


@dataclass
class FolderIndex:
    """The files of a results folder: ``stems`` maps a name without its image suffix to files."""

    root: Path
    stems: dict[str, dict[str, Path]] = field(default_factory=dict)  # stem -> {suffix: path}
    files: list[str] = field(default_factory=list)  # every file name (sorted)
    subfolders: list[str] = field(default_factory=list)

    @classmethod
    def scan(cls, root: Path, name: str) -> FolderIndex:
        if not root.exists():
            raise FolderError(f"folder:{name}: {root} does not exist")
        if not root.is_dir():
            raise FolderError(f"folder:{name}: {root} is a file, not a folder")
        index = cls(root=root)
        with os.scandir(root) as found:  # names and types without a stat per file
            entries = sorted(found, key=lambda e: e.name)
        for entry in entries:
            if entry.is_dir():
                index.subfolders.append(entry.name + "/")
                continue
            index.files.append(entry.name)
            parsed = _stem_and_suffix(entry.name)
            if parsed is not None:
                index.stems.setdefault(parsed[0], {})[parsed[1]] = root / entry.name
        return index

    def find(self, pair: Pair) -> tuple[Path, str] | None:
        """(file, convention) of ``pair``: the first candidate name present, .png before .jpg."""
        for stem, convention in _all_candidates(pair):
            found = self.stems.get(stem)
            if found:
                suffix = next(s for s in RESULT_SUFFIXES if s in found)
                return found[suffix], convention + suffix
        return None

    def describe_found(self, limit: int = 5) -> str:
        entries = self.files + self.subfolders
        if not entries:
            return "an empty folder"
        shown = ", ".join(entries[:limit])
        return f"{len(self.files)} files" + (
            f" and {len(self.subfolders)} subfolders" if self.subfolders else "") + f", e.g. {shown}"


@dataclass
class Match:
    """Which evaluated pairs have a file in the folder."""

    files: dict[int, Path]  # pair index -> file
    conventions: Counter  # convention label -> pairs
    missing: list[Pair]
    ignored: int  # files of the folder that no evaluated pair uses


def match_pairs(index: FolderIndex, pairs: tuple[Pair, ...] | list[Pair]) -> Match:
    files: dict[int, Path] = {}
    conventions: Counter = Counter()
    missing = []
    for pair in pairs:
        found = index.find(pair)
        if found is None:
            missing.append(pair)
        else:
            files[pair.index] = found[0]
            conventions[found[1]] += 1
    used = {p.name for p in files.values()}
    return Match(files=files, conventions=conventions, missing=missing,
                 ignored=len(index.files) - len(used))


def expected_name(pair: Pair, convention: str | None = None) -> str:
    """The file name ``pair`` would have under ``convention`` (default: the harness's own)."""
    if convention is None:
        return f"{Path(pair.src).stem}___{Path(pair.tgt).stem}.png"
    text = convention
    for label, value in (("{from stem}", Path(pair.src).stem), ("{to stem}", Path(pair.tgt).stem),
                         ("{from}", pair.src), ("{to}", pair.tgt)):
        text = text.replace(label, value)
    return text


def _none_found(spec: FolderSpec, index: FolderIndex, pairs) -> FolderError:
    first = pairs[0]
    examples = [
        (f"{first.src}___{first.tgt}_vis.jpg", "PATN strips"),
        (f"{first.src}_{first.tgt}.png", "Def-GAN strips"),
        (expected_name(first), "the harness's own images/<model>/"),
    ]
    lines = [
        f"folder:{spec.name}: none of the {len(pairs)} evaluated pairs has a file in {index.root}",
        "  expected one file per pair named after it, e.g. for the first pair "
        f"({first.src} -> {first.tgt}):",
        *[f"    {name}    ({what})" for name, what in examples],
        "  ({from}___{to}, {from}_{to} or {from}_2_{to}, with or without .jpg, optional _vis, "
        ".png/.jpg/.jpeg)",
        f"  found: {index.describe_found()}",
        "  is it the results of this dataset and split (and not a parent folder)?",
    ]
    return FolderError("\n".join(lines))


def _file_size(path: Path) -> tuple[int, int] | None:
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, ValueError):
        return None
    return h, w


def sampled_file_sizes(match: Match, limit: int = SAMPLE) -> list[tuple[int, int]]:
    """(H, W) of the first readable matched files, most common first (one bad file can't
    decide the layout)."""
    sizes: Counter = Counter()
    for path in list(match.files.values())[: limit * 2]:
        size = _file_size(path)
        if size is not None:
            sizes[size] += 1
        if sum(sizes.values()) == limit:
            break
    return [size for size, _ in sizes.most_common()]


def fit_layout(spec: FolderSpec, file_sizes, size, padded_width=None, *, allow_crop=True) -> Layout:
    """The layout of the most common file size that fits the frame ``size``; else the error
    for the most common size."""
    first_error = None
    for file_hw in file_sizes:
        try:
            return detect_layout(spec, file_hw, size, padded_width, allow_crop=allow_crop)
        except FolderError as exc:
            first_error = first_error or exc
    raise first_error


def probe_size(
    specs, pairs, sizes: tuple[tuple[int, int], ...], padded_width: int | None = None
) -> tuple[int, int]:
    """The dataset frame (H, W) among ``sizes`` that the folders' files fit, for a run without
    dataset images: exact panel widths first, then cropped ones; FolderError if none fits."""
    file_sizes = []
    for spec in specs:
        index = FolderIndex.scan(Path(spec.path), spec.name)
        match = match_pairs(index, pairs)
        if not match.files:
            raise _none_found(spec, index, pairs)
        found = sampled_file_sizes(match)
        if not found:
            raise FolderError(
                f"folder:{spec.name}: none of its files of the evaluated pairs can be read"
            )
        file_sizes.append((spec, found))
    for allow_crop in (False, True):
        for size in sizes:
            try:
                for spec, found in file_sizes:
                    fit_layout(spec, found, size, padded_width, allow_crop=allow_crop)
            except FolderError:
                continue
            return size
    shown = "; ".join(f"folder:{s.name} files are {found[0][0]}x{found[0][1]}"
                      for s, found in file_sizes)
    frames = " or ".join(f"{h}x{w}" for h, w in sizes)
    raise FolderError(
        f"no dataset images to take the frame from, and the result files fit none of the "
        f"dataset's frames ({frames}, HxW): {shown}; give panels=K if the panel count is unusual"
    )


# -- the adapter -------------------------------------------------------------------------------
def _read(path: Path, layout: Layout):
    """(generated, target, source) uint8 panels of one file, or an error message."""
    try:
        arr = decode_rgb(path.read_bytes())  # PIL's pixels, by a faster equal where one exists
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        return f"{path}: corrupt or unreadable image ({exc})"
    if arr.shape[:2] != layout.file_hw:
        h, w = layout.file_hw
        return (f"{path}: file is {arr.shape[0]}x{arr.shape[1]} (HxW), expected {h}x{w} "
                f"({layout.panels} panel{'s' if layout.panels > 1 else ''} of "
                f"{layout.panel_hw[0]}x{layout.panel_hw[1]})")
    return layout.split(arr)


class FolderModel:
    """A results folder as a generator: reads the pair's file instead of computing an image.

    ``FolderModel(ModelSpec(name="defgan", size=(128, 64), dataset="market"),
    FolderSpec("defgan", "/results/defgan"))``; then ``plan(pairs)`` once and
    ``generate(None, src_kpts, tgt_kpts, pairs=batch.pairs)`` per batch (a :class:`Generated`).
    """

    sees_target = False
    sees_pairs = True  # the harness passes the pairs (names), never the target image
    takes_arrays = True  # ... and the batch's numpy arrays, not tensors (no torch needed)

    def __init__(self, spec: ModelSpec, folder: FolderSpec, workers: int = 2,
                 allow_crop: bool = True, resizer=None) -> None:
        folder.validate()
        self.allow_crop = allow_crop  # False: 256-wide panels are not cropped to 176 columns
        # the protocol's resize of single result images at another size than the frame, as
        # its script did (bench.gfla.protocol.ScriptSteps: result_resize, resize_result)
        self.resizer = resizer
        self.name = folder.name
        self.spec = spec
        self.folder = folder
        self.root = Path(folder.path).expanduser().resolve()
        if not self.root.is_dir():
            what = "is a file, not a folder" if self.root.exists() else "does not exist"
            raise ModelUnavailableError(f"folder:{folder.name}: {self.root} {what}")
        self.workers = max(1, workers)
        self.layout: Layout | None = None
        self.match: Match | None = None
        self.weights = Weights(label=str(self.root))
        self.provenance = Provenance(paper=f"results folder {self.root}",
                                     notes="images generated elsewhere, read from files")

    @property
    def module(self) -> None:
        """None: a results folder runs no network (its efficiency record: not applicable)."""
        return None

    @property
    def has_target(self) -> bool:
        return self.layout is not None and self.layout.target is not None

    def _padded_width(self) -> int | None:
        from bench.data import DATASETS

        try:
            return DATASETS.get(self.spec.dataset).padded_width
        except BenchError:
            return None

    def plan(self, pairs: tuple[Pair, ...]) -> list[str]:
        """Match the evaluated pairs to files, detect the layout, hash the files; console lines.

        FolderError (before any work) when the folder holds none of the pairs or its files fit
        no layout of the dataset frame."""
        index = FolderIndex.scan(self.root, self.name)
        match = match_pairs(index, pairs)
        if not match.files:
            raise _none_found(self.folder, index, pairs)
        file_sizes = sampled_file_sizes(match)
        if not file_sizes:
            raise FolderError(
                f"folder:{self.name}: none of the {len(match.files)} files of the evaluated pairs "
                f"in {self.root} can be read as an image"
            )
        try:
            layout = fit_layout(self.folder, file_sizes, self.spec.size, self._padded_width(),
                                allow_crop=self.allow_crop)
        except FolderError as exc:
            layout = self._resized_layout(file_sizes)
            if layout is None:
                accepted = [f"{h}x{w}" for d, (h, w), _ in
                            getattr(self.resizer, "result_resizes", ()) if d == self.spec.dataset]
                if accepted:
                    raise FolderError(f"{exc}; or single images of {' or '.join(accepted)}, "
                                      "resized as the protocol states") from None
                raise
        if layout.image_hw != tuple(self.spec.size):  # pragma: no cover - detect_layout ensures it
            raise FolderError(f"folder:{self.name}: panels do not match the dataset frame")
        paths = [match.files[p.index] for p in pairs if p.index in match.files]
        digest = hashlib.sha256()
        for path, content in zip(paths, _file_hashes(paths), strict=True):
            digest.update(f"{path.name} {content}\n".encode())
        self.layout, self.match = layout, match
        self.weights = Weights(label=str(self.root), sha256=digest.hexdigest())
        self.provenance = Provenance(paper=f"results folder {self.root}", notes=layout.describe())
        return self.report_lines(len(pairs))

    def _resized_layout(self, file_sizes) -> Layout | None:
        """Single images the protocol's script resized to its frame (DPTN's 256x256 outputs,
        CFLD's 512x352), else None."""
        if self.resizer is None or self.folder.panels not in (None, 1):
            return None
        for hw in file_sizes:
            method = self.resizer.result_resize(self.spec.dataset, hw)
            if method is not None:
                return Layout(kind="single", description="single generated images", panels=1,
                              panel_hw=tuple(hw), fake=0, resize=method,
                              out_hw=tuple(self.spec.size))
        return None

    @property
    def convention(self) -> str | None:
        return self.match.conventions.most_common(1)[0][0] if self.match else None

    def expected_file(self, pair: Pair) -> str:
        return expected_name(pair, self.convention)

    def report_lines(self, n_pairs: int) -> list[str]:
        m = self.match
        naming = ", ".join(f"{c} ({n})" for c, n in m.conventions.most_common())
        lines = [
            f"  {self.name}: results folder {self.root}",
            f"    layout: {self.layout.describe()}",
            f"    files: {len(m.files)} of {n_pairs} pairs found, named {naming}; "
            f"{len(m.missing)} missing; {m.ignored} other files ignored",
        ]
        if m.missing:
            shown = ", ".join(self.expected_file(p) for p in m.missing[:3])
            more = f" and {len(m.missing) - 3} more" if len(m.missing) > 3 else ""
            lines.append(f"    missing: {shown}{more} (pair errors)")
        return lines

    def record_extra(self) -> dict:
        """``{"results_folder": ...}``: added to the ``extra`` of the model's metric records."""
        return {"results_folder": self.summary()}

    def summary(self) -> dict:
        """Where the images came from: path, layout, naming, counts and the files' sha256."""
        m = self.match
        return {
            "path": str(self.root), "entry": self.folder.entry,
            "layout": self.layout.to_dict() if self.layout else None,
            "naming": dict(m.conventions) if m else {},
            "pairs_found": len(m.files) if m else 0,
            "pairs_missing": len(m.missing) if m else 0,
            "files_ignored": m.ignored if m else 0,
            "files_sha256": self.weights.sha256,
        }

    def generate(self, src_img, src_kpts, tgt_kpts, *, pairs: tuple[Pair, ...]) -> Generated:
        """The pairs' generated panels (uint8), their target/source panels, per-pair problems."""
        if self.layout is None:
            raise RuntimeError(f"folder:{self.name}: plan(pairs) must run before generate")
        h, w = self.layout.image_hw
        n = len(pairs)
        images = np.zeros((n, h, w, 3), np.uint8)
        targets = np.zeros_like(images) if self.layout.target is not None else None
        sources = np.zeros_like(images) if self.layout.source is not None else None
        problems: dict[int, tuple[str, str | None]] = {}
        paths = [self.match.files.get(p.index) for p in pairs]
        todo = [i for i, path in enumerate(paths) if path is not None]
        for i, path in enumerate(paths):
            if path is None:
                expected = self.root / self.expected_file(pairs[i])
                problems[i] = (f"no file for this pair in {self.root} (expected {expected.name})",
                               str(expected))
        if todo:
            pool = shared_pool("folder-read", self.workers)  # not one pool per batch
            results = list(pool.map(lambda i: _read(paths[i], self.layout), todo))
            for i, result in zip(todo, results, strict=True):
                if isinstance(result, str):
                    problems[i] = (result, str(paths[i]))
                    continue
                fake, target, source = result
                if self.layout.resize:
                    fake = self.resizer.resize_result(fake, self.layout.resize,
                                                      self.layout.image_hw)
                images[i] = fake
                if targets is not None:
                    targets[i] = target
                if sources is not None:
                    sources[i] = source
        return Generated(images=images, problems=problems, targets=targets, sources=sources)


def _file_hashes(paths: list[Path], threads: int | None = None) -> list[str]:
    """SHA-256 of each file, in order (reading and hashing release the GIL: a few threads
    overlap the disk and use the cores; each takes runs of files, not one task per file, which
    halves the time for 12,000 small files). ``threads``: up to 4, at most one per core (four
    on two cores took 0.34-0.43 s for 12,000 cached result files, two 0.23-0.24 s)."""
    threads = threads or max(1, min(4, os.cpu_count() or 1))

    def some(run: list[Path]) -> list[str]:
        out = []
        for path in run:
            with open(path, "rb", buffering=0) as file:  # one read, no buffer in between
                out.append(hashlib.sha256(file.readall()).hexdigest())
        return out

    if len(paths) < 64:
        return some(paths)
    k = threads * 4
    runs = [paths[i * len(paths) // k:(i + 1) * len(paths) // k] for i in range(k)]
    with ThreadPoolExecutor(threads, thread_name_prefix="hash") as pool:
        return [digest for run in pool.map(some, runs) for digest in run]
