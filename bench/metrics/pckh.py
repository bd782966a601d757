"""PCKh exactly as PATN's ``tool/calPCKH_*.py`` computed it (PROTOCOL.md 3.6).

Keypoints are estimated on each generated image and compared with the target keypoints of the
annotation file:

* head size: width and height of the bounding box of the *present target* keypoints among
  nose, neck, eyes and ears (indices 0, 1, 14-17); a pair with fewer than two of them is
  skipped (per-pair value NaN, counted in ``skipped``);
* a keypoint is correct iff prediction and target are both present and
  ``|px - tx| < 0.5 w`` **and** ``|py - ty| < 0.5 h`` (per axis, strict): a zero-width or
  zero-height head box keeps the pair but nothing in it can be correct;
* the denominator is every target keypoint with ``y != -1`` of the counted pairs (a missing
  prediction counts as wrong); the score is pooled: total correct / total valid.

::

    from bench.metrics.pckh import PCKh, pckh_counts
    correct, valid, counted = pckh_counts(pred, target)      # per pair
    metric = PCKh(shared, model="warp")   # estimator: --keypoints CSV, else markers/keypointrcnn
    metric.update(fake, batch)            # {"pckh": correct / valid per pair, NaN if skipped}
    metric.compute()                      # {"pckh": pooled}

The estimator that produced the keypoints is on the record (``extra.estimator``).
"""

from __future__ import annotations

import numpy as np

from bench.errors import MetricUnavailableError
from bench.keypoints import HEAD_JOINTS, MISSING
from bench.metrics.base import check_update_args
from bench.metrics.settings import MetricSettings, settings_of
from bench.pose.base import PoseEstimator
from bench.types import Metric, PairBatch

ALPHA = 0.5
_SHARED_ESTIMATORS = "bench.metrics.pckh/estimators"


def pckh_counts(pred: np.ndarray, target: np.ndarray, alpha: float = ALPHA
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per pair: correct keypoints, valid target keypoints, and whether the pair counts.

    ``pred`` and ``target``: (N, 18, 2) (x, y) with -1 for missing joints."""
    pred = np.asarray(pred, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    if pred.shape != target.shape or pred.ndim != 3 or pred.shape[1:] != (18, 2):
        raise ValueError(f"keypoints must be two (N, 18, 2) arrays, found {pred.shape} and {target.shape}")
    tx, ty = target[..., 0], target[..., 1]
    px, py = pred[..., 0], pred[..., 1]
    head_ok = (tx[:, HEAD_JOINTS] != MISSING) & (ty[:, HEAD_JOINTS] != MISSING)
    counted = head_ok.sum(axis=1) >= 2
    hx, hy = tx[:, HEAD_JOINTS], ty[:, HEAD_JOINTS]
    width = (np.where(head_ok, hx, -np.inf).max(axis=1) - np.where(head_ok, hx, np.inf).min(axis=1))
    height = (np.where(head_ok, hy, -np.inf).max(axis=1) - np.where(head_ok, hy, np.inf).min(axis=1))
    width = np.where(counted, width, 0.0)  # rows without two head points are not counted
    height = np.where(counted, height, 0.0)
    both = (px != MISSING) & (py != MISSING) & (tx != MISSING) & (ty != MISSING)
    right = (both & (np.abs(px - tx) < width[:, None] * alpha)
             & (np.abs(py - ty) < height[:, None] * alpha))
    correct = np.where(counted, right.sum(axis=1), 0)
    valid = np.where(counted, (ty != MISSING).sum(axis=1), 0)
    return correct.astype(np.int64), valid.astype(np.int64), counted


def default_estimator_name(settings: MetricSettings) -> str:
    if settings.pose_estimator:
        return settings.pose_estimator
    from bench.data import DATASETS

    try:
        synthetic = DATASETS.get(settings.dataset).synthetic is not None
    except KeyError:
        synthetic = False
    return "markers" if synthetic else "keypointrcnn"


def _pad_left(settings: MetricSettings) -> float:
    if settings.padded_width is None or settings.image_size is None:
        return 0.0
    width = settings.image_size[1]
    return float((settings.padded_width - width) // 2) if width < settings.padded_width else 0.0


def estimator_for(shared: dict, model: str | None) -> PoseEstimator:
    """The model's ``--keypoints`` CSV, else the run's estimator (built once per run)."""
    from bench.device_batch import batch_sizes
    from bench.errors import DataError, WeightsUnavailableError
    from bench.pose import ESTIMATORS
    from bench.pose.precomputed import PrecomputedKeypoints

    settings = settings_of(shared)
    cache = shared.setdefault(_SHARED_ESTIMATORS, {})
    csv = settings.keypoints_csv(model)
    key = ("csv", csv) if csv else ("named", default_estimator_name(settings))
    if key not in cache:
        try:
            if csv:
                cache[key] = PrecomputedKeypoints(csv, shift_x=_pad_left(settings))
            else:
                cache[key] = ESTIMATORS.get(key[1]).from_settings(settings,
                                                                  batch_sizes(shared))
        except (WeightsUnavailableError, DataError) as exc:
            cache[key] = exc
    entry = cache[key]
    if isinstance(entry, WeightsUnavailableError):
        hint = "" if csv else f" (or give its keypoints with --keypoints {model or 'MODEL'}=CSV)"
        raise WeightsUnavailableError(f"{entry}{hint}")
    if isinstance(entry, Exception):
        raise MetricUnavailableError(str(entry))
    return entry


class PCKh(Metric):
    """PATN's PCKh (alpha 0.5, per-axis head box, pooled over keypoints)."""

    name = "pckh"
    version = "patn-calPCKH"
    higher_is_better = True
    per_pair = True
    precision = 4
    description = "PCKh@0.5 of keypoints re-estimated on the generated images (PATN rules)"

    def __init__(self, shared: dict | None = None, model: str | None = None) -> None:
        shared = {} if shared is None else shared
        self.estimator = estimator_for(shared, model)
        super().__init__(shared, model)

    def reset(self) -> None:
        self._correct: list[np.ndarray] = []
        self._valid: list[np.ndarray] = []
        self.no_prediction = 0  # pairs without a row in a precomputed CSV

    def update(self, fake: np.ndarray, batch: PairBatch) -> dict[str, np.ndarray]:
        check_update_args(fake, batch)
        pred = self.estimator.estimate(fake, keys=[p.key for p in batch.pairs])
        absent = np.isnan(pred).any(axis=(1, 2))
        self.no_prediction += int(absent.sum())
        correct, valid, counted = pckh_counts(np.where(np.isnan(pred), MISSING, pred),
                                              batch.tgt_kpts)
        counted = counted & ~absent
        values = np.full(len(batch), np.nan)
        values[counted] = correct[counted] / valid[counted]
        self._correct.append(np.where(counted, correct, -1))
        self._valid.append(np.where(counted, valid, -1))
        return {self.name: values}

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        if len(self._correct) > 1:
            self._correct = [np.concatenate(self._correct)]
            self._valid = [np.concatenate(self._valid)]
        if not self._correct:
            return np.empty(0, np.int64), np.empty(0, np.int64)
        return self._correct[0], self._valid[0]

    def n_items(self) -> int:
        return int(self._arrays()[0].size)

    def state(self) -> dict[str, np.ndarray]:
        correct, valid = self._arrays()
        return {"correct": correct, "valid": valid,
                "no_prediction": np.asarray(self.no_prediction, np.int64)}

    def load_states(self, states) -> None:
        self.reset()
        self._correct = [np.asarray(s["correct"]) for s in states]
        self._valid = [np.asarray(s["valid"]) for s in states]
        self.no_prediction = int(sum(int(s["no_prediction"]) for s in states))

    def compute_on(self, positions) -> dict[str, float]:
        correct, valid = self._arrays()
        c, v = correct[positions], valid[positions]
        keep = v >= 0
        total = int(v[keep].sum())
        return {self.name: float(c[keep].sum()) / total if total else float("nan")}

    def compute(self) -> dict[str, float]:
        return self.compute_on(np.arange(self.n_items()))

    def weights_used(self) -> dict[str, dict]:
        return {name: used.record() for name, used in self.estimator.weights_used.items()}

    def summary_extra(self) -> dict:
        correct, valid = self._arrays()
        keep = valid >= 0
        return {"estimator": self.estimator.name, "estimator_version": self.estimator.version,
                "alpha": ALPHA, "correct": int(correct[keep].sum()),
                "valid": int(valid[keep].sum()), "counted_pairs": int(keep.sum()),
                "skipped_pairs": int((~keep).sum()), "no_prediction": self.no_prediction}
