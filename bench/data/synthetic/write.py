"""Write a synthetic dataset in the Market-1501 layout of PATN, and cache it atomically.

Layout under the dataset root (PROTOCOL.md 3.1)::

    test/0101_c3s2_004512_01.jpg ...     images; PNG-encoded content under Market's .jpg names,
    train/0001_c1s4_120044_01.jpg ...    so ground truth is lossless (PIL opens by content)
    market-annotation-test.csv           name:keypoints_y:keypoints_x, '0007_...jpg: [ys]: [xs]'
    market-annotation-train.csv
    market-pairs-test.csv                from,to  (seeded sample of same-identity permutations)
    market-pairs-train.csv               from,to  (all same-identity permutations)
    manifest.json                        spec, per-file sha256, content hash (written last)

Usage::

    from bench.data.synthetic import MARKET_LIKE, ensure_synthetic
    root = ensure_synthetic(MARKET_LIKE, Path("~/.cache/ctat-bench/synthetic").expanduser())

Generation happens in a hidden ``.<folder>.partial-*`` directory that is renamed into place
only after the manifest is written, so an interrupted run never leaves a folder that looks
complete. Every image has its own random stream (seed, split, identity, index), so the same
seed gives byte-identical files whatever the order or number of processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.synthetic.pairs import make_pairs, pairable, sample_pairs
from bench.data.synthetic.people import sample_identity
from bench.data.synthetic.render import render_background_only, render_image
from bench.data.synthetic.skeleton import sample_pose
from bench.data.synthetic.spec import SyntheticSpec
from bench.errors import DataError
from bench.progress import Progress

SPLITS = ("test", "train")
MANIFEST = "manifest.json"
MANIFEST_FORMAT = "ctat-bench synthetic dataset 1"
ANNOTATION_HEADER = "name:keypoints_y:keypoints_x"
PNG_COMPRESS_LEVEL = 1  # fast; sizes barely differ at these resolutions


@dataclass(frozen=True, eq=False)
class SyntheticImage:
    name: str  # Market-style file name, e.g. 0007_c2s1_000123_01.jpg
    pid: int  # identity (0 for background-only junk images)
    image: np.ndarray  # (H, W, 3) uint8
    keypoints: np.ndarray  # (18, 2) float32 (x, y) integers, -1 missing
    view: str  # front / back / side / oblique, or "none" for junk


# ------------------------------------------------------------------------------- naming
def split_identities(spec: SyntheticSpec, split: str) -> range:
    """Identity numbers of a split: train first (0001..), then test; never shared."""
    if split == "train":
        return range(1, spec.identities_train + 1)
    if split == "test":
        first = spec.identities_train + 1
        return range(first, first + spec.identities_test)
    raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def _names(seed: int, stream: int, pid: int, count: int) -> list[str]:
    """Market-style names ``{pid:04d}_c{cam}s{seq}_{frame:06d}_{box:02d}.jpg``; frames grow
    with the index, so names are unique, and image k's name does not depend on ``count``."""
    base = int(np.random.default_rng(np.random.SeedSequence([seed, stream, pid])).integers(1, 400_000))
    names = []
    for k in range(count):
        rng = np.random.default_rng(np.random.SeedSequence([seed, stream, pid, k]))
        cam, seq, step = (int(v) for v in rng.integers((1, 1, 0), (7, 7, 5000)))
        box = int(rng.choice([1, 1, 1, 2, 3])) if pid else 0
        names.append(f"{pid:04d}_c{cam}s{seq}_{base + 5000 * k + step:06d}_{box:02d}.jpg")
    return names


def _image_rng(seed: int, stream: int, pid: int, index: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, stream, pid, index]))


# --------------------------------------------------------------------------- generation
def iter_split(spec: SyntheticSpec, split: str) -> Iterator[SyntheticImage]:
    """Render the images of ``split``: junk images first (test split only), then every
    identity's images in index order."""
    if split == "test":
        for k, name in enumerate(_names(spec.seed, 4, 0, spec.junk_test)):
            shot = render_background_only(_image_rng(spec.seed, 3, 0, k), spec.size)
            yield SyntheticImage(name, 0, shot.image, shot.keypoints, "none")
    for pid in split_identities(spec, split):
        person = sample_identity(spec.seed, pid)
        for index, name in enumerate(_names(spec.seed, 4, pid, spec.images_per_identity)):
            rng = _image_rng(spec.seed, 2, pid, index)
            pose = sample_pose(rng, person, spec.size, spec.person_height)
            shot = render_image(person, pose, rng, spec.size, spec.supersample)
            yield SyntheticImage(name, pid, shot.image, shot.keypoints, pose.view)


def split_size(spec: SyntheticSpec, split: str) -> int:
    junk = spec.junk_test if split == "test" else 0
    return junk + len(split_identities(spec, split)) * spec.images_per_identity


def annotation_line(name: str, keypoints: np.ndarray) -> str:
    """``name: [18 y]: [18 x]`` as PATN's compute_coordinates.py writes it."""
    kp = np.asarray(keypoints)
    xs = [int(v) for v in kp[:, 0]]
    ys = [int(v) for v in kp[:, 1]]
    return f"{name}: {json.dumps(ys)}: {json.dumps(xs)}"


def _save_png(image: np.ndarray, path: Path) -> None:
    Image.fromarray(image).save(path, format="PNG", compress_level=PNG_COMPRESS_LEVEL)


def write_synthetic(spec: SyntheticSpec, root: Path, progress: bool = False) -> dict:
    """Render every image of ``spec`` and write the Market layout into ``root``.

    Returns counts per split (images, annotated joints, pairs). Writes in place, no cache
    logic; use :func:`ensure_synthetic` for the cached, atomic version."""
    root = Path(root)
    counts: dict[str, dict[str, int]] = {}
    total = sum(split_size(spec, s) for s in SPLITS)
    bar = Progress(total=total, desc=f"generating {spec.folder_name}", enabled=progress, unit="img")
    try:
        for split in SPLITS:
            image_dir = root / split
            image_dir.mkdir(parents=True, exist_ok=True)
            annotations: dict[str, np.ndarray] = {}
            for item in iter_split(spec, split):
                _save_png(item.image, image_dir / item.name)
                annotations[item.name] = item.keypoints
                bar.update(1)
            names = sorted(annotations)
            lines = [ANNOTATION_HEADER] + [annotation_line(n, annotations[n]) for n in names]
            (root / f"market-annotation-{split}.csv").write_text("\n".join(lines) + "\n")
            pairs = make_pairs([n for n in names if pairable(n, annotations[n])])
            if split == "test":
                pairs = sample_pairs(pairs, spec.test_pairs, spec.seed)
            rows = ["from,to"] + [f"{a},{b}" for a, b in pairs]
            (root / f"market-pairs-{split}.csv").write_text("\n".join(rows) + "\n")
            counts[split] = {"images": len(names), "pairs": len(pairs)}
    finally:
        bar.close()
    return counts


# ------------------------------------------------------------------------------- caching
def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def build_manifest(spec: SyntheticSpec, root: Path, counts: dict) -> dict:
    """Spec, counts and sha256 of every file under ``root`` (manifest excluded)."""
    files = {
        p.relative_to(root).as_posix(): {"sha256": _sha256(p), "bytes": p.stat().st_size}
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }
    digest = hashlib.sha256()
    for rel, info in files.items():
        digest.update(f"{rel} {info['sha256']}\n".encode())
    return {
        "format": MANIFEST_FORMAT,
        "spec": spec.to_dict(),
        "counts": counts,
        "content_sha256": digest.hexdigest(),
        "note": "images are PNG-encoded under Market-1501's .jpg names (lossless ground truth)",
        "files": files,
    }


def read_manifest(root: Path) -> dict | None:
    """The manifest of a generated folder, or None when absent or unreadable."""
    try:
        manifest = json.loads((Path(root) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == MANIFEST_FORMAT else None


def is_complete(root: Path, spec: SyntheticSpec) -> bool:
    """True when ``root`` holds a finished generation of exactly ``spec``: its manifest
    matches the spec and every listed file exists with its recorded size."""
    manifest = read_manifest(root)
    if manifest is None or manifest.get("spec") != spec.to_dict():
        return False
    try:
        return all(
            (root / rel).stat().st_size == info["bytes"] for rel, info in manifest["files"].items()
        )
    except (OSError, KeyError, TypeError, AttributeError):
        return False


def ensure_synthetic(spec: SyntheticSpec, cache_root: Path, progress: bool = False) -> Path:
    """``cache_root / spec.folder_name``, generated on first use and reused afterwards."""
    cache_root = Path(cache_root)
    final = cache_root / spec.folder_name
    if is_complete(final, spec):
        return final
    if final.exists():
        manifest = read_manifest(final)
        why = (
            "was generated from a different spec (change its name or version, or delete it)"
            if manifest is not None and manifest.get("spec") != spec.to_dict()
            else "is incomplete or damaged (delete it to regenerate)"
        )
        raise DataError(f"synthetic dataset folder {final} {why}")
    cache_root.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{spec.folder_name}.partial-", dir=cache_root))
    try:
        os.chmod(partial, 0o755)  # mkdtemp makes it private; the cache is a normal folder
        counts = write_synthetic(spec, partial, progress=progress)
        manifest = build_manifest(spec, partial, counts)
        (partial / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
        try:
            os.rename(partial, final)
        except OSError:
            if not is_complete(final, spec):  # not a concurrent run that finished first
                raise
            shutil.rmtree(partial, ignore_errors=True)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final
