"""ctat-bench: a benchmark and evaluation harness for pose-guided person image generation.

    from bench.api import run
    from bench.config import RunConfig
    result = run(RunConfig(models=("oracle", "source", "warp")))

or from a shell: ``python -m bench run``. See README.md.
"""

__version__ = "0.1.0"
