"""Which model of a run a name means: one rule for every option keyed by model.

A run's models are registry models (canonical names: ``pata`` is ``patn``) and results folders
(``folder:NAME=PATH``, named NAME, not in the registry). A name given to ``--checkpoint``,
``--keypoints``, ``compare --models`` or a report's model selection means::

    from bench.selection import model_of_run, select_models
    model_of_run("pata", ("warp", "patn", "defgan"))           # 'patn' (registry alias)
    model_of_run("defgan", ("warp", "patn", "defgan"))         # 'defgan' (a results folder)
    model_of_run("defgn", ("warp", "defgan"), "--keypoints")   # UnknownNameError:
    # --keypoints names 'defgn', which is not a model of this run; did you mean 'defgan'? ...
    select_models(records, ["pata", "defgan"])                 # ('patn', 'defgan')
    models_of_run(Path("results/run"))                         # ('warp', 'patn', 'defgan')

the run's model of that exact name, else the registry's canonical name if the run has it (a
``folder:NAME=PATH`` entry stands for NAME);
anything else is an :class:`bench.errors.UnknownNameError` naming the run's models and the
closest of them.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable
from pathlib import Path

from bench.errors import BenchError, UnknownNameError


def model_of_run(name: str, models: Iterable[str], given_as: str = "model") -> str:
    """The name, among ``models`` (a run's, in order), that ``name`` means; ``given_as`` says
    where the name came from in the message (``--keypoints``, ``compare --models``)."""
    models = tuple(models)
    if name in models:
        return name
    from bench.models import GENERATORS

    if name in GENERATORS and GENERATORS.canonical(name) in models:
        return GENERATORS.canonical(name)
    hint = ""
    if name.startswith("folder:"):  # a results folder's entry stands for its NAME
        folder_name = name[len("folder:"):].partition("=")[0].strip()
        if folder_name in models:
            return folder_name
        hint = f"; a results folder is named by its NAME here, and {folder_name!r} is none"
    else:
        close = difflib.get_close_matches(name, models, n=3, cutoff=0.5)
        if close:
            hint = f"; did you mean {' or '.join(repr(c) for c in close)}?"
    known = ", ".join(models) or "none"
    raise UnknownNameError(f"{given_as} names {name!r}, which is not a model of this run{hint} "
                           f"(its models: {known})")


def select_models(records, names: Iterable[str] | None) -> tuple[str, ...]:
    """The models of ``records`` (any objects with ``.model``, in first-seen order) that
    ``names`` select, in the order given (``None``: all of them); duplicates removed.
    UnknownNameError with did-you-mean for a name that is no model of the records."""
    models = tuple(dict.fromkeys(r.model for r in records))
    if names is None:
        return models
    return tuple(dict.fromkeys(model_of_run(n, models, "model selection") for n in names))


def models_of_run(run_dir: Path, records=None) -> tuple[str, ...]:
    """A run folder's models as its records name them, in the run's order: ``config.json``'s
    models, then any other model of its records (``records``, else ``records.jsonl``), then
    of its per-pair tables. BenchError when the folder holds none of these."""
    from bench.records import read_records

    run_dir = Path(run_dir)
    models: list[str] = []
    config = run_dir / "config.json"
    if config.is_file():
        try:
            data = json.loads(config.read_text(encoding="utf-8"))
            models += list(data.get("models") or [])
        except (ValueError, AttributeError, TypeError) as exc:
            raise BenchError(f"{config}: not a run configuration ({exc})") from None
    if records is None and (run_dir / "records.jsonl").is_file():
        try:
            records = read_records(run_dir / "records.jsonl")
        except ValueError as exc:
            raise BenchError(str(exc)) from None
    models += [r.model for r in records or ()]
    models += sorted(p.stem for p in (run_dir / "per_pair").glob("*.csv"))
    if not models:
        raise BenchError(f"{run_dir} holds no run: expected config.json, records.jsonl or "
                         "per_pair/<model>.csv")
    return tuple(dict.fromkeys(models))
