"""Parameter counts of exactly the module that runs at inference.

    from bench.efficiency.params import count_parameters
    counts = count_parameters(gen.module)
    counts.total, counts.trainable, counts.by_module["stages"]     # {"total": ..., ...}

Shared parameters are counted once (``Module.parameters()`` deduplicates). Buffers (batch-norm
running statistics) are not parameters; their element count is reported beside them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from torch import nn


@dataclass(frozen=True)
class ParameterCount:
    total: int
    trainable: int
    buffers: int  # elements of registered buffers (not parameters)
    module_class: str
    # top-level submodule -> {"total", "trainable"}; "(own)" holds parameters registered on
    # the module itself rather than on a child
    by_module: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def frozen(self) -> int:
        return self.total - self.trainable

    def to_dict(self) -> dict:
        return {"total": self.total, "trainable": self.trainable, "frozen": self.frozen,
                "buffers": self.buffers, "module_class": self.module_class,
                "by_module": self.by_module}


def _count(params) -> dict[str, int]:
    params = list(params)
    return {"total": sum(p.numel() for p in params),
            "trainable": sum(p.numel() for p in params if p.requires_grad)}


def top_level_prefix(module: nn.Module) -> str:
    """Where a model's parts start: the module itself, or, through wrappers holding a single
    child (PATN's generator wraps ``model``), the first module with several children."""
    parts = []
    while True:
        children = list(module.named_children())
        if len(children) != 1 or any(True for _ in module.parameters(recurse=False)):
            return ".".join(parts)
        name, module = children[0]
        parts.append(name)


def top_level_modules(module: nn.Module) -> list[tuple[str, nn.Module]]:
    """(qualified name, module) of the top-level submodules (see :func:`top_level_prefix`)."""
    prefix = top_level_prefix(module)
    root = module.get_submodule(prefix) if prefix else module
    return [(f"{prefix}.{name}" if prefix else name, child)
            for name, child in root.named_children()]


def count_parameters(module: nn.Module) -> ParameterCount:
    """Total, trainable and per top-level submodule parameter counts of ``module``.

    A parameter shared by two children is counted under the first that holds it, so the
    per-module counts add up to the total."""
    seen: set[int] = set()
    by_module: dict[str, dict[str, int]] = {}
    for name, child in top_level_modules(module):
        own = [p for p in child.parameters() if id(p) not in seen]
        seen.update(id(p) for p in own)
        by_module[name] = _count(own)
    rest = [p for p in module.parameters() if id(p) not in seen]
    if rest:
        by_module["(own)"] = _count(rest)
    totals = _count(module.parameters())
    return ParameterCount(
        total=totals["total"], trainable=totals["trainable"],
        buffers=sum(b.numel() for b in module.buffers()),
        module_class=type(module).__name__, by_module=by_module,
    )
