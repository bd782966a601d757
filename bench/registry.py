"""One small registry for everything looked up by name: models, datasets, metrics, protocols.

Entries are either objects registered directly or ``"module:attr"`` strings imported on
first use, so ``import bench`` never imports a baseline's heavy dependencies::

    from bench.registry import Registry

    GENERATORS = Registry("model")
    GENERATORS.register_lazy("patn", "baselines.patn.adapter:PATNAdapter", aliases=("pata",))

    @GENERATORS.register("source")
    class Source: ...

    GENERATORS.get("pata")      # -> PATNAdapter (imported now)
    GENERATORS.get("patm")      # UnknownNameError: unknown model 'patm'; did you mean 'patn'?
    GENERATORS.names("p*")      # ['patn'] (registration order)
"""

from __future__ import annotations

import difflib
import fnmatch
import importlib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from bench.errors import UnknownNameError

T = TypeVar("T")


class Registry(Generic[T]):
    """Name -> object, with lazy ``"module:attr"`` entries, aliases and did-you-mean."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, T | str] = {}
        self._aliases: dict[str, str] = {}

    # -- registration ------------------------------------------------------------------
    def register(self, name: str, *aliases: str) -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name`` (and ``aliases``)."""

        def deco(obj: T) -> T:
            self._add(name, obj, aliases)
            return obj

        return deco

    def register_lazy(self, name: str, target: str, aliases: tuple[str, ...] = ()) -> None:
        """Register ``"package.module:attr"``, imported on the first :meth:`get`."""
        if ":" not in target:
            raise ValueError(f"lazy target must look like 'module:attr', got {target!r}")
        self._add(name, target, aliases)

    def _add(self, name: str, obj: T | str, aliases: tuple[str, ...]) -> None:
        for key in (name, *aliases):
            if key in self._entries or key in self._aliases:
                raise ValueError(f"{self.kind} {key!r} is already registered")
        self._entries[name] = obj
        for alias in aliases:
            self._aliases[alias] = name

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (plug-ins and tests that register temporarily)."""
        key = self.canonical(name)
        del self._entries[key]
        for alias in self.aliases_of(key):
            del self._aliases[alias]

    # -- lookup ------------------------------------------------------------------------
    def canonical(self, name: str) -> str:
        """The registered name behind ``name`` (resolving aliases), or UnknownNameError."""
        if name in self._entries:
            return name
        if name in self._aliases:
            return self._aliases[name]
        known = sorted([*self._entries, *self._aliases])
        close = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownNameError(
            f"unknown {self.kind} {name!r}{hint} (known: {', '.join(sorted(self._entries))})"
        )

    def get(self, name: str) -> T:
        key = self.canonical(name)
        obj = self._entries[key]
        if isinstance(obj, str):
            module_name, attr = obj.split(":", 1)
            obj = getattr(importlib.import_module(module_name), attr)
            self._entries[key] = obj
        return obj

    def names(self, pattern: str = "*") -> list[str]:
        """Registered (canonical) names matching an fnmatch pattern, in registration order
        (manifests list related entries together, e.g. ``ssim`` before its variants)."""
        return [n for n in self._entries if fnmatch.fnmatch(n, pattern)]

    def aliases_of(self, name: str) -> list[str]:
        return sorted(a for a, n in self._aliases.items() if n == name)

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._aliases

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)
