"""Reference methods that bound every metric: ``oracle`` (the ground truth) and ``source``.

They calibrate a results table: a method should beat ``source`` (copying the input image) and
cannot beat ``oracle``. Every table labels them as bounds, not methods::

    gen = Source(ModelSpec(name="source", size=(128, 64)))
    fake = gen.generate(src_img, src_kpts, tgt_kpts)        # == src_img

``oracle`` is the only generator that sees the target image: it declares ``sees_target`` and
the harness passes ``tgt_img=`` to it alone.
"""

from __future__ import annotations

import torch

from bench.models.base import ModelSpec, Provenance
from bench.models.modules import NoParameters


class Source:
    """Returns the source image unchanged: the floor any pose-transfer method must clear."""

    name = "source"
    sees_target = False
    provenance = Provenance(paper="reference bound: the source image", reference_bound=True)

    def __init__(self, spec: ModelSpec) -> None:
        self.spec = spec
        self._module = NoParameters()

    @property
    def module(self) -> torch.nn.Module:
        return self._module

    def generate(self, src_img, src_kpts, tgt_kpts):
        return src_img.clone()


class Oracle(Source):
    """Returns the ground-truth target: the ceiling of every metric (SSIM 1, LPIPS 0)."""

    name = "oracle"
    sees_target = True
    provenance = Provenance(paper="reference bound: the ground truth", reference_bound=True)

    def generate(self, src_img, src_kpts, tgt_kpts, *, tgt_img=None):
        if tgt_img is None:
            raise ValueError("oracle needs tgt_img: it is the one generator that sees the target")
        return tgt_img.clone()
