"""Harness adapter for PG2: keypoints and [0, 1] images in, [0, 1] images out.

    python -m baselines.pg2 convert Market1501/model.ckpt-59999 pg2-market.pt
    python -m bench run --models pg2 --dataset market --checkpoint pg2=pg2-market.pt
    python -m bench run --models pg2                           # synthetic: seeded, "untrained"
    python -m bench run --models pg2 --dataset deepfashion --checkpoint pg2=untrained

    from bench.models import GENERATORS, ModelSpec
    gen = GENERATORS.get("pg2")(ModelSpec(name="pg2", size=(128, 64), checkpoint=path))
    fake = gen.generate(src_img, src_kpts, tgt_kpts)     # (N, 3, 128, 64) float32 in [0, 1]
    gen.module                                           # PG2Generator: G1 and G2 (efficiency)
    gen.module.example_inputs(batch=1)                   # (image, target disks), both [-1, 1]

Weights: a file converted from the official TensorFlow checkpoints (``--checkpoint pg2=PATH``,
see :mod:`baselines.pg2.convert`). Without one the generator runs seeded initial weights, on
the synthetic sets or when asked for with ``--checkpoint pg2=untrained`` (``ModelSpec(
untrained=True)``; what efficiency measurements use); every record then says ``untrained``.

Sizes: the network's fully connected bottleneck fixes its input size. Weights built for the
dataset's size run as they are; DeepFashion's official weights are 256x256 (models256.py) and
run on the harness's 256x176 images by centre-padding them to 256x256 with replicated edge
columns (restoring the frame PATN's 176-wide crop removed; keypoints move +40 px) and cropping
the output back. Seeded weights for 256x176 images are built the same way (256x256 network), so
the module that is counted and timed is the one the official weights run in.
"""

from __future__ import annotations

import torch

from baselines.pg2.checkpoint import CONVERT_HINT, load_pg2_checkpoint
from baselines.pg2.network import PG2Config, PG2Generator, check_size
from bench.data import DATASETS
from bench.errors import ModelUnavailableError
from bench.models.base import UNTRAINED, ModelSpec, Provenance, Weights
from ctat.checkpoint import state_sha256

#: Image sizes whose seeded network is built at the original data's larger frame.
ORIGINAL_FRAMES = {(256, 176): (256, 256)}  # DeepFashion: PATN crops 40 px off each side


def network_size(image_size: tuple[int, int]) -> tuple[int, int]:
    """The size the official PG2 network runs at for images of ``image_size``."""
    return ORIGINAL_FRAMES.get(tuple(image_size), tuple(image_size))


class PG2Adapter:
    name = "pg2"
    sees_target = False
    provenance = Provenance(
        paper="Ma, Jia, Sun, Schiele, Tuytelaars, Van Gool. Pose Guided Person Image "
              "Generation. NeurIPS 2017",
        code="github.com/charliememory/Pose-Guided-Person-Image-Generation (TensorFlow; "
             "re-implemented in baselines/pg2/, official weights converted)",
        notes="both stages (G1 + G2 difference map); 256x176 images run centre-padded in the "
              "256x256 network; the published 437.09 M counts every checkpoint variable "
              "(G1, G2, D, Adam slots), not the generator (baselines/pg2/README.md)",
    )

    def __init__(self, spec: ModelSpec, config: PG2Config | None = None) -> None:
        self.spec = spec
        image_size = tuple(spec.size)
        if spec.checkpoint is not None:
            ckpt = load_pg2_checkpoint(spec.checkpoint, image_size=image_size)
            net = ckpt.build()
            self.weights = Weights(label=str(spec.checkpoint), sha256=ckpt.file_sha256)
            self.trained = {"dataset": ckpt.dataset, "source": ckpt.source}
        else:
            dataset = DATASETS.get(spec.dataset) if spec.dataset in DATASETS else None
            synthetic = dataset is not None and dataset.synthetic is not None
            if not (spec.untrained or synthetic):
                raise ModelUnavailableError(
                    f"pg2: no checkpoint given for {spec.dataset}. Convert the official "
                    f"weights ({CONVERT_HINT}) and pass --checkpoint pg2=PATH, or "
                    f"--checkpoint pg2={UNTRAINED} to score seeded untrained weights (labelled "
                    "untrained; not a trained model's numbers)"
                )
            try:
                size = check_size(network_size(image_size))
            except ValueError as exc:
                raise ModelUnavailableError(f"pg2: {exc}") from None
            net = PG2Generator(config or PG2Config.for_dataset(spec.dataset), size,
                               seed=spec.seed)
            self.weights = Weights(label=UNTRAINED, sha256=state_sha256(net.state_dict()))
            self.trained = None
        self.image_size = image_size
        self._net = net.to(spec.device).eval()

    @property
    def module(self) -> PG2Generator:
        """The exact inference module: G1 and G2 (its input is the network's frame, e.g.
        256x256 for DeepFashion, with ``example_inputs``)."""
        return self._net

    @torch.no_grad()
    def generate(self, src_img: torch.Tensor, src_kpts: torch.Tensor,
                 tgt_kpts: torch.Tensor) -> torch.Tensor:
        return self._net.render(src_img, src_kpts, tgt_kpts)
