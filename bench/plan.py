"""A run's plan: the evaluated pairs cut into work units, and the hash of what the run computes.

    from bench.plan import Plan
    plan = Plan.of(config, pairs, image_size=(128, 64))
    plan.units()                      # (Unit(0, 0, 256), Unit(1, 256, 512), ...)
    plan.units_of(rank=1, world=3)    # units 1, 4, 7, ...: unit k goes to rank k mod W
    plan.config_hash                  # sha256 of plan.configuration (config.json's "plan")

Unit boundaries depend on the pair list and ``unit_size`` only, never on the number of
processes, and a unit is a whole number of ``batch_size`` batches (``unit_size`` is rounded up
to a multiple of it): each batch is the batch a single process would form, so every value is
the same at any world size. The last unit is shorter; no pair is repeated to pad.

The configuration hash covers every setting that changes a value or a file of the units
(models, checkpoints, dataset, split, pairs and their hash, protocol, metrics, batch and unit
size, seed, device, weights, ...), and not those that do not (``out``, ``decode_threads``,
``offline``, ``stats_cache``, ``use_cache``, ``efficiency`` and its execution modes). A resumed
run must have the same hash; :func:`differences` names what changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass

from bench.config import RunConfig
from bench.types import Pair

# settings that change no value of a unit: left out of the hash (a resume may change them)
NOT_HASHED = ("out", "decode_threads", "offline", "stats_cache", "use_cache", "efficiency",
              "efficiency_cuda_graphs", "efficiency_compile", "network_batch")
#: Settings added after runs were saved: hashed only when set to something other than this
#: default, so a run folder saved before they existed still resumes and merges.
HASHED_WHEN_SET = {"precision": "fp32"}


@dataclass(frozen=True)
class Unit:
    """Pairs ``start`` to ``stop`` (positions in the evaluated list) of unit ``index``."""

    index: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start

    def describe(self) -> str:
        return f"unit {self.index} (pairs {self.start}-{self.stop - 1})"


def unit_pairs(unit_size: int, batch_size: int) -> int:
    """Pairs per unit: ``unit_size`` rounded up to a whole number of batches."""
    return -(-max(1, unit_size) // batch_size) * batch_size


def configuration(config: RunConfig, pairs_hash: str, n_pairs: int,
                  image_size: tuple[int, int]) -> dict:
    """What the configuration hash covers (JSON-ready)."""
    given = dataclasses.replace(config, batch_size=config.batch).to_dict()
    data = {k: v for k, v in given.items()
            if k not in NOT_HASHED and not (k in HASHED_WHEN_SET and v == HASHED_WHEN_SET[k])}
    data.update(pairs_sha256=pairs_hash, n_pairs=n_pairs, image_size=list(image_size),
                unit_pairs=unit_pairs(config.unit_size, config.batch))
    return json.loads(json.dumps(data, default=str))  # as config.json holds it (lists)


def hash_of(configuration: dict) -> str:
    return hashlib.sha256(json.dumps(configuration, sort_keys=True, default=str)
                          .encode()).hexdigest()


def differences(saved: dict, now: dict) -> list[str]:
    """``key: saved -> now`` for every setting that differs (both from :func:`configuration`)."""
    return [f"{key}: {saved.get(key)!r} -> {now.get(key)!r}"
            for key in sorted(set(saved) | set(now)) if saved.get(key) != now.get(key)]


@dataclass(frozen=True)
class Plan:
    """The evaluated pairs, their units and the run's configuration hash."""

    pairs: tuple[Pair, ...]
    unit_size: int  # pairs per unit (a multiple of the batch size)
    configuration: dict
    config_hash: str

    @classmethod
    def of(cls, config: RunConfig, pairs: tuple[Pair, ...], pairs_hash: str,
           image_size: tuple[int, int]) -> Plan:
        conf = configuration(config, pairs_hash, len(pairs), image_size)
        return cls(pairs=tuple(pairs), unit_size=unit_pairs(config.unit_size, config.batch),
                   configuration=conf, config_hash=hash_of(conf))

    def units(self) -> tuple[Unit, ...]:
        n, size = len(self.pairs), self.unit_size
        return tuple(Unit(k, start, min(start + size, n))
                     for k, start in enumerate(range(0, n, size)))

    def units_of(self, rank: int, world: int) -> tuple[Unit, ...]:
        """The units rank ``rank`` of ``world`` evaluates (possibly none)."""
        return tuple(u for u in self.units() if u.index % world == rank)

    def pairs_of(self, unit: Unit) -> tuple[Pair, ...]:
        return self.pairs[unit.start:unit.stop]
