"""Wall time per stage of a run's work: waiting for decoded images, generation, scoring.

    stages = Stages()
    with stages.timed("generate", "ctat"):
        fake = generator.generate(...)
    stages.to_dict()        # {"load": 0.0, "generate": {"ctat": 3.4}, "score": {}}
    describe(add_stages([unit_a.who["stages"], unit_b.who["stages"]]))
    # "waiting for images 1.2 s, generation 3.4 s (ctat 3.4 s), scoring 20.1 s (ctat 20.1 s)"

``load`` is the time the evaluator waited for the loader (decoding runs ahead in threads, so a
small value means decoding kept up); ``generate`` is each model's generation, up to its images
on the host (on a GPU: launching the work plus waiting for the copy back, so generation that
overlapped the previous batch's scoring is not counted twice); ``score`` is each model's
quantisation, protocol preparation and metrics. Each unit keeps its own in ``who["stages"]``
of its unit file; ``env.json`` sums them per process and the run's last line prints the sum.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

STAGES = ("load", "generate", "score")
NAMES = {"load": "waiting for images", "generate": "generation", "score": "scoring"}


class Stages:
    def __init__(self) -> None:
        self.load = 0.0
        self.per_model: dict[str, dict[str, float]] = {"generate": {}, "score": {}}

    @contextmanager
    def timed(self, stage: str, model: str | None = None) -> Iterator[None]:
        start = time.perf_counter()
        try:
            yield
        finally:
            self.add(stage, time.perf_counter() - start, model)

    def add(self, stage: str, seconds: float, model: str | None = None) -> None:
        if stage == "load":
            self.load += seconds
            return
        if stage not in self.per_model or model is None:
            raise ValueError(f"stage must be one of {STAGES} (with a model but load), "
                             f"got {stage!r} for {model!r}")
        shares = self.per_model[stage]
        shares[model] = shares.get(model, 0.0) + seconds

    def to_dict(self) -> dict:
        return {"load": self.load, **{k: dict(v) for k, v in self.per_model.items()}}


def add_stages(dicts: Iterable[dict | None]) -> dict:
    """The sum of several :meth:`Stages.to_dict` (units written before stages existed: none)."""
    total = Stages()
    for d in dicts:
        if not d:
            continue
        total.add("load", float(d.get("load", 0.0)))
        for stage in ("generate", "score"):
            for model, seconds in (d.get(stage) or {}).items():
                total.add(stage, float(seconds), model)
    return total.to_dict()


def describe(stages: dict) -> str:
    """One line: each stage's seconds, and per model where there is more than one."""
    parts = [f"{NAMES['load']} {stages.get('load', 0.0):.1f} s"]
    for stage in ("generate", "score"):
        shares = stages.get(stage) or {}
        text = f"{NAMES[stage]} {sum(shares.values()):.1f} s"
        if len(shares) > 1:
            text += " (" + ", ".join(f"{m} {s:.1f} s" for m, s in shares.items()) + ")"
        parts.append(text)
    return ", ".join(parts)
