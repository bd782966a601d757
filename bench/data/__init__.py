"""Datasets: the registry, locating files, selecting pairs and streaming batches.

    python -m bench list datasets
    python -m bench data check market --data-root /data/market_data

    from bench.data import locate, load_split
    files = locate("synthetic")                 # generated on first use, cached after
    split = load_split(files)                   # validated pairs and keypoints
"""

from __future__ import annotations

from pathlib import Path

from bench.data.datasets import (
    FASHION_OBTAIN,
    FASHION_ORIGINAL_LAYOUT,
    FASHION_RESIZE_LAYOUT,
    MARKET_LAYOUT,
    MARKET_OBTAIN,
    DatasetFiles,
    DatasetSpec,
    cache_root,
    locate_files,
    resolve_root,
)
from bench.data.split import Split, load_split
from bench.registry import Registry

DATASETS: Registry[DatasetSpec] = Registry("dataset")


def _add(spec: DatasetSpec) -> None:
    DATASETS.register(spec.name)(spec)


_add(DatasetSpec(
    name="market",
    description="Market-1501 in the PATN layout",
    size=(128, 64),
    layouts=(MARKET_LAYOUT,),
    env_var="BENCH_MARKET_ROOT",
    obtain=MARKET_OBTAIN,
    example_image="0002_c1s1_000451_03.jpg",
))
_add(DatasetSpec(
    name="deepfashion",
    description="DeepFashion In-shop in the PATN layout (176x256 crops)",
    size=(256, 176),
    accepted_sizes=((256, 256),),
    layouts=(FASHION_RESIZE_LAYOUT, FASHION_ORIGINAL_LAYOUT),
    env_var="BENCH_DEEPFASHION_ROOT",
    obtain=FASHION_OBTAIN,
    example_image="fashionWOMENBlouses_Shirtsid0000337203_3back.jpg",
    padded_width=256,
))
_add(DatasetSpec(
    name="synthetic",
    description="embedded synthetic people, Market-like, in the Market layout",
    size=(128, 64),
    layouts=(MARKET_LAYOUT,),
    obtain="generated on first use: python -m bench data generate synthetic",
    synthetic="MARKET_LIKE",
))
_add(DatasetSpec(
    name="synthetic-fashion",
    description="embedded synthetic people, DeepFashion-like, in the Market layout",
    size=(256, 176),
    layouts=(MARKET_LAYOUT,),
    obtain="generated on first use: python -m bench data generate synthetic-fashion",
    synthetic="FASHION_LIKE",
    padded_width=256,
))


def synthetic_spec(spec: DatasetSpec, seed: int | None = None):
    """The SyntheticSpec behind a generated dataset (``seed`` overrides its default)."""
    import dataclasses

    from bench.data import synthetic

    base = getattr(synthetic, spec.synthetic)
    return base if seed is None else dataclasses.replace(base, seed=seed)


def locate(
    name: str,
    data_root: Path | None = None,
    split: str = "test",
    *,
    seed: int | None = None,
    progress: bool = False,
    images_required: bool = True,
) -> DatasetFiles:
    """Locate (for synthetic sets: generate if needed) a dataset split; DataError if absent.

    ``images_required=False`` accepts a folder with the split files but no images (a
    results-only run, protocol ``patn-strips``): the returned ``size`` is then None."""
    spec = DATASETS.get(name)
    if spec.synthetic is not None:
        from bench.data.synthetic import ensure_synthetic

        where = Path(data_root) if data_root is not None else cache_root() / "synthetic"
        how = "--data-root" if data_root is not None else "cache (BENCH_CACHE)"
        root = ensure_synthetic(synthetic_spec(spec, seed), where, progress=progress)
        return locate_files(spec, root, f"generated, {how}", split)
    root, source = resolve_root(spec, data_root)
    return locate_files(spec, root, source, split, images_required=images_required)


__all__ = [
    "DATASETS", "DatasetFiles", "DatasetSpec", "Split", "cache_root", "load_split", "locate",
    "synthetic_spec",
]
