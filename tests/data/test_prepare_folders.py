"""``bench data prepare``: test / training folders made as each paper made them, on real
published panels (Def-GAN's DeepFashion strips: 256x256 panels standing in for In-shop 'img',
and an enlarged copy standing in for img_highres)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from bench.cli import main
from bench.data.prepare import PREPARATIONS, preparation, prepare_folder
from bench.errors import DataError

SAMPLES = "published-samples/deform-fashion"


@pytest.fixture
def sources(shared_data, tmp_path):
    """(img folder: 256x256 panels, highres folder: 1101x750 enlargements), CSV-style names."""
    img, high = tmp_path / "img", tmp_path / "highres"
    img.mkdir()
    high.mkdir()
    for path in sorted((shared_data / SAMPLES).glob("*.png"))[:3]:
        panel = np.asarray(Image.open(path).convert("RGB"))[:, :256]
        name = path.name.split(".jpg_", 1)[0] + ".jpg"
        Image.fromarray(panel).save(img / name, "PNG")
        big = Image.fromarray(panel).resize((750, 1101), Image.Resampling.NEAREST)
        big.save(high / name, "PNG")
    return img, high


def test_pidm_and_cfld_resize_highres_with_pil_bicubic_losslessly(sources, tmp_path):
    _, high = sources
    for protocol, (h, w) in (("pidm", (256, 256)), ("cfld", (256, 176))):
        out = tmp_path / protocol
        report = prepare_folder(preparation(protocol, "deepfashion"), high, out)
        assert report.written == 3 and not report.problems
        for src in sorted(high.iterdir()):
            want = np.asarray(Image.open(src).convert("RGB").resize((w, h), Image.BICUBIC))
            with Image.open(out / src.name) as im:
                assert im.format == "PNG"
                np.testing.assert_array_equal(np.asarray(im.convert("RGB")), want)


def test_dptn_crops_like_patn_and_saves_jpeg_quality_75(sources, tmp_path):
    img, _ = sources
    report = prepare_folder(preparation("dptn", "deepfashion"), img, tmp_path / "dptn")
    assert report.written == 3
    for src in sorted(img.iterdir()):
        crop = np.asarray(Image.open(src).convert("RGB"))[:, 40:216]
        buf = io.BytesIO()
        Image.fromarray(crop).save(buf, "JPEG", quality=75)
        assert (tmp_path / "dptn" / src.name).read_bytes() == buf.getvalue()


def test_existing_files_are_kept_and_bad_sources_reported(sources, tmp_path):
    img, high = sources
    out = tmp_path / "out"
    prepare_folder(preparation("dptn", "deepfashion"), img, out)
    again = prepare_folder(preparation("dptn", "deepfashion"), img, out)
    assert again.written == 0 and len(again.skipped) == 3
    # highres images are not 256x256: PATN's crop refuses them, naming what it expected
    bad = prepare_folder(preparation("dptn", "deepfashion"), high, tmp_path / "bad")
    assert bad.written == 0 and "crop takes 256x256" in bad.problems[0]
    with pytest.raises(DataError, match="no known image preparation for protocol 'pidm' on "
                                        "'market'"):
        preparation("pidm", "market")
    with pytest.raises(DataError, match="no images"):
        prepare_folder(preparation("gfla", "deepfashion"), tmp_path / "out" / "..", tmp_path)


def test_a_variant_protocol_prepares_its_scripts_folders():
    assert preparation("gfla-skimage014", "deepfashion") is PREPARATIONS[("gfla", "deepfashion")]
    with pytest.raises(DataError, match="no known image preparation for protocol 'patn'"):
        preparation("patn", "deepfashion")


def test_every_preparation_states_its_source_and_note():
    for (protocol, dataset), prep in PREPARATIONS.items():
        assert prep.protocol == protocol and prep.dataset == dataset
        assert prep.source and prep.note


def test_cli_prepare(sources, tmp_path, capsys):
    _, high = sources
    rc = main(["data", "prepare", "gfla", "--dataset", "deepfashion", "--images", str(high),
               "--out", str(tmp_path / "g")])
    out = capsys.readouterr().out
    assert rc == 0 and "256x256 JPEG" in out and "wrote 3 images" in out
    assert "quality is not stated" in out
    rc = main(["data", "prepare", "nted", "--images", str(high), "--out", str(tmp_path / "n")])
    assert rc == 2 and "unknown protocol 'nted'" in capsys.readouterr().err
