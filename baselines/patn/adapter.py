"""Harness adapter for PATN (alias pata). The network is not implemented yet, so building it
refuses before any work: ``python -m bench run --models pata`` exits 2 with the reason."""

from bench.models.base import Provenance, unavailable_adapter

PATNAdapter = unavailable_adapter(
    "patn", "PATN",
    Provenance(paper="Zhu et al. Progressive Pose Attention Transfer for Person Image "
               "Generation. CVPR 2019", code="github.com/tengteng95/Pose-Transfer"),
    arrives_with="baselines",
)
