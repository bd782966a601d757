"""Test and training folders made the way each paper made them, for the script protocols.

The GFLA-lineage papers compared with images they prepared themselves (PROTOCOL.md 2.3 caveats,
3.1, 3.9.1): GFLA's 256x256 JPEGs (bicubic from img_highres, the author's word), PATN's
176x256 crops (DPTN), PIDM's 256x256 PNGs (PIL bicubic from img_highres, the author's word),
CFLD's 256x176 (torchvision's bicubic on PIL images, i.e. PIL's, done in memory at load time).
:func:`prepare_folder` makes such a folder from a folder of source images whose file names
are already those of the pair and annotation CSVs (``fashionWOMEN...jpg``: the flattening of
the In-shop tree differs between the papers' own scripts and is not redone here)::

    from bench.data.prepare import PREPARATIONS, prepare_folder
    prep = PREPARATIONS[("pidm", "deepfashion")]
    report = prepare_folder(prep, Path("/data/fashion/train_highres"), Path("/data/pidm/train"))

    python -m bench data prepare pidm --dataset deepfashion \\
        --images /data/fashion/train_highres --out /data/pidm/train

Each output file keeps its source file name (the CSVs name images ``*.jpg``); a PNG
preparation writes PNG content under that name (decoders read the content, as the synthetic
sets do). Where the paper's step is not known exactly (JPEG quality, which filter), the
preparation says so in ``note``, and the command prints it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import DataError

METHODS = ("pil-bicubic", "crop-40-216", "as-is")
FORMATS = ("jpeg", "png")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass(frozen=True)
class Preparation:
    """How one paper made its image folders for one dataset."""

    protocol: str
    dataset: str
    size: tuple[int, int]  # (H, W) written
    method: str  # METHODS: resize with PIL's bicubic, PATN's centre crop, or a lossless copy
    format: str  # FORMATS
    source: str  # which original images the paper started from
    note: str  # what is known and what is our stated choice
    jpeg_quality: int = 75  # PIL's default, which PATN's and GFLA's saves used

    def __post_init__(self) -> None:
        if self.method not in METHODS or self.format not in FORMATS:
            raise ValueError(f"method must be one of {METHODS} and format one of {FORMATS}")

    def apply(self, image: np.ndarray) -> np.ndarray:
        """uint8 (H, W, 3) source image -> uint8 image of ``size`` (DataError if it cannot)."""
        h, w = self.size
        if self.method == "pil-bicubic":
            return np.asarray(Image.fromarray(image).resize((w, h), Image.Resampling.BICUBIC))
        if self.method == "crop-40-216":
            if image.shape[:2] != (256, 256):
                raise DataError(f"PATN's crop takes 256x256 images (DeepFashion 'img'), found "
                                f"{image.shape[0]}x{image.shape[1]}")
            return image[:, 40:216]
        if image.shape[:2] != (h, w):
            raise DataError(f"expected {h}x{w} images to copy as they are, found "
                            f"{image.shape[0]}x{image.shape[1]}")
        return image


HIGHRES = "In-shop img_highres (the high-resolution JPEGs)"
IMG = "In-shop img (256x256 JPEGs)"
PREPARATIONS = {p: prep for p, prep in (
    (("gfla", "deepfashion"), Preparation(
        "gfla", "deepfashion", (256, 256), "pil-bicubic", "jpeg", HIGHRES,
        "the author's word (GFLA issues 53, 70): bicubic from img_highres, saved as JPEG; no "
        "script was released; the JPEG quality is not stated (PIL's default 75 here)")),
    (("dptn", "deepfashion"), Preparation(
        "dptn", "deepfashion", (256, 176), "crop-40-216", "jpeg", IMG,
        "PATN tool/generate_fashion_datasets.py: crop box (40, 0, 216, 256) of the 256x256 "
        "images, saved by PIL as JPEG (default quality 75)")),
    (("pidm", "deepfashion"), Preparation(
        "pidm", "deepfashion", (256, 256), "pil-bicubic", "png", HIGHRES,
        "the author's word (PIDM issues 4, 37): PIL BICUBIC to 256x256 from img_highres, PNG")),
    (("cfld", "deepfashion"), Preparation(
        "cfld", "deepfashion", (256, 176), "pil-bicubic", "png", HIGHRES,
        "CFLD datasets/deepfashion.py: Resize([256, 176], BICUBIC) on PIL images at load time "
        "(PIL's bicubic); written losslessly here, the exact pixels it scored")),
    (("fair", "deepfashion"), Preparation(
        "fair", "deepfashion", (256, 176), "crop-40-216", "png", IMG,
        "our protocol: PATN's 176x256 crop of the 256x256 images, lossless")),
    *[((p, "market"), Preparation(
        p, "market", (128, 64), "as-is", "png", "Market-1501 bounding_box_* (128x64 JPEGs)",
        "Market-1501 images are used at their native 128x64 by every paper; copied "
        "losslessly (the decoded JPEG pixels)")) for p in ("gfla", "dptn", "fair")],
)}


@dataclass(frozen=True)
class PrepareReport:
    written: int
    skipped: tuple[str, ...]  # existing outputs left alone
    problems: tuple[str, ...]  # source files that could not be prepared (and why)


def prepare_folder(prep: Preparation, images: Path, out: Path, *, overwrite: bool = False
                   ) -> PrepareReport:
    """Write ``prep`` of every image of ``images`` (not recursive) into ``out``."""
    images, out = Path(images), Path(out)
    if not images.is_dir():
        raise DataError(f"--images {images}: not a folder of source images ({prep.source})")
    sources = sorted(p for p in images.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not sources:
        raise DataError(f"no images (.jpg, .png) in {images}; expected {prep.source} named as "
                        "in the pair and annotation CSVs")
    out.mkdir(parents=True, exist_ok=True)
    written, skipped, problems = 0, [], []
    for path in sources:
        target = out / path.name
        if target.exists() and not overwrite:
            skipped.append(path.name)
            continue
        try:
            with Image.open(path) as im:
                image = np.asarray(im.convert("RGB"))
            result = prep.apply(image)
        except (OSError, ValueError, DataError) as exc:
            problems.append(f"{path}: {exc}")
            continue
        partial = target.with_name(target.name + ".partial")
        if prep.format == "jpeg":
            Image.fromarray(result).save(partial, "JPEG", quality=prep.jpeg_quality)
        else:
            Image.fromarray(result).save(partial, "PNG")
        partial.replace(target)
        written += 1
    return PrepareReport(written=written, skipped=tuple(skipped), problems=tuple(problems))


def preparation(protocol: str, dataset: str) -> Preparation:
    """The preparation of ``protocol`` on ``dataset``; DataError naming the known ones."""
    from bench.protocols import PROTOCOLS

    if protocol in PROTOCOLS and (protocol, dataset) not in PREPARATIONS:
        steps = PROTOCOLS.get(protocol).script  # a variant scores its script's folders
        protocol = steps.script if steps is not None else protocol
    try:
        return PREPARATIONS[(protocol, dataset)]
    except KeyError:
        known = ", ".join(f"{p} {d}" for p, d in PREPARATIONS)
        raise DataError(f"no known image preparation for protocol {protocol!r} on {dataset!r} "
                        f"(known: {known})") from None
