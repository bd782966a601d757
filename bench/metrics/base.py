"""What per-pair metrics share: argument checks and the mean over pairs.

    class MeanAbs(PerPairMean):
        name, version, higher_is_better = "mean_abs", "1", False
        def pair_values(self, fake, batch):
            return np.abs(fake.astype(float) - batch.tgt_img).mean(axis=(1, 2, 3))

A pair whose value is NaN (e.g. SSIM of a constant image) is left out of the mean and counted
in ``n_undefined``; the harness turns it into a per-pair error record.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np

from bench.types import Metric, PairBatch


def check_update_args(fake: np.ndarray, batch: PairBatch) -> None:
    """ValueError naming expected vs found for a malformed ``update(fake, batch)``."""
    if not isinstance(fake, np.ndarray) or fake.dtype != np.uint8 or fake.ndim != 4:
        found = (f"{fake.dtype} array of shape {fake.shape}" if isinstance(fake, np.ndarray)
                 else type(fake).__name__)
        raise ValueError(f"generated images must be uint8 (N, H, W, 3) NHWC, found {found}")
    if fake.shape != batch.tgt_img.shape:
        raise ValueError(
            f"generated images have shape {fake.shape}, expected the target shape "
            f"{batch.tgt_img.shape}"
        )
    if batch.tgt_img.dtype != np.uint8:
        raise ValueError(f"target images must be uint8, found {batch.tgt_img.dtype}")
    if len(batch) != fake.shape[0]:
        raise ValueError(f"batch has {len(batch)} pairs but {fake.shape[0]} generated images")


class PerPairMean(Metric):
    """A metric whose value is the mean of one value per pair (state: sum and count)."""

    def reset(self) -> None:
        self._sum = 0.0
        self._n = 0
        self.n_undefined = 0
        self._values: list[np.ndarray] = []  # per-pair values in update order (resampling)
        self._batches: list[int] = []  # pairs per update (the order of the running sum)

    @abstractmethod
    def pair_values(self, fake: np.ndarray, batch: PairBatch) -> np.ndarray:
        """float64 (N,) values for the batch; NaN where undefined."""

    def update(self, fake: np.ndarray, batch: PairBatch) -> dict[str, np.ndarray]:
        check_update_args(fake, batch)
        values = np.asarray(self.pair_values(fake, batch), dtype=np.float64)
        self._add(values)
        return {self.name: values}

    def _add(self, values: np.ndarray) -> None:
        """Accumulate one batch's values (the sum batch by batch: what ``load_states``
        replays, so a merged run adds the same floats in the same order)."""
        ok = ~np.isnan(values)
        self._sum += float(values[ok].sum())
        self._n += int(ok.sum())
        self.n_undefined += int((~ok).sum())
        self._values.append(values)
        self._batches.append(len(values))

    def state(self) -> dict[str, np.ndarray]:
        return {"values": self.values(), "batches": np.asarray(self._batches, np.int64)}

    def load_states(self, states) -> None:
        self.reset()
        for state in states:
            values = np.asarray(state["values"], np.float64)
            sizes = np.asarray(state["batches"], np.int64)
            ends = np.cumsum(sizes)
            for start, stop in zip(ends - sizes, ends, strict=True):
                self._add(values[start:stop])

    def compute(self) -> dict[str, float]:
        return {self.name: self._sum / self._n if self._n else float("nan")}

    def values(self) -> np.ndarray:
        """Every per-pair value seen so far, in update order (NaN where undefined)."""
        if len(self._values) > 1:
            self._values = [np.concatenate(self._values)]
        return self._values[0] if self._values else np.empty(0)

    def n_items(self) -> int:
        return int(self.values().size)

    def compute_on(self, positions: np.ndarray) -> dict[str, float]:
        """Mean over the pairs at ``positions`` (NaN values left out, as in ``compute``)."""
        picked = self.values()[np.asarray(positions, dtype=np.intp)]
        picked = picked[~np.isnan(picked)]
        return {self.name: float(picked.mean()) if picked.size else float("nan")}


class FeatureRows:
    """``state`` / ``load_states`` of a set-level metric that keeps one feature row per image
    (``_parts``: arrays in update order, ``_features()``: them stacked) and a name per image
    (``_names``): a mixin, ``class FID(FeatureRows, Metric)``."""

    def state(self) -> dict[str, np.ndarray]:
        return {"features": self._features(), "names": np.asarray(self._names, dtype=str)}

    def load_states(self, states) -> None:
        self.reset()
        self._parts = [np.asarray(s["features"]) for s in states if len(s["features"])]
        self._names = [str(n) for s in states for n in s["names"]]


class UnavailableMetric(Metric):
    """Stands in for a metric that cannot be computed here (weights missing, an input not
    given): it accumulates nothing, and the run records the reason instead of a number."""

    per_pair = False

    def __init__(self, cls: type[Metric], reason: str, shared: dict | None = None,
                 model: str | None = None) -> None:
        self.cls = cls
        self.reason = reason
        self.name = cls.name
        self.version = cls.version
        self.higher_is_better = cls.higher_is_better
        self.unit = cls.unit
        self.keys = cls.keys
        self.precision = cls.precision
        super().__init__(shared, model)

    def reset(self) -> None:
        pass

    def update(self, fake: np.ndarray, batch: PairBatch) -> None:
        return None

    def compute(self) -> dict[str, float]:
        return {key: float("nan") for key in self.result_keys()}

    def state(self) -> dict[str, np.ndarray]:
        return {}

    def load_states(self, states) -> None:
        pass
