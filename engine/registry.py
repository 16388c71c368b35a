"""Registries keyed by the names that YAML uses (what is wrong with a setting is said by engine/errors.py).

Each entry pairs a light pydantic schema (importable without torch) with the
implementation's location, imported only when a run needs it. YAML never
names code: it names a registered component, and an unknown name answers
with the nearest registered ones.

`Registry.build` is how every registered thing is checked (metaprogram
components, hooks, model parts, DAG transforms): it checks the name, validates
the settings against that name's schema, and raises one pydantic
ValidationError whose errors are already explained (`explain`), so that a
setting nested at any depth is reported with its full key path and, for a
misspelling, the nearest valid names.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from engine.errors import UnknownComponent, check, explained, raise_explained

# ----------------------------------------------------------------------------- registries

_PENDING: list[Any] = []  # loaders run before any registry is first read (engine.schema adds the plugins')


def on_first_lookup(load: Any) -> None:
    """Run `load()` before the first lookup in any registry. Plugins register then, at first use, never in the
    middle of an import: a plugin may import any module of this project, even one whose import loads the schemas."""
    _PENDING.append(load)


def load_pending() -> None:
    while _PENDING:
        _PENDING.pop(0)()  # taken off first: a lookup made while loading does not load again


@dataclass(frozen=True)
class Entry:
    name: str
    schema: type
    impl: Any  # "package.module:attribute", imported lazily; or the callable itself (a plugin's, already imported)


class Registry:
    """Name -> (schema, lazily imported implementation)."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}

    def register(self, name: str, schema: type, impl: Any = None) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} {name!r} is registered twice")
        self._entries[name] = Entry(name, schema, impl)

    def names(self) -> list[str]:
        load_pending()
        return sorted(self._entries)

    def __contains__(self, name: object) -> bool:
        load_pending()
        return name in self._entries

    def entry(self, name: str) -> Entry:
        load_pending()
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise UnknownComponent(self.kind, str(name), self.names()) from None

    def schema(self, name: str) -> type:
        return self.entry(name).schema

    def build(self, name: Any, settings: Any, loc: tuple = (), name_loc: tuple | None = None) -> BaseModel:
        """The settings of registered `name`, validated; errors explained, located under `loc`.

        An unknown name is reported at `name_loc` (default: `loc` + 'name') with the nearest registered names.
        """
        try:
            schema = self.schema(name)
        except UnknownComponent as exc:
            where = (*loc, "name") if name_loc is None else name_loc
            raise ValidationError.from_exception_data(self.kind, [explained(str(exc), where, name)]) from None
        return check(schema, settings, loc)

    def build_all(self, settings: dict[str, Any]) -> dict[str, BaseModel]:
        """{name: settings} -> {name: validated settings}, every problem reported at once (e.g. hooks)."""
        built, errors = {}, []
        for name, value in sorted(settings.items()):
            try:
                built[name] = self.build(name, value, (name,), name_loc=(name,))
            except ValidationError as exc:
                errors += [explained(e["msg"], e["loc"], e.get("input")) for e in exc.errors()]
        raise_explained(self.kind, errors)
        return built

    def companion(self, name: str, attribute: str) -> Any:
        """Another attribute of the module that implements `name` (e.g. a pipeline's checks), or None."""
        impl = self.entry(name).impl
        if not isinstance(impl, str):
            return None
        return getattr(importlib.import_module(impl.partition(":")[0]), attribute, None)

    def load(self, name: str) -> Any:
        """Import and return the implementation registered under `name`."""
        impl = self.entry(name).impl
        if impl is None:
            raise LookupError(f"{self.kind} {name!r} has no implementation")
        if callable(impl):
            return impl
        module, _, attr = impl.partition(":")
        return getattr(importlib.import_module(module), attr)
