"""One Inception pass per image set, shared by IS, mask-IS, FID and KID (torch-fidelity).

The network is torch-fidelity's ``inception-v3-compat``: the TF ``inception-2015-12-05`` graph
that PATN's IS and TTUR's FID ran, ported to PyTorch with TF 1.x's bilinear resize to 299 done
inside (PROTOCOL.md 3.5), fed uint8 images at their native size. One forward gives both the
2048-d pool features (FID, KID) and the 1008-way logits without bias (IS: PATN multiplied
``pool_3`` by the ``softmax/logits/MatMul`` weights, no bias)::

    from bench.metrics.inception import shared_inception
    inception = shared_inception(shared)                 # built once per run (or the reason)
    pool, logits = inception.fake_features(fake, batch)  # memoised per batch: one pass
    pool_m, logits_m = inception.fake_features(fake, batch, masked=True)   # mask-IS
    real = shared_real_set(shared)                       # targets of the pairs, cached on disk

Generated images are batched as the run batches them; real images are passed once per distinct
image per run, and their features are cached on disk under a key that hashes the image file
contents, the pair list, the protocol and the extractor (weights checksum, library version).
"""

from __future__ import annotations

import hashlib
import io
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from bench.device_batch import BatchSizes, batch_sizes
from bench.errors import MetricUnavailableError, WeightsUnavailableError
from bench.files import write_atomic
from bench.metrics.masks import pose_masks
from bench.metrics.settings import MetricSettings, settings_of, shared_once
from bench.types import PairBatch
from bench.weights import load_state_dict, resolve

EXTRACTOR = "inception-v3-compat"
POOL, LOGITS = "2048", "logits_unbiased"
CACHE_FORMAT = "bench-real-features-v1"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")

_SHARED_NET = "bench.metrics.inception/net"
_SHARED_REAL = "bench.metrics.inception/real"


def _torch_fidelity():
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module="torchvision")
        import torch_fidelity
        import torch_fidelity.utils
    return torch_fidelity


class InceptionFeatures:
    """torch-fidelity's InceptionV3 on the run's device, with a per-batch memo.

    The weights file is read by :func:`bench.weights.load_state_dict` (data only) and handed
    to torch-fidelity as tensors: its own loader would unpickle the file with
    ``torch.load(weights_only=False)``, so it only ever sees a buffer we serialised from the
    checked tensors. ``weights_used`` says which file it was (SHA-256, published or not)."""

    def __init__(self, settings: MetricSettings, sizes: BatchSizes | None = None) -> None:
        path = resolve("inception-fid", settings.weights_path("inception-fid"),
                       download=settings.download)
        state, self.weights_used = load_state_dict("inception-fid", path)
        tf = _torch_fidelity()
        try:
            net = tf.utils.create_feature_extractor(
                EXTRACTOR, [POOL, LOGITS], cuda=False, verbose=False,
                feature_extractor_weights_path=_tensors_only_buffer(state))
        except (RuntimeError, KeyError, ValueError, OSError, EOFError) as exc:
            raise WeightsUnavailableError(
                f"Inception weights {path} could not be loaded: {type(exc).__name__}: "
                f"{str(exc)[:300]}") from None
        self.net = net.to(settings.device)
        self.device = settings.device
        self.batch_size = settings.batch_size
        if sizes is not None:  # the chunk that fills the device (bench.device_batch)
            size = settings.scored_size()
            self.batch_size = sizes.of("inception-fid", lambda k: self._forward(
                np.zeros((k, *size, 3), np.uint8)))
        self.extractor_id = (f"torch-fidelity {tf.__version__} {EXTRACTOR} "
                             f"sha256:{self.weights_used.sha256[:16]}")
        self._memo: dict = {}

    def __call__(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """uint8 (N, H, W, 3) -> float32 pool (N, 2048), logits (N, 1008)."""
        pools, logits = [], []
        for start in range(0, len(images), self.batch_size):
            pool, logit = self._forward(images[start:start + self.batch_size])
            pools.append(pool)
            logits.append(logit)
        if not pools:
            return np.empty((0, 2048), np.float32), np.empty((0, 1008), np.float32)
        return np.concatenate(pools), np.concatenate(logits)

    def _forward(self, part: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One pass of the network over uint8 (n, H, W, 3) images."""
        x = torch.from_numpy(np.ascontiguousarray(part)).permute(0, 3, 1, 2).to(self.device)
        with torch.inference_mode():
            pool, logit = self.net(x)
        return pool.float().cpu().numpy(), logit.float().cpu().numpy()

    def fake_features(self, fake: np.ndarray, batch: PairBatch, masked: bool = False):
        """Features of a batch of generated images (optionally pose-masked), computed once
        however many metrics ask for them."""
        memo = self._memo
        if memo.get("fake") is not fake or memo.get("batch") is not batch:
            memo.clear()
            memo.update(fake=fake, batch=batch)
        if masked not in memo:
            images = fake
            if masked:
                masks = pose_masks(batch.tgt_kpts, batch.size)
                images = fake * masks[..., None].astype(np.uint8)
            memo[masked] = self(images)
        return memo[masked]


def _tensors_only_buffer(state: dict[str, torch.Tensor]) -> io.BytesIO:
    """What torch-fidelity's extractor reads instead of the user's file: the checked tensors
    (a dict of plain tensors, nothing else), serialised by us into memory."""
    buffer = io.BytesIO()
    torch.save({k: v.detach() for k, v in state.items()}, buffer)
    buffer.seek(0)
    return buffer


def shared_inception(shared: dict) -> InceptionFeatures:
    """The run's Inception, built on first use; a failure is remembered and re-raised."""
    return shared_once(shared, _SHARED_NET,
                       lambda: InceptionFeatures(settings_of(shared), batch_sizes(shared)),
                       (WeightsUnavailableError,))


# -- the real set -------------------------------------------------------------------------


def _hash_files(paths, digest) -> None:
    for path in paths:
        digest.update(path.name.encode() + b"\0")
        try:
            digest.update(hashlib.sha256(path.read_bytes()).digest())
        except OSError:
            digest.update(b"<unreadable>")


def _load_cache(path: Path) -> dict | str:
    """The cached features, or why the file was not used (absent, unreadable, of another
    format). Read as data only (``allow_pickle=False``): a file holding pickled objects is
    refused, then recomputed and rewritten."""
    if not path.is_file():
        return "absent"
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta.get("format") != CACHE_FORMAT:
                return f"format {meta.get('format')!r}, expected {CACHE_FORMAT!r}"
            return {"names": list(meta["names"]), "pool": data["pool"].astype(np.float32),
                    "meta": meta}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"unreadable ({type(exc).__name__}: {' '.join(str(exc).split())[:160]})"


def _cache_state(path: Path, cached: dict | str) -> str:
    if isinstance(cached, dict):
        return f"hit {path}"
    if cached == "absent":
        return f"miss {path}"
    return f"miss {path}: not used, {cached}; recomputed"


def _save_cache(path: Path, names: list[str], pool: np.ndarray, meta: dict) -> None:
    """Write atomically under a name of this process's own, so concurrent writers (the ranks
    of a sharded run, two runs sharing a cache) never interleave: the last rename wins, and
    every writer of a key writes the same content."""
    buffer = io.BytesIO()
    np.savez(buffer, pool=pool, meta=np.array(json.dumps({**meta, "names": names})))
    write_atomic(path, buffer.getvalue())


class RealTargets:
    """Pool features of the target images of the evaluated pairs, one pass per distinct image
    (shared by every model of the run), cached on disk by content hash."""

    reference = "targets"

    def __init__(self, settings: MetricSettings, net: InceptionFeatures) -> None:
        self.settings = settings
        self.net = net
        self._rows: dict[str, np.ndarray] = {}
        self.cache_path: Path | None = None
        self.cache_state = "off (--no-cache)" if not settings.use_cache else "no image folder"
        if settings.use_cache and settings.image_dir is not None and settings.target_names:
            digest = hashlib.sha256()
            digest.update(json.dumps({
                "format": CACHE_FORMAT, "extractor": net.extractor_id, "reference": "targets",
                "protocol": [settings.protocol, settings.protocol_version],
                "padded_width": settings.padded_width, "pairs_sha256": settings.pairs_sha256,
            }, sort_keys=True).encode())
            _hash_files([Path(settings.image_dir) / n
                         for n in settings.target_files or settings.target_names], digest)
            self.key = digest.hexdigest()
            self.cache_path = settings.cache_dir() / f"targets-{self.key[:32]}.npz"
            cached = _load_cache(self.cache_path)
            if isinstance(cached, dict):
                self._rows = dict(zip(cached["names"], cached["pool"], strict=True))
            self.cache_state = _cache_state(self.cache_path, cached)
        self._cached = dict(self._rows)
        self._first = dict(zip(settings.target_names, settings.target_first, strict=False))
        self._owned: set[str] = set()  # rows of this unit computed by their first pair's batch
        self._saved = self.cache_state.startswith("hit")
        self.computed = 0  # images passed through Inception in this run

    def start_unit(self) -> None:
        """Forget the rows computed for earlier work units (cached rows stay): a unit computes
        the targets it needs in the same batches whichever process ran the units before it.
        The merge starts so too, then counts the rows it adopts (``computed``)."""
        self._rows = dict(self._cached)
        self._owned = set()
        self.computed = 0

    def owned(self, names) -> np.ndarray:
        """Which of ``names`` this unit computed in the batch of their first pair."""
        return np.array([n in self._owned for n in names], bool)

    def adopt(self, names: list[str], pool: np.ndarray, owned: np.ndarray | None = None) -> None:
        """Rows computed by a work unit (the merge). A cached row is never replaced; otherwise
        the row computed by the batch of the target's first pair wins (what one process
        computes), else the first unit's."""
        for name, row, first in zip(names, pool, owned if owned is not None
                                    else np.zeros(len(names), bool), strict=True):
            if name in self._cached:
                continue
            if name not in self._rows or (first and name not in self._owned):
                if name not in self._rows:
                    self.computed += 1
                self._rows[name] = row
                if first:
                    self._owned.add(name)

    def add(self, batch: PairBatch) -> None:
        """Compute features of targets not seen yet (each distinct image once). The targets
        whose first pair of the run is in this batch go through Inception together, the
        batch one process forms; others (first met in an earlier unit) in a pass of their own,
        used only when that unit has no row for them."""
        first: dict[str, int] = {}
        later: dict[str, int] = {}
        for i, pair in enumerate(batch.pairs):
            name = pair.tgt
            if name in self._rows or name in first or name in later:
                continue
            if self._first.get(name, pair.index) == pair.index:
                first[name] = i
            else:
                later[name] = i
        for todo, owned in ((first, True), (later, False)):
            if todo:
                pool, _ = self.net(batch.tgt_img[list(todo.values())])
                for name, row in zip(todo, pool, strict=True):
                    self._rows[name] = row
                    if owned:
                        self._owned.add(name)
                self.computed += len(todo)

    def features(self, names) -> np.ndarray:
        return np.stack([self._rows[n] for n in names]) if names else np.empty((0, 2048))

    def save(self) -> None:
        """Write the cache once every target of the run is known (never a partial set)."""
        if self._saved or self.cache_path is None:
            return
        names = list(self.settings.target_names)
        if not all(n in self._rows for n in names):
            return
        _save_cache(self.cache_path, names, self.features(names),
                    {"format": CACHE_FORMAT, "extractor": self.net.extractor_id,
                     "protocol": self.settings.protocol, "reference": "targets"})
        self._saved = True
        self.cache_state = f"written {self.cache_path}"


class RealFolder:
    """Pool features of every image of a training-image folder (the GFLA/DPTN/PIDM real set),
    computed on first use and cached by the folder's content hash."""

    reference = "train"

    def __init__(self, settings: MetricSettings, net: InceptionFeatures) -> None:
        folder = settings.train_folder
        if folder is None:
            raise MetricUnavailableError(
                f"protocol {settings.protocol} compares with training images: pass "
                "--train-folder DIR (the training images, e.g. PATN's train/ folder)")
        folder = Path(folder)
        self.files = sorted(p for p in folder.iterdir()
                            if p.suffix.lower() in IMAGE_SUFFIXES) if folder.is_dir() else []
        if not self.files:
            raise MetricUnavailableError(f"no images (.jpg, .png) in the training folder {folder}")
        self.settings = settings
        self.net = net
        self.folder = folder
        self._pool: np.ndarray | None = None
        self.cache_path = None
        self.cache_state = "off (--no-cache)"
        if settings.use_cache:
            digest = hashlib.sha256()
            digest.update(json.dumps({
                "format": CACHE_FORMAT, "extractor": net.extractor_id, "reference": "train",
                "protocol": [settings.protocol, settings.protocol_version],
                "padded_width": settings.padded_width}, sort_keys=True).encode())
            _hash_files(self.files, digest)
            self.cache_path = settings.cache_dir() / f"train-{digest.hexdigest()[:32]}.npz"
            cached = _load_cache(self.cache_path)
            if isinstance(cached, dict):
                self._pool = cached["pool"]
            self.cache_state = _cache_state(self.cache_path, cached)
        self.computed = 0

    def add(self, batch: PairBatch) -> None:
        pass  # the real set does not come from the pairs

    def pool(self) -> np.ndarray:
        if self._pool is None:
            from PIL import Image

            from bench.protocols import PROTOCOLS

            protocol = PROTOCOLS.get(self.settings.protocol)
            groups: dict[tuple, list[np.ndarray]] = {}  # by size: one batch shape each
            for path in self.files:
                with Image.open(path) as im:
                    image = np.asarray(im.convert("RGB"))
                groups.setdefault(image.shape, []).append(image)
            parts = []
            for images in groups.values():
                stacked = protocol.pad_images(np.stack(images), self.settings.padded_width)
                parts.append(self.net(stacked)[0])
            self._pool = np.concatenate(parts)
            self.computed = len(self.files)
            if self.cache_path is not None:
                _save_cache(self.cache_path, [p.name for p in self.files], self._pool,
                            {"format": CACHE_FORMAT, "extractor": self.net.extractor_id,
                             "protocol": self.settings.protocol, "reference": "train"})
                self.cache_state = f"written {self.cache_path}"
        return self._pool


def shared_real_set(shared: dict, model: str | None = None, reference: str | None = None
                    ) -> RealTargets | RealFolder:
    """The run's real set for FID/KID, as the protocol names it (targets or a train folder),
    or ``reference`` when a metric fixes it (``fid_train``); one per model where the protocol
    takes the ground truth from each model's results."""
    settings = settings_of(shared)
    reference = reference or settings.fid_reference
    key = f"{_SHARED_REAL}/{reference}"
    if settings.real_per_model and reference == "targets":
        key += f"/{model}"

    def build() -> RealTargets | RealFolder:
        net = shared_inception(shared)
        if reference == "train":
            return RealFolder(settings, net)
        if reference == "targets":
            return RealTargets(settings, net)
        raise MetricUnavailableError(f"unknown FID reference set {reference!r} "
                                     "(expected 'targets' or 'train')")

    return shared_once(shared, key, build, (MetricUnavailableError,))
