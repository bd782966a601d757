"""One rank of a training run, started by tests/ctat/test_ddp.py under torchrun.

    torchrun --standalone --nproc-per-node 2 tests/ctat/ddp_worker.py SPEC.json

SPEC.json: {"config": TrainConfig.to_dict(), "resume": a checkpoint or run folder, or null}.
"""

import json
import sys
from pathlib import Path

from ctat.train import TrainConfig, train

if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    train(TrainConfig.from_dict(spec["config"]), resume=spec.get("resume"), progress=False,
          echo=lambda s: None)
