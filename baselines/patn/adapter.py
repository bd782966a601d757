"""Harness adapter for PATN (alias pata). The network is not implemented yet, so building it refuses.

    python -m bench run --models patn     # -> exit 2 with the reason, before any work
"""

from __future__ import annotations

from bench.errors import ModelUnavailableError
from bench.models.base import ModelSpec, Provenance


class PATNAdapter:
    name = "patn"
    provenance = Provenance(paper="Zhu et al. Progressive Pose Attention Transfer for Person Image Generation. CVPR 2019", code="github.com/tengteng95/Pose-Transfer")

    def __init__(self, spec: ModelSpec) -> None:
        raise ModelUnavailableError(
            "patn: the PATN network is not implemented in this version of ctat-bench yet "
            "(it arrives with the 'baselines' issue); no numbers are produced for it. "
            "Run the reference methods meanwhile: --models oracle,source,warp"
        )
