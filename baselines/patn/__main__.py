"""`python -m baselines.patn train|info`: PATN through the shared training loop (ctat.cli)."""

from ctat.cli import main

raise SystemExit(main(network="patn"))
