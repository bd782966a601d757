"""``fid_tv``: the GFLA-lineage scripts' FID, with torchvision's ImageNet Inception.

A metric of its own, never in a column with torch-fidelity's ``fid`` (another network, other
weights, another preprocessing). Under a script protocol (``gfla``, ``dptn``, ``pidm``,
``cfld``) it runs :mod:`bench.gfla.inception` and :mod:`bench.gfla.frechet` as that script did
(PROTOCOL.md 3.9.1):

* generated images enter as the script read them (:meth:`ScriptSteps.fid_inputs`: the files /
  255, PIDM after ``cv2.resize`` of float32 to 176x256), in the sorted order of their
  ``{src}_2_{tgt}_vis`` names; the batch-64 remainder is dropped where the script dropped it,
  and the dropped count and names go on the record;
* the real set is the training folder (``--train-folder``), read the same way (CFLD: resized
  with torchvision's bicubic to 256x176), the same remainder rule on its sorted file names;
  its features are cached by the folder's content hash, the weights and the preparation;
* the weights are the registry's ``inception-torchvision-v0`` (GFLA, DPTN) or
  ``inception-torchvision`` (PIDM, CFLD), found like every file (``--weights NAME=PATH``, the
  hub cache); when only the other one is given with ``--weights`` it is used and the record
  says so. Its SHA-256 goes on every record (``extra["weights"]``).

::

    python -m bench run --protocol pidm --dataset deepfashion --models folder:pidm=/r/pidm \\
        --train-folder /data/fashion/train_256 --weights inception-torchvision=/w/0cc3c7bd.pth
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
from PIL import Image

from bench.errors import MetricUnavailableError, WeightsUnavailableError
from bench.gfla.frechet import SCRIPT_BATCH, FrechetResult, batch_plan, frechet_distance, statistics
from bench.gfla.inception import LoadedInception, load_torchvision_inception, pool_features
from bench.gfla.protocol import ScriptSteps
from bench.metrics.base import FeatureRows, check_update_args
from bench.metrics.inception import (
    IMAGE_SUFFIXES,
    _cache_state,
    _hash_files,
    _load_cache,
    _save_cache,
)
from bench.metrics.script import DROPPED_SHOWN, result_name, script_steps
from bench.metrics.settings import MetricSettings, settings_of, shared_once
from bench.types import Metric, PairBatch
from bench.weights import resolve

CACHE_FORMAT = "bench-script-fid-features-v1"
OTHER_VERSION = {"inception-torchvision": "inception-torchvision-v0",
                 "inception-torchvision-v0": "inception-torchvision"}
_SHARED_NET = "bench.metrics.script_fid/net"
_SHARED_REAL = "bench.metrics.script_fid/real"


def choose_weights(settings: MetricSettings, wanted: str) -> tuple[str, Path, str | None]:
    """(registry name, file, note): the paper's weights version, or the other one when only
    that was given with ``--weights`` (the note says so)."""
    other = OTHER_VERSION[wanted]
    if settings.weights_path(wanted) is None and settings.weights_path(other) is not None:
        path = resolve(other, settings.weights_path(other), download=False)
        return other, path, (f"the paper's computation used {wanted}; --weights gave {other}, "
                             "used instead")
    return wanted, resolve(wanted, settings.weights_path(wanted),
                           download=settings.download), None


class ScriptNetwork:
    """The scripts' Inception wrapper with the chosen weights file (one per run)."""

    def __init__(self, settings: MetricSettings, steps: ScriptSteps) -> None:
        self.network, path, self.note = choose_weights(settings, steps.fid_weights)
        self.loaded: LoadedInception = load_torchvision_inception(path, settings.device,
                                                                  self.network)
        self.device = settings.device

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return pool_features(self.loaded.net, images, batch_size=SCRIPT_BATCH,
                             device=self.device)


def _read_rgb(path: Path) -> np.ndarray:
    try:
        with Image.open(path) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise MetricUnavailableError(f"training image {path} cannot be read: {exc}") from None


class ScriptTrainFolder:
    """The training folder's features as the script computed them: sorted file names, the
    remainder rule, batches of 64 consecutive images, cached by content hash."""

    def __init__(self, settings: MetricSettings, steps: ScriptSteps, net: ScriptNetwork) -> None:
        folder = settings.train_folder
        if folder is None:
            raise MetricUnavailableError(
                f"protocol {settings.protocol} compares with the training images, as its paper "
                "did: pass --train-folder DIR (the training images as that paper prepared them)")
        folder = Path(folder)
        files = sorted(p for p in folder.iterdir()
                       if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not files:
            raise MetricUnavailableError(
                f"no images (.jpg, .png) in the training folder {folder}")
        self.folder = folder
        self.steps = steps
        self.net = net
        self.plan = batch_plan([p.name for p in files], batch_size=SCRIPT_BATCH,
                               drop_remainder=steps.fid_drop_remainder)
        by_name = {p.name: p for p in files}
        self.files = [by_name[n] for n in self.plan.used]
        self._stats: tuple[np.ndarray, np.ndarray] | None = None
        self._pool: np.ndarray | None = None
        self.computed = 0
        self.cache_path = None
        self.cache_state = "off (--no-cache)"
        if settings.use_cache:
            digest = hashlib.sha256()
            digest.update(json.dumps({
                "format": CACHE_FORMAT, "weights_sha256": net.loaded.weights_used.sha256,
                "train_input": steps.train_input,
                "drop_remainder": steps.fid_drop_remainder}, sort_keys=True).encode())
            _hash_files(files, digest)
            self.cache_path = settings.cache_dir() / f"script-train-{digest.hexdigest()[:32]}.npz"
            cached = _load_cache(self.cache_path)
            if isinstance(cached, dict) and cached["meta"].get("script_format") == CACHE_FORMAT:
                self._pool = cached["pool"]
            elif isinstance(cached, dict):
                cached = "written by another metric"
            self.cache_state = _cache_state(self.cache_path, cached)

    def pool(self) -> np.ndarray:
        if self._pool is None:
            parts = []
            for start in range(0, len(self.files), self.plan.batch_size):
                chunk = self.files[start:start + self.plan.batch_size]
                images = [_read_rgb(p) for p in chunk]
                shapes = {im.shape for im in images} if self.steps.train_input == "files" \
                    else set()
                if len(shapes) > 1:
                    raise MetricUnavailableError(
                        f"training images in {self.folder} differ in size ({sorted(shapes)}, "
                        f"e.g. {chunk[0].name}): the script stacks them into one array, so "
                        "they must share one size")
                prepared = np.concatenate([self.steps.train_inputs(im[None]) for im in images])
                parts.append(self.net(prepared))
            self._pool = np.concatenate(parts)
            self.computed = len(self.files)
            if self.cache_path is not None:
                _save_cache(self.cache_path, [p.name for p in self.files], self._pool,
                            {"format": "bench-real-features-v1", "script_format": CACHE_FORMAT,
                             "reference": "train"})
                self.cache_state = f"written {self.cache_path}"
        return self._pool

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        if self._stats is None:
            self._stats = statistics(self.pool())
        return self._stats


class TorchvisionFID(FeatureRows, Metric):
    """The scripts' FID of the generated set against the training folder (module docstring)."""

    name = "fid_tv"
    version = "gfla-script-fid-torchvision-inception"
    higher_is_better = False
    per_pair = False
    precision = 3
    description = ("FID with torchvision's ImageNet Inception through the GFLA-lineage "
                   "scripts' wrapper, against the training folder")

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        self.steps = script_steps(shared, self.name)
        settings = settings_of(shared)
        self.net = shared_once(shared, _SHARED_NET, lambda: ScriptNetwork(settings, self.steps),
                               (WeightsUnavailableError,))
        self.real = shared_once(shared, _SHARED_REAL,
                                lambda: ScriptTrainFolder(settings, self.steps, self.net),
                                (MetricUnavailableError,))
        super().__init__(shared, model)

    def reset(self) -> None:
        self._parts: list[np.ndarray] = []
        self._names: list[str] = []
        self._result: FrechetResult | None = None
        self._plan = None

    def update(self, fake: np.ndarray, batch: PairBatch) -> None:
        check_update_args(fake, batch)
        self._parts.append(self.net(self.steps.fid_inputs(fake)))
        self._names.extend(result_name(p) for p in batch.pairs)

    def _features(self) -> np.ndarray:
        if len(self._parts) > 1:
            self._parts = [np.concatenate(self._parts)]
        return self._parts[0] if self._parts else np.empty((0, 2048), np.float32)

    def n_items(self) -> int:
        return len(self._names)

    def _used_positions(self) -> list[int]:
        """Positions (update order) of the generated images the script kept."""
        self._plan = batch_plan(self._names, batch_size=SCRIPT_BATCH,
                                drop_remainder=self.steps.fid_drop_remainder)
        position = {n: i for i, n in enumerate(self._names)}
        return [position[n] for n in self._plan.used]

    def compute(self) -> dict[str, float]:
        if len(self._names) < 2:
            return {self.name: float("nan")}
        fake = self._features()[self._used_positions()]
        mu_real, sigma_real = self.real.statistics()
        self._result = frechet_distance(mu_real, sigma_real, *statistics(fake))
        return {self.name: self._result.value}

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        """The distance on a resample of the generated images (bootstrap intervals, paired
        comparisons): the positions the remainder rule kept, against the same real set,
        through the fast equivalent of the Fréchet distance (same value to float precision,
        :func:`bench.metrics.fidelity.frechet_distance_of_features`)."""
        from bench.metrics.fidelity import frechet_distance_of_features

        kept = set(self._used_positions())
        picked = [p for p in np.asarray(positions, dtype=np.intp).tolist() if p in kept]
        if len(picked) < 2:
            return {self.name: float("nan")}
        return {self.name: frechet_distance_of_features(self._features()[picked],
                                                        self.real.pool())}

    def weights_used(self) -> dict[str, dict]:
        used = self.net.loaded.weights_used
        return {used.network: used.record()}

    def summary_extra(self) -> dict:
        import cv2
        import PIL
        import scipy

        plan, result, real = self._plan, self._result, self.real
        extra = {
            "script_key": "fid", **self.steps.record(), "reference": "train",
            "train_folder": str(real.folder), "real_images": len(real.files),
            "real_dropped": len(real.plan.dropped),
            "real_dropped_names": list(real.plan.dropped[:DROPPED_SHOWN]),
            "real_cache": real.cache_state, "real_computed": real.computed,
            "fake_images": len(plan.used) if plan else 0,
            "dropped": len(plan.dropped) if plan else 0,
            "dropped_names": list(plan.dropped[:DROPPED_SHOWN]) if plan else [],
            "batch_size": SCRIPT_BATCH,
            "inception": self.net.network,
            "filled_keys": len(self.net.loaded.filled_keys),
            "scipy": scipy.__version__, "opencv": cv2.__version__, "pillow": PIL.__version__,
        }
        if self.net.note:
            extra["weights_note"] = self.net.note
        if result is not None:
            extra.update(retried=result.retried, max_imag=result.max_imag,
                         sqrtm_warnings=list(result.warnings))
        return extra
