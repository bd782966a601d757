"""The arithmetic a generator runs in: float32, or autocast to bfloat16 / float16 (opt in).

    python -m bench run --models ctat,pg2,patn --precision bf16

    from bench.precision import autocast, model_precision
    with autocast("cpu", "bf16"):              # torch.autocast; a no-op context for fp32
        fake = generator.generate(src, src_kpts, tgt_kpts)

Only generation changes: the metric networks (Inception, AlexNet/VGG of LPIPS, pose
estimators) and the SSIM family always run in float32, so a protocol's computation is the same
whatever the generator ran in. Generated images are quantised to uint8 from float32 either way
(:mod:`bench.generation`).

A model whose generation ran under autocast carries the precision on every one of its records
(``Record.precision``) and its label says so in every table (``ctat (bf16)``). Models with no
network (results folders, ``oracle``, ``source``, ``warp``) run nothing autocast could change:
their records keep ``fp32`` whatever ``--precision`` says. Efficiency records of a bf16 run
are timed under the same autocast (keys ``latency_ms@cpu-bf16``: their own columns).
"""

from __future__ import annotations

import sys
from contextlib import AbstractContextManager, nullcontext

FP32 = "fp32"
#: precision -> the name of its torch dtype (torch is imported only where a network runs)
DTYPES = {FP32: "float32", "bf16": "bfloat16", "fp16": "float16"}


def check_precision(precision: str) -> str:
    if precision not in DTYPES:
        raise ValueError(f"precision must be one of {', '.join(DTYPES)}, got {precision!r}")
    return precision


def torch_dtype(precision: str):
    """The torch dtype of ``precision`` (``torch.bfloat16`` for ``bf16``)."""
    import torch

    return getattr(torch, DTYPES[check_precision(precision)])


def autocast(device: str, precision: str) -> AbstractContextManager:
    """``torch.autocast`` on ``device``'s type at ``precision``; nothing for fp32."""
    check_precision(precision)
    if precision == FP32:
        return nullcontext()
    import torch

    return torch.autocast(torch.device(device).type, dtype=torch_dtype(precision))


def has_network(generator) -> bool:
    """Whether ``generator`` runs a network with learned parameters (what autocast changes).
    A process that never imported torch holds no torch module, so it is not imported to ask."""
    torch = sys.modules.get("torch")
    module = getattr(generator, "module", None)
    return (torch is not None and isinstance(module, torch.nn.Module)
            and any(True for _ in module.parameters()))


def model_precision(generator, precision: str) -> str:
    """The precision a model's generation runs in under a run's ``precision``."""
    return precision if has_network(generator) else FP32
