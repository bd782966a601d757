"""SSIM and mask-SSIM, as PATN / Def-GAN computed them and as today's scikit-image does.

Six registered metrics (PROTOCOL.md 3.3, 3.4), all on uint8 RGB images, reference = target,
SSIM per channel then the mean of the channels, per pair; the score is the mean over pairs:

=====================  ===============================================================
``ssim``               scikit-image 0.14.2 ``compare_ssim`` as PATN called it: Gaussian
                       window sigma 1.5 truncated at 4 sigma (13 taps), data range of the
                       generated image (uint8 max - min over all channels)
``ssim_skimage``       today's ``structural_similarity`` with the same arguments: the window
                       is truncated at 3.5 sigma (11 taps)
``ssim_fixed``         as ``ssim_skimage`` with ``data_range=255``
``mask_*``             the same on both images multiplied by the pose mask of the target
                       keypoints (:mod:`bench.metrics.masks`)
=====================  ===============================================================

Usage::

    from bench.metrics.ssim import SSIM, MaskSSIM, ssim_per_pair
    shared = {}                                   # one dict per run
    metrics = [SSIM(shared), MaskSSIM(shared)]
    for fake, batch in batches:                   # fake: (N, H, W, 3) uint8
        per_pair = [m.update(fake, batch) for m in metrics]
    scores = [m.compute() for m in metrics]       # {"ssim": 0.31...}, {"mask_ssim": ...}

    ssim_per_pair(ref, gen)                       # legacy values for (N, H, W, C) uint8 arrays

A generated image with a single value has data range 0: its SSIM is undefined (0/0 in the
original). Such a pair gets NaN, is left out of the mean, and is counted in ``n_undefined``.

How it is computed: :mod:`bench.metrics.ssim_kernel` (compiled with Numba, run without the
GIL) does each pair in float64, the separable reflect-mode window applied to the four maps
x, y, x^2 + y^2, x*y along rows then columns at the outputs that survive the crop only; images
are divided by their data range first, so the SSIM constants are the scalars K1^2 and K2^2
(same value, rounding aside). Results agree with scipy/scikit-image to ~1e-14. ``threads``
share a batch's pairs.

The engine also serves the SSIMs of the GFLA-lineage scripts (:mod:`bench.gfla.reconstruction`):
other sigmas and tap counts, scikit-image's 51-px box window (``window="box"``) with its sample
covariance, and ``levels`` mapping the uint8 codes to the float32 / 255 values those scripts
computed with.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from bench.metrics.base import PerPairMean
from bench.metrics.masks import pose_masks, warm_masks
from bench.threads import shared_pool
from bench.types import PairBatch

K1, K2 = 0.01, 0.03
SIGMA = 1.5
WIN_SIZE = 11  # skimage's win_size with gaussian_weights=True (both versions): crop (11-1)//2
LEGACY_TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter default, used by scikit-image 0.14.2
MODERN_TRUNCATE = 3.5  # scikit-image >= 0.15
CHUNK = 4  # pairs per kernel call when threads share a batch


# -- windows -----------------------------------------------------------------------------------
def gaussian_weights(sigma: float, truncate: float) -> np.ndarray:
    """The 1-D kernel of ``scipy.ndimage.gaussian_filter1d`` (radius ``int(truncate*sigma+.5)``)."""
    radius = int(truncate * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    w = np.exp(-0.5 / (sigma * sigma) * x * x)
    return w / w.sum()


def box_weights(size: int) -> np.ndarray:
    """The 1-D kernel of ``scipy.ndimage.uniform_filter1d(size=size)`` (odd size, origin 0)."""
    if size < 1 or size % 2 != 1:
        raise ValueError(f"a box window has an odd size, found {size}")
    return np.full(size, 1.0 / size)


class SSIMEngine:
    """Batched mean SSIM for one image size and window (see the module docstring)::

        engine = SSIMEngine((128, 64), truncate=LEGACY_TRUNCATE)
        legacy, fixed = engine.mean_ssim(ref, gen, ["generated", 255.0], masks=None)

    returns, for each data range, the per-pair mean SSIM; the filtering is shared between the
    data ranges. ``threads`` > 1 scores shares of the pairs in parallel (the kernel runs
    without the GIL); results depend neither on it nor on how pairs are batched.

    The window is scikit-image's: ``window="gaussian"`` (``sigma``, taps ``truncate``) or
    ``"box"`` (``uniform_filter(size=win_size)``); the SSIM map is cropped by
    ``(win_size - 1) // 2`` per side. ``sample_covariance`` scales the (co)variances by
    NP / (NP - 1), NP = win_size^2 (scikit-image's default ``use_sample_covariance=True``).
    ``levels`` (256 values) maps the uint8 codes to the numbers the original computed with
    (e.g. ``float32(code / 255)`` for images read as float32 / 255); data ranges are then in
    those units, ``"generated"`` = levels[max] - levels[min]. Without it the codes are used.
    Masks zero the codes before the table applies (code 0 -> levels[0]).
    """

    def __init__(self, size: tuple[int, int], channels: int = 3, *, sigma: float = SIGMA,
                 truncate: float = LEGACY_TRUNCATE, win_size: int = WIN_SIZE,
                 threads: int = 1, window: str = "gaussian", sample_covariance: bool = False,
                 levels: np.ndarray | None = None) -> None:
        h, w = size
        if min(h, w) < win_size:
            raise ValueError(
                f"images of {h}x{w} are smaller than the SSIM window ({win_size}x{win_size})"
            )
        if window == "gaussian":
            weights = gaussian_weights(sigma, truncate)
        elif window == "box":
            weights = box_weights(win_size)
        else:
            raise ValueError(f"window must be 'gaussian' or 'box', found {window!r}")
        if levels is not None:
            levels = np.asarray(levels, dtype=np.float64)
            if levels.shape != (256,):
                raise ValueError(f"levels must hold 256 values, found shape {levels.shape}")
        self.levels = levels
        self.window = window
        self.cov_norm = (win_size**2 / (win_size**2 - 1)) if sample_covariance else 1.0
        self.size, self.channels = (h, w), channels
        self.sigma, self.truncate, self.crop = sigma, truncate, (win_size - 1) // 2
        self.weights = weights
        self.threads = max(1, int(threads))
        # what the kernel reads for "no table" and "no masks"
        self._table = np.arange(256, dtype=np.float64) if levels is None else levels
        self._fallback = 255.0 if levels is None else float(levels[255] - levels[0])
        self._no_masks = np.zeros((1, 1, 1), dtype=np.uint8)

    # -- public ------------------------------------------------------------------------------
    def mean_ssim(self, ref: np.ndarray, gen: np.ndarray, ranges=("generated",),
                  masks: np.ndarray | None = None) -> list[np.ndarray]:
        """Per-pair mean SSIM of uint8 (N, H, W, C) ``ref`` vs ``gen``, one array per entry of
        ``ranges``: ``"generated"`` (max - min of the generated image, after masking) or a data
        range (a number or per-pair values). ``masks`` (N, H, W) bool multiply both images.
        A data range of 0 gives NaN for that pair.
        """
        h, w = self.size
        shape = (ref.shape[0], h, w, self.channels) if ref.ndim == 4 else None
        for what, arr in (("reference", ref), ("generated", gen)):
            if arr.dtype != np.uint8 or arr.shape != shape:
                raise ValueError(f"{what} images must be uint8 {shape or '(N, H, W, C)'} for "
                                 f"this engine, found {arr.dtype} {arr.shape}")
        from bench.metrics.ssim_kernel import mean_ssim_pairs  # numba: loaded when first used

        n = ref.shape[0]
        table = np.empty((n, len(ranges)))
        for k, r in enumerate(ranges):
            if isinstance(r, str):
                if r != "generated":
                    raise ValueError(f"a data range is 'generated' or a number, found {r!r}")
                table[:, k] = np.nan
            else:
                values = np.broadcast_to(np.asarray(r, dtype=np.float64), (n,))
                if np.isnan(values).any():
                    raise ValueError("a data range must be a number, found NaN")
                table[:, k] = values
        if masks is None:
            mask_codes = self._no_masks
        else:
            if masks.shape != (n, h, w):
                raise ValueError(f"masks must be (N, H, W) = {(n, h, w)}, found {masks.shape}")
            mask_codes = np.ascontiguousarray(masks, dtype=bool).view(np.uint8)
        ref_lines = np.ascontiguousarray(ref).reshape(n, h, w * self.channels)
        gen_lines = np.ascontiguousarray(gen).reshape(n, h, w * self.channels)
        out = np.empty((n, len(ranges)))

        def run(s: int, e: int) -> None:
            if e > s:
                mean_ssim_pairs(ref_lines[s:e], gen_lines[s:e], self.channels,
                                mask_codes if masks is None else mask_codes[s:e],
                                masks is not None, self._table, self.levels is not None,
                                self.weights, self.crop, self.cov_norm, K1 * K1, K2 * K2,
                                table[s:e], self._fallback, out[s:e])

        k = min(self.threads, n)
        if k > 1:
            # Runs of CHUNK pairs, taken in turn by the calling thread and k - 1 helpers until
            # none is left: a thread that drew cheap pairs (masked ones skip empty regions)
            # takes more, so no core waits for another at the end of a batch.
            starts = iter(range(0, n, CHUNK))
            lock = threading.Lock()

            def work() -> None:
                while True:
                    with lock:
                        s = next(starts, None)
                    if s is None:
                        return
                    run(s, min(s + CHUNK, n))

            pending = [shared_pool("ssim", self.threads - 1).submit(work) for _ in range(1, k)]
            try:
                work()
            finally:
                for job in pending:
                    job.result()
        else:
            run(0, n)
        return [out[:, k].copy() for k in range(len(ranges))]


def default_threads() -> int:
    """Worker threads for the SSIM engine: ``BENCH_SSIM_THREADS`` or min(2, CPUs)."""
    env = os.environ.get("BENCH_SSIM_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            raise ValueError(f"BENCH_SSIM_THREADS must be an integer, found {env!r}") from None
    return max(1, min(2, os.cpu_count() or 1))


_ENGINES: dict[tuple, SSIMEngine] = {}
_ENGINE_LOCK = threading.Lock()


def get_engine(size: tuple[int, int], channels: int, truncate: float, *, sigma: float = SIGMA,
               win_size: int = WIN_SIZE, window: str = "gaussian",
               sample_covariance: bool = False, levels: np.ndarray | None = None) -> SSIMEngine:
    """A cached engine for (size, channels, window, covariance, levels)."""
    threads = default_threads()
    key = (tuple(size), channels, truncate, threads, sigma, win_size, window, sample_covariance,
           None if levels is None else np.asarray(levels, dtype=np.float64).tobytes())
    with _ENGINE_LOCK:
        eng = _ENGINES.get(key)
        if eng is None:
            eng = _ENGINES[key] = SSIMEngine(
                size, channels, truncate=truncate, threads=threads, sigma=sigma,
                win_size=win_size, window=window, sample_covariance=sample_covariance,
                levels=levels)
        return eng


def data_range(images: np.ndarray) -> np.ndarray:
    """Per-image ``max - min`` over all pixels and channels of uint8 (N, H, W, C), as float."""
    flat = images.reshape(images.shape[0], -1)
    return flat.max(axis=1).astype(np.float64) - flat.min(axis=1)


def ssim_per_pair(ref: np.ndarray, gen: np.ndarray, *, window: str = "legacy",
                  data_range_mode: str = "generated") -> np.ndarray:
    """Per-pair SSIM of uint8 (N, H, W, C) arrays; ``window`` 'legacy' (13 taps) or 'modern'
    (11 taps), ``data_range_mode`` 'generated' (gen max - min) or 'fixed' (255)."""
    ref, gen = _check_pair_arrays(ref, gen)
    truncates = {"legacy": LEGACY_TRUNCATE, "modern": MODERN_TRUNCATE}
    if window not in truncates:
        raise ValueError(f"window must be 'legacy' or 'modern', found {window!r}")
    if data_range_mode not in ("generated", "fixed"):
        raise ValueError(f"data_range_mode must be 'generated' or 'fixed', found {data_range_mode!r}")
    truncate = truncates[window]
    if len(gen) == 0:
        return np.empty(0)
    rng = "generated" if data_range_mode == "generated" else 255.0
    return get_engine(gen.shape[1:3], gen.shape[3], truncate).mean_ssim(ref, gen, [rng])[0]


def _check_pair_arrays(ref: np.ndarray, gen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    for name, a in (("reference", ref), ("generated", gen)):
        if not isinstance(a, np.ndarray) or a.dtype != np.uint8 or a.ndim != 4:
            found = (f"{a.dtype} array of shape {a.shape}" if isinstance(a, np.ndarray)
                     else type(a).__name__)
            raise ValueError(f"{name} images must be uint8 (N, H, W, C), found {found}")
    if ref.shape != gen.shape:
        raise ValueError(
            f"generated images have shape {gen.shape}, expected the reference shape {ref.shape}"
        )
    return ref, gen


# -- the metrics -----------------------------------------------------------------------------
_SHARED_REQUESTS = "bench.metrics.ssim/requests"
_SHARED_BATCH = "bench.metrics.ssim/batch"


def _draw_ahead(tgt_kpts: np.ndarray, size: tuple[int, int]) -> None:
    if len(tgt_kpts):
        pose_masks(tgt_kpts, size)


class _SSIMBase(PerPairMean):
    """Shared machinery; subclasses set the window, the data range and masking."""

    higher_is_better = True
    unit = None
    truncate: float = LEGACY_TRUNCATE
    range_mode: str = "generated"  # or "fixed" (255)
    masked: bool = False

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        super().__init__(shared, model)
        requests = self.shared.setdefault(_SHARED_REQUESTS, {})
        requests.setdefault((self.truncate, self.masked), set()).add(self.range_mode)

    @classmethod
    def warm_up(cls) -> None:
        """Load the compiled kernel (and the mask drawing) on a tiny pair, e.g. in a thread
        while a run prepares; the first batch then finds them loaded."""
        size = (16, 16)
        tiny = np.zeros((1, *size, 3), np.uint8)
        masks = warm_masks(size) if cls.masked else None
        get_engine(size, 3, cls.truncate).mean_ssim(tiny, tiny, ["generated"], masks)

    @property
    def prefetch(self):
        """``prefetch(tgt_kpts, size)`` for masked variants, else None: draws the pose masks of
        a batch still to come into the mask cache (the loader's thread calls it, so scoring
        finds them drawn)."""
        return _draw_ahead if self.masked else None

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        """Per-pair values, computed once per batch for every metric sharing the filtering."""
        entry = self.shared.get(_SHARED_BATCH)
        if entry is None or entry["fake"] is not fake or entry["batch"] is not batch:
            entry = {"fake": fake, "batch": batch, "values": {}}
            self.shared[_SHARED_BATCH] = entry
        key = (self.truncate, self.masked, self.range_mode)
        if key not in entry["values"]:
            wanted = self.shared.get(_SHARED_REQUESTS, {}).get(key[:2], set())
            modes = sorted(wanted | {self.range_mode}, key=("generated", "fixed").index)
            for mode, vals in zip(modes, self._compute(fake, batch, modes), strict=True):
                entry["values"][(self.truncate, self.masked, mode)] = vals
        return entry["values"][key].copy()

    def _compute(self, fake: np.ndarray, batch: PairBatch, modes: list[str]) -> list[np.ndarray]:
        n = fake.shape[0]
        if n == 0:
            return [np.empty(0) for _ in modes]
        masks = pose_masks(batch.tgt_kpts, batch.size) if self.masked else None
        ranges = ["generated" if m == "generated" else 255.0 for m in modes]
        engine = get_engine(fake.shape[1:3], fake.shape[3], self.truncate)
        return engine.mean_ssim(batch.tgt_img, fake, ranges, masks)


class SSIM(_SSIMBase):
    """PATN / Def-GAN SSIM: scikit-image 0.14.2 ``compare_ssim(target, generated,
    gaussian_weights=True, sigma=1.5, use_sample_covariance=False, multichannel=True,
    data_range=generated.max() - generated.min())``: per channel, float64, scipy
    ``gaussian_filter(sigma=1.5)`` (truncate 4.0 -> 13 taps, mode 'reflect'), population
    covariance, K1=0.01, K2=0.03, C = (K R)^2 with R the generated image's uint8 range over all
    channels, SSIM map cropped by 5 px per side and averaged; mean of the channels."""

    name = "ssim"
    version = "skimage-0.14.2"
    description = "SSIM as published (PATN/Def-GAN protocol, 13-tap Gaussian, R = gen range)"


class MaskSSIM(SSIM):
    """``ssim`` on target and generated images both multiplied by PATN's pose mask of the
    target keypoints (``produce_ma_mask``, radius 4; :mod:`bench.metrics.masks`); the data
    range is that of the masked generated image."""

    name = "mask_ssim"
    version = "skimage-0.14.2+ma_mask-r4"
    description = "mask-SSIM as published (PATN protocol, target pose mask)"
    masked = True


class SSIMSkimage(_SSIMBase):
    """Today's ``skimage.metrics.structural_similarity(target, generated, gaussian_weights=True,
    sigma=1.5, use_sample_covariance=False, channel_axis=-1,
    data_range=generated.max() - generated.min())``: as ``ssim`` but the Gaussian is truncated
    at 3.5 sigma (11 taps)."""

    name = "ssim_skimage"
    version = "skimage>=0.15-gaussian11"
    description = "SSIM with today's scikit-image defaults (11-tap Gaussian, R = gen range)"
    truncate = MODERN_TRUNCATE


class MaskSSIMSkimage(SSIMSkimage):
    """``ssim_skimage`` on the pose-masked pair (mask of the target keypoints, radius 4)."""

    name = "mask_ssim_skimage"
    version = "skimage>=0.15-gaussian11+ma_mask-r4"
    description = "mask-SSIM with today's scikit-image defaults"
    masked = True


class SSIMFixed(SSIMSkimage):
    """``ssim_skimage`` with ``data_range=255`` (fixed, not the generated image's range):
    C1 = (0.01 * 255)^2, C2 = (0.03 * 255)^2; 11-tap Gaussian, sigma 1.5."""

    name = "ssim_fixed"
    version = "skimage>=0.15-gaussian11-range255"
    description = "SSIM with a fixed data range of 255 (modern, defined for every image)"
    range_mode = "fixed"


class MaskSSIMFixed(SSIMFixed):
    """``ssim_fixed`` on the pose-masked pair (mask of the target keypoints, radius 4)."""

    name = "mask_ssim_fixed"
    version = "skimage>=0.15-gaussian11-range255+ma_mask-r4"
    description = "mask-SSIM with a fixed data range of 255"
    masked = True
