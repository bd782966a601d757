"""PG2 baseline: Ma et al. Pose Guided Person Image Generation. NeurIPS 2017.

    from baselines.pg2.network import PG2Config, PG2Generator
    net = PG2Generator(PG2Config.for_dataset("market"), size=(128, 64), seed=0)   # G1 + G2
    python -m baselines.pg2 convert Market1501/model.ckpt-59999 pg2-market.pt    # official weights
    python -m bench run --models pg2 --dataset market --checkpoint pg2=pg2-market.pt

Modules: :mod:`.network` (both stages, layer for layer as the official TF graph),
:mod:`.convert` (official TF checkpoint -> .pt), :mod:`.checkpoint` (the .pt format),
:mod:`.adapter` (the harness), :mod:`.counts` (what the published 437.09 M counts),
:mod:`.cli` (``python -m baselines.pg2``). Facts and choices: README.md beside this file.
"""
