"""Results folders, piece by piece: the ``folder:`` syntax, file-name conventions, layout
detection, and the adapter's plan/generate contract (no run; tests/models/test_folder_runs.py
runs them end to end on the published strips)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from bench.config import RunConfig
from bench.errors import BenchError, ModelUnavailableError
from bench.models import ModelSpec
from bench.models.folder import (
    FolderError,
    FolderIndex,
    FolderModel,
    FolderSpec,
    detect_layout,
    match_pairs,
    split_model_list,
)
from bench.models.modules import NoParameters
from bench.types import Generated, Pair

PAIRS = (
    Pair("0001_c1s1_000001_01.jpg", "0001_c2s1_000002_01.jpg", 0),
    Pair("0002_c1s1_000003_01.jpg", "0002_c3s1_000004_02.jpg", 1),
    Pair("0003_c1s1_000005_01.jpg", "0003_c4s1_000006_03.jpg", 2),
)


# -- syntax --------------------------------------------------------------------------------------
def test_parse_entry_with_options_and_round_trip():
    spec = FolderSpec.parse("folder:defgan=/r/def gan,panels=5,panel=-1,target=2")
    assert spec == FolderSpec("defgan", "/r/def gan", panels=5, panel=-1, target=2)
    assert FolderSpec.parse(spec.entry) == spec
    assert FolderSpec.parse("folder:a=/x/y,z") == FolderSpec("a", "/x/y,z")  # comma in a path


@pytest.mark.parametrize("text, needle", [
    ("folder:defgan", "expected folder:NAME=PATH"),
    ("folder:=/r", "folder model name ''"),
    ("folder:a/b=/r", "folder model name 'a/b'"),
    ("folder:a=/r,panel=two", "panel= takes a whole number"),
    ("folder:a=/r,panes=3", "unknown option 'panes'"),
    ("folder:a=/r,panels=0", "panels= must be at least 1"),
])
def test_malformed_entries_say_what_is_expected(text, needle):
    with pytest.raises(FolderError, match=needle):
        FolderSpec.parse(text)


def test_model_list_keeps_options_with_their_folder():
    assert split_model_list("warp,folder:dg=/r/dg,panels=3,panel=2,source") == (
        "warp", "folder:dg=/r/dg,panels=3,panel=2", "source")
    with pytest.raises(FolderError, match="options belong to a results folder"):
        split_model_list("warp,panels=3")


def test_config_resolves_folder_entries_to_names():
    config = RunConfig(models=("pata", "folder:dg=/r/dg,panels=3", "source")).resolved()
    assert config.models == ("patn", "dg", "source")
    assert config.folders == (FolderSpec("dg", "/r/dg", panels=3),)
    assert config.folder_for("dg").panels == 3 and config.folder_for("source") is None
    assert config.resolved() == config  # idempotent
    data = config.to_dict()
    assert data["folders"] == [{"name": "dg", "path": "/r/dg", "panels": 3, "panel": None,
                                "target": None}]
    assert '"folders"' in config.to_json()
    extra = RunConfig(models=("warp",), folders=(FolderSpec("dg", "/r/dg"),)).resolved()
    assert extra.models == ("warp", "dg")


@pytest.mark.parametrize("kwargs, needle", [
    (dict(models=("folder:warp=/r",)), "named like the registered model 'warp'"),
    (dict(models=("folder:dg=/r", "folder:dg=/s")), "two results folders are named 'dg'"),
    (dict(models=("folder:dg=/r",), checkpoints=(("dg", "x.pt"),)), "a results folder"),
])
def test_config_rejects_clashes(kwargs, needle):
    with pytest.raises(BenchError, match=needle):
        RunConfig(**kwargs).resolved()


# -- names ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, convention", [
    ("0001_c1s1_000001_01.jpg___0001_c2s1_000002_01.jpg_vis.jpg", "{from}___{to}_vis.jpg"),  # PATN
    ("0001_c1s1_000001_01.jpg_0001_c2s1_000002_01.jpg.png", "{from}_{to}.png"),  # Def-GAN
    ("0001_c1s1_000001_01___0001_c2s1_000002_01.png", "{from stem}___{to stem}.png"),  # harness
    ("0001_c1s1_000001_01_2_0001_c2s1_000002_01_vis.png", "{from stem}_2_{to stem}_vis.png"),
    ("0001_c1s1_000001_01.jpg___0001_c2s1_000002_01_vis.JPG", "{from}___{to stem}_vis.jpg"),
])
def test_file_name_conventions(tmp_path, name, convention):
    (tmp_path / name).write_bytes(b"")
    match = match_pairs(FolderIndex.scan(tmp_path, "x"), PAIRS)
    assert match.files == {0: tmp_path / name}
    assert dict(match.conventions) == {convention: 1}
    assert [p.index for p in match.missing] == [1, 2] and match.ignored == 0


def test_extra_files_are_counted_and_png_is_preferred(tmp_path):
    for name in ("0001_c1s1_000001_01___0001_c2s1_000002_01.png",
                 "0001_c1s1_000001_01___0001_c2s1_000002_01.jpg", "readme.txt", "other___x.png"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "sub").mkdir()
    index = FolderIndex.scan(tmp_path, "x")
    match = match_pairs(index, PAIRS)
    assert match.files[0].suffix == ".png" and match.ignored == 3
    assert "sub/" in index.describe_found(limit=10)


# -- layouts -------------------------------------------------------------------------------------
@pytest.mark.parametrize("file_hw, kind, fake, target, source", [
    ((128, 64), "single", 0, None, None),
    ((128, 192), "defgan-3", 2, 1, 0),
    ((128, 320), "patn-5", 4, 2, 0),
])
def test_known_layouts_from_the_width(file_hw, kind, fake, target, source):
    layout = detect_layout(FolderSpec("x", "/r"), file_hw, (128, 64))
    assert (layout.kind, layout.fake, layout.target, layout.source) == (kind, fake, target, source)
    assert layout.panel_hw == (128, 64) and layout.crop == 0 and layout.detected


def test_unknown_panel_counts_need_to_be_told():
    with pytest.raises(FolderError, match="4 panels are not a known layout.*panels=4,panel=3"):
        detect_layout(FolderSpec("x", "/r"), (128, 256), (128, 64))
    layout = detect_layout(FolderSpec("x", "/r", panels=4, panel=-1, target=1), (128, 256),
                           (128, 64))
    assert (layout.kind, layout.fake, layout.target, layout.detected) == ("custom", 3, 1, False)
    assert "generated = panel 3, target = panel 1" in layout.describe()
    with pytest.raises(FolderError, match="same panel"):
        detect_layout(FolderSpec("x", "/r", panels=4, panel=1, target=1), (128, 256), (128, 64))
    with pytest.raises(FolderError, match="panel=7 is outside the 4 panels"):
        detect_layout(FolderSpec("x", "/r", panels=4, panel=7), (128, 256), (128, 64))


def test_wrong_sizes_fit_no_layout():
    with pytest.raises(FolderError, match=r"files are 100x320 .* expected 128x\(k\*64\)"):
        detect_layout(FolderSpec("x", "/r"), (100, 320), (128, 64))
    with pytest.raises(FolderError, match="expected 128x192"):
        detect_layout(FolderSpec("x", "/r", panels=3), (128, 320), (128, 64))


def test_256_wide_panels_are_centre_cropped_on_the_176_frame():
    layout = detect_layout(FolderSpec("x", "/r"), (256, 768), (256, 176), padded_width=256)
    assert (layout.kind, layout.panel_hw, layout.crop, layout.image_hw) == (
        "defgan-3", (256, 256), 40, (256, 176))
    strip = np.arange(256 * 768 * 3, dtype=np.int64).reshape(256, 768, 3) % 251
    fake, target, source = layout.split(strip.astype(np.uint8))
    np.testing.assert_array_equal(fake, strip[:, 512 + 40: 512 + 216].astype(np.uint8))
    np.testing.assert_array_equal(target, strip[:, 256 + 40: 256 + 216].astype(np.uint8))
    assert "centre 176 columns used (40..216)" in layout.describe()
    exact = detect_layout(FolderSpec("x", "/r"), (256, 880), (256, 176), padded_width=256)
    assert exact.kind == "patn-5" and exact.crop == 0  # PATN's DeepFashion strips: 5 x 176


# -- the adapter ---------------------------------------------------------------------------------
def _strips(folder, pairs, panels=3, size=(8, 4), name="{src}_{tgt}.png", shape=None):
    """Strips whose panel i of pair k holds the value 10 * k + i."""
    folder.mkdir(exist_ok=True)
    h, w = size
    for k, p in enumerate(pairs):
        strip = np.concatenate([np.full((h, w, 3), 10 * k + i, np.uint8) for i in range(panels)], 1)
        if shape is not None and k == 0:
            strip = np.zeros((*shape, 3), np.uint8)
        Image.fromarray(strip).save(folder / name.format(src=p.src, tgt=p.tgt))


def test_plan_and_generate_read_the_panels(tmp_path):
    _strips(tmp_path / "r", PAIRS[:2])
    (tmp_path / "r" / "unrelated.png").write_bytes(b"x")
    model = FolderModel(ModelSpec(name="dg", size=(8, 4), dataset="market"),
                        FolderSpec("dg", str(tmp_path / "r")))
    assert model.sees_pairs and not model.sees_target and model.module is None
    lines = model.plan(PAIRS)
    text = "\n".join(lines)
    assert "Def-GAN 3-panel strips" in text and "2 of 3 pairs found" in text
    assert "1 missing; 1 other files ignored" in text and "0003_c1s1_000005_01.jpg_" in text
    assert model.weights.label == str((tmp_path / "r").resolve()) and len(model.weights.sha256) == 64
    out = model.generate(None, None, None, pairs=PAIRS)
    assert isinstance(out, Generated) and out.images.shape == (3, 8, 4, 3)
    assert (out.images[1] == 12).all() and (out.targets[1] == 11).all() and (out.sources[1] == 10).all()
    message, file = out.problems[2]
    assert "no file for this pair" in message
    assert file.endswith("0003_c1s1_000005_01.jpg_0003_c4s1_000006_03.jpg.png")
    summary = model.summary()
    assert summary["pairs_found"] == 2 and summary["pairs_missing"] == 1
    assert summary["layout"]["kind"] == "defgan-3" and summary["files_ignored"] == 1


def test_hash_follows_the_files_contents(tmp_path):
    _strips(tmp_path / "r", PAIRS)
    spec = ModelSpec(name="dg", size=(8, 4))

    def sha():
        model = FolderModel(spec, FolderSpec("dg", str(tmp_path / "r")))
        model.plan(PAIRS)
        return model.weights.sha256

    before = sha()
    assert sha() == before
    import hashlib  # as documented: "name sha256(contents)" lines of the files, in pair order

    lines = "".join(f"{f.name} {hashlib.sha256(f.read_bytes()).hexdigest()}\n" for f in
                    (tmp_path / "r" / f"{p.src}_{p.tgt}.png" for p in PAIRS))
    assert before == hashlib.sha256(lines.encode()).hexdigest()
    first = tmp_path / "r" / f"{PAIRS[0].src}_{PAIRS[0].tgt}.png"
    Image.fromarray(np.full((8, 12, 3), 99, np.uint8)).save(first)
    assert sha() != before


def test_bad_files_are_per_pair_problems(tmp_path):
    _strips(tmp_path / "r", PAIRS, shape=(8, 10))  # first pair: a strip of the wrong size
    (tmp_path / "r" / f"{PAIRS[1].src}_{PAIRS[1].tgt}.png").write_bytes(b"\x89PNG broken")
    model = FolderModel(ModelSpec(name="dg", size=(8, 4)), FolderSpec("dg", str(tmp_path / "r")))
    model.plan(PAIRS)
    out = model.generate(None, None, None, pairs=PAIRS)
    assert "file is 8x10 (HxW), expected 8x12 (3 panels of 8x4)" in out.problems[0][0]
    assert "corrupt or unreadable image" in out.problems[1][0]
    assert set(out.problems) == {0, 1} and (out.images[2] == 22).all()


def test_folders_without_the_pairs_stop_with_the_expected_names(tmp_path):
    spec = ModelSpec(name="dg", size=(8, 4))
    with pytest.raises(ModelUnavailableError, match="does not exist"):
        FolderModel(spec, FolderSpec("dg", str(tmp_path / "nowhere")))
    (tmp_path / "empty").mkdir()
    with pytest.raises(FolderError) as exc:
        FolderModel(spec, FolderSpec("dg", str(tmp_path / "empty"))).plan(PAIRS)
    text = str(exc.value)
    assert "none of the 3 evaluated pairs has a file" in text and "found: an empty folder" in text
    for name in (f"{PAIRS[0].src}___{PAIRS[0].tgt}_vis.jpg", f"{PAIRS[0].src}_{PAIRS[0].tgt}.png",
                 "0001_c1s1_000001_01___0001_c2s1_000002_01.png"):
        assert name in text
    _strips(tmp_path / "wrong", [Pair("a.jpg", "b.jpg", 0), Pair("c.jpg", "d.jpg", 1)])
    with pytest.raises(FolderError, match=r"found: 2 files, e.g. a.jpg_b.jpg.png, c.jpg_d.jpg.png"):
        FolderModel(spec, FolderSpec("dg", str(tmp_path / "wrong"))).plan(PAIRS)


def test_a_folder_of_the_wrong_resolution_stops_before_work(tmp_path):
    _strips(tmp_path / "r", PAIRS, size=(16, 8))
    model = FolderModel(ModelSpec(name="dg", size=(8, 4)), FolderSpec("dg", str(tmp_path / "r")))
    with pytest.raises(FolderError, match="files are 16x24 .* 8x4 dataset frame"):
        model.plan(PAIRS)


# -- the capability, for any generator -----------------------------------------------------------
class _PairAware:
    """A generator that declares ``sees_pairs``: it gets the names, never the target image."""

    name = "pair-aware"
    sees_pairs = True
    seen: list = []

    def __init__(self, spec):
        self.module = NoParameters()

    def generate(self, src_img, src_kpts, tgt_kpts, *, pairs):
        type(self).seen.extend(pairs)
        return src_img.clone()


def test_sees_pairs_is_a_capability_not_a_name(market_folder, tmp_path):
    from bench.api import run
    from bench.models import GENERATORS

    GENERATORS.register("pair-aware")(_PairAware)
    try:
        result = run(RunConfig(models=("pair-aware", "source"), dataset="market",
                               data_root=market_folder, metrics=("ssim",), limit=10,
                               out=tmp_path / "r"), progress=False, echo=lambda s: None)
    finally:
        GENERATORS.unregister("pair-aware")
    assert [p.index for p in _PairAware.seen] == list(range(10))
    assert result.values[("pair-aware", "ssim")] == result.values[("source", "ssim")]


# -- decoding result files ---------------------------------------------------------------------
def _pil_rgb(data: bytes) -> np.ndarray:
    import io

    with Image.open(io.BytesIO(data)) as img:
        return np.asarray(img.convert("RGB"))


def test_published_result_pngs_decode_to_what_pil_gives(shared_data):
    from bench.data.png import decode_png

    files = sorted((shared_data / "published-samples").rglob("*.png"))
    assert len(files) == 200
    for path in files:
        data = path.read_bytes()
        ours = decode_png(data)  # the fast decoder's case: 8-bit RGB
        assert ours is not None, path
        np.testing.assert_array_equal(ours, _pil_rgb(data), err_msg=str(path))


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16", "JPEG"])
def test_every_kind_of_file_decodes_as_pil_decodes_it(tmp_path, mode):
    import io

    from bench.data.decode import decode_rgb
    from bench.data.png import decode_png

    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (33, 17, 3), dtype=np.uint8))
    image = {"RGBA": lambda: rgb.convert("RGBA"), "L": lambda: rgb.convert("L"),
             "P": lambda: rgb.convert("P"),
             "I;16": lambda: Image.fromarray(rng.integers(0, 65535, (33, 17), dtype=np.uint16))
             }.get(mode, lambda: rgb)()
    buf = io.BytesIO()
    image.save(buf, "JPEG" if mode == "JPEG" else "PNG")
    data = buf.getvalue()
    assert (decode_png(data) is not None) == (mode in ("RGB", "RGBA", "L"))
    np.testing.assert_array_equal(decode_rgb(data), _pil_rgb(data))
    with pytest.raises(OSError):  # a damaged file: PIL's error, whichever decoder was tried
        decode_rgb(data[: len(data) // 2])


_NO_TORCH = """
import sys

class NoTorch:
    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError(f"this run must not import {name}")

sys.meta_path.insert(0, NoTorch())
from bench.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_results_folder_run_never_imports_torch(market_folder, tmp_path):
    """Results folders scored by the SSIM family and L1, with the default efficiency and
    bootstrap steps and the table: torch is never imported (its import is most of the
    start-up time of such a run), and env.json says so."""
    import json
    import subprocess
    import sys

    from bench.data import load_split, locate

    split = load_split(locate("market", market_folder))
    folder = tmp_path / "results"
    folder.mkdir()
    for pair in split.pairs[:12]:
        (folder / f"{pair.src}_{pair.tgt}.png").write_bytes(
            split.image_path(pair.src).read_bytes())
    out = tmp_path / "r"
    done = subprocess.run(
        [sys.executable, "-c", _NO_TORCH, "run", "--models", f"folder:gen={folder}",
         "--dataset", "market", "--data-root", str(market_folder), "--limit", "12",
         "--metrics", "ssim,mask_ssim,l1", "--bootstrap", "50", "--quiet", "--out", str(out)],
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    env = json.loads((out / "env.json").read_text())
    assert env["torch_imported"] is False and env["torch_threads"] is None
    records = [json.loads(line) for line in (out / "records.jsonl").read_text().splitlines()]
    assert {r["key"] for r in records if r["kind"] == "metric"} >= {"ssim", "mask_ssim", "l1"}
    (params,) = [r for r in records if r["kind"] == "efficiency"]
    assert params["extra"] == {"status": "not_applicable", "module_class": "NoParameters"}


@pytest.mark.parametrize("threads", [None, 1, 3])
def test_file_hashes_in_threads_keep_the_order(tmp_path, threads):
    import hashlib

    from bench.models.folder import _file_hashes

    files = []
    for i in range(150):  # past the size where runs of files go to threads
        files.append(tmp_path / f"{i:03d}.bin")
        files[-1].write_bytes(bytes([i % 256]) * (i * 37 % 5000))
    assert _file_hashes(files, threads) == [hashlib.sha256(f.read_bytes()).hexdigest()
                                            for f in files]
