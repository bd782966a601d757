"""The fast decoders give PIL's pixels, and leave PIL every file they are not sure of.

PNG: files written here with each of the five row filters (the encoder below filters rows
itself, so the None and Average filters, which PIL and OpenCV rarely choose, are covered), in
grey, RGB and RGBA; released result files; damaged and unusual files. JPEG: OpenCV only
after the agreement check, EXIF orientation ignored as PIL ignores it.
"""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from bench.data import decode
from bench.data.decode import decode_rgb, pil_rgb
from bench.data.png import decode_png


# -- an independent PNG encoder: every filter type, chosen per row ----------------------------
def _paeth(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    a, b, c = (x.astype(np.int32) for x in (a, b, c))
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    return np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))


def filter_rows(pixels: np.ndarray, kinds) -> bytes:
    """PNG scanlines of (H, W, C) uint8 with filter type ``kinds[y % len(kinds)]`` per row."""
    h, w, bpp = pixels.shape
    lines = pixels.reshape(h, w * bpp).astype(np.int32)
    out = bytearray()
    for y in range(h):
        kind = kinds[y % len(kinds)]
        cur = lines[y]
        up = lines[y - 1] if y else np.zeros_like(cur)
        left = np.concatenate([np.zeros(bpp, np.int32), cur[:-bpp]])
        upleft = np.concatenate([np.zeros(bpp, np.int32), up[:-bpp]])
        pred = {0: 0, 1: left, 2: up, 3: (left + up) // 2, 4: _paeth(left, up, upleft)}[kind]
        out.append(kind)
        out += ((cur - pred) % 256).astype(np.uint8).tobytes()
    return bytes(out)


def chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body))


def png_file(pixels: np.ndarray, kinds=(0, 1, 2, 3, 4), extra=(), depth=8, interlace=0,
             idat_parts=1) -> bytes:
    h, w, bpp = pixels.shape
    colour = {1: 0, 3: 2, 4: 6}[bpp]
    stream = zlib.compress(filter_rows(pixels, kinds), 6)
    cut = [len(stream) * i // idat_parts for i in range(idat_parts + 1)]
    ihdr = struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, interlace)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + b"".join(extra)
            + b"".join(chunk(b"IDAT", stream[a:b]) for a, b in zip(cut, cut[1:], strict=False))
            + chunk(b"IEND", b""))


def _image(h: int, w: int, bpp: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = (yy * 7 + xx * 3)[..., None] + np.arange(bpp) * 40
    return ((smooth + rng.integers(0, 48, (h, w, bpp))) % 256).astype(np.uint8)


# -- PNG ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("bpp", [1, 3, 4])
@pytest.mark.parametrize("kinds", [(0,), (1,), (2,), (3,), (4,), (4, 3, 2, 1, 0), (3, 4)])
def test_every_filter_type_decodes_as_pil_decodes_it(bpp, kinds):
    for h, w in ((128, 64), (5, 1), (1, 7), (19, 23)):
        data = png_file(_image(h, w, bpp, seed=h + w), kinds, idat_parts=3)
        ours = decode_png(data)
        assert ours is not None and ours.shape == (h, w, 3) and ours.dtype == np.uint8
        np.testing.assert_array_equal(ours, pil_rgb(data), err_msg=f"{kinds} {h}x{w}x{bpp}")


def test_files_pil_and_opencv_wrote_decode_as_pil_decodes_them():
    import cv2

    pixels = _image(128, 64, 3, seed=3)
    for level in (0, 1, 6, 9):
        buf = io.BytesIO()
        Image.fromarray(pixels).save(buf, "PNG", compress_level=level)
        assert np.array_equal(decode_png(buf.getvalue()), pixels)
    for strategy in (cv2.IMWRITE_PNG_STRATEGY_DEFAULT, cv2.IMWRITE_PNG_STRATEGY_FILTERED,
                     cv2.IMWRITE_PNG_STRATEGY_RLE, cv2.IMWRITE_PNG_STRATEGY_FIXED):
        ok, data = cv2.imencode(".png", pixels[..., ::-1],
                                [cv2.IMWRITE_PNG_STRATEGY, strategy])
        assert ok
        assert np.array_equal(decode_png(data.tobytes()), pixels)


def _crc_fixed(data: bytes, offset: int, value: int) -> bytes:
    """``data`` with byte ``offset`` of the IHDR set to ``value`` and the IHDR's CRC redone."""
    out = bytearray(data)
    out[offset] = value
    out[29:33] = struct.pack(">I", zlib.crc32(bytes(out[12:29])))
    return bytes(out)


def test_files_it_does_not_read_go_to_pil():
    pixels = _image(20, 12, 3)
    good = png_file(pixels)
    assert decode_png(good) is not None
    unusual = {
        "palette": _saved(Image.fromarray(pixels).convert("P")),
        "16-bit": _saved(Image.fromarray(pixels[..., 0].astype(np.uint16) * 257)),
        "grey+alpha": _saved(Image.fromarray(pixels[..., :2].copy(), "LA")),
        "transparency": png_file(pixels, extra=[chunk(b"tRNS", b"\x00\x01\x00\x02\x00\x03")]),
        "unknown critical chunk": png_file(pixels, extra=[chunk(b"ZZZZ", b"x")]),
    }
    for what, data in unusual.items():
        assert decode_png(data) is None, what
        np.testing.assert_array_equal(decode_rgb(data), pil_rgb(data), err_msg=what)
    interlaced = _crc_fixed(good, 28, 1)
    assert decode_png(interlaced) is None
    # an ancillary chunk it does not know is skipped, as PIL skips it
    text = png_file(pixels, extra=[chunk(b"tEXt", b"Comment\x00made here")])
    np.testing.assert_array_equal(decode_png(text), pil_rgb(text))


def _saved(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def test_damaged_files_get_pils_error():
    good = png_file(_image(30, 16, 3))
    idat = good.index(b"IDAT")
    flipped = bytearray(good)
    flipped[idat + 20] ^= 0xFF  # inside the compressed stream: the chunk's CRC no longer holds
    bad_filter = png_file(_image(30, 16, 3), kinds=(0,))
    raw = bytearray(zlib.decompress(bad_filter[bad_filter.index(b"IDAT") + 4:-16]))
    raw[16 * 3 + 1] = 7  # the second line's filter type: no such filter
    bad_filter = png_file(_image(30, 16, 3))[:33] + chunk(b"IDAT", zlib.compress(bytes(raw))) \
        + chunk(b"IEND", b"")
    cases = {"truncated": good[: len(good) // 2], "bad CRC": bytes(flipped),
             "bad filter type": bad_filter, "no IEND": good[:-12],
             "short stream": png_file(_image(30, 16, 3))[:33]
             + chunk(b"IDAT", zlib.compress(b"\x00" * 40)) + chunk(b"IEND", b"")}
    for what, data in cases.items():
        assert decode_png(data) is None, what
        try:
            expected = pil_rgb(data)
        except (OSError, ValueError) as exc:
            with pytest.raises(type(exc)):
                decode_rgb(data)
        else:  # PIL reads some damaged files (it does not check every CRC): so do we
            np.testing.assert_array_equal(decode_rgb(data), expected, err_msg=what)


# -- JPEG ---------------------------------------------------------------------------------------
def test_jpegs_decode_as_pil_decodes_them():
    # pip's OpenCV and Pillow both bundle libjpeg-turbo: they agree, and OpenCV decodes; with
    # other builds PIL decodes. Either way the pixels are PIL's.
    assert decode.jpeg_decoder().startswith("OpenCV ") == decode._opencv_agrees()
    rng = np.random.default_rng(1)
    for h, w in ((128, 64), (256, 176), (41, 23)):
        pixels = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
        for options in ({"quality": 85}, {"subsampling": 0}, {"progressive": True}):
            buf = io.BytesIO()
            Image.fromarray(pixels).save(buf, "JPEG", **options)
            data = buf.getvalue()
            assert decode._plain_jpeg(data)
            np.testing.assert_array_equal(decode_rgb(data), pil_rgb(data))


def test_jpegs_opencv_is_not_asked_to_decode_go_to_pil():
    pixels = _image(40, 24, 3)
    grey, cmyk = io.BytesIO(), io.BytesIO()
    Image.fromarray(pixels[..., 0].copy()).save(grey, "JPEG")
    Image.fromarray(pixels).convert("CMYK").save(cmyk, "JPEG")  # PIL writes an Adobe marker
    for data in (grey.getvalue(), cmyk.getvalue()):
        assert not decode._plain_jpeg(data)
        np.testing.assert_array_equal(decode_rgb(data), pil_rgb(data))


def test_truncated_jpegs_get_pils_error():
    data = decode.check_jpegs()[0]
    for cut in (len(data) // 2, len(data) - 2):
        with pytest.raises(OSError, match="truncated"):
            pil_rgb(data[:cut])
        with pytest.raises(OSError, match="truncated"):
            decode_rgb(data[:cut])


def test_exif_orientation_is_ignored_as_pil_ignores_it():
    pixels = _image(32, 16, 3)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": OpenCV would apply it unless told not to
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", exif=exif.tobytes())
    out = decode_rgb(buf.getvalue())
    assert out.shape == (32, 16, 3)
    np.testing.assert_array_equal(out, pil_rgb(buf.getvalue()))


def test_opencv_that_disagrees_is_never_used(monkeypatch):
    seen = []

    def off_by_one(data):
        seen.append(len(data))
        rgb = pil_rgb(data).copy()
        rgb[0, 0, 0] ^= 1  # one pixel differs: as another IDCT or upsampling would
        return rgb

    monkeypatch.setattr(decode, "_opencv_jpeg", off_by_one)
    monkeypatch.setattr(decode, "_agrees", None)
    data = decode.check_jpegs()[0]
    assert decode.jpeg_decoder() == "PIL"
    np.testing.assert_array_equal(decode_rgb(data), pil_rgb(data))
    assert len(seen) == 1  # the check stopped at the first disagreement; decoding used PIL


def test_a_file_that_is_no_image_is_said_to_be_one(tmp_path):
    from bench.data.loader import read_image

    path = tmp_path / "x.jpg"
    path.write_bytes(b"<html>not found</html>")
    with pytest.raises(ValueError, match=r"not an image file PIL can identify \(22 bytes, "
                                         r"starting b'<html>no'\)"):
        read_image(path, (128, 64))


def test_opencv_that_agrees_decodes_the_jpegs(monkeypatch):
    calls = []
    real = decode._opencv_jpeg

    def counting(data):
        calls.append(len(data))
        return real(data)

    monkeypatch.setattr(decode, "_opencv_jpeg", counting)
    monkeypatch.setattr(decode, "_agrees", True)
    data = decode.check_jpegs()[1]
    decode_rgb(data)
    assert calls == [len(data)]
