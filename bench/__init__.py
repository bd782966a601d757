"""ctat-bench: a benchmark and evaluation harness for pose-guided person image generation.

    from bench.api import run
    from bench.config import RunConfig
    result = run(RunConfig(models=("oracle", "source", "warp")))

or from a shell: ``python -m bench run``. A run's records and per-pair values as pandas
DataFrames (:mod:`bench.analysis`)::

    import bench
    df = bench.load_run("results/run")                        # one row per record
    pairs = bench.load_run("results/run", per_pair=True)      # one row per (model, pair, key)

See README.md.
"""

__version__ = "0.1.0"
__all__ = ["load_run"]


def __getattr__(name: str):
    """``bench.load_run``, imported on first use so ``import bench`` stays light."""
    if name == "load_run":
        from bench.analysis import load_run

        return load_run
    raise AttributeError(f"module 'bench' has no attribute {name!r}")
