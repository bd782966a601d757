"""Harness adapter for CTAT. The network is not implemented yet, so building it refuses.

    python -m bench run --models ctat     # -> exit 2: "ctat: the CTAT network is not implemented yet"
"""

from __future__ import annotations

from bench.errors import ModelUnavailableError
from bench.models.base import ModelSpec, Provenance


class CTATAdapter:
    name = "ctat"
    provenance = Provenance(
        paper="Shen, Wang, Tang. Exploiting appearance transfer and multi-scale context for "
        "efficient person image generation. Pattern Recognition 2022",
    )

    def __init__(self, spec: ModelSpec) -> None:
        raise ModelUnavailableError(
            "ctat: the CTAT network is not implemented in this version of ctat-bench yet "
            "(it arrives with the 'reference CTAT model' issue); no numbers are produced for it. "
            "Run the reference methods meanwhile: --models oracle,source,warp"
        )
