"""Harness adapter for PG2. The network is not implemented yet, so building it refuses before
any work: ``python -m bench run --models pg2`` exits 2 with the reason."""

from bench.models.base import Provenance, unavailable_adapter

PG2Adapter = unavailable_adapter(
    "pg2", "PG2",
    Provenance(paper="Ma et al. Pose Guided Person Image Generation. NeurIPS 2017",
               code="github.com/charliememory/Pose-Guided-Person-Image-Generation"),
    arrives_with="baselines",
)
