"""`python -m bench` entry point; everything lives in :mod:`bench.cli`.

The process is a batch job: what the imports built lives until it exits, so the garbage
collector leaves it alone (``gc.freeze``) and runs its young-generation passes less often; a
12,000-pair run spent about a second in full collections walking torch's objects otherwise.
"""

import gc

from bench.cli import main

gc.freeze()
gc.set_threshold(10_000, 20, 20)
code = main()
gc.freeze()  # nothing left for the collection at exit to walk
raise SystemExit(code)
