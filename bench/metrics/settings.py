"""Run-level settings of the learned-network metrics, handed to every metric through ``shared``.

A metric is built as ``cls(shared, model=name)``; what the run decided (device, weight files,
the real-statistics cache, pose estimator, reference set, bootstrap) travels in one frozen
:class:`MetricSettings` stored in ``shared``::

    from bench.metrics.settings import MetricSettings, settings_of, with_settings
    shared = with_settings({}, MetricSettings(device="cpu", download=False))
    settings_of(shared).device          # 'cpu'; a bare dict gives the defaults
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

SETTINGS_KEY = "bench/metric-settings"


def default_cache_dir() -> Path:
    """``$BENCH_CACHE/real-stats`` (default ``~/.cache/ctat-bench/real-stats``)."""
    root = os.environ.get("BENCH_CACHE")
    base = Path(root) if root else Path.home() / ".cache" / "ctat-bench"
    return base / "real-stats"


@dataclass(frozen=True)
class MetricSettings:
    device: str = "cpu"  # torch device of the metric networks
    weights: tuple[tuple[str, str], ...] = ()  # (network, explicit path), see bench.weights
    download: bool = True  # fetch missing weights as the libraries do (False: --offline)
    stats_cache: Path | None = None  # real statistics; None: default_cache_dir()
    use_cache: bool = True  # False: --no-cache (neither read nor written)
    keypoints: tuple[tuple[str, str], ...] = ()  # (model, CSV of its estimated keypoints)
    pose_estimator: str | None = None  # PCKh estimator when no CSV is given (None: by dataset)
    dataset: str = "synthetic"
    train_folder: Path | None = None  # FID/KID real set when the protocol asks for training images
    fid_reference: str = "targets"  # "targets" (same pairs) or "train" (a training folder)
    protocol: str = "patn"
    protocol_version: str = "1"
    padded_width: int | None = None  # the protocol's white padding width, if any
    batch_size: int = 32  # the run's batch: the most a metric network is handed at once
    network_batch: int | None = None  # --network-batch (None: probed on a GPU, bench.device_batch)
    is_splits: int = 10
    seed: int = 2020  # IS shuffling, KID subsets (torch-fidelity's default seed)
    kid_subsets: int = 100
    kid_subset_size: int = 1000
    bootstrap: int = 1000  # resamples for confidence intervals (0: none)
    bootstrap_set: int = 100  # resamples for set-level metrics (FID, KID, IS) - each costs a fit
    confidence: float = 0.95
    pairs_sha256: str = ""
    image_dir: Path | None = None  # the dataset's images (content hash of the real set)
    real_per_model: bool = False  # the ground truth differs per model (patn-strips)
    target_names: tuple[str, ...] = ()  # distinct target images of the evaluated pairs, in order
    # the position of each target's first pair in the evaluated list (aligned with target_names):
    # the batch that first meets a target computes its real features, in whichever work unit
    target_first: tuple[int, ...] = ()
    # the files in image_dir holding them (target_names, or a script's own names: PIDM's
    # deep{stem}.png); empty: the names themselves
    target_files: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None  # (H, W) of the dataset images before padding

    def weights_path(self, network: str) -> str | None:
        for name, path in self.weights:
            if name == network:
                return path
        return None

    def keypoints_csv(self, model: str | None) -> str | None:
        for name, path in self.keypoints:
            if name == model:
                return path
        return None

    def scored_size(self) -> tuple[int, int]:
        """(H, W) of the images the metrics see: the dataset's, at the protocol's padded width
        (a device probe's blank inputs; 256 x 256 when not known)."""
        h, w = self.image_size or (256, 256)
        return h, self.padded_width or w

    def cache_dir(self) -> Path:
        return Path(self.stats_cache) if self.stats_cache is not None else default_cache_dir()


def settings_of(shared: dict) -> MetricSettings:
    return shared.get(SETTINGS_KEY) or MetricSettings()


def with_settings(shared: dict, settings: MetricSettings) -> dict:
    shared[SETTINGS_KEY] = settings
    return shared


def shared_once(shared: dict, key: str, build, errors: tuple = ()):
    """``shared[key]``, built by ``build()`` on first use; an exception of ``errors`` raised by
    the build is remembered and re-raised on every later use, never retried."""
    entry = shared.get(key)
    if entry is None:
        try:
            entry = build()
        except errors as exc:
            entry = exc
        shared[key] = entry
    if isinstance(entry, Exception):
        raise entry
    return entry
