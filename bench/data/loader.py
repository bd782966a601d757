"""Stream evaluated pairs as decoded batches; a pair that cannot be loaded becomes an error.

    for batch, errors in iter_batches(split, pairs, batch_size=32):
        ...   # batch: PairBatch of the loadable pairs; errors: [PairError] for the others
    for k, batch, errors in iter_group_batches(split, [unit_a, unit_b], batch_size=32):
        ...   # k: which pair list (a batch never spans two); loading runs on across them

Images are decoded (PIL's pixels, :mod:`bench.data.decode`) in a small thread pool (decoding
releases the GIL), one batch ahead of the consumer, so decoding overlaps with generation and
scoring. Memory stays at a couple of batches whatever the number of pairs. ``images=False``
streams pairs and keypoints only (``src_img``/``tgt_img`` None): a run whose ground truth comes
from result strips; ``sources=False`` leaves the source images out (``src_img`` None): a run of
results folders alone, whose generators read their own files and whose metrics never look at
the source.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from bench.data.decode import decode_rgb
from bench.data.split import Split
from bench.types import Pair, PairBatch


@dataclass(frozen=True)
class PairError:
    """A pair that produced no value at some stage, and why."""

    pair: Pair
    stage: str  # "load", "generate" or "score"
    message: str
    file: str | None = None


def read_image(path, size: tuple[int, int]) -> np.ndarray:
    """Decode an image file to uint8 (H, W, 3) RGB, PIL's pixels
    (:func:`bench.data.decode.decode_rgb`); ValueError naming the problem."""
    try:
        arr = decode_rgb(Path(path).read_bytes())
    except FileNotFoundError:
        raise ValueError("file does not exist") from None
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise ValueError(f"corrupt or unreadable image ({exc})") from None
    if arr.shape[:2] != tuple(size):
        raise ValueError(
            f"image is {arr.shape[0]}x{arr.shape[1]} (HxW), expected {size[0]}x{size[1]}"
        )
    return arr


def _load_pair(split: Split, pair: Pair, names: tuple[bool, bool]):
    """(source image or None, target image or None) of ``pair``; ``names``: which to decode."""
    problem = split.pair_problem(pair)
    if problem is not None:
        return PairError(pair, "load", problem)
    images = []
    for name, wanted in zip((pair.src, pair.tgt), names, strict=True):
        if not wanted:
            images.append(None)
            continue
        path = split.image_path(name)
        try:
            images.append(read_image(path, split.files.size))
        except ValueError as exc:
            return PairError(pair, "load", f"{path}: {exc}", file=str(path))
    return images


def _load_batch(split: Split, pairs: tuple[Pair, ...], pool: ThreadPoolExecutor,
                images: bool = True, sources: bool = True,
                prefetch: Callable[[PairBatch], None] | None = None):
    names = (images and sources, images)
    loaded = list(pool.map(lambda p: _load_pair(split, p, names), pairs))
    ok = [(p, r) for p, r in zip(pairs, loaded, strict=True) if not isinstance(r, PairError)]
    errors = [r for r in loaded if isinstance(r, PairError)]
    if not ok:
        return None, errors
    kp = split.keypoints
    batch = PairBatch(
        pairs=tuple(p for p, _ in ok),
        src_img=np.stack([r[0] for _, r in ok]) if names[0] else None,
        tgt_img=np.stack([r[1] for _, r in ok]) if images else None,
        src_kpts=np.stack([kp[p.src] for p, _ in ok]).astype(np.float32),
        tgt_kpts=np.stack([kp[p.tgt] for p, _ in ok]).astype(np.float32),
    )
    if prefetch is not None:
        try:
            prefetch(batch)
        except Exception:  # noqa: BLE001 - only a warm-up: the metric's own call says what failed
            pass
    return batch, errors


def iter_batches(
    split: Split, pairs: tuple[Pair, ...], batch_size: int = 32, workers: int = 2,
    images: bool = True, sources: bool = True,
    prefetch: Callable[[PairBatch], None] | None = None,
) -> Iterator[tuple[PairBatch | None, list[PairError]]]:
    """Yield ``(batch or None, errors)`` per chunk of ``batch_size`` pairs, in pair order
    (``images=False``: keypoints only, no image decoded; ``sources=False``: no source image).
    ``prefetch(batch)`` runs in the loading thread on each batch as it is loaded, ahead of the
    consumer (e.g. pose masks into their cache); its exceptions are ignored."""
    for _, batch, errors in iter_group_batches(split, (pairs,), batch_size, workers, images,
                                               sources, prefetch):
        yield batch, errors


def iter_group_batches(
    split: Split, groups: Sequence[tuple[Pair, ...]], batch_size: int = 32, workers: int = 2,
    images: bool = True, sources: bool = True,
    prefetch: Callable[[PairBatch], None] | None = None,
) -> Iterator[tuple[int, PairBatch | None, list[PairError]]]:
    """:func:`iter_batches` of several pair lists in turn (e.g. a run's work units), yielding
    ``(k, batch or None, errors)`` with ``k`` the list's position; each list is cut into its
    own batches, and the next batch is loaded while the consumer works, across the lists'
    boundaries too (the start of the next unit is not waited for)."""
    chunks = [(k, pairs[i : i + batch_size]) for k, pairs in enumerate(groups)
              for i in range(0, len(pairs), batch_size)]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool, ThreadPoolExecutor(1) as ahead:
        pending: Future | None = None
        for i, (k, chunk) in enumerate(chunks):
            if pending is None:
                pending = ahead.submit(_load_batch, split, chunk, pool, images, sources,
                                       prefetch)
            current = pending.result()
            pending = (ahead.submit(_load_batch, split, chunks[i + 1][1], pool, images, sources,
                                    prefetch)
                       if i + 1 < len(chunks) else None)
            yield (k, *current)
