"""Evaluation protocols: named, versioned bundles of how images are prepared for scoring.

A protocol's name and version go on every record and in every table footnote, so two numbers
are only compared when they were computed the same way::

    from bench.protocols import PROTOCOLS
    protocol = PROTOCOLS.get("patn")
    fake, batch = protocol.prepare(fake, batch, padded_width=256)   # DeepFashion: white borders

Metric-level choices (which SSIM window, which data range) are metrics of their own
(``ssim`` is the legacy scikit-image 0.14.2 computation, ``ssim_fixed`` the modern one); the
protocol holds what applies to every metric: padding, where the ground truth comes from,
FID's reference set (the target images of the same pairs, or a training-image folder), the
metrics scored when ``--metrics`` is not given, and the frame (H x W per dataset) its ground
truth must have.

The script protocols ``gfla`` (v2; v1 used torch-fidelity's FID and is retired),
``gfla-skimage014``, ``dptn``, ``pidm`` and ``cfld`` reproduce the GFLA-lineage metric scripts
(PROTOCOL.md 3.9.1): each holds a :class:`bench.gfla.protocol.ScriptSteps` that the script
metrics (``ssim_box51``, ``ssim_256``, ``psnr_script``, ``l1_script``, ``mae_script``,
``lpips_script``, ``fid_tv``) read their preparation and settings from. ``fair`` is one
computation for every method (lossless, one frame, no padding, nothing dropped)::

    python -m bench run --protocol dptn --dataset deepfashion --data-root /data/fashion \\
        --models folder:dptn=/results/dptn --train-folder /data/fashion/train \\
        --weights inception-torchvision-v0=/w/inception_v3_google-1a9a5a14.pth

Which protocol reproduces which published number, and the frames each expects:
docs/script-protocols.md.

``patn-strips`` takes the ground truth from each result strip's own target panel, as PATN's
getMetrics did (PROTOCOL.md 3.2), so it only scores results folders (``folder:NAME=PATH``) and needs no
dataset images::

    python -m bench run --protocol patn-strips --models folder:patn-released=/results/patn_market \\
        --dataset market --data-root /data/market-csv-only
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bench.errors import BenchError
from bench.gfla.protocol import SCRIPTS, ScriptSteps, match_result_resize
from bench.keypoints import MISSING
from bench.registry import Registry
from bench.types import PairBatch


@dataclass(frozen=True)
class AntialiasedResize:
    """How ``fair`` brings result images of another size to its frame: once, with PIL's
    bicubic filter (antialiased: PIL widens the kernel when it shrinks), the filter the
    lineage made its ground truth with; the folder's layout on the record says so."""

    result_resizes: tuple[tuple[str, tuple[int, int], str], ...]  # (dataset, (H, W), method)

    def result_resize(self, dataset: str, file_hw: tuple[int, int]) -> str | None:
        return match_result_resize(self.result_resizes, dataset, file_hw)

    def resize_result(self, image: np.ndarray, method: str, frame: tuple[int, int]
                      ) -> np.ndarray:
        from bench.gfla.prepare import pil_resize

        if method != "pil-bicubic":
            raise ValueError(f"unknown result resize {method!r} (known: pil-bicubic)")
        return pil_resize(image, frame, "bicubic")


@dataclass(frozen=True)
class Protocol:
    name: str
    version: str
    description: str
    white_padding: bool = False  # pad to the dataset's ``padded_width`` (PATN's addBounding)
    gt_from_results: bool = False  # ground truth = the results' own target panel, not the dataset
    fid_reference: str = "targets"  # FID/KID real set: "targets" of the same pairs, or "train"
    # the metrics scored when --metrics is not given (empty: every metric that needs no
    # script protocol, bench.metrics.default_metrics)
    metrics: tuple[str, ...] = ()
    # a GFLA-lineage script reproduced (bench.gfla.protocol): ground-truth frame per dataset,
    # image preparation and metric settings; None for the protocols above
    script: ScriptSteps | None = None
    # (H, W) per dataset the ground truth must have (script protocols and fair); empty: any
    frames: tuple[tuple[str, tuple[int, int]], ...] = ()
    # result files at another size than the frame resized as a non-script protocol states
    # (fair); script protocols use their script's own resizes (ScriptSteps.result_resizes)
    result_resize: AntialiasedResize | None = None

    @property
    def resizer(self):
        """What brings result files of another size to the frame, or None (refused)."""
        return self.script if self.script is not None else self.result_resize

    def frame(self, dataset: str) -> tuple[int, int] | None:
        return dict(self.frames).get(dataset)

    @property
    def image_naming(self):
        """The script's own test-folder names (:class:`bench.gfla.naming.GroundTruthNaming`,
        PIDM's ``deep{stem}.png``) under which a dataset image may be stored, or None."""
        return self.script.test_naming if self.script is not None else None

    def default_metrics(self) -> tuple[str, ...]:
        from bench.metrics import default_metrics

        return self.metrics or default_metrics()

    def check_frame(self, dataset: str, size: tuple[int, int] | None, where: str) -> None:
        """BenchError naming the expected frame when the dataset's images do not have it."""
        if not self.frames:
            return
        frame = self.frame(dataset)
        known = ", ".join(f"{d} {h}x{w}" for d, (h, w) in self.frames)
        if frame is None:
            raise BenchError(
                f"protocol {self.name!r} is defined for {known} (HxW); dataset {dataset!r} "
                "has no such computation")
        if size is not None and tuple(size) != frame:
            raise BenchError(
                f"protocol {self.name!r} compares with {dataset} test images of {frame[0]}x"
                f"{frame[1]} (HxW), as its paper did; the images in {where} are {size[0]}x"
                f"{size[1]}. Point --data-root at a folder of the test images at "
                f"{frame[0]}x{frame[1]} (docs/script-protocols.md: 'Which images each protocol "
                "expects'; `bench data prepare` makes them)")

    def prepare_generated(self, images: np.ndarray) -> np.ndarray:
        """Images the harness generated, as the script read them back from its files
        (GFLA and DPTN saved JPEG); results folders' files are scored as stored."""
        return self.script.as_saved(images) if self.script is not None else images

    def changes_batches(self, padded_width: int | None, size: tuple[int, int]) -> bool:
        """Whether :meth:`prepare` changes batches of ``size`` (H, W) images: the protocol pads
        with white and the images are narrower than the dataset's legacy frame."""
        return self.white_padding and padded_width is not None and size[1] < padded_width

    def pad_images(self, images: np.ndarray, padded_width: int | None) -> np.ndarray:
        """The protocol's padding applied to plain uint8 (N, H, W, 3) images (real sets)."""
        if not self.changes_batches(padded_width, images.shape[1:3]):
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
        if not self.changes_batches(padded_width, fake.shape[1:3]):
            return fake, batch
        left = (padded_width - fake.shape[2]) // 2

        def widen(images: np.ndarray | None) -> np.ndarray | None:
            return None if images is None else self.pad_images(images, padded_width)

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
SCRIPT_METRICS = ("ssim_box51", "ssim_256", "psnr_script", "l1_script", "mae_script",
                  "lpips_script", "fid_tv")


def _script_protocol(name: str, version: str, steps: ScriptSteps, description: str) -> Protocol:
    return Protocol(name=name, version=version, description=description, fid_reference="train",
                    metrics=SCRIPT_METRICS, script=steps, frames=steps.frames)


GFLA = _script_protocol("gfla", "2", SCRIPTS["gfla"], (
    "GFLA script/metrics.py as its authors ran it (PROTOCOL.md 3.9.1): ground truth 256x256 "
    "(DeepFashion) / 128x64 (Market) as stored, generated images as JPEG, box-51 ssim, "
    "ssim_256 (sigma 1.5, scikit-image 0.17.2 semantics: 11 taps), psnr, l1, mae, LPIPS "
    "alex on x / 127.5 - 1 with the batch-64 remainder dropped, FID with torchvision's "
    "Inception (inception-torchvision-v0) through the scripts' wrapper against --train-folder, "
    "remainder dropped. v1 (torch-fidelity FID against the training folder) is retired."))
GFLA_SKIMAGE014 = _script_protocol("gfla-skimage014", "1", SCRIPTS["gfla-skimage014"], (
    "gfla v2 with scikit-image 0.14.2 semantics for ssim_256 (13-tap Gaussian): the other "
    "version GFLA's unpinned requirements allow."))
DPTN = _script_protocol("dptn", "1", SCRIPTS["dptn"], (
    "DPTN metrics/metrics.py: 256x176 PATN crops, generated images as JPEG; DeepFashion "
    "ssim/psnr/l1/mae after pad_256 (white columns), LPIPS unpadded with batch 1 (nothing "
    "dropped), FID (inception-torchvision-v0) unpadded against --train-folder, remainder "
    "dropped; scikit-image unpinned (0.17.2 semantics stated)."))
PIDM = _script_protocol("pidm", "1", SCRIPTS["pidm"], (
    "PIDM utils/metrics.py: 256x256 PNG ground truth; ssim/ssim_256 (sigma 1.2, 9 taps, "
    "scikit-image 0.17.2) at 256x256; LPIPS and FID on cv2.resize(float32, 176x256) of both "
    "sets (and of the training folder), batch-64 remainders dropped; inception-torchvision."))
CFLD = _script_protocol("cfld", "1", SCRIPTS["cfld"], (
    "CFLD models/metrics.py: 256x176 ground truth (torchvision bicubic of img_highres), "
    "scikit-image 0.20.0 float32 SSIM, LPIPS normalize=True, FID (inception-torchvision) with "
    "nothing dropped, training images resized with torchvision bicubic to 256x176."))
FAIR = Protocol(
    name="fair",
    version="1",
    description=(
        "One computation for every method: lossless images at 256x176 (DeepFashion) / 128x64 "
        "(Market), no padding, nothing dropped (256x256 or 512x352 result files resized once "
        "with PIL's antialiased bicubic, said on the record); SSIM (today's scikit-image, "
        "sigma 1.5, data range 255) and the box-51 variant, LPIPS alex, FID and KID (torch-fidelity's "
        "Inception) against the test targets and against --train-folder, PCKh."),
    fid_reference="targets",
    metrics=("ssim_fixed", "ssim_box51", "lpips", "fid", "kid", "fid_train", "kid_train",
             "pckh"),
    frames=(("deepfashion", (256, 176)), ("market", (128, 64))),
    result_resize=AntialiasedResize((("deepfashion", (256, 256), "pil-bicubic"),
                                     ("deepfashion", (512, 352), "pil-bicubic"))),
)
for _p in (PATN, PATN_STRIPS, MODERN, GFLA, GFLA_SKIMAGE014, DPTN, PIDM, CFLD, FAIR):
    PROTOCOLS.register(_p.name)(_p)

DEFAULT_PROTOCOL = "patn"
