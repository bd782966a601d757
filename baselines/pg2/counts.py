"""What PG2's parameter numbers count: the generator we run versus the official checkpoint.

    from baselines.pg2.counts import checkpoint_variable_count
    checkpoint_variable_count((256, 256), "deepfashion")["total"]   # 437,089,502 ~ 437.09 M

The published 437.09 M (PROTOCOL.md 2.2) is not PG2's generator. It is what one gets by
counting every variable in the official DeepFashion TF checkpoint: G1 and G2, the
discriminator ``DCGANDiscriminator_256`` (wgan_gp_128x64.py: 5x5 stride-2 convs 3 -> 64 -> 128
-> 256 -> 512 -> 512, batch norm after all but the first, linear 8*8*512 -> 1; the Market
``DCGANDiscriminator`` has four convs and 8*4*512 inputs), the two Adam moment slots of every
trainable variable (trainer.py ``_getOptimizer``, MODE 'dcgan'), the batch norms' moving
averages (tflib ``lib.param(..., trainable=False)``: saved, no slots) and nine scalars (``step``,
``g_lr``, ``d_lr``, three optimizers' ``beta1_power`` / ``beta2_power``). The inference module
(G1 + G2) has 134.80 M parameters at 256x256 and 76.85 M at 128x64: that is what the
efficiency report counts (``PG2Adapter.module``).
"""

from __future__ import annotations

import torch

from baselines.pg2.network import PG2Config, PG2Generator, count_parameters

SCALARS = 9  # step, g_lr, d_lr, 3 x beta1_power, 3 x beta2_power


def discriminator_parameters(size: tuple[int, int]) -> tuple[int, int]:
    """(trainable, batch-norm moving averages) of the official D for 128x64 or 256x256."""
    h, w = size
    widths = [3, 64, 128, 256, 512] + ([512] if h >= 256 else [])
    convs = sum(25 * a * b + b for a, b in zip(widths[:-1], widths[1:], strict=True))
    norms = widths[2:]  # batch norm after every conv but the first: offset and scale
    for _ in widths[1:]:
        h, w = -(-h // 2), -(-w // 2)
    linear = h * w * widths[-1] + 1
    return convs + 2 * sum(norms) + linear, 2 * sum(norms)


def checkpoint_variable_count(size: tuple[int, int], variant: str) -> dict[str, int]:
    """Every value stored in the official training checkpoint, by part."""
    with torch.device("meta"):
        net = PG2Generator(PG2Config(variant=variant), size, seed=None)
    g1, g2 = count_parameters(net.g1), count_parameters(net.g2)
    d, moving = discriminator_parameters(size)
    trainable = g1 + g2 + d
    parts = {"g1": g1, "g2": g2, "d": d, "adam_slots": 2 * trainable,
             "d_moving_averages": moving, "scalars": SCALARS}
    parts["total"] = sum(parts.values())
    return parts
