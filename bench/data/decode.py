"""Image files to uint8 RGB arrays, pixel for pixel as PIL decodes them, by a faster decoder
where one is known to agree.

    from bench.data.decode import decode_rgb, jpeg_decoder
    rgb = decode_rgb(path.read_bytes())   # uint8 (H, W, 3); OSError/ValueError if unreadable
    jpeg_decoder()     # "OpenCV 5.1.0 (build-libjpeg-turbo (ver 3.1.2-70)), agrees with PIL"

PIL is the reference: the protocols' scripts read images through it (scipy.misc.imread,
skimage.io.imread), and so does every path of the harness that has no faster equal.

* **PNG** (8-bit grey/RGB/RGBA, not interlaced): :mod:`bench.data.png`. Lossless, so equal
  by construction; about 4x faster than PIL here.
* **JPEG** with three components (YCbCr, baseline or progressive): OpenCV's libjpeg-turbo,
  about 4x faster than PIL's decoding of a 128x64 image here (80 against 330 us). A JPEG decoder has latitude
  (the inverse DCT, the chroma upsampling), so OpenCV is used only after this process's own
  check: the first time a JPEG is decoded, both libraries decode a set of JPEGs encoded on the
  spot (4:2:0, 4:2:2, 4:4:4, progressive, restart intervals, sizes not a multiple of the
  block) and every pixel must agree; otherwise PIL decodes every JPEG of the process, and
  :func:`jpeg_decoder` says so. EXIF orientation is ignored, as PIL ignores it.
* Everything else (palettes, 16-bit, grey or CMYK JPEGs, JPEGs with an Adobe colour transform
  marker, JPEGs not ending in the end-of-image marker, damaged files): PIL, so its errors are
  the ones reported.
"""

from __future__ import annotations

import io
import threading

import numpy as np
from PIL import Image, UnidentifiedImageError

JPEG_SOI, JPEG_EOI = b"\xff\xd8", b"\xff\xd9"  # a truncated file lacks the end marker
_SOF = {0xC0, 0xC1, 0xC2}  # baseline, extended, progressive Huffman frames
_agrees: bool | None = None
_lock = threading.Lock()


def decode_rgb(data: bytes) -> np.ndarray:
    """uint8 (H, W, 3) RGB of an image file's bytes (see the module docstring); OSError or
    ValueError (PIL's) when it cannot be decoded."""
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        from bench.data.png import decode_png  # numba: loaded when first used

        rgb = decode_png(data)
        if rgb is not None:
            return rgb
    elif data[:2] == JPEG_SOI and data[-2:] == JPEG_EOI and _plain_jpeg(data) and _opencv_agrees():
        rgb = _opencv_jpeg(data)
        if rgb is not None:
            return rgb
    return pil_rgb(data)


def warm_up() -> None:
    """Load what decoding needs before the first file: the compiled PNG row filters and this
    process's OpenCV check (e.g. in a thread while a run prepares)."""
    from bench.data.png import unfilter

    unfilter(np.zeros(2, np.uint8), 1, 1, 1, np.zeros((1, 1), np.uint8))
    _opencv_agrees()


def pil_rgb(data: bytes) -> np.ndarray:
    """The reference: PIL's decoding of ``data`` converted to RGB (PIL's errors, but an
    unrecognised file is said to be one, not named by its in-memory buffer)."""
    try:
        img = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise UnidentifiedImageError(
            f"not an image file PIL can identify ({len(data)} bytes, starting {data[:8]!r})"
        ) from None
    with img:
        img.load()
        return np.asarray(img.convert("RGB"), dtype=np.uint8)


def jpeg_decoder() -> str:
    """Which decoder this process uses for three-component JPEGs (runs the check if needed)."""
    if _opencv_agrees():
        import cv2

        return f"OpenCV {cv2.__version__} ({_libjpeg(cv2)}), agrees with PIL"
    return "PIL"


def _plain_jpeg(data: bytes) -> bool:
    """Whether a JPEG is one OpenCV may decode: a Huffman-coded frame (baseline, extended or
    progressive) of three components and no Adobe (APP14) marker; the header segments up to
    the first scan are read."""
    pos, n, components = 2, len(data), 0
    while pos + 4 <= n and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # the first scan: the header is over
            return components == 3
        if marker == 0xEE:  # Adobe: a colour transform libraries may read differently
            return False
        if marker in _SOF:
            if pos + 10 > n:
                return False
            components = data[pos + 9]
        elif 0xC3 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            return False  # lossless, hierarchical or arithmetic-coded frames
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
    return False


def _opencv_jpeg(data: bytes) -> np.ndarray | None:
    import cv2

    flags = cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    if bgr is None or bgr.ndim != 3 or bgr.shape[2] != 3:
        return None  # damaged: PIL says what is wrong
    # BGR -> RGB, an exact swap (numpy's reversed-stride copy took as long as the decoding)
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def _libjpeg(cv2) -> str:
    for line in cv2.getBuildInformation().splitlines():
        if line.strip().startswith("JPEG:"):
            return line.split(":", 1)[1].strip()
    return "libjpeg"


def check_jpegs() -> list[bytes]:
    """The JPEGs of the agreement check: noise and smooth gradients at the sizes and settings
    where decoders differ (chroma subsampling, progressive, restarts, partial blocks)."""
    rng = np.random.default_rng(2022)
    images = []
    for h, w in ((128, 64), (256, 176), (37, 29)):
        yy, xx = np.mgrid[0:h, 0:w]
        smooth = np.stack([(yy * 255 // h), (xx * 255 // w), ((yy + xx) * 127 // (h + w))], -1)
        noise = rng.integers(0, 256, (h, w, 3))
        images += [np.clip(smooth + noise // 4 - 32, 0, 255).astype(np.uint8),
                   noise.astype(np.uint8)]
    settings = ({"subsampling": 2, "quality": 75}, {"subsampling": 1, "quality": 90},
                {"subsampling": 0, "quality": 95}, {"subsampling": 2, "progressive": True},
                {"subsampling": 2, "quality": 50, "restart_marker_blocks": 1})
    files = []
    for image in images:
        for options in settings:
            buf = io.BytesIO()
            Image.fromarray(image).save(buf, "JPEG", **options)
            files.append(buf.getvalue())
    return files


def _opencv_agrees() -> bool:
    global _agrees
    if _agrees is None:
        with _lock:
            if _agrees is None:
                _agrees = _check_opencv()
    return _agrees


def _check_opencv() -> bool:
    try:
        import cv2  # noqa: F401
    except ImportError:  # pragma: no cover - opencv is a dependency
        return False
    for data in check_jpegs():
        if not _plain_jpeg(data):
            return False
        ours = _opencv_jpeg(data)
        if ours is None or not np.array_equal(ours, pil_rgb(data)):
            return False
    return True
