"""Registries keyed by the names that YAML uses.

Each entry pairs a light pydantic schema (importable without torch) with the
implementation's location, imported only when a run needs it. YAML never
names code: it names a registered component, and an unknown name answers
with the nearest registered ones.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass
from typing import Any


def nearest(name: str, options: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """The registered names closest to a misspelt one (best first): close ones if any, else looser ones."""
    options = list(options)
    return difflib.get_close_matches(str(name), options, n=n, cutoff=0.8) or difflib.get_close_matches(
        str(name), options, n=n, cutoff=0.5
    )


def did_you_mean(name: str, options: list[str] | tuple[str, ...]) -> str:
    close = nearest(name, options)
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return "valid names: " + ", ".join(sorted(options))


class UnknownComponent(KeyError):
    def __init__(self, kind: str, name: str, options: list[str]):
        self.kind, self.name, self.options = kind, name, options
        super().__init__(f"unknown {kind} {name!r}; {did_you_mean(name, options)}")

    def __str__(self) -> str:  # KeyError would quote the whole message
        return self.args[0]


@dataclass(frozen=True)
class Entry:
    name: str
    schema: type
    impl: str | None  # "package.module:attribute", imported lazily


class Registry:
    """Name -> (schema, lazily imported implementation)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, schema: type, impl: str | None = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, schema, impl)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def entry(self, name: str) -> Entry:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownComponent(self.kind, str(name), self.names()) from None

    def schema(self, name: str) -> type:
        return self.entry(name).schema

    def load(self, name: str) -> Any:
        """Import and return the implementation registered under `name`."""
        impl = self.entry(name).impl
        if impl is None:
            raise LookupError(f"{self.kind} {name!r} has no implementation")
        module, _, attr = impl.partition(":")
        return getattr(importlib.import_module(module), attr)
