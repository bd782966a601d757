"""The model registry: every generator the harness can run, imported lazily by name.

    python -m bench list models

Names map to adapter classes taking a :class:`ModelSpec`. ``pata`` is an alias of ``patn``
(the name PATN's authors used on the command line).

Results folders are not registry entries: ``--models folder:NAME=PATH`` builds a
:class:`bench.models.folder.FolderModel` named NAME for the run (see that module).
"""

from bench.models.base import UNTRAINED, ModelSpec, Provenance, Weights
from bench.registry import Registry

GENERATORS: Registry = Registry("model")

# Reference methods that bound every metric and calibrate the report.
GENERATORS.register_lazy("oracle", "bench.models.reference:Oracle")
GENERATORS.register_lazy("source", "bench.models.reference:Source")
GENERATORS.register_lazy("warp", "bench.models.warp:Warp")
# Learned models (their networks arrive with their own issues).
GENERATORS.register_lazy("ctat", "ctat.adapter:CTATAdapter")
GENERATORS.register_lazy("patn", "baselines.patn.adapter:PATNAdapter", aliases=("pata",))
GENERATORS.register_lazy("pg2", "baselines.pg2.adapter:PG2Adapter")

__all__ = ["GENERATORS", "UNTRAINED", "ModelSpec", "Provenance", "Weights"]
