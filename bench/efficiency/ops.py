"""Operation counts: fvcore's multiply-accumulates, this project's handles for everything else a
model does, the operators nobody counted, and a cross-check with ``torch.utils.flop_counter``.

    from bench.efficiency.ops import count_ops, cross_check
    inputs = net.example_inputs(batch=1)
    ops = count_ops(net, inputs)
    ops.macs, ops.flops                  # fvcore's MACs; FLOPs = 2 x MACs (stated convention)
    ops.macs_by_operator                 # {"conv": ..., "matmul": ..., "instance_norm": ...}
    ops.elementwise                      # softmax, activations, additions ...: see COSTS
    ops.uncounted                        # {"aten::foo": calls}: operators nobody counted
    ops.by_module["stages"]              # {"macs": ..., "elementwise": ...}
    check = cross_check(net, inputs)     # fvcore vs torch.utils.flop_counter, shared operators
    check.agree, check.differences       # modules whose counts differ, and by how much

Conventions:

* **MACs** are fvcore's: its default handles count one multiply-accumulate per
  multiply-add of a convolution, linear layer or matrix product (bias additions not counted),
  and its own estimates for normalisation (4-5 per element), nearest upsampling (1 per output
  element) and a few pooling operators. This is the number papers usually print as "FLOPs";
  ``flops`` here is 2 x MACs, always labelled as such.
* **Elementwise operations** are this project's handles for the operators fvcore leaves
  uncounted or ignores (softmax, ReLU, sigmoid, tanh, additions, products, clamps,
  reductions): cost per output element in :data:`ELEMENTWISE_COSTS` (softmax: 3, exponential,
  sum and division; reductions: per input element). They are reported apart from the MACs.
* **Free operators** move or reshape data (views, concatenation, padding, dropout at
  inference, scalar shape arithmetic): zero by definition, listed with their call counts so
  that nothing is free silently.
* **Uncounted operators**: everything else, with call counts; the project's models have none
  (a test checks it).

fvcore traces the module (``torch.jit``), and the trace drops work whose result is never used;
``torch.utils.flop_counter`` sees every operator that executes. The cross-check compares the
two on the operators both count (convolutions and matrix products) and names the modules where
they differ.
"""

from __future__ import annotations

import copy
import warnings
from collections import Counter
from dataclasses import dataclass, field
from math import prod
from typing import Any

import torch
from torch import nn

from bench.efficiency.params import top_level_prefix

with warnings.catch_warnings():  # fvcore scripts a helper at import; torch deprecates jit.script
    warnings.filterwarnings("ignore", message=r".torch\.jit\.script. is deprecated",
                            category=FutureWarning)
    from fvcore.nn import FlopCountAnalysis
    from fvcore.nn.flop_count import _DEFAULT_SUPPORTED_OPS
    from fvcore.nn.jit_handles import get_shape

OPS_VERSION = "1"
ELEMENTWISE_PREFIX = "elementwise/"

#: Cost per output element (unary and binary operators, activations, comparisons).
ELEMENTWISE_COSTS: dict[str, float] = {
    **{op: 1 for op in (
        "add", "add_", "sub", "sub_", "rsub", "mul", "mul_", "div", "div_", "neg", "abs",
        "sigmoid", "sigmoid_", "tanh", "tanh_", "relu", "relu_", "leaky_relu", "leaky_relu_",
        "hardtanh", "hardtanh_", "elu", "elu_", "gelu", "silu", "silu_", "clamp", "clamp_",
        "clamp_min", "clamp_min_", "clamp_max", "clamp_max_", "exp", "log", "sqrt", "rsqrt",
        "pow", "reciprocal", "floor", "floor_divide", "remainder", "eq", "ne", "ge", "gt",
        "le", "lt", "where", "masked_fill", "masked_fill_", "maximum", "minimum",
        "bitwise_not", "__and__", "__or__", "sign", "round", "lerp", "fill_", "zero_",
    )},
    "addcmul": 2, "addcdiv": 2,
    # softmax: exponential, sum and division per element
    "softmax": 3, "_softmax": 3, "log_softmax": 3, "_log_softmax": 3,
}
#: Cost per *input* element (reductions and pooling).
REDUCTION_COSTS: dict[str, float] = {
    op: 1 for op in ("sum", "mean", "amax", "amin", "max", "min", "norm", "var", "std",
                     "logsumexp", "avg_pool2d", "max_pool2d", "adaptive_max_pool2d", "cumsum")
}
#: Operators that only move, view or allocate data: zero by definition.
FREE_OPS: frozenset[str] = frozenset({
    "Int", "ScalarImplicit", "Float", "Bool", "arange", "cat", "concat", "chunk", "clone",
    "constant_pad_nd", "pad", "reflection_pad1d", "reflection_pad2d", "reflection_pad3d",
    "replication_pad1d", "replication_pad2d", "replication_pad3d", "contiguous", "copy_",
    "detach", "dim", "numel", "empty", "empty_like", "expand", "expand_as", "flatten", "flip",
    "full", "full_like", "gather", "index", "index_select", "index_put_", "narrow",
    "new_empty", "new_full", "new_zeros", "new_ones", "nonzero", "ones", "ones_like",
    "permute", "pixel_shuffle", "pixel_unshuffle", "repeat", "reshape", "roll", "select",
    "size", "slice", "split", "split_with_sizes", "squeeze", "squeeze_", "stack", "t", "to",
    "transpose", "type_as", "unbind", "unflatten", "unsqueeze", "unsqueeze_", "view",
    "view_as", "zeros", "zeros_like", "alias", "lift_fresh", "feature_dropout",
})
#: fvcore's operators that both counters see: the cross-check compares them.
SHARED_FVCORE = ("conv", "linear", "addmm", "matmul", "mm", "bmm", "einsum")
SHARED_TORCH = ("convolution", "_convolution", "mm", "addmm", "bmm", "baddbmm")


def _simple(kind: str) -> str:
    return kind.split("::", 1)[1] if "::" in kind else kind


@dataclass(frozen=True)
class OpCount:
    """What :func:`count_ops` found; counts are per forward of the given inputs."""

    macs: int  # fvcore's own handles (see the module docstring)
    macs_by_operator: dict[str, int]
    elementwise: int  # this project's handles
    elementwise_by_operator: dict[str, int]
    uncounted: dict[str, int]  # "aten::op" -> calls that no handle counted
    free: dict[str, int]  # operator -> calls of zero-cost data movement
    calls: dict[str, int]  # operator -> calls of every counted operator
    by_module: dict[str, dict[str, int]]  # module name -> {"macs", "elementwise"}
    input_shapes: list[list[int]] = field(default_factory=list)
    # every module -> fvcore's MACs of the operators torch.utils.flop_counter counts too
    shared_by_module: dict[str, int] = field(default_factory=dict, repr=False)

    @property
    def flops(self) -> int:
        """2 x MACs: one multiply and one add per multiply-accumulate."""
        return 2 * self.macs

    def to_dict(self) -> dict:
        return {"macs": self.macs, "flops": self.flops, "macs_by_operator": self.macs_by_operator,
                "elementwise": self.elementwise,
                "elementwise_by_operator": self.elementwise_by_operator,
                "uncounted": self.uncounted, "free": self.free, "calls": self.calls,
                "by_module": self.by_module, "input_shapes": self.input_shapes}


def _shape(value) -> list[int] | None:
    try:
        return get_shape(value)
    except Exception:  # not a tensor value
        return None


class _Handles:
    """fvcore's default handles plus the project's, each counting its calls."""

    def __init__(self, training: bool = False) -> None:
        self.calls: Counter[str] = Counter()
        self.free: Counter[str] = Counter()
        self.unshaped: Counter[str] = Counter()
        self.training = training

    def handles(self) -> dict[str, Any]:
        out = {}
        for kind, handle in _DEFAULT_SUPPORTED_OPS.items():
            out[kind] = self._fvcore(kind, handle)
        for op, cost in ELEMENTWISE_COSTS.items():
            out[f"aten::{op}"] = self._elementwise(op, cost, per_input=False)
        for op, cost in REDUCTION_COSTS.items():
            out[f"aten::{op}"] = self._elementwise(op, cost, per_input=True)
        for op in FREE_OPS:
            out[f"aten::{op}"] = self._free(op)
        out["aten::dropout"] = self._dropout("dropout")
        out["aten::dropout_"] = self._dropout("dropout_")
        return out

    def _fvcore(self, kind, handle):
        def count(inputs, outputs):
            self.calls[_simple(kind)] += 1
            return handle(inputs, outputs)
        return count

    def _free(self, op):
        def count(inputs, outputs):
            self.free[op] += 1
            return Counter()
        return count

    def _dropout(self, op):
        def count(inputs, outputs):
            train = inputs[2].toIValue() if len(inputs) > 2 else None
            if train is False or (train is None and not self.training):
                self.free[f"{op} (inference: identity)"] += 1
                return Counter()
            shape = _shape(outputs[0])
            self.calls[op] += 1
            return Counter({ELEMENTWISE_PREFIX + op: prod(shape) if shape else 0})
        return count

    def _elementwise(self, op, cost, per_input):
        def count(inputs, outputs):
            shape = _shape(inputs[0] if per_input else outputs[0])
            out_shape = _shape(outputs[0]) if outputs else None
            if out_shape == [] and (shape is None or shape == []):
                self.free[f"{op} (scalar shape arithmetic)"] += 1
                return Counter()
            if shape is None:
                self.unshaped[f"aten::{op} (shape unknown)"] += 1
                return Counter()
            self.calls[op] += 1
            return Counter({ELEMENTWISE_PREFIX + op: int(round(cost * prod(shape)))})
        return count


def _depth(name: str, prefix: str = "") -> int:
    """Levels below ``prefix`` (the top-level submodules are 1); -1 outside it."""
    if prefix:
        if not name.startswith(prefix + "."):
            return -1
        name = name[len(prefix) + 1:]
    return 0 if name == "" else name.count(".") + 1


def count_ops(module: nn.Module, inputs: tuple, depth: int | None = 1) -> OpCount:
    """Count one forward of ``module`` on ``inputs`` (traced by fvcore, without gradients).

    ``depth``: how deep the per-module breakdown goes below the top-level submodules (1: the
    top-level submodules, :func:`bench.efficiency.params.top_level_modules`; None: every
    module)."""
    inputs = tuple(inputs)
    handles = _Handles(training=module.training)
    analysis = FlopCountAnalysis(module, inputs)
    analysis._ignored_ops = set()  # nothing is ignored silently: every operator is handled
    analysis.set_op_handle(**handles.handles())
    analysis.unsupported_ops_warnings(False)
    analysis.uncalled_modules_warnings(False)
    analysis.tracer_warnings("none")
    with torch.no_grad():
        by_operator = analysis.by_operator()
        by_module_op = analysis.by_module_and_operator()
        unsupported = analysis.unsupported_ops()
    macs = {k: int(v) for k, v in by_operator.items() if not k.startswith(ELEMENTWISE_PREFIX)}
    elementwise = {k[len(ELEMENTWISE_PREFIX):]: int(v) for k, v in by_operator.items()
                   if k.startswith(ELEMENTWISE_PREFIX)}
    prefix = top_level_prefix(module)
    by_module = {}
    for name, counter in by_module_op.items():
        level = _depth(name, prefix)
        if level < 1 or (depth is not None and level > depth):
            continue
        by_module[name] = {
            "macs": int(sum(v for k, v in counter.items() if not k.startswith(ELEMENTWISE_PREFIX))),
            "elementwise": int(sum(v for k, v in counter.items()
                                   if k.startswith(ELEMENTWISE_PREFIX))),
        }
    shared_by_module = {name: int(sum(v for k, v in counter.items() if k in SHARED_FVCORE))
                        for name, counter in by_module_op.items()}
    uncounted = Counter({k: int(v) for k, v in unsupported.items()})
    uncounted.update(handles.unshaped)
    return OpCount(
        macs=int(sum(macs.values())), macs_by_operator=dict(sorted(macs.items())),
        elementwise=int(sum(elementwise.values())),
        elementwise_by_operator=dict(sorted(elementwise.items())),
        uncounted=dict(sorted(uncounted.items())), free=dict(sorted(handles.free.items())),
        calls=dict(sorted(handles.calls.items())), by_module=by_module,
        input_shapes=[list(t.shape) for t in inputs if isinstance(t, torch.Tensor)],
        shared_by_module=shared_by_module,
    )


def meta_copy(module: nn.Module) -> nn.Module:
    """A copy of ``module`` whose parameters and buffers live on the meta device (no memory,
    no computation): for counters that only need shapes."""
    memo: dict[int, Any] = {}
    for p in module.parameters():
        memo[id(p)] = nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
    for b in module.buffers():
        memo[id(b)] = torch.empty_like(b, device="meta")
    return copy.deepcopy(module, memo)


@dataclass(frozen=True)
class CrossCheck:
    """fvcore against ``torch.utils.flop_counter`` on the operators both count."""

    fvcore_macs: int  # fvcore's count of convolutions and matrix products
    torch_macs: int  # torch's FLOPs of the same operators / 2
    fvcore_by_operator: dict[str, int]
    torch_by_operator: dict[str, int]  # MACs (FLOPs / 2) per aten operator, shared ones
    torch_only: dict[str, int]  # operators only torch counted (e.g. attention kernels)
    differences: dict[str, dict[str, int]]  # module -> {"fvcore", "torch"} where they differ
    device: str

    @property
    def agree(self) -> bool:
        return self.fvcore_macs == self.torch_macs

    @property
    def relative_difference(self) -> float:
        return (self.torch_macs - self.fvcore_macs) / max(self.fvcore_macs, 1)

    def to_dict(self) -> dict:
        return {"fvcore_macs": self.fvcore_macs, "torch_macs": self.torch_macs,
                "agree": self.agree, "relative_difference": self.relative_difference,
                "fvcore_by_operator": self.fvcore_by_operator,
                "torch_by_operator": self.torch_by_operator, "torch_only": self.torch_only,
                "differences": self.differences, "device": self.device}


def _torch_counts(module: nn.Module, inputs: tuple) -> dict[str, dict[str, int]]:
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(*inputs)
    out: dict[str, dict[str, int]] = {}
    for name, ops in counter.get_flop_counts().items():
        key = "" if name == "Global" else (name.split(".", 1)[1] if "." in name else None)
        if key is None:  # the root module under its class name: same as Global
            continue
        out[key] = {_simple(str(op).replace("aten.", "aten::")): int(v) // 2
                    for op, v in ops.items()}
    return out


def cross_check(module: nn.Module, inputs: tuple, ops: OpCount | None = None,
                depth: int = 2, meta: bool = True) -> CrossCheck:
    """Compare fvcore's MACs of convolutions and matrix products (``ops``, counted now if not
    given) with what ``torch.utils.flop_counter`` counts when the module runs: on the meta
    device by default (shapes only, nothing computed); ``meta=False`` runs it for real.
    ``differences`` names the modules (at most ``depth`` levels below the top-level prefix)
    where the two differ."""
    inputs = tuple(inputs)
    ops = ops or count_ops(module, inputs)
    device = str(next((t.device for t in inputs if isinstance(t, torch.Tensor)), "cpu"))
    torch_counts = None
    if meta:
        try:
            meta_inputs = tuple(t.to("meta") if isinstance(t, torch.Tensor) else t
                                for t in inputs)
            torch_counts = _torch_counts(meta_copy(module), meta_inputs)
            device = "meta"
        except (RuntimeError, NotImplementedError, TypeError):  # an operator without meta kernel
            torch_counts = None
    if torch_counts is None:
        torch_counts = _torch_counts(module, inputs)
    total = torch_counts.get("", {})
    torch_shared = {k: v for k, v in total.items() if k in SHARED_TORCH}
    torch_only = {k: v for k, v in total.items() if k not in SHARED_TORCH}
    fv_shared = {k: v for k, v in ops.macs_by_operator.items() if k in SHARED_FVCORE}
    differences = {}
    prefix = top_level_prefix(module)
    for name, fv in ops.shared_by_module.items():
        # containers that are never called (ModuleList) are not torch's to attribute
        if (name and name not in torch_counts) or _depth(name, prefix) > depth:
            continue
        tv = sum(v for k, v in torch_counts.get(name, {}).items() if k in SHARED_TORCH)
        if tv != fv:
            differences[name or "(total)"] = {"fvcore": fv, "torch": tv}
    return CrossCheck(
        fvcore_macs=int(sum(fv_shared.values())), torch_macs=int(sum(torch_shared.values())),
        fvcore_by_operator=fv_shared, torch_by_operator=torch_shared, torch_only=torch_only,
        differences=differences, device=device,
    )
