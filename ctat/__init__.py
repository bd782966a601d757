"""The reference CTAT model (Shen, Wang, Tang, Pattern Recognition 2022), reconstructed.

    python -m ctat train --dataset synthetic --no-perceptual
    python -m bench run --models ctat --checkpoint ctat=runs/ctat/<run>/latest.pt

Modules: :mod:`ctat.config` (what a network is built from, with the source of each default),
:mod:`ctat.modules` (AT, MSC, fusion, stages), :mod:`ctat.network` (the generator),
:mod:`ctat.discriminators` and :mod:`ctat.losses` (training objectives), :mod:`ctat.checkpoint`,
:mod:`ctat.train` (presets and the loop), :mod:`ctat.adapter` (the harness side),
:mod:`ctat.cli`. Which facts come from the paper, which from 2s-ATN and which are ours:
ctat/README.md.
"""
