"""Before a long CPU run: how long generation will take, and how to sample instead.

Learned generators on the CPU are slow (seconds per pair at 256x176), and a run of every model
on a full test split can take hours. Before the first pair, :func:`bench.api.run` times one
small warm batch of each learned model (no parameters, no timing: reference methods and
results folders) and, when generating every pair would take longer than ``THRESHOLD_S``,
prints one line saying how long and how to sample::

    from bench.estimate import estimate_generation, long_run_notice
    seconds = {"ctat": 0.52, "pg2": 0.20}       # per pair, e.g. from estimate_generation(...)
    long_run_notice(seconds, n_pairs=8570, device="cpu", seed=0)
    # 'note: generating 8570 pairs with ctat (0.52 s/pair), pg2 (0.2 s/pair) on the cpu will
    #  take about 1.7 h (one warm batch timed; the metrics add to it); to sample:
    #  --subset 410 --seed 0 (about 5 min), or --limit 410 for the first pairs'

The probe is one forward pass of ``PROBE_BATCH`` pair per learned model, in the run's frame with
its first pair's keypoints; only when that first pass (cold, usually the slowest) says generation may exceed
the threshold is a second, warm pass timed for the estimate. The random state is saved and
restored and no gradient is kept: it changes no generated image and no metric value. On this
2-core CPU shared with other jobs (load average about 6), one pass of ctat, pg2 or patn took
2-5 s at 128x64 and 6-24 s at 256x176 (pg2 the slowest), so the probe costs seconds to a
minute before runs that take hours.

Runs under ``MIN_PAIRS`` pairs, and runs on other devices, are not estimated. The metrics'
own cost is not in the estimate (it depends on which networks are present); the progress
lines give the time left of the whole run once it is going.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np

from bench.keypoints import MISSING
from bench.precision import has_network
from bench.progress import format_duration

THRESHOLD_S = 600.0  # say so when generation alone takes longer than this
TARGET_S = 300.0  # the suggested sample's generation time
MIN_PAIRS = 100  # smaller runs are not estimated
PROBE_BATCH = 1


def probe_inputs(split, pairs, size: tuple[int, int], device: str, batch: int = PROBE_BATCH):
    """(source images, source keypoints, target keypoints) of the first ``batch`` pairs: the
    keypoints of the split, a grey image of the frame (the cost does not depend on pixels)."""
    import torch

    from bench.generation import kpts_to_tensor

    known = split.keypoints
    chosen = [p for p in pairs if p.src in known and p.tgt in known][:batch] or list(pairs[:1])
    h, w = size
    missing = np.full((18, 2), MISSING, np.float32)
    src_kpts = np.stack([known.get(p.src, missing) for p in chosen])
    tgt_kpts = np.stack([known.get(p.tgt, missing) for p in chosen])
    src = torch.full((len(chosen), 3, h, w), 0.5, device=device)
    return src, kpts_to_tensor(src_kpts, device), kpts_to_tensor(tgt_kpts, device)


def time_call(gen, inputs, clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds per pair of one ``gen.generate`` call on ``inputs``, with the random state
    restored afterwards and no gradient."""
    import torch

    src, src_kpts, tgt_kpts = inputs
    with torch.random.fork_rng(devices=[]), torch.inference_mode():
        start = clock()
        gen.generate(src, src_kpts, tgt_kpts)
        elapsed = clock() - start
    return max(elapsed, 0.0) / len(src)


def _round_down(n: int) -> int:
    """A round sample size at most ``n``: 2 significant figures, multiples of 10 from 100."""
    if n < 100:
        return max(1, n)
    scale = 10 ** (int(math.log10(n)) - 1)
    return n // scale * scale


def long_run_notice(seconds_per_pair: dict[str, float], n_pairs: int, device: str, seed: int,
                    threshold_s: float = THRESHOLD_S, target_s: float = TARGET_S) -> str | None:
    """One line when generating ``n_pairs`` with these models would take longer than
    ``threshold_s`` (how long, and the ``--subset``/``--limit`` that fits ``target_s``); None
    otherwise."""
    per_pair = sum(seconds_per_pair.values())
    total = per_pair * n_pairs
    if not seconds_per_pair or total <= threshold_s:
        return None
    models = ", ".join(f"{m} ({s:.2g} s/pair)" for m, s in seconds_per_pair.items())
    sample = _round_down(int(target_s / per_pair))
    how = ""
    if sample < n_pairs:
        how = (f"; to sample: --subset {sample} --seed {seed} "
               f"(about {format_duration(sample * per_pair)}), or --limit {sample} for the "
               "first pairs")
    return (f"note: generating {n_pairs} pairs with {models} on the {device} will take about "
            f"{format_duration(total)} (one warm batch timed; the metrics add to it){how}")


def estimate_generation(built, split, pairs, size: tuple[int, int], device: str,
                        threshold_s: float = THRESHOLD_S,
                        clock: Callable[[], float] = time.perf_counter) -> dict[str, float]:
    """Seconds per pair of each learned generator of ``built`` ((name, generator) pairs) on
    the CPU; empty for other devices and runs under ``MIN_PAIRS`` pairs.

    A first call of each (the slowest: allocation, one-time set-up) decides: when even at
    that speed generation fits ``threshold_s``, its times are the answer (no notice is due);
    otherwise a second, warm call of each is the estimate."""
    if device != "cpu" or len(pairs) < MIN_PAIRS:
        return {}
    learned = [(name, gen) for name, gen in built if has_network(gen)
               and not getattr(gen, "sees_target", False) and not getattr(gen, "sees_pairs", False)]
    if not learned:
        return {}
    inputs = probe_inputs(split, pairs, size, device)
    first = {name: time_call(gen, inputs, clock) for name, gen in learned}
    if sum(first.values()) * len(pairs) <= threshold_s:
        return first
    return {name: time_call(gen, inputs, clock) for name, gen in learned}
