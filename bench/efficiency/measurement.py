"""One efficiency measurement and the record fields it fills (no torch: a run of results
folders writes its training-free records without importing it).

    from bench.efficiency.measurement import record_fields, training_free
    m = training_free(adapter.module, "cpu")   # status not_applicable: nothing to count or time
    Record(**labels, **record_fields(m))
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

EFFICIENCY_VERSION = "1"
TRAINING_FREE = "not applicable: training-free method (no network to count or time)"


@dataclass
class Measurement:
    key: str
    value: float | None
    unit: str
    group: str  # params, ops, latency, throughput, memory, sweep
    higher_is_better: bool | None = False
    device: str = "cpu"
    status: str = "ok"  # ok, unavailable, not_applicable, failed
    error: str | None = None
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Measurement:
        return cls(**data)


def training_free(module, device: str) -> Measurement:
    """The one measurement of a method without a network (results folders, oracle, source,
    warp): parameters, not applicable. ``module``: the adapter's (None: a results folder's,
    named ``NoParameters`` as the probe names it)."""
    name = "NoParameters" if module is None else type(module).__name__
    return Measurement("params", None, "parameters", "params", device=device,
                       status="not_applicable", error=TRAINING_FREE,
                       extra={"module_class": name})


def record_fields(m: Measurement, *, device: bool = True) -> dict:
    """The fields of a :class:`bench.records.Record` that a measurement fills (kind, metric,
    key, value, ...); the caller adds the run's and the model's fields."""
    from bench.records import KIND_EFFICIENCY, KIND_MODEL_ERROR

    kind = KIND_MODEL_ERROR if m.status == "failed" else KIND_EFFICIENCY
    fields = dict(kind=kind, n=0, metric=m.group, metric_version=EFFICIENCY_VERSION, key=m.key,
                  value=m.value, unit=m.unit, higher_is_better=m.higher_is_better,
                  error=None if m.status == "ok" else (
                      m.error if kind == KIND_EFFICIENCY else f"efficiency {m.key}: {m.error}"),
                  extra={"status": m.status, **m.extra})
    if device:
        fields["device"] = m.device
    return fields
