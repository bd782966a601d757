"""The torch module of the training-free methods (``oracle``, ``source``, ``warp``): nothing to
count, nothing to time. Kept out of :mod:`bench.models.base` so that building a run's
models imports torch only when one of them runs a network.

    from bench.models.modules import NoParameters
    adapter.module = NoParameters()   # the efficiency probe records "not applicable"
"""

from __future__ import annotations

import torch


class NoParameters(torch.nn.Module):
    """The ``module`` of a training-free method: nothing to count, nothing to time on a GPU."""

    def forward(self, src_img, src_kpts, tgt_kpts):  # pragma: no cover - never called
        return src_img
