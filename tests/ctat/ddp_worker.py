"""One rank of a training run, started by tests/ctat/test_ddp.py under torchrun.

    torchrun --standalone --nproc-per-node 2 tests/ctat/ddp_worker.py SPEC.json

SPEC.json: {"config": TrainConfig.to_dict(), "resume": a checkpoint or run folder, or null,
"fail": null or {"rank": R, "call": N}: rank R's stand-in perceptual network raises a DataError
at its N-th call (twice per step), as an unreadable training image would}.
"""

import json
import os
import sys
from pathlib import Path

from torch import nn

from bench.errors import DataError
from ctat.losses import PerceptualLoss
from ctat.train import TrainConfig, train


class FailAt(nn.Module):
    def __init__(self, call: int) -> None:
        super().__init__()
        self.call, self.calls = call, 0

    def forward(self, x):
        self.calls += 1
        if self.calls == self.call:
            raise DataError("training image broken.jpg: cannot be decoded (test)")
        return x


if __name__ == "__main__":
    spec = json.loads(Path(sys.argv[1]).read_text())
    fail = spec.get("fail")
    perceptual = None
    if fail is not None:
        call = fail["call"] if int(os.environ["RANK"]) == fail["rank"] else 0
        perceptual = PerceptualLoss(FailAt(call))
    train(TrainConfig.from_dict(spec["config"]), resume=spec.get("resume"), progress=False,
          echo=lambda s: None, perceptual=perceptual)
