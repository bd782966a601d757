"""Image preparation of the GFLA-lineage scripts (bench.gfla.prepare) against the library calls
the scripts made, on the published Def-GAN results (PROTOCOL.md 3.9.1)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from bench.gfla import prepare


@pytest.fixture(scope="module")
def fashion_gt(fashion_strips):
    """Four 256x256 ground-truth panels (white margins) and their 176-wide crops."""
    _, targets, _ = fashion_strips
    full = targets[:4]
    return full, np.ascontiguousarray(full[:, :, 40:216])


# -- resizes -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,resample", [("bilinear", Image.Resampling.BILINEAR),
                                           ("bicubic", Image.Resampling.BICUBIC)])
def test_pil_resize_is_pil_with_width_height_order(fashion_gt, name, resample):
    full, _ = fashion_gt
    out = prepare.pil_resize(full[0], (256, 176), name)
    assert out.shape == (256, 176, 3) and out.dtype == np.uint8
    assert np.array_equal(out, np.asarray(Image.fromarray(full[0]).resize((176, 256), resample)))
    # downscale to Market's 128x64: height first
    assert prepare.pil_resize(full[0], (128, 64), name).shape == (128, 64, 3)


def test_pil_filters_differ_and_bad_arguments_are_refused(fashion_gt):
    full, _ = fashion_gt
    a = prepare.pil_resize(full[0], (128, 64), "bilinear")
    b = prepare.pil_resize(full[0], (128, 64), "bicubic")
    assert not np.array_equal(a, b)
    with pytest.raises(ValueError, match="filter must be one of"):
        prepare.pil_resize(full[0], (128, 64), "lanczos")
    with pytest.raises(ValueError, match="uint8"):
        prepare.pil_resize(full[0].astype(np.float32), (128, 64), "bicubic")
    with pytest.raises(ValueError, match="height, width"):
        prepare.pil_resize(full[0], (0, 64), "bicubic")


def test_torchvision_resize_bicubic_equals_cflds_transform(fashion_gt):
    from torchvision import transforms

    full, _ = fashion_gt
    transform = transforms.Compose([
        transforms.Resize([256, 176], interpolation=transforms.InterpolationMode.BICUBIC,
                          antialias=True),
        transforms.ToTensor()])
    for img in full:
        ref = transform(Image.fromarray(img))  # CFLD's ground truth, float32 [0, 1], CHW
        ours = prepare.script_floats(prepare.torchvision_resize_bicubic(img, (256, 176)))
        assert np.array_equal(ours.transpose(2, 0, 1), ref.numpy())


def test_cv2_resize_uint8_and_float32(fashion_gt):
    import cv2

    full, _ = fashion_gt
    u8 = prepare.cv2_resize(full[1], (256, 176))
    assert u8.shape == (256, 176, 3) and u8.dtype == np.uint8
    assert np.array_equal(u8, cv2.resize(full[1], (176, 256), interpolation=cv2.INTER_LINEAR))
    f32 = prepare.cv2_resize(full[1].astype(np.float32), (256, 176))  # PIDM's FID / LPIPS read
    assert f32.dtype == np.float32
    assert np.array_equal(f32, cv2.resize(full[1].astype(np.float32), (176, 256)))
    assert not np.array_equal(f32, np.round(f32))  # not rounded through uint8
    assert np.abs(f32 - u8).max() <= 1.0
    with pytest.raises(ValueError, match="uint8 or float32"):
        prepare.cv2_resize(full[1].astype(np.float64), (256, 176))


def test_torch_resize_bicubic_is_antialiased_interpolate_and_cflds_uint8_chain(fashion_gt):
    full, _ = fashion_gt
    x = (full.astype(np.float32) / 255.0).transpose(0, 3, 1, 2).copy()
    x = x * 1.02 - 0.01  # values a little outside [0, 1], as a decoder may give
    ours = prepare.torch_resize_bicubic(x, (256, 176))
    t = torch.from_numpy(x)
    ref = F.interpolate(t, size=(256, 176), mode="bicubic", antialias=True)
    assert ours.shape == (4, 3, 256, 176) and np.array_equal(ours, ref.numpy())
    plain = F.interpolate(t, size=(256, 176), mode="bicubic", antialias=False).numpy()
    assert not np.array_equal(ours, plain)
    # CFLD: * 255, clamp(0, 255), to uint8
    cfld = (ref.float() * 255.0).clamp(0, 255).to(dtype=torch.uint8).numpy()
    assert np.array_equal(prepare.to_uint8(ours, scale="unit", clamp=True), cfld)


# -- uint8 truncation ----------------------------------------------------------------------------
def test_to_uint8_tanh_truncates_as_gfla_and_pidm():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, size=(2, 64, 32, 3)).astype(np.float32)
    x[0, 0, 0] = [-1.0, 0.0, 1.0]
    gfla = ((x + 1) / 2.0 * 255.0).astype(np.uint8)  # util.tensor2im (float32 numpy)
    ours = prepare.to_uint8(x, scale="tanh", clamp=False)
    assert np.array_equal(ours, gfla)
    assert list(ours[0, 0, 0]) == [0, 127, 255]  # 127.5 truncated, not rounded
    y = x * 1.1
    pidm = (255 * ((torch.clamp(torch.from_numpy(y), -1.0, 1.0).numpy() + 1.0) / 2.0)
            ).astype(np.uint8)  # utils/gen.py
    assert np.array_equal(prepare.to_uint8(y, scale="tanh", clamp=True), pidm)


def test_to_uint8_refuses_what_the_original_cast_left_undefined():
    y = np.array([[-1.2, 0.3, 1.0]], dtype=np.float32)
    with pytest.raises(ValueError, match=r"1 generated values lie outside \[-1, 1\]"):
        prepare.to_uint8(y, scale="tanh", clamp=False)
    with pytest.raises(ValueError, match="NaN"):
        prepare.to_uint8(np.array([np.nan], np.float32), scale="unit", clamp=True)
    with pytest.raises(ValueError, match="scale must be"):
        prepare.to_uint8(y, scale="x255", clamp=True)


# -- pad_256, floats, JPEG -----------------------------------------------------------------------
def dptn_pad_256(img):
    """DPTN metrics/metrics.py pad_256, transcribed."""
    result = np.ones((256, 256, 3), dtype=float) * 255
    result[:, 40:216, :] = img
    return result


def test_pad_256_matches_dptn_and_the_next_step(fashion_gt):
    _, crops = fashion_gt
    for img in crops:
        ref = dptn_pad_256(img)
        ours = prepare.pad_256(img)
        assert ours.dtype == np.uint8 and ours.shape == (256, 256, 3)
        assert np.array_equal(ours.astype(np.float64), ref)
        assert np.array_equal(prepare.script_floats(ours), ref.astype(np.float32) / 255.0)
        assert (ours[:, :40] == 255).all() and (ours[:, 216:] == 255).all()
        as_float = prepare.pad_256(img.astype(np.float64))
        assert as_float.dtype == np.float64 and np.array_equal(as_float, ref)


def test_pad_256_refuses_other_sizes(fashion_gt):
    full, _ = fashion_gt
    with pytest.raises(ValueError, match=r"256x176 \(H x W\) image, found 256x256"):
        prepare.pad_256(full[0])


def test_script_floats_is_imread_float32_over_255(fashion_gt):
    full, _ = fashion_gt
    assert np.array_equal(prepare.script_floats(full[0]), full[0].astype(np.float32) / 255.0)
    # x255 gives the codes back exactly (ssim_256 relies on it)
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    assert np.array_equal(prepare.script_floats(codes) * 255.0, codes.astype(np.float32))


def test_script_signed_is_the_lpips_input_of_gfla_and_pidm(fashion_gt):
    import cv2

    full, _ = fashion_gt
    gfla = full[0].astype(np.float32) / 127.5 - 1  # GFLA LPIPS.calculate_from_disk
    assert np.array_equal(prepare.script_signed(full[0]), gfla)
    pidm = cv2.resize(full[0].astype(np.float32), (176, 256)) / 127.5 - 1  # PIDM
    ours = prepare.script_signed(prepare.cv2_resize(full[0].astype(np.float32), (256, 176)))
    assert ours.dtype == np.float32 and np.array_equal(ours, pidm)
    with pytest.raises(ValueError, match="uint8 or float32"):
        prepare.script_signed(full[0].astype(np.int16))


def test_jpeg_is_what_imageio_writes_and_reads(fashion_gt, tmp_path):
    import imageio.v2 as imageio

    full, _ = fashion_gt
    img = full[2]
    path = tmp_path / "a_2_b_vis.jpg"
    imageio.imwrite(path, img)  # GFLA's util.save_image
    data = prepare.jpeg_encode(img)
    assert data == path.read_bytes()
    assert np.array_equal(prepare.jpeg_roundtrip(img), imageio.imread(path))
    # quality 75 and 4:2:0 are what Pillow writes for these settings
    with Image.open(io.BytesIO(data)) as im:
        from PIL import JpegImagePlugin

        assert JpegImagePlugin.get_sampling(im) == 2  # 4:2:0
    assert data != prepare.jpeg_encode(img, quality=95)
