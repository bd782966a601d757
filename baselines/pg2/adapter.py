"""Harness adapter for PG2. The network is not implemented yet, so building it refuses.

    python -m bench run --models pg2     # -> exit 2 with the reason, before any work
"""

from __future__ import annotations

from bench.errors import ModelUnavailableError
from bench.models.base import ModelSpec, Provenance


class PG2Adapter:
    name = "pg2"
    provenance = Provenance(paper="Ma et al. Pose Guided Person Image Generation. NeurIPS 2017", code="github.com/charliememory/Pose-Guided-Person-Image-Generation")

    def __init__(self, spec: ModelSpec) -> None:
        raise ModelUnavailableError(
            "pg2: the PG2 network is not implemented in this version of ctat-bench yet "
            "(it arrives with the 'baselines' issue); no numbers are produced for it. "
            "Run the reference methods meanwhile: --models oracle,source,warp"
        )
