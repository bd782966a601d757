"""Datasets by name: where their files live, what layout they use, and how to validate them.

Market-1501 and DeepFashion are read in the layout of PATN's data preparation (PROTOCOL.md
3.1); the embedded synthetic sets are generated in exactly the Market layout so the same code
reads them::

    from bench.data import DATASETS, locate
    files = locate("market", data_root=None, split="test")   # DataError with the layout if absent
    files.root, files.root_source      # Path('data/market'), 'default folder'
    files.pairs_file, files.annotations_file, files.image_dir, files.size

A protocol whose script read its own test folder under other names (``pidm``: PIDM's
``deep{stem}.png``) sets that rule with ``files.with_image_naming(protocol.image_naming)``;
``files.image_file_names(name)`` then lists the CSV's name and the script's, in that order,
and the split (``bench.data.split``) reads each image from the first that exists.

The root comes from ``--data-root``, else the environment variable named by the dataset
(``BENCH_MARKET_ROOT``, ``BENCH_DEEPFASHION_ROOT``), else ``data/<name>`` under the working
directory. Synthetic sets live in the cache (``BENCH_CACHE``, default ``~/.cache/ctat-bench``).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image

from bench.errors import DataError

if TYPE_CHECKING:
    from bench.gfla.naming import GroundTruthNaming

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Layout:
    """File names of one split, relative to the dataset root (``{split}`` is substituted)."""

    pairs: tuple[str, ...]  # accepted names of the pair CSV, first is the canonical one
    annotations: tuple[str, ...]
    images: str = "{split}"
    annotation_width: int | None = None  # width of the keypoint frame; None = the image width


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    description: str
    size: tuple[int, int]  # (H, W) the harness evaluates at
    layouts: tuple[Layout, ...]
    env_var: str | None = None
    obtain: str = ""
    accepted_sizes: tuple[tuple[int, int], ...] = ()  # other (H, W) read as-is (DeepFashion 256x256)
    synthetic: object | None = None  # bench.data.synthetic.SyntheticSpec for generated sets
    example_image: str = ""
    padded_width: int | None = None  # legacy protocol: pad images to this width with white

    @property
    def sizes(self) -> tuple[tuple[int, int], ...]:
        return (self.size, *self.accepted_sizes)


@dataclass(frozen=True)
class DatasetFiles:
    """A located dataset split: every path the loader needs, and the frame conventions."""

    spec: DatasetSpec
    split: str
    root: Path
    root_source: str  # "--data-root", "environment variable BENCH_MARKET_ROOT", ...
    pairs_file: Path
    annotations_file: Path
    image_dir: Path
    # (H, W) of the images on disk; None when the run needs no images and the folder has none
    # (a results-only run: ``with_size`` sets the frame the result strips were found to have)
    size: tuple[int, int] | None
    kpt_shift_x: int = 0  # added to annotation x to get image x (DeepFashion 256 -> 176 frame: -40)
    frame_margin_x: int = 0  # keypoints may lie this far outside the image and still be valid
    notes: tuple[str, ...] = field(default_factory=tuple)
    annotation_width: int | None = None  # width of the keypoint frame; None = the image width
    # another name a script's own test folder gives an image (PIDM: deep{stem}.png), or None
    image_naming: GroundTruthNaming | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    def with_image_naming(self, naming: GroundTruthNaming | None) -> DatasetFiles:
        """The same split whose images may also be stored under ``naming``'s file names."""
        return dataclasses.replace(self, image_naming=naming)

    def image_file_names(self, name: str) -> tuple[str, ...]:
        """The file names that may hold dataset image ``name``: its own, then the script's."""
        if self.image_naming is None:
            return (name,)
        other = self.image_naming.file_for_image(name)
        return (name,) if other == name else (name, other)

    def missing_image_text(self, name: str) -> str:
        """Why image ``name`` cannot be read: every file expected for it, with the rule."""
        own, *other = (self.image_dir / n for n in self.image_file_names(name))
        if not other:
            return f"image file {own} does not exist"
        naming = self.image_naming
        return (f"image file {own} does not exist, nor {other[0]} ({naming.script}'s name for "
                f"it, {naming.rule}: {naming.source})")

    @property
    def has_images(self) -> bool:
        return self.image_dir.is_dir()

    def with_size(self, size: tuple[int, int], note: str | None = None) -> DatasetFiles:
        """The same split evaluated at frame ``size`` (keypoint conversion recomputed)."""
        shift, margin, notes = _frame_conversion(self.annotation_width, size)
        base = tuple(n for n in self.notes if not n.startswith("keypoints converted"))
        return dataclasses.replace(
            self, size=tuple(size), kpt_shift_x=shift, frame_margin_x=margin,
            notes=base + tuple(notes) + ((note,) if note else ()),
        )


MARKET_LAYOUT = Layout(
    pairs=("market-pairs-{split}.csv",), annotations=("market-annotation-{split}.csv",)
)
FASHION_RESIZE_LAYOUT = Layout(
    pairs=("fasion-resize-pairs-{split}.csv", "fashion-resize-pairs-{split}.csv"),
    annotations=("fasion-resize-annotation-{split}.csv", "fashion-resize-annotation-{split}.csv"),
    annotation_width=176,
)
FASHION_ORIGINAL_LAYOUT = Layout(
    pairs=("fashion-pairs-{split}.csv", "fasion-pairs-{split}.csv"),
    annotations=("fasion-annotation-{split}.csv", "fashion-annotation-{split}.csv"),
    annotation_width=256,
)

MARKET_OBTAIN = (
    "Market-1501 images come from the dataset's authors (Zheng et al., ICCV 2015; request it "
    "from them). The PATN split files and keypoints (market-pairs-*.csv, "
    "market-annotation-*.csv) are linked from the README of github.com/tengteng95/Pose-Transfer "
    "('Data preparation'); the test CSVs are also in github.com/CVPR19-anonymous/"
    "pose_transfer_test_code (DATA/). Put the test images in DIR/test/."
)
FASHION_OBTAIN = (
    "DeepFashion In-shop images come from the dataset's authors (Liu et al., CVPR 2016). PATN's "
    "tool/generate_fashion_datasets.py flattens the names (fashionWOMEN...id..._1front.jpg) and "
    "crops them to 176x256; the fasion-resize-pairs/annotation CSVs are linked from the README of "
    "github.com/tengteng95/Pose-Transfer. Uncropped 256x256 images with fashion-pairs-*.csv and "
    "fasion-annotation-*.csv (256 frame) are accepted too."
)


def _env_root(spec: DatasetSpec) -> tuple[Path | None, str]:
    if spec.env_var and os.environ.get(spec.env_var):
        return Path(os.environ[spec.env_var]), f"environment variable {spec.env_var}"
    return None, ""


def cache_root() -> Path:
    """Where generated data and cached statistics live (``BENCH_CACHE`` overrides)."""
    env = os.environ.get("BENCH_CACHE")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "ctat-bench"


def _first_existing(root: Path, names: tuple[str, ...], split: str) -> Path | None:
    for name in names:
        path = root / name.format(split=split)
        if path.is_file():
            return path
    return None


def _layout_text(spec: DatasetSpec, split: str, root: Path) -> str:
    h, w = spec.size
    lines = [f"  expected ({spec.description}; {h}x{w} images):"]
    for i, layout in enumerate(spec.layouts):
        if i:
            lines.append("  or:")
        lines.append(f"    {root / layout.pairs[0].format(split=split)}    header 'from,to'")
        lines.append(
            f"    {root / layout.annotations[0].format(split=split)}    "
            "header 'name:keypoints_y:keypoints_x'"
        )
        lines.append(
            f"    {root / layout.images.format(split=split)}/    the images"
            + (f" (e.g. {spec.example_image})" if spec.example_image else "")
        )
    return "\n".join(lines)


def _missing_message(spec: DatasetSpec, split: str, root: Path, source: str, found: str) -> str:
    env = f" or {spec.env_var}=DIR" if spec.env_var else ""
    return (
        f"dataset {spec.name!r} ({split} split) not found\n"
        f"  looked in: {root} ({source}; choose another with --data-root DIR{env})\n"
        f"{_layout_text(spec, split, root)}\n"
        f"  found: {found}\n"
        f"  how to obtain: {spec.obtain}"
    )


def _describe_folder(root: Path) -> str:
    if not root.exists():
        return "the folder does not exist"
    if not root.is_dir():
        return "a file, not a folder"
    entries = sorted(p.name + ("/" if p.is_dir() else "") for p in root.iterdir())
    if not entries:
        return "an empty folder"
    shown = ", ".join(entries[:8]) + (f", ... ({len(entries)} entries)" if len(entries) > 8 else "")
    return shown


def image_size(path: Path) -> tuple[int, int]:
    """(H, W) from the image header, without decoding."""
    try:
        with Image.open(path) as img:
            w, h = img.size
    except (OSError, ValueError) as exc:
        raise DataError(f"cannot read image {path}: {exc}") from None
    return h, w


def _probe_size(image_dir: Path, sample: int = 7) -> tuple[int, int] | None:
    """The most common (H, W) among the first few readable images (one bad file can't decide)."""
    from collections import Counter

    sizes: Counter = Counter()
    with os.scandir(image_dir) as found:  # names, sorted as strings: no Path per file
        names = sorted(e.name for e in found)
    for entry in (image_dir / name for name in names):
        if entry.suffix.lower() in IMAGE_SUFFIXES and entry.is_file():
            try:
                sizes[image_size(entry)] += 1
            except DataError:
                continue
            if sum(sizes.values()) == sample:
                break
    return sizes.most_common(1)[0][0] if sizes else None


def _frame_conversion(frame: int | None, size: tuple[int, int]) -> tuple[int, int, list[str]]:
    """(x shift, x margin, notes) taking keypoints of a ``frame``-wide file to ``size`` images."""
    shift = margin = 0
    notes: list[str] = []
    if frame is not None and frame != size[1]:
        shift = (size[1] - frame) // 2  # PATN's centre crop: x' = x - 40 for 256 -> 176
        notes.append(f"keypoints converted from the {frame}-wide frame: x {shift:+d}")
    if frame is not None:
        margin = max(0, (max(frame, 256) - size[1]) // 2)
    return shift, margin, notes


RESULTS_ONLY_HINT = (
    "only a run that scores result strips against their own target panels needs no images: "
    "--protocol patn-strips with every model a results folder (folder:NAME=PATH)"
)


def locate_files(
    spec: DatasetSpec, root: Path, source: str, split: str, *, images_required: bool = True
) -> DatasetFiles:
    """Find the split files of ``spec`` under ``root``; DataError with the layout if absent.

    With ``images_required=False`` the split and annotation files suffice: the image folder is
    used when present (its size checked as usual), else ``size`` is None (a results-only run).
    """
    if not root.is_dir():
        raise DataError(_missing_message(spec, split, root, source, _describe_folder(root)))
    csv_only = None
    for layout in spec.layouts:
        pairs = _first_existing(root, layout.pairs, split)
        annotations = _first_existing(root, layout.annotations, split)
        image_dir = root / layout.images.format(split=split)
        if pairs and annotations and image_dir.is_dir():
            break
        if pairs and annotations and csv_only is None:
            csv_only = (layout, pairs, annotations, image_dir)
    else:
        if csv_only is None:
            raise DataError(_missing_message(spec, split, root, source, _describe_folder(root)))
        layout, pairs, annotations, image_dir = csv_only
        if images_required:
            found = (f"{pairs.name} and {annotations.name}, but no image folder {image_dir}; "
                     f"{RESULTS_ONLY_HINT}")
            raise DataError(_missing_message(spec, split, root, source, found))
        return DatasetFiles(
            spec=spec, split=split, root=root, root_source=source, pairs_file=pairs,
            annotations_file=annotations, image_dir=image_dir, size=None,
            notes=(f"no image folder {image_dir}: ground truth from the result strips",),
            annotation_width=layout.annotation_width,
        )
    size = _probe_size(image_dir)
    if size is None:
        if not images_required:
            return DatasetFiles(
                spec=spec, split=split, root=root, root_source=source, pairs_file=pairs,
                annotations_file=annotations, image_dir=image_dir, size=None,
                notes=(f"no images in {image_dir}: ground truth from the result strips",),
                annotation_width=layout.annotation_width,
            )
        raise DataError(
            _missing_message(spec, split, root, source, f"no readable images in {image_dir}")
        )
    if size not in spec.sizes:
        expected = " or ".join(f"{h}x{w}" for h, w in spec.sizes)
        raise DataError(
            f"dataset {spec.name!r}: images in {image_dir} are {size[0]}x{size[1]} (HxW), "
            f"expected {expected}"
        )
    shift, margin, notes = _frame_conversion(layout.annotation_width, size)
    return DatasetFiles(
        spec=spec, split=split, root=root, root_source=source, pairs_file=pairs,
        annotations_file=annotations, image_dir=image_dir, size=size, kpt_shift_x=shift,
        frame_margin_x=margin, notes=tuple(notes), annotation_width=layout.annotation_width,
    )


def resolve_root(spec: DatasetSpec, data_root: Path | None) -> tuple[Path, str]:
    """(root, how it was chosen) for a real dataset."""
    if data_root is not None:
        return Path(data_root), "--data-root"
    env_root, source = _env_root(spec)
    if env_root is not None:
        return env_root, source
    return Path("data") / spec.name, "default folder"
