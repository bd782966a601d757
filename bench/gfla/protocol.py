"""What one GFLA-lineage script did to the images before each score (PROTOCOL.md 3.9.1).

A :class:`ScriptSteps` is the configuration of one script (``gfla``, ``dptn``, ``pidm``,
``cfld``); the protocols of :mod:`bench.protocols` hold one, and the script metrics
(:mod:`bench.metrics.script`, :mod:`bench.metrics.script_fid`) ask it how to prepare the
uint8 images the run hands them::

    from bench.gfla.protocol import SCRIPTS
    steps = SCRIPTS["dptn"]
    gt, pred = steps.reconstruction_inputs(gt_u8, pred_u8, "deepfashion")   # pad_256 on DF
    x = steps.lpips_inputs(pred_u8)            # float32 NCHW as the script handed to LPIPS
    f = steps.fid_inputs(pred_u8)              # float32 NHWC in [0, 1] for the Inception
    steps.frame("deepfashion")                 # (256, 176): the ground truth the script used

Every method takes uint8 (N, H, W, 3) images as stored in the files the script read; the
steps that came before saving (GFLA's JPEG, CFLD's resize of the float prediction) are
:meth:`ScriptSteps.as_saved`, applied by the run only to images the harness generated itself
(a results folder's files are already what the script read).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from bench.gfla import prepare
from bench.gfla.naming import NAMINGS, GroundTruthNaming

LPIPS_INPUTS = ("signed", "cv2-176x256-signed", "normalize")
FID_INPUTS = ("files", "cv2-176x256")
TRAIN_INPUTS = ("files", "cv2-176x256", "torchvision-bicubic-256x176")
SAVED_AS = ("jpeg", "png")
RESULT_RESIZES = ("cv2-uint8", "torch-bicubic")


@dataclass(frozen=True)
class ScriptSteps:
    """One script's image handling and metric settings (PROTOCOL.md 3.9.1, per script)."""

    script: str  # "gfla", "dptn", "pidm", "cfld": also the ground-truth naming rule
    source: str  # the repository file(s) transcribed
    frames: tuple[tuple[str, tuple[int, int]], ...]  # dataset -> (H, W) of the ground truth
    skimage: str  # scikit-image semantics of its SSIM (bench.gfla.reconstruction)
    skimage_note: str  # where that version comes from (pinned, or our stated default)
    sigma: float  # ssim_256's Gaussian sigma
    pad_256_on: tuple[str, ...] = ()  # datasets whose SSIM/PSNR/L1/MAE use DPTN's pad_256
    saved_as: str = "png"  # how the script saved generated images before reading them back
    lpips_input: str = "signed"  # LPIPS_INPUTS
    lpips_drop_remainder: bool = True  # batch 64, the last incomplete batch dropped
    fid_input: str = "files"  # FID_INPUTS: how generated and test images enter the Inception
    train_input: str = "files"  # TRAIN_INPUTS: how the training folder's images enter it
    fid_weights: str = "inception-torchvision"  # registry name of the weights its paper used
    fid_drop_remainder: bool = True
    # result files at another size than the frame that the script resized itself before
    # scoring: ((dataset, (H, W) of the files, RESULT_RESIZES method), ...)
    result_resizes: tuple[tuple[str, tuple[int, int], str], ...] = ()
    # the names of the script's own test folder when they differ from the pair CSV's (PIDM:
    # deep{stem}.png): a dataset image missing under its CSV name is read from that file
    test_naming: GroundTruthNaming | None = None

    def __post_init__(self) -> None:
        for value, allowed, what in ((self.lpips_input, LPIPS_INPUTS, "lpips_input"),
                                     (self.fid_input, FID_INPUTS, "fid_input"),
                                     (self.train_input, TRAIN_INPUTS, "train_input"),
                                     (self.saved_as, SAVED_AS, "saved_as")):
            if value not in allowed:
                raise ValueError(f"{what} must be one of {allowed}, found {value!r}")

    # -- the ground truth ---------------------------------------------------------------
    def frame(self, dataset: str) -> tuple[int, int] | None:
        """(H, W) of the test images the script compared with, or None (dataset not used)."""
        return dict(self.frames).get(dataset)

    def datasets(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.frames)

    # -- generated images before they were files ----------------------------------------
    def result_resize(self, dataset: str, file_hw: tuple[int, int]) -> str | None:
        """The method the script used to bring ``file_hw`` results to its frame, if any."""
        return match_result_resize(self.result_resizes, dataset, file_hw)

    def resize_result(self, image: np.ndarray, method: str, frame: tuple[int, int]
                      ) -> np.ndarray:
        """One uint8 result image brought to ``frame`` as the script did it: DPTN's
        ``cv2.resize`` of its uint8 output, then its JPEG file; CFLD's bicubic antialiased
        ``F.interpolate`` of [0, 1] values, then ``* 255`` clamped and truncated (here of the
        file's values / 255: the script resized the decoder's float output, which a file no
        longer holds)."""
        if method == "cv2-uint8":
            return self.as_saved(prepare.cv2_resize(image, frame)[None])[0]
        if method == "torch-bicubic":
            x = prepare.script_floats(image)[None].transpose(0, 3, 1, 2).copy()
            y = prepare.torch_resize_bicubic(x, frame).transpose(0, 2, 3, 1)
            return prepare.to_uint8(y, scale="unit", clamp=True)[0]
        raise ValueError(f"unknown result resize {method!r} (known: {RESULT_RESIZES})")

    def as_saved(self, images: np.ndarray) -> np.ndarray:
        """What the script read back after saving ``images`` (GFLA, DPTN: imageio JPEG)."""
        if self.saved_as == "jpeg":
            return np.stack([prepare.jpeg_roundtrip(im) for im in images]) if len(images) \
                else images
        return images

    # -- per-metric inputs ---------------------------------------------------------------
    def reconstruction_inputs(self, gt: np.ndarray, pred: np.ndarray, dataset: str
                              ) -> tuple[np.ndarray, np.ndarray]:
        """uint8 images as the script's SSIM / PSNR / L1 / MAE saw them (DPTN: ``pad_256``)."""
        if dataset in self.pad_256_on:
            return _each(prepare.pad_256, gt), _each(prepare.pad_256, pred)
        return gt, pred

    def lpips_inputs(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, 3, H, W) as the script passed it to LPIPS (CFLD: [0, 1], with
        :attr:`lpips_normalize` telling lpips to compute ``2 x - 1`` itself)."""
        if self.lpips_input == "signed":
            x = prepare.script_signed(images)
        elif self.lpips_input == "cv2-176x256-signed":
            x = prepare.script_signed(_cv2_floats(images))
        else:
            x = prepare.script_floats(images)
        return np.ascontiguousarray(x.transpose(0, 3, 1, 2))

    @property
    def lpips_normalize(self) -> bool:
        return self.lpips_input == "normalize"

    def fid_inputs(self, images: np.ndarray) -> np.ndarray:
        """float32 (N, H, W, 3) in [0, 1] as the script fed generated (and test) images to the
        Inception."""
        if self.fid_input == "cv2-176x256":
            return _cv2_floats(images) / np.float32(255.0)
        return prepare.script_floats(images)

    def train_inputs(self, images: np.ndarray) -> np.ndarray:
        """The same for the training folder's images (CFLD resized them with torchvision)."""
        if self.train_input == "torchvision-bicubic-256x176":
            resized = _each(lambda im: prepare.torchvision_resize_bicubic(im, (256, 176)), images)
            return prepare.script_floats(resized)
        if self.train_input == "cv2-176x256":
            return _cv2_floats(images) / np.float32(255.0)
        return prepare.script_floats(images)

    def record(self) -> dict:
        """The settings as they go on records (flat: ``script``, ``script_*``)."""
        return {"script": self.script, "script_source": self.source,
                "script_skimage": self.skimage, "script_skimage_note": self.skimage_note,
                "script_sigma": self.sigma, "script_pad_256_on": list(self.pad_256_on),
                "script_saved_as": self.saved_as, "script_lpips_input": self.lpips_input,
                "script_lpips_drop_remainder": self.lpips_drop_remainder,
                "script_fid_input": self.fid_input, "script_train_input": self.train_input,
                "script_fid_weights": self.fid_weights,
                "script_fid_drop_remainder": self.fid_drop_remainder}


def match_result_resize(resizes, dataset: str, file_hw: tuple[int, int]) -> str | None:
    """The method of ``resizes`` ((dataset, (H, W) of the files, method), ...) for result files
    of ``file_hw`` on ``dataset``, or None."""
    for name, hw, method in resizes:
        if name == dataset and tuple(hw) == tuple(file_hw):
            return method
    return None


def _each(fn, images: np.ndarray) -> np.ndarray:
    if len(images) == 0:
        return images
    return np.stack([fn(im) for im in images])


def _cv2_floats(images: np.ndarray) -> np.ndarray:
    """PIDM's ``cv2.resize(imread(f).astype(np.float32), (176, 256))`` of each image."""
    return _each(lambda im: prepare.cv2_resize(im.astype(np.float32), (256, 176)), images)


SKIMAGE_UNPINNED = (
    "scikit-image is not pinned by the repository; 0.17.2 (the last release with "
    "compare_ssim, 11-tap Gaussian, float64) is our stated default, 0.14.2 (13 taps) the "
    "named variant"
)

GFLA = ScriptSteps(
    script="gfla", source="RenYurui/Global-Flow-Local-Attention script/metrics.py @ 3afa8fe",
    frames=(("deepfashion", (256, 256)), ("market", (128, 64))),
    skimage="0.17.2", skimage_note=SKIMAGE_UNPINNED, sigma=1.5, saved_as="jpeg",
    lpips_input="signed", lpips_drop_remainder=True, fid_input="files", train_input="files",
    fid_weights="inception-torchvision-v0", fid_drop_remainder=True,
)
GFLA_SKIMAGE014 = dataclasses.replace(
    GFLA, skimage="0.14.2",
    skimage_note="variant: scikit-image 0.14.2 (13-tap Gaussian for ssim_256)")
DPTN = ScriptSteps(
    script="dptn", source="PangzeCheung/Dual-task-Pose-Transformer-Network metrics/metrics.py "
    "@ 59a7590",
    frames=(("deepfashion", (256, 176)), ("market", (128, 64))),
    skimage="0.17.2", skimage_note=SKIMAGE_UNPINNED, sigma=1.5, pad_256_on=("deepfashion",),
    saved_as="jpeg", lpips_input="signed", lpips_drop_remainder=False, fid_input="files",
    train_input="files", fid_weights="inception-torchvision-v0", fid_drop_remainder=True,
    result_resizes=(("deepfashion", (256, 256), "cv2-uint8"),),
)
PIDM = ScriptSteps(
    script="pidm", source="ankanbhunia/PIDM utils/metrics.py @ e4f1d88",
    frames=(("deepfashion", (256, 256)),),
    skimage="0.17.2", skimage_note="pinned by the repository (requirements)", sigma=1.2,
    saved_as="png", lpips_input="cv2-176x256-signed", lpips_drop_remainder=True,
    fid_input="cv2-176x256", train_input="cv2-176x256", fid_weights="inception-torchvision",
    fid_drop_remainder=True, test_naming=NAMINGS["pidm"],
)
CFLD = ScriptSteps(
    script="cfld", source="YanzuoLu/CFLD models/metrics.py, pose_transfer_test.py @ f2ea2a7",
    frames=(("deepfashion", (256, 176)),),
    skimage="0.20.0", skimage_note="pinned by the repository (environment.yaml)", sigma=1.5,
    saved_as="png", lpips_input="normalize", lpips_drop_remainder=False, fid_input="files",
    train_input="torchvision-bicubic-256x176", fid_weights="inception-torchvision",
    fid_drop_remainder=False,
    result_resizes=(("deepfashion", (256, 256), "torch-bicubic"),
                    ("deepfashion", (512, 352), "torch-bicubic")),
)

SCRIPTS = {"gfla": GFLA, "gfla-skimage014": GFLA_SKIMAGE014, "dptn": DPTN, "pidm": PIDM,
           "cfld": CFLD}
