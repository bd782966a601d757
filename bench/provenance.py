"""Which pretrained files a metric value was computed with, and what that means for a reader.

Every metric record of a metric that uses a network carries ``extra["weights"]``:
``{network: {"file": path, "sha256": 64 hex digits, "published": bool}}`` (written by the run
loop from :meth:`bench.types.Metric.weights_used`; "published": the file is the one the
library publishes, :meth:`bench.weights.WeightsSpec.is_published`). Records of older runs have
no such entry and read as "not recorded". The renderers ask this module, and only this module,
how to label a value::

    from bench.provenance import other_weights, other_weights_label, other_weights_notes
    other_weights(record)            # (WeightsUse(network="inception-fid", ...),) or ()
    "fid" + other_weights_label(records_of_fid)   # "fid (other weights)" where any used them
    other_weights_notes(records)     # footnotes naming the network and the SHA-256 prefix
    weights_difference(baseline, candidate)   # None, or why the two values are incomparable
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.records import Record

WEIGHTS_FIELD = "weights"  # the key of Record.extra
OTHER_WEIGHTS = "other weights"
SHORT = 8  # hex digits of a SHA-256 shown in labels (the torch hub file-name convention)


@dataclass(frozen=True)
class WeightsUse:
    network: str
    file: str
    sha256: str
    published: bool


def weights_of(record: Record) -> tuple[WeightsUse, ...]:
    """The files the record's value was computed with, by network name (empty: none recorded)."""
    entries = record.extra.get(WEIGHTS_FIELD) or {}
    if not isinstance(entries, dict):
        return ()
    out = []
    for network in sorted(entries):
        entry = entries[network] if isinstance(entries[network], dict) else {}
        out.append(WeightsUse(network=str(network), file=str(entry.get("file", "")),
                              sha256=str(entry.get("sha256", "")),
                              published=entry.get("published") is True))
    return tuple(out)


def other_weights(record: Record) -> tuple[WeightsUse, ...]:
    """The files behind the value that are not the published ones."""
    return tuple(w for w in weights_of(record) if not w.published)


def other_weights_label(records: Iterable[Record]) -> str:
    """``" (other weights)"`` when any of ``records`` (e.g. a table column) used files other
    than the published ones, else ``""``."""
    return f" ({OTHER_WEIGHTS})" if any(other_weights(r) for r in records) else ""


def other_weights_notes(records: Iterable[Record]) -> list[str]:
    """One footnote per non-published file: the keys computed with it, the network, the
    SHA-256 prefix and the prefix of the published file."""
    from bench.weights import WEIGHTS

    keys: dict[tuple[str, str], list[str]] = {}
    for r in records:
        for use in other_weights(r):
            found = keys.setdefault((use.network, use.sha256), [])
            if r.key not in found:
                found.append(r.key)
    notes = []
    for (network, sha), found in keys.items():
        published = ""
        if network in WEIGHTS:
            spec = WEIGHTS.get(network)
            expected = spec.published_sha256 or spec.sha256_prefix
            if expected:
                published = f" (the published {spec.file} is {expected[:SHORT]})"
        notes.append(f"({OTHER_WEIGHTS}): {', '.join(found)} computed with {network} weights "
                     f"sha256 {sha[:SHORT] or '?'}, not the published file{published}; "
                     "not comparable with values computed with the published weights.")
    return notes


def weights_signature(record: Record) -> tuple[tuple[str, str], ...]:
    """(network, sha256) of every file behind the value: equal signatures, same weights."""
    return tuple((w.network, w.sha256) for w in weights_of(record))


def weights_difference(a: Record, b: Record, names: tuple[str, str] = ("first", "second")
                       ) -> str | None:
    """Why the values of ``a`` and ``b`` (called ``names`` in the text) were computed with
    different weights, or None.

    A value without recorded weights (no network, or a run made before weights were recorded)
    differs from one with them: the files cannot be shown to be the same."""
    sig_a, sig_b = dict(weights_signature(a)), dict(weights_signature(b))
    if sig_a == sig_b:
        return None
    if not sig_a or not sig_b:
        side = names[0] if not sig_a else names[1]
        known = sig_b or sig_a
        return (f"weights not recorded for the {side} value (computed without a network, or "
                f"by a run made before weights were recorded), the other used "
                + ", ".join(f"{n} {s[:SHORT]}" for n, s in sorted(known.items())))
    parts = []
    for network in sorted(set(sig_a) | set(sig_b)):
        before, after = sig_a.get(network), sig_b.get(network)
        if before != after:
            parts.append(f"{network} {(before or 'none')[:SHORT]} -> {(after or 'none')[:SHORT]}")
    return "different weights: " + ", ".join(parts)
