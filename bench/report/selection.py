"""Which models of a run a report shows, and in what order (``bench report --models``)::

    from bench.report.selection import select_models
    select_models(records, ["warp", "defgan"])       # ('warp', 'defgan'): names as in the records
    select_models(records, ["folder:defgan=/x"])     # ('defgan',): a results folder's spec works too
    select_models(records, ["pata"])                 # ('patn',): a registry alias
    select_models(records, ["wrap"])                 # UnknownNameError: ... did you mean 'warp'?

Names are the models' names as the records hold them, results folders (``folder:NAME=PATH``)
included; a registered alias resolves to its model. A name no record holds is refused with the
registry's did-you-mean, listing the models the runs hold.

(A small local helper: another branch adds a library-wide resolver of model selections; when it
lands this module should call it.)
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.errors import UnknownNameError
from bench.records import Record
from bench.registry import Registry


def _candidates(name: str) -> list[str]:
    """Spellings of ``name`` that a record may hold, most literal first."""
    out = [name]
    if name.startswith("folder:"):
        out.append(name.removeprefix("folder:").partition("=")[0].strip())
    try:
        from bench.models import GENERATORS

        out.append(GENERATORS.canonical(name))
    except UnknownNameError:
        pass
    return out


def select_models(records: Iterable[Record], names: Iterable[str]) -> tuple[str, ...]:
    """The record model names ``names`` stand for, in the given order (duplicates once)."""
    held = Registry("model in these runs")
    for model in dict.fromkeys(r.model for r in records):
        held.register(model)(model)
    chosen: list[str] = []
    for name in names:
        found = next((c for c in _candidates(name) if c in held), None)
        if found is None:
            held.canonical(name)  # raises: did you mean ..., and the models the runs hold
        if found not in chosen:
            chosen.append(found)
    if not chosen:
        raise UnknownNameError("no model selected: expected one or more model names of the runs "
                               f"({', '.join(held.names())})")
    return tuple(chosen)
