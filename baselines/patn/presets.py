"""PATN's official training settings as presets of the shared training loop (:mod:`ctat.train`).

    python -m baselines.patn train --dataset market          # preset patn-market
    python -m baselines.patn train --dataset synthetic       # patn-smoke: CPU minutes

From PROTOCOL.md 4.1 and the official scripts/train_*.sh (github.com/tengteng95/Pose-Transfer):
Adam lr 2e-4, betas (0.5, 0.999); 500 + 200 "epochs" of 4000 random pairs, i.e.
700 x ceil(4000 / batch) iterations with the last 200 epochs decaying linearly to 0; the
ResNet discriminators with ReLU, dropout 0.5 and the generator's norm; G loss
lambda_A L1 + lambda_B perceptual + lambda_GAN (GAN_PB + GAN_PP) / 2.

* Market: batch norm, batch 32, lambda (GAN, A, B) = (5, 10, 10), BCE (``--no_lsgan``),
  image pool 50.
* DeepFashion: instance norm, batch 7, (5, 1, 1), least squares, no pool.
"""

from __future__ import annotations

from baselines.patn.network import PATNConfig
from ctat.losses import GeneratorLossWeights
from ctat.train import TrainConfig


def patn_preset(dataset: str, **changes) -> TrainConfig:
    """The official settings for ``dataset``; the synthetic sets follow the real dataset of
    their size (``synthetic`` Market, ``synthetic-fashion`` DeepFashion)."""
    market = dataset in ("market", "synthetic")
    batch = 32 if market else 7
    per_epoch = -(-4000 // batch)
    base = TrainConfig(
        dataset=dataset, network="patn", model=PATNConfig.for_dataset(dataset),
        iterations=700 * per_epoch, decay_iterations=200 * per_epoch, batch_size=batch, lr=2e-4,
        loss=(GeneratorLossWeights(gan=5.0, l1=10.0, perceptual=10.0) if market
              else GeneratorLossWeights(gan=5.0, l1=1.0, perceptual=1.0)),
        gan_mode="bce" if market else "lsgan", d_norm="batch" if market else "instance",
        d_activation="relu", d_dropout=0.5, pool_size=50 if market else 0,
    )
    return base.replace(**changes)


MARKET = patn_preset("market")
DEEPFASHION = patn_preset("deepfashion")
# A few CPU minutes on the synthetic set: narrow, three blocks, short schedule.
SMOKE = patn_preset(
    "synthetic", model=PATNConfig(ngf=16, n_blocks=3), iterations=300, decay_iterations=100,
    batch_size=8, ndf=16, d_blocks=1, checkpoint_every=100, sample_every=100, log_every=10,
    eval_pairs=64,
)
