"""The published Def-GAN DeepFashion samples as a dataset, a ``{src}_2_{tgt}_vis`` results folder and a
training folder (imported as `script_samples`: pytest puts this folder on sys.path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SAMPLES = "published-samples/deform-fashion"
ANNOTATION = "pose-transfer-splits/fasion-annotation-test.csv"
QUIET = dict(progress=False, echo=lambda s: None)


# -- the data: the published strips as a dataset, a results folder and a training folder -----
def build(shared: Path, root: Path, n: int, width: int, suffix: str, n_train: int = 0):
    """(data root, results folder, train folder, [(gt name, result file)]); 256x``width``
    panels (176: PATN's centre crop 40:216 of the 256x256 panels)."""
    strips = sorted((shared / SAMPLES).glob("*.png"))[:n]
    data, res, train = root / "data", root / "res", root / "train"
    for d in (data / "test", res, train):
        d.mkdir(parents=True)
    left = (256 - width) // 2
    pairs, files = [], []
    for i, path in enumerate(strips):
        src, tgt = path.name[: -len(".png")].split(".jpg_", 1)
        src += ".jpg"
        strip = np.asarray(Image.open(path).convert("RGB"))
        s, t, g = (strip[:, k * 256 + left: k * 256 + left + width] for k in range(3))
        Image.fromarray(t).save(data / "test" / tgt, "PNG")
        Image.fromarray(s).save(data / "test" / src, "PNG")
        name = f"{Path(src).stem}_2_{Path(tgt).stem}_vis{suffix}"
        Image.fromarray(g).save(res / name, "JPEG" if suffix == ".jpg" else "PNG")
        if i < n_train:
            Image.fromarray(s).save(train / f"{Path(src).stem}.png")
        pairs.append((src, tgt))
        files.append((tgt, res / name))
    (data / "fashion-pairs-test.csv").write_text(
        "from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    names = {x for p in pairs for x in p}
    lines = (shared / ANNOTATION).read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(":")[0].strip() in names]
    (data / "fasion-annotation-test.csv").write_text("\n".join(kept) + "\n")
    return data, res, train, files


def read(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def values(result, model="m") -> dict:
    return {r.key: r for r in result.records if r.model == model and r.kind == "metric"}


def build_market(shared: Path, root: Path, n: int, suffix: str):
    """The published Def-GAN Market strips (128x64 panels) as a Market data root (their pairs
    use training images: the root's test annotation holds those rows) and a results folder."""
    strips = sorted((shared / "published-samples/deform-market").glob("*.png"))[:n]
    data, res = root / "data", root / "res"
    for d in (data / "test", res):
        d.mkdir(parents=True)
    pairs, files = [], []
    for path in strips:
        src, tgt = path.name[: -len(".png")].split(".jpg_", 1)
        src += ".jpg"
        strip = np.asarray(Image.open(path).convert("RGB"))
        s, t, g = (strip[:, k * 64:(k + 1) * 64] for k in range(3))
        Image.fromarray(t).save(data / "test" / tgt, "PNG")
        Image.fromarray(s).save(data / "test" / src, "PNG")
        name = f"{Path(src).stem}_2_{Path(tgt).stem}_vis{suffix}"
        Image.fromarray(g).save(res / name, "JPEG" if suffix == ".jpg" else "PNG")
        pairs.append((src, tgt))
        files.append((tgt, res / name))
    (data / "market-pairs-test.csv").write_text(
        "from,to\n" + "".join(f"{a},{b}\n" for a, b in pairs))
    names = {x for p in pairs for x in p}
    lines = (shared / "pose-transfer-splits/market-annotation-train.csv").read_text().splitlines()
    kept = [lines[0]] + [ln for ln in lines[1:] if ln.split(":")[0].strip() in names]
    (data / "market-annotation-test.csv").write_text("\n".join(kept) + "\n")
    return data, res, files
