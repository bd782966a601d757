"""Harness adapter for CTAT. The network is not implemented yet, so building it refuses.

    python -m bench run --models ctat     # -> exit 2: "ctat: the CTAT network is not implemented yet"
"""

from bench.models.base import Provenance, unavailable_adapter

CTATAdapter = unavailable_adapter(
    "ctat", "CTAT",
    Provenance(paper="Shen, Wang, Tang. Exploiting appearance transfer and multi-scale context "
               "for efficient person image generation. Pattern Recognition 2022"),
    arrives_with="reference CTAT model",
)
