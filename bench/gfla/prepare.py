"""Image preparation of the post-2020 metric scripts (GFLA, DPTN, PIDM, CFLD), library-exact.

Each function does one step the way the script's library did it, on numpy arrays; sizes are
always given as ``(height, width)`` here and converted to each library's own order inside
(PIL and cv2 take ``(width, height)``). PROTOCOL.md 3.9.1 says which script uses which::

    from bench.gfla.prepare import (pil_resize, cv2_resize, torch_resize_bicubic,
                                    pad_256, to_uint8, script_floats, script_signed,
                                    jpeg_roundtrip)
    gt = pil_resize(highres_u8, (256, 256), "bicubic")      # GFLA / PIDM test images
    fake = cv2_resize(out_u8, (256, 176))                    # DPTN outputs (uint8)
    feat_in = cv2_resize(img_u8.astype(np.float32), (256, 176))  # PIDM's FID / LPIPS reads
    u8 = to_uint8(x, scale="tanh", clamp=True)               # (x + 1) / 2 * 255, truncated
    padded = pad_256(img_176_u8)                             # DPTN: white bars, 256x256
    stored = jpeg_roundtrip(u8)                              # imageio.imwrite(.jpg) + imread
    x01 = script_floats(u8)                                  # imread(f).astype(f32) / 255
    x11 = script_signed(u8)                                  # / 127.5 - 1 (LPIPS input)
"""

from __future__ import annotations

import io

import numpy as np

PIL_FILTERS = ("bilinear", "bicubic")
JPEG_QUALITY = 75  # imageio 2.x JPEG-PIL writer default (plugins/pillow.py, v2.6.1)
PAD_WIDTH, PAD_LEFT, PAD_SIZE = 176, 40, 256  # DPTN pad_256: columns 40:216 of 256


def _check_image(img: np.ndarray, dtypes: tuple, what: str) -> None:
    if not isinstance(img, np.ndarray) or img.ndim != 3 or img.shape[2] != 3:
        found = (f"{img.dtype} array of shape {img.shape}" if isinstance(img, np.ndarray)
                 else type(img).__name__)
        raise ValueError(f"{what} expects one RGB image (H, W, 3), found {found}")
    if img.dtype not in dtypes:
        raise ValueError(f"{what} expects {' or '.join(str(np.dtype(d)) for d in dtypes)} "
                         f"pixels, found {img.dtype}")


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    h, w = (int(v) for v in size)
    if h <= 0 or w <= 0:
        raise ValueError(f"a size is (height, width) with both positive, found {size}")
    return h, w


def pil_resize(img: np.ndarray, size: tuple[int, int], filter: str) -> np.ndarray:
    """``Image.fromarray(img).resize((W, H), Image.BILINEAR | Image.BICUBIC)`` on a uint8 RGB
    image (PIL's own antialiased filters, as GFLA's and PIDM's test images were made)."""
    from PIL import Image

    _check_image(img, (np.uint8,), "pil_resize")
    h, w = _check_size(size)
    if filter not in PIL_FILTERS:
        raise ValueError(f"filter must be one of {PIL_FILTERS}, found {filter!r}")
    resample = {"bilinear": Image.Resampling.BILINEAR, "bicubic": Image.Resampling.BICUBIC}
    return np.asarray(Image.fromarray(img).resize((w, h), resample[filter]))


def torchvision_resize_bicubic(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """CFLD's ground truth: ``transforms.Resize([H, W], BICUBIC, antialias=True)`` on the PIL
    image, i.e. PIL's BICUBIC resize (torchvision hands PIL images to ``Image.resize``; its
    ``antialias`` only concerns tensors). Returns uint8; ``ToTensor`` then divides by 255."""
    return pil_resize(img, size, "bicubic")


def cv2_resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``cv2.resize(img, (W, H))`` with its default INTER_LINEAR, on uint8 (DPTN's outputs) or
    float32 (PIDM reads ``imread(f).astype(np.float32)`` and resizes that); dtype is kept."""
    import cv2

    _check_image(img, (np.uint8, np.float32), "cv2_resize")
    h, w = _check_size(size)
    return cv2.resize(img, (w, h))


def torch_resize_bicubic(images: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """CFLD's predictions: ``F.interpolate(x, (H, W), mode='bicubic', antialias=True)`` on
    float32 (N, 3, H, W) images in [0, 1]; float32 out (not clamped: see :func:`to_uint8`)."""
    import torch
    import torch.nn.functional as F

    if (not isinstance(images, np.ndarray) or images.ndim != 4 or images.shape[1] != 3
            or images.dtype != np.float32):
        found = (f"{images.dtype} array of shape {images.shape}"
                 if isinstance(images, np.ndarray) else type(images).__name__)
        raise ValueError(f"torch_resize_bicubic expects float32 (N, 3, H, W), found {found}")
    h, w = _check_size(size)
    x = torch.from_numpy(np.ascontiguousarray(images))
    out = F.interpolate(x, size=(h, w), mode="bicubic", antialias=True, align_corners=False)
    return out.numpy()


def to_uint8(x: np.ndarray, *, scale: str, clamp: bool) -> np.ndarray:
    """Generated values to the uint8 the scripts saved, truncating (``astype(uint8)``) in float32:

    * ``scale="tanh"``: ``(x + 1) / 2 * 255`` of values in [-1, 1] (GFLA ``tensor2im`` without
      clamp; PIDM clamps to [-1, 1] first);
    * ``scale="unit"``: ``x * 255`` of values in [0, 1] (CFLD: ``* 255``, clamp to [0, 255]).

    ``clamp=True`` clamps as those scripts did. Without clamp a value outside the range (or
    NaN) has no defined uint8 in the original (numpy's cast of such floats is undefined), so it
    is refused with the count, instead of guessed.
    """
    if scale not in ("tanh", "unit"):
        raise ValueError(f"scale must be 'tanh' or 'unit', found {scale!r}")
    x = np.asarray(x, dtype=np.float32)
    lo, hi = (-1.0, 1.0) if scale == "tanh" else (0.0, 1.0)
    if np.isnan(x).any():
        raise ValueError(f"{int(np.isnan(x).sum())} generated values are NaN: no uint8 image")
    if not clamp:
        bad = int(((x < lo) | (x > hi)).sum())
        if bad:
            raise ValueError(f"{bad} generated values lie outside [{lo:g}, {hi:g}]; the original "
                             "cast them to uint8 without clamping (undefined): pass clamp=True "
                             "to clamp them")
    if scale == "tanh":  # PIDM: clamp(x, -1, 1), then (x + 1) / 2, then 255 * that
        if clamp:
            x = np.clip(x, np.float32(-1.0), np.float32(1.0))
        y = (x + np.float32(1.0)) / np.float32(2.0) * np.float32(255.0)
    else:  # CFLD: x * 255, then clamp(0, 255)
        y = x * np.float32(255.0)
        if clamp:
            y = np.clip(y, np.float32(0.0), np.float32(255.0))
    return y.astype(np.uint8)


def pad_256(img: np.ndarray) -> np.ndarray:
    """DPTN's ``pad_256``: the 176-wide image placed in columns 40:216 of a 256x256 array of 255.

    uint8 in gives uint8 out; a float image gives float64 (the original's ``np.ones(...) * 255``
    array). The uint8 form is exact for the scripts' next step, ``astype(float32) / 255``."""
    _check_image(img, (np.uint8, np.float32, np.float64), "pad_256")
    if img.shape[:2] != (PAD_SIZE, PAD_WIDTH):
        raise ValueError(f"pad_256 expects a {PAD_SIZE}x{PAD_WIDTH} (H x W) image, found "
                         f"{img.shape[0]}x{img.shape[1]}")
    dtype = np.uint8 if img.dtype == np.uint8 else np.float64
    out = np.full((PAD_SIZE, PAD_SIZE, 3), 255, dtype=dtype)
    out[:, PAD_LEFT:PAD_LEFT + PAD_WIDTH] = img
    return out


def script_floats(img: np.ndarray) -> np.ndarray:
    """``imread(f).astype(np.float32) / 255.0``: how every script turned pixels into [0, 1]
    (one uint8 image or a batch of them)."""
    if not isinstance(img, np.ndarray) or img.dtype != np.uint8:
        found = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"script_floats expects uint8 pixels, found {found}")
    return img.astype(np.float32) / np.float32(255.0)


def script_signed(img: np.ndarray) -> np.ndarray:
    """``x.astype(np.float32) / 127.5 - 1``: the scripts' LPIPS input in [-1, 1] (GFLA on
    ``imread(f)``, PIDM on ``cv2_resize(imread(f).astype(float32), ...)``); uint8 or float32 in,
    float32 out. (CFLD instead hands [0, 1] images to ``lpips`` with ``normalize=True``, which
    computes ``2 x - 1`` in torch: a different rounding.)"""
    if not isinstance(img, np.ndarray) or img.dtype not in (np.uint8, np.float32):
        found = img.dtype if isinstance(img, np.ndarray) else type(img).__name__
        raise ValueError(f"script_signed expects uint8 or float32 pixels, found {found}")
    return img.astype(np.float32) / np.float32(127.5) - np.float32(1.0)


def jpeg_encode(img: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    """The bytes ``imageio.imwrite('x.jpg', img)`` wrote with imageio 2.x: Pillow's JPEG encoder,
    quality 75, not progressive, not optimised, Pillow's default 4:2:0 chroma subsampling."""
    from PIL import Image

    _check_image(img, (np.uint8,), "jpeg_encode")
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=int(quality), progressive=False,
                              optimize=False)
    return buf.getvalue()


def jpeg_decode(data: bytes) -> np.ndarray:
    """``imageio.imread`` of a JPEG (Pillow's decoder), as uint8 RGB."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("RGB"))


def jpeg_roundtrip(img: np.ndarray, quality: int = JPEG_QUALITY) -> np.ndarray:
    """What the scripts scored after saving ``img`` as ``_vis.jpg``: encode then decode."""
    return jpeg_decode(jpeg_encode(img, quality))
