"""Efficiency of the generators: parameters, MACs/FLOPs, latency, throughput, peak memory.

    python -m bench profile --models ctat,pg2,patn --resolution 128x64 [--device cuda] [--json]

The same from Python, on any module that has ``example_inputs(batch, device)`` (every learned
model of the project does; no dataset and no weights are needed)::

    from bench.efficiency import EfficiencySettings, count_parameters, measure_module
    from bench.efficiency.ops import count_ops, cross_check
    from ctat.network import CTATGenerator

    net = CTATGenerator(size=(128, 64)).eval()
    count_parameters(net).total                       # 15,843,846
    ops = count_ops(net, net.example_inputs(1))       # fvcore, with the project's handles
    ops.macs, ops.flops, ops.uncounted                # 9.61e9, 2 x that, {}
    cross_check(net, net.example_inputs(1), ops)      # torch.utils.flop_counter beside it

    settings = EfficiencySettings(devices=("cpu", "cuda"), isolation="none")
    for m in measure_module(net, settings, name="ctat"):
        print(m.key, m.value, m.unit, m.status)       # latency_ms@cpu ... ; @cuda: unavailable

Modules: :mod:`.params` (counts per top-level submodule), :mod:`.ops` (fvcore MACs, handles,
uncounted operators, the cross-check, per-module breakdown), :mod:`.timing` (the latency harness:
warm-up, synchronised timed calls, injectable clock), :mod:`.memory` (CUDA max allocated, CPU
peak resident growth), :mod:`.modes` (eager, CUDA graph replay, torch.compile; each checked
against eager before it is timed), :mod:`.probe` (per-model measurements and records; each
model and mode timed in a fresh process, :mod:`.worker`). ``bench run`` adds the same records for its models
(``--no-efficiency`` skips them); see docs/DESIGN.md "Efficiency".
"""

import importlib

#: Execution modes of a timed forward pass, and torch.compile's modes (:mod:`.modes`). Here,
#: not there: the command line offers them without importing torch.
MODES = ("eager", "cuda-graphs", "compile")
COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")

# Each name is imported from its module when first asked for (they import torch).
_EXPORTS = {
    "MemoryPeak": "memory", "peak_memory": "memory",
    "ParameterCount": "params", "count_parameters": "params",
    "EfficiencySettings": "probe", "measure_generator": "probe", "measure_module": "probe",
    "profile_models": "probe",
    "Measurement": "measurement",
    "Timing": "timing", "time_callable": "timing",
}

__all__ = ["COMPILE_MODES", "MODES", *sorted(_EXPORTS)]


def __getattr__(name: str):
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
