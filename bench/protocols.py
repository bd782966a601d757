"""Evaluation protocols: named, versioned bundles of how images are prepared for scoring.

A protocol's name and version go on every record and in every table footnote, so two numbers
are only compared when they were computed the same way::

    from bench.protocols import PROTOCOLS
    protocol = PROTOCOLS.get("patn")
    fake, batch = protocol.prepare(fake, batch, padded_width=256)   # DeepFashion: white borders

Metric-level choices (which SSIM window, which data range) are metrics of their own
(``ssim`` is the legacy scikit-image 0.14.2 computation, ``ssim_fixed`` the modern one); the
protocol holds what applies to every metric: padding, where the ground truth comes from, and
FID's reference set (the target images of the same pairs, or a training-image folder for
``gfla``). ``patn-strips`` takes the ground truth from each result strip's own target panel, as PATN's getMetrics did
(PROTOCOL.md 3.2), so it only scores results folders (``folder:NAME=PATH``) and needs no
dataset images::

    python -m bench run --protocol patn-strips --models folder:patn-released=/results/patn_market \\
        --dataset market --data-root /data/market-csv-only
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.keypoints import MISSING
from bench.registry import Registry
from bench.types import PairBatch


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    description: str
    white_padding: bool = False  # pad to the dataset's ``padded_width`` (PATN's addBounding)
    gt_from_results: bool = False  # ground truth = the results' own target panel, not the dataset
    fid_reference: str = "targets"  # FID/KID real set: "targets" of the same pairs, or "train"

    def pad_images(self, images: np.ndarray, padded_width: int | None) -> np.ndarray:
        """The protocol's padding applied to plain uint8 (N, H, W, 3) images (real sets)."""
        if not self.white_padding or padded_width is None or images.shape[2] >= padded_width:
            return images
        total = padded_width - images.shape[2]
        left = total // 2
        return np.pad(images, ((0, 0), (0, 0), (left, total - left), (0, 0)),
                      mode="constant", constant_values=255)

    def prepare(
        self, fake: np.ndarray, batch: PairBatch, padded_width: int | None = None
    ) -> tuple[np.ndarray, PairBatch]:
        """Apply the protocol's preparation to generated images and the batch.

        ``padded_width`` is the dataset's legacy frame width (256 for DeepFashion's 176-wide
        crops, None for Market); it only matters to protocols with ``white_padding``.
        """
        if not self.white_padding or padded_width is None or fake.shape[2] >= padded_width:
            return fake, batch
        total = padded_width - fake.shape[2]
        left = total // 2
        pad = ((0, 0), (0, 0), (left, total - left), (0, 0))

        def widen(images: np.ndarray | None) -> np.ndarray | None:
            if images is None:
                return None
            return np.pad(images, pad, mode="constant", constant_values=255)

        def shift(kpts: np.ndarray) -> np.ndarray:
            out = kpts.copy()
            out[..., 0] = np.where(kpts[..., 0] != MISSING, kpts[..., 0] + left, MISSING)
            return out

        padded = PairBatch(
            pairs=batch.pairs,
            src_img=widen(batch.src_img),
            tgt_img=widen(batch.tgt_img),
            src_kpts=shift(batch.src_kpts),
            tgt_kpts=shift(batch.tgt_kpts),
        )
        return widen(fake), padded


PROTOCOLS: Registry[Protocol] = Registry("protocol")

PATN = Protocol(
    name="patn",
    version="1",
    description=(
        "PATN / Def-GAN legacy protocol (tool/getMetrics_*.py): images scored as saved, "
        "DeepFashion panels padded to 256 wide with white (addBounding) before every metric, "
        "masks from the target keypoints; the ground truth is the dataset's image. Generated "
        "images are kept lossless (PNG), unlike PATN's JPEG result strips (a results folder "
        "is scored as its files hold it)."
    ),
    white_padding=True,
)
PATN_STRIPS = Protocol(
    name="patn-strips",
    version="1",
    description=(
        "PATN legacy protocol on result strips, as getMetrics_*.py scored them: the ground truth "
        "is each strip's own target panel as saved (JPEG for PATN's strips), not the dataset "
        "image; DeepFashion padded to 256 with white. Results folders only; needs the pair and "
        "annotation files but no dataset images."
    ),
    white_padding=True,
    gt_from_results=True,
)
MODERN = Protocol(
    name="modern",
    version="1",
    description="Lossless images at their native size, no padding.",
)
TRAIN_FID = Protocol(
    name="gfla",
    version="1",
    description=(
        "As 'modern' (native size, no padding), but FID and KID compare the generated images "
        "with a folder of training images (--train-folder), as GFLA, DPTN and PIDM did; "
        "their Inception was torchvision's, here it is the TF-compatible one of torch-fidelity."
    ),
    fid_reference="train",
)
for _p in (PATN, PATN_STRIPS, MODERN, TRAIN_FID):
    PROTOCOLS.register(_p.name)(_p)

DEFAULT_PROTOCOL = "patn"
