"""The one object a run is configured by: a frozen :class:`RunConfig`, resolved before work.

    config = RunConfig(models=("oracle", "source", "pata"), dataset="synthetic", limit=64)
    config = config.resolved()       # canonical names (pata -> patn); UnknownNameError on typos

Options keyed by model (``checkpoints``, ``keypoints``) name a model of the run: a results
folder by its NAME, a registry model by any of its names (:func:`bench.selection.model_of_run`)::

    RunConfig(models=("folder:defgan=/results/defgan",),
              keypoints=(("defgan", "/results/defgan-openpose.csv"),)).resolved()
    config.to_json()                 # what results/<run>/config.json holds

Results folders are models too: an entry ``folder:NAME=PATH[,panels=K,panel=I,target=J]`` in
``models`` (or a :class:`bench.models.folder.FolderSpec` in ``folders``) resolves to the name
NAME in ``models`` and its spec in ``folders``::

    RunConfig(models=("warp", "folder:defgan=/results/defgan")).resolved()
    # models=("warp", "defgan"), folders=(FolderSpec(name="defgan", path="/results/defgan"),)

"Not given" is ``None``, never a falsy value, so an explicit 0 is never mistaken for a default.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from bench.errors import BenchError

if TYPE_CHECKING:
    from bench.models.folder import FolderSpec

DEFAULT_MODELS = ("oracle", "source", "warp")
DEFAULT_DATASET = "synthetic"
#: The run's batch when --batch-size is not given: on a CPU, and on a GPU (where each network
#: then runs it in chunks of the size that fills the device: bench.device_batch).
CPU_BATCH, GPU_BATCH = 32, 256


@dataclass(frozen=True)
class RunConfig:
    models: tuple[str, ...] = DEFAULT_MODELS
    dataset: str = DEFAULT_DATASET
    data_root: Path | None = None
    split: str = "test"
    metrics: tuple[str, ...] | None = None  # None: the protocol's (Protocol.default_metrics)
    protocol: str | None = None  # None: bench.protocols.DEFAULT_PROTOCOL
    limit: int | None = None  # the first N pairs in file order
    subset: int | None = None  # a seeded sample of N pairs (file order kept)
    seed: int = 0  # pair sampling, synthetic data, untrained weights
    batch_size: int | None = None  # pairs per batch; None: CPU_BATCH, or GPU_BATCH on cuda
    device: str = "cpu"
    out: Path | None = None  # None: results/<run_id>
    save_images: bool = True
    decode_threads: int = 2  # image decoding threads (per process)
    unit_size: int = 256  # pairs per work unit (rounded up to whole batches): bench.plan
    checkpoints: tuple[tuple[str, str], ...] = ()  # (model, path) pairs
    weights: tuple[tuple[str, str], ...] = ()  # (network, path): see bench.weights
    offline: bool = False  # never download missing weights
    stats_cache: Path | None = None  # real-statistics cache (None: $BENCH_CACHE/real-stats)
    use_cache: bool = True  # False: --no-cache
    keypoints: tuple[tuple[str, str], ...] = ()  # (model, CSV of keypoints estimated on its images)
    pose_estimator: str | None = None  # PCKh estimator (None: markers on synthetic sets)
    train_folder: Path | None = None  # training images: FID/KID real set of protocols that ask
    bootstrap: int = 1000  # bootstrap resamples of every interval (0: none)
    confidence: float = 0.95
    folders: tuple[FolderSpec, ...] = ()  # the results-folder models (folder:NAME=PATH)
    efficiency: bool = True  # learned models: parameters, MACs, latency, memory (bench.efficiency)
    precision: str = "fp32"  # generation under autocast: fp32 (none), bf16, fp16 (bench.precision)
    efficiency_cuda_graphs: bool = False  # also time CUDA graph replay (--cuda-graphs)
    efficiency_compile: str | None = None  # also time torch.compile in this mode (--compile)
    network_batch: int | None = None  # each network's chunk (None: probed on a GPU)

    def _resolve_models(self) -> tuple[tuple[str, ...], tuple]:
        """(model names, folder specs): ``folder:`` entries parsed, registry names canonical."""
        from bench.models import GENERATORS
        from bench.models.folder import FolderSpec, is_folder_entry

        specs = {}
        for spec in self.folders:
            spec = FolderSpec(**spec) if isinstance(spec, dict) else spec
            spec.validate()
            specs.setdefault(spec.name, spec)
        names = []
        for entry in self.models:
            if is_folder_entry(entry):
                spec = FolderSpec.parse(entry)
                if spec.name in specs and specs[spec.name] != spec:
                    raise BenchError(f"two results folders are named {spec.name!r}")
                specs[spec.name] = spec
                names.append(spec.name)
            elif entry in specs:
                names.append(entry)
            else:
                names.append(GENERATORS.canonical(entry))
        names.extend(n for n in specs if n not in names)
        for name in specs:
            if name in GENERATORS:
                raise BenchError(
                    f"folder:{name}=... is named like the registered model {name!r}; "
                    f"choose another NAME (e.g. folder:{name}-results=PATH)"
                )
        return tuple(dict.fromkeys(names)), tuple(specs.values())

    def resolved(self) -> RunConfig:
        """Validate every name against its registry; canonical names, duplicates removed."""
        from bench.data import DATASETS
        from bench.metrics import METRICS
        from bench.protocols import DEFAULT_PROTOCOL, PROTOCOLS
        from bench.selection import model_of_run

        if not self.models and not self.folders:
            raise BenchError("no models given: pass --models, e.g. --models oracle,source,warp")
        models, folders = self._resolve_models()
        protocol = PROTOCOLS.get(PROTOCOLS.canonical(self.protocol or DEFAULT_PROTOCOL))
        metrics = tuple(
            dict.fromkeys(METRICS.canonical(m)
                          for m in (self.metrics or protocol.default_metrics()))
        )
        checkpoints = tuple((model_of_run(m, models, "--checkpoint"), p)
                            for m, p in self.checkpoints)
        for model, _ in checkpoints:
            folder = next((f for f in folders if f.name == model), None)
            if folder is not None:
                raise BenchError(
                    f"--checkpoint given for {model!r}, a results folder "
                    f"(folder:{model}={folder.path}): its images are read from files, it has no "
                    "weights; remove --checkpoint for it"
                )
        keypoints = tuple((model_of_run(m, models, "--keypoints"), p) for m, p in self.keypoints)
        from bench.weights import WEIGHTS

        weights = tuple((WEIGHTS.canonical(n), p) for n, p in self.weights)
        if self.pose_estimator is not None:
            from bench.pose import ESTIMATORS

            ESTIMATORS.canonical(self.pose_estimator)
        if self.bootstrap < 0:
            raise BenchError(f"--bootstrap must be 0 (none) or more, got {self.bootstrap}")
        if not 0 < self.confidence < 1:
            raise BenchError(f"--confidence must be between 0 and 1, got {self.confidence}")
        batch_size = self.batch
        if batch_size < 1:
            raise BenchError(f"--batch-size must be at least 1, got {batch_size}")
        if self.network_batch is not None and self.network_batch < 1:
            raise BenchError(f"--network-batch must be at least 1, got {self.network_batch}")
        if self.unit_size < 1:
            raise BenchError(f"--unit-size must be at least 1 pair, got {self.unit_size}")
        from bench.precision import check_precision

        try:
            check_precision(self.precision)
        except ValueError as exc:
            raise BenchError(f"--{exc}") from None

        from bench.efficiency import COMPILE_MODES

        if self.efficiency_compile not in (None, *COMPILE_MODES):
            raise BenchError(f"--compile takes one of torch.compile's modes "
                             f"({', '.join(COMPILE_MODES)}), got {self.efficiency_compile!r}")
        return dataclasses.replace(
            self,
            models=models,
            dataset=DATASETS.canonical(self.dataset),
            metrics=metrics,
            protocol=PROTOCOLS.canonical(self.protocol or DEFAULT_PROTOCOL),
            checkpoints=checkpoints,
            folders=folders,
            keypoints=keypoints,
            weights=weights,
            batch_size=batch_size,
        )

    @property
    def batch(self) -> int:
        """The run's batch: ``batch_size``, else CPU_BATCH (GPU_BATCH on a CUDA device)."""
        if self.batch_size is not None:
            return self.batch_size
        return GPU_BATCH if str(self.device).startswith("cuda") else CPU_BATCH

    def folder_for(self, model: str):
        """The FolderSpec of a results-folder model (of a resolved config), else None."""
        return next((f for f in self.folders if f.name == model), None)

    def checkpoint_for(self, model: str) -> Path | None:
        for name, path in self.checkpoints:
            if name == model:
                return Path(path)
        return None

    def to_dict(self) -> dict:
        data = dataclasses.asdict(self)
        for key in ("data_root", "out", "stats_cache", "train_folder"):
            data[key] = None if data[key] is None else str(data[key])
        data["checkpoints"] = {m: str(p) for m, p in self.checkpoints}
        data["folders"] = [dict(f) for f in data["folders"]]
        data["keypoints"] = {m: str(p) for m, p in self.keypoints}
        data["weights"] = {m: str(p) for m, p in self.weights}
        return data

    @classmethod
    def from_dict(cls, data: dict) -> RunConfig:
        """The configuration :meth:`to_dict` wrote (``config.json``; other keys ignored). A run
        folder of a version that named the decoding threads ``workers`` reads as well."""
        from bench.models.folder import FolderSpec

        fields = {f.name for f in dataclasses.fields(cls)}
        data = dict(data)
        if "workers" in data and "decode_threads" not in data:
            data["decode_threads"] = data["workers"]
        kw = {k: v for k, v in data.items() if k in fields}
        for key in ("data_root", "out", "stats_cache", "train_folder"):
            if kw.get(key) is not None:
                kw[key] = Path(kw[key])
        for key in ("checkpoints", "keypoints", "weights"):
            if key in kw:
                kw[key] = tuple((str(m), str(p)) for m, p in dict(kw[key]).items())
        for key in ("models", "metrics"):
            if kw.get(key) is not None:
                kw[key] = tuple(kw[key])
        if "folders" in kw:
            kw["folders"] = tuple(FolderSpec(**f) for f in kw["folders"])
        return cls(**kw)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
