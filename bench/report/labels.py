"""How a model is named in every table, plot and console summary: its name and its tags.

    from bench.report.labels import model_label, precision_note
    model_label("ctat", untrained=True, precision="bf16")     # "ctat (untrained) (bf16)"
    model_label("oracle", bound=True)                         # "oracle (bound)"
    precision_note({"bf16"})    # "(bf16): generated under bfloat16 autocast ..."

A tag says something a reader must know before comparing the row: ``(bound)`` a reference
bound, ``(untrained)`` seeded initial weights, ``(bf16)`` / ``(fp16)`` generation under autocast
(``--precision``; :mod:`bench.precision`). float32 has no tag.
"""

from __future__ import annotations

from collections.abc import Iterable

from bench.precision import DTYPES, FP32


def model_label(name: str, *, bound: bool = False, untrained: bool = False,
                precision: str = FP32) -> str:
    return (name + (" (bound)" if bound else "") + (" (untrained)" if untrained else "")
            + (f" ({precision})" if precision != FP32 else ""))


def precision_note(precisions: Iterable[str]) -> str | None:
    """The footnote of the precision tags in a table (None when every row is float32)."""
    tagged = sorted(p for p in set(precisions) if p != FP32)
    if not tagged:
        return None
    names = ", ".join(f"({p})" for p in tagged)
    dtypes = " / ".join(DTYPES[p] for p in tagged)
    return (f"{names}: generated under {dtypes} autocast (--precision); metric networks and "
            "the SSIM family in float32")
