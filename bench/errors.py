"""User-facing errors: each says what was expected, where, and what was found.

The CLI turns every :class:`BenchError` into a message on stderr and exit code 2,
never a traceback::

    raise DataError("expected market-pairs-test.csv in /data/market, found nothing")
"""

from __future__ import annotations


class BenchError(Exception):
    """An error caused by the user's input or environment, reported without a traceback."""

    exit_code = 2


class UnknownNameError(BenchError, KeyError):
    """A model, dataset, metric or protocol name that is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class DataError(BenchError):
    """A dataset folder, split file, annotation or image is missing or malformed."""


class ModelUnavailableError(BenchError):
    """A registered model that cannot run here (network not implemented, checkpoint missing)."""


class GeneratorOutputError(Exception):
    """A generator returned something other than (N, 3, H, W) finite values in [0, 1]."""


class WeightsUnavailableError(BenchError):
    """Pretrained weights a network needs are not on this machine (and could not be fetched).

    The message names the file, every place looked in, and how to provide it."""


class MetricUnavailableError(BenchError):
    """A metric that cannot be computed in this run for a reason other than weights (an input
    it needs was not given, e.g. the training-image folder of a train-set FID). The run records
    the reason instead of a number."""
