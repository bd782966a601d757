"""The per-pair scores of the GFLA-lineage scripts, with the settings of the run's protocol.

Each metric asks the protocol's :class:`bench.gfla.protocol.ScriptSteps` how the script
prepared the images, then calls :mod:`bench.gfla.reconstruction` (PROTOCOL.md 3.9.1):

================  ========================================================================
``ssim_box51``    the scripts' key ``ssim``: box window 51, data range 1, sample covariance
``ssim_256``      the scripts' key ``ssim_256``: Gaussian (the script's sigma), population
                  covariance, data range of the generated image, scikit-image semantics of
                  the version the script ran (tap count, crop, float32 vs float64)
``psnr_script``   ``compare_psnr(gt, pred, data_range=1)`` on float32 / 255
``l1_script``     ``mean |gt - pred|`` on float32 / 255 (half PATN's ``l1``)
``mae_script``    ``sum |gt - pred| / sum (gt + pred)``
``lpips_script``  LPIPS alex v0.1 on the script's input (x / 127.5 - 1; PIDM after cv2
                  resize to 176x256; CFLD ``normalize=True``), mean over the pairs the
                  script kept: the batch-64 remainder of the sorted result names dropped
                  (GFLA, PIDM), their count and names on the record
================  ========================================================================

Names differ from the scripts' keys (``ssim``, ``psnr``, ``l1``, ``lpips`` exist here with
other computations) so that two computations never share a column; ``script_key`` on every
record says what the script called it::

    python -m bench run --protocol gfla --dataset deepfashion --models folder:gfla=/r/gfla \\
        --train-folder /data/fashion/train --weights inception-torchvision-v0=/w/1a9a5a14.pth

Outside a script protocol ``ssim_box51`` uses float64 arithmetic (today's scikit-image on
uint8 input, the ``fair`` protocol's box variant); the others are unavailable there.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from bench.errors import MetricUnavailableError
from bench.gfla import reconstruction
from bench.gfla.frechet import SCRIPT_BATCH, batch_plan
from bench.gfla.protocol import ScriptSteps
from bench.metrics.base import PerPairMean
from bench.metrics.lpips import shared_lpips
from bench.metrics.settings import settings_of
from bench.types import Pair, PairBatch

FAIR_SKIMAGE = "0.17.2"  # float64 arithmetic, as today's structural_similarity on uint8 input
DROPPED_SHOWN = 20  # names of dropped pairs listed on a record


def script_steps(shared: dict, metric: str, required: bool = True) -> ScriptSteps | None:
    """The run protocol's script settings; MetricUnavailableError naming the script
    protocols when the protocol reproduces no script and ``required``."""
    from bench.protocols import PROTOCOLS

    settings = settings_of(shared)
    steps = PROTOCOLS.get(settings.protocol).script
    if steps is None and required:
        scripted = [n for n in PROTOCOLS.names() if PROTOCOLS.get(n).script is not None]
        raise MetricUnavailableError(
            f"{metric} reproduces a GFLA-lineage script and takes its settings from the "
            f"protocol: run it under --protocol {' | '.join(scripted)} (this run: "
            f"{settings.protocol})")
    return steps


def result_name(pair: Pair) -> str:
    """The file name the scripts gave the pair's result, without suffix: ``{src}_2_{tgt}_vis``
    (stems); what their sorted order, and so the remainder rule, is decided by."""
    return f"{Path(pair.src).stem}_2_{Path(pair.tgt).stem}_vis"


class _ScriptPerPair(PerPairMean):
    """A script score per pair on the images as the script prepared them."""

    script_key = ""
    required = True

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        self.steps = script_steps(shared, self.name, self.required)
        self.dataset = settings_of(shared).dataset
        super().__init__(shared, model)

    @property
    def skimage(self) -> str:
        return self.steps.skimage if self.steps is not None else FAIR_SKIMAGE

    def inputs(self, fake: np.ndarray, batch: PairBatch) -> tuple[np.ndarray, np.ndarray]:
        if self.steps is None:
            return batch.tgt_img, fake
        return self.steps.reconstruction_inputs(batch.tgt_img, fake, self.dataset)

    def summary_extra(self) -> dict:
        extra = {"script_key": self.script_key}
        if self.steps is not None:
            extra.update(self.steps.record())
            extra["padded"] = self.dataset in self.steps.pad_256_on
        return extra


class SSIMBox51(_ScriptPerPair):
    """Key ``ssim`` of the scripts: box-window (51) SSIM, data range 1, sample covariance."""

    name = "ssim_box51"
    version = "gfla-compare_ssim-box51-range1"
    script_key = "ssim"
    required = False
    description = "box-window SSIM (win 51, data range 1), the scripts' 'ssim' key"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        gt, pred = self.inputs(fake, batch)
        return reconstruction.ssim_box(gt, pred, skimage=self.skimage)

    def summary_extra(self) -> dict:
        sem = reconstruction.skimage_semantics(self.skimage)
        return {**super().summary_extra(), "skimage_semantics": sem.version,
                "float32": sem.float32, "win_size": reconstruction.BOX_WIN_SIZE,
                "sample_covariance": True, "data_range": 1}


class SSIM256(_ScriptPerPair):
    """Key ``ssim_256``: Gaussian SSIM on the x255 images with the script's sigma."""

    name = "ssim_256"
    version = "gfla-compare_ssim-gaussian-x255"
    script_key = "ssim_256"
    description = "Gaussian SSIM on x255 images, the scripts' 'ssim_256' key"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        gt, pred = self.inputs(fake, batch)
        return reconstruction.ssim_256(gt, pred, sigma=self.steps.sigma, skimage=self.skimage)

    def summary_extra(self) -> dict:
        sem = reconstruction.skimage_semantics(self.skimage)
        truncate, win = sem.gaussian_window(self.steps.sigma)
        taps = 2 * int(truncate * self.steps.sigma + 0.5) + 1
        return {**super().summary_extra(), "skimage_semantics": sem.version,
                "float32": sem.float32, "sigma": self.steps.sigma, "taps": taps,
                "crop": (win - 1) // 2, "data_range": "generated image max - min"}


class ScriptPSNR(_ScriptPerPair):
    """Key ``psnr``: ``compare_psnr(gt, pred, data_range=1)`` (+inf for identical images)."""

    name = "psnr_script"
    version = "gfla-compare_psnr-range1-float32"
    script_key = "psnr"
    unit = "dB"
    description = "PSNR on float32 / 255 images, data range 1 (the scripts' 'psnr')"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        return reconstruction.psnr(*self.inputs(fake, batch))


class ScriptL1(_ScriptPerPair):
    """Key ``l1``: ``np.mean(np.abs(gt - pred))`` on float32 / 255 images."""

    name = "l1_script"
    version = "gfla-compare_l1-float32"
    script_key = "l1"
    higher_is_better = False
    description = "mean |gt - pred| on float32 / 255 images (the scripts' 'l1')"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        return reconstruction.l1(*self.inputs(fake, batch))


class ScriptMAE(_ScriptPerPair):
    """Key ``mae``: ``sum |gt - pred| / sum (gt + pred)`` in float32 (NaN for 0 / 0)."""

    name = "mae_script"
    version = "gfla-compare_mae-float32"
    script_key = "mae"
    higher_is_better = False
    description = "sum |gt - pred| / sum (gt + pred) (the scripts' 'mae')"

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        return reconstruction.mae(*self.inputs(fake, batch))


class ScriptLPIPS(_ScriptPerPair):
    """LPIPS alex v0.1 on the script's inputs, the batch-64 remainder dropped where it was."""

    name = "lpips_script"
    version = "lpips-alex-v0.1-script-inputs"
    script_key = "lpips"
    higher_is_better = False
    description = "LPIPS (alex, v0.1) with the script's input handling and remainder rule"

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        self.net = shared_lpips(shared)
        self.device = settings_of(shared).device
        super().__init__(shared, model)

    def reset(self) -> None:
        super().reset()
        self._names: list[str] = []

    def weights_used(self) -> dict[str, dict]:
        return {name: used.record() for name, used in self.net.weights_used.items()}

    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        if len(fake) == 0:
            return np.empty(0)
        x = torch.from_numpy(self.steps.lpips_inputs(fake)).to(self.device)
        y = torch.from_numpy(self.steps.lpips_inputs(batch.tgt_img)).to(self.device)
        with torch.inference_mode():
            # LPIPS is symmetric in its two inputs: the scripts' argument order is immaterial
            d = self.net(x, y, normalize=self.steps.lpips_normalize)
        return d.reshape(-1).double().cpu().numpy()

    def update(self, fake: np.ndarray, batch: PairBatch) -> dict[str, np.ndarray]:
        out = super().update(fake, batch)
        self._names.extend(result_name(p) for p in batch.pairs)
        return out

    def state(self) -> dict[str, np.ndarray]:
        return {**super().state(), "names": np.asarray(self._names, dtype=str)}

    def load_states(self, states) -> None:
        super().load_states(states)
        self._names = [str(n) for state in states for n in state["names"]]

    def _kept(self) -> tuple[np.ndarray, tuple[str, ...]]:
        """Positions (into ``values()``) the script scored, and the dropped result names."""
        if not self._names:
            return np.empty(0, np.intp), ()
        plan = batch_plan(self._names, batch_size=SCRIPT_BATCH,
                          drop_remainder=self.steps.lpips_drop_remainder)
        position = {n: i for i, n in enumerate(self._names)}
        return np.array([position[n] for n in plan.used], np.intp), plan.dropped

    def compute(self) -> dict[str, float]:
        kept, _ = self._kept()
        values = self.values()[kept]
        values = values[~np.isnan(values)]
        return {self.name: float(values.mean()) if values.size else float("nan")}

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        kept = set(self._kept()[0].tolist())
        picked = [p for p in np.asarray(positions, dtype=np.intp).tolist() if p in kept]
        values = self.values()[np.array(picked, np.intp)] if picked else np.empty(0)
        values = values[~np.isnan(values)]
        return {self.name: float(values.mean()) if values.size else float("nan")}

    def summary_extra(self) -> dict:
        kept, dropped = self._kept()
        return {**super().summary_extra(), "pairs_used": int(len(kept)),
                "dropped": len(dropped), "dropped_names": list(dropped[:DROPPED_SHOWN]),
                "batch_size": SCRIPT_BATCH if self.steps.lpips_drop_remainder else 1,
                "normalize": self.steps.lpips_normalize, "input": self.steps.lpips_input}
