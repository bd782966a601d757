"""A fresh process that times one model: ``python -m bench.efficiency.worker`` (JSON on stdin).

Started by :func:`bench.efficiency.probe.run_worker` (one per model, device and execution mode);
not meant to be run by hand. The job::

    {"spec": {ModelSpec fields}, "device": "cpu", "settings": {EfficiencySettings fields},
     "tasks": ["memory_b1", "latency", "sweep"], "mode": "eager"}

It rebuilds the model from the registry (the same adapter and weights as the caller), runs the
tasks and prints ``{"measurements": [...]}`` as the only line on stdout (anything the model
prints goes to stderr). Nothing else runs in this process: no data loading, no metrics.
"""

from __future__ import annotations

import contextlib
import json
import sys


def main() -> int:
    job = json.loads(sys.stdin.read())
    stdout = sys.stdout
    with contextlib.redirect_stdout(sys.stderr):
        from bench.efficiency.probe import (
            EfficiencySettings,
            spec_from_dict,
            speed_measurements,
        )
        from bench.models import GENERATORS

        spec = spec_from_dict(job["spec"])
        settings = EfficiencySettings.from_dict(job["settings"])
        if settings.threads is not None:  # before any work creates the thread pool
            import torch

            torch.set_num_threads(settings.threads)
        module = GENERATORS.get(spec.name)(spec).module
        measurements = speed_measurements(
            module, job["device"], settings, job["tasks"],
            isolation="fresh process per model (python -m bench.efficiency.worker)",
            mode=job.get("mode", "eager"))
    stdout.write(json.dumps({"measurements": [m.to_dict() for m in measurements]}) + "\n")
    stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
