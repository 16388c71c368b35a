"""The base of every schema: typed, with defaults and ranges, unknown keys rejected.

Markers say how a setting enters a run's identity (engine/identity.py) and who may set it:
- `path_field(...)` names a file or folder. The *contents* of what it names enter the id, not just
  its spelling, and untrusted input may not set it.
- `hub_field(...)` names a hub id, which may also be a local file or folder: when one exists under
  the root, its contents enter the id as a path field's do. Untrusted input may not set it.
- `location_field(...)` names something outside the run that is not read as an input (a revision,
  a URL): untrusted input may not set it.
- `observer_field(...)`, or `is_observer = True` on a whole schema (a hook), watches a run without
  changing its results (progress bars, plots, trackers, checkpoint frequency, resources): it stays
  out of the id and is recorded beside it.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from types import UnionType
from typing import TYPE_CHECKING, Any, ClassVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from engine.registry import Registry

if TYPE_CHECKING:
    from engine.paths import Paths

COMPONENT_KINDS = ("model", "dataset", "pipeline")
MODELS = Registry("model")
DATASETS = Registry("dataset")
PIPELINES = Registry("pipeline")
HOOKS = Registry("hook")
METRICS = Registry("metric")  # extra metrics of the execution pipeline (a plugin's register.metric)
REGISTRIES = {"model": MODELS, "dataset": DATASETS, "pipeline": PIPELINES, "hook": HOOKS}
PATH_ROOTS = ("data_root", "model_root")


class Schema(BaseModel):
    """Strict settings: a key the schema does not declare is an error, a number is a number (a boolean or a
    string is not read as one, so `true` and `1`, or `"3"` and `3`, never mean the same setting), and a
    switch is `true` or `false` (not `1`, `"yes"` or `"on"`)."""

    model_config = ConfigDict(extra="forbid", validate_default=True)
    is_observer: ClassVar[bool] = False  # True: the whole schema only watches a run (see the module doc)

    @field_validator("*", mode="before")
    @classmethod
    def _numbers_are_numbers(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, bool | str) and _wants_number(cls, info.field_name):
            raise ValueError(f"expected a number, got {type(value).__name__} {value!r:.40}")
        if value is not None and not isinstance(value, bool) and _wants(cls, info.field_name, (bool,)):
            raise ValueError(f"expected true or false, got {type(value).__name__} {value!r:.40}")
        return value

    def input_files(self, paths: Paths) -> dict[str, Path]:
        """The files and folders whose contents determine this component's results, by dotted setting.

        The run id digests their contents (a folder: its files' relative names and contents), and a
        missing one is a validation error. The default takes every `path_field` that is set, resolved
        against its root (`path_field(root=...)`: data_root unless said otherwise), and recurses into
        nested schemas (lists and mappings of them included), skipping observers. Override it where a
        file is found another way (a package's file, a task's data), where a setting names several
        files, or where only some settings are read (the active source). Files built deterministically
        from the settings themselves (a cached build, a conversion) are not inputs; what they are built
        from is.
        """
        found: dict[str, Path] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if is_observer_field(type(self), name) or value is None:
                continue
            root = path_root(type(self), name)
            if root is not None:
                if isinstance(value, str):
                    local = paths.resolve(value, root)
                    if not is_hub_field(type(self), name) or local.exists():
                        found[name] = local
                continue
            for key, part in nested_schemas(name, value):
                if not part.is_observer:
                    found.update({f"{key}.{k}": p for k, p in part.input_files(paths).items()})
        return found


class Component(Schema):
    """A model, dataset or pipeline: `name` is its registry key."""

    name: str


def _wants_number(schema: type, key: str) -> bool:
    """True when setting `key` takes only numbers (int or float, optionally None): no bool, str or schema."""
    return _wants(schema, key, (int, float))


@functools.cache
def _wants(schema: type, key: str, allowed: tuple[type, ...]) -> bool:
    """True when setting `key` takes only values of the `allowed` types (optionally None)."""
    field = schema.model_fields.get(key)
    if field is None:
        return False
    kinds = get_args(field.annotation) if get_origin(field.annotation) in (Union, UnionType) else (field.annotation,)
    kinds = tuple(k for k in kinds if k is not type(None))
    return bool(kinds) and all(k in allowed for k in kinds)


def path_field(default: Any = ..., *, root: str = "data_root", **kwargs: Any) -> Any:
    """A setting that names a file or folder (relative to `root`): its contents enter the id; refused untrusted."""
    if root not in PATH_ROOTS:
        raise ValueError(f"root must be one of {PATH_ROOTS}")
    return Field(default, json_schema_extra={"path": root}, **kwargs)


def hub_field(default: Any = ..., *, root: str = "data_root", **kwargs: Any) -> Any:
    """A hub id that may be a local file or folder under `root`: a local one's contents enter the id."""
    if root not in PATH_ROOTS:
        raise ValueError(f"root must be one of {PATH_ROOTS}")
    return Field(default, json_schema_extra={"path": root, "hub": True}, **kwargs)


def hub_location(value: str, paths: Paths, root: str = "data_root") -> str:
    """What a hub field reads: the local file or folder under `root` when one exists (the one its digest
    describes), else the hub id as written."""
    local = paths.resolve(value, root)
    return str(local) if local.exists() else value


def location_field(default: Any = ..., **kwargs: Any) -> Any:
    """Names something outside the run (a revision, a URL), read by no input digest: refused untrusted."""
    return Field(default, json_schema_extra={"path": "location"}, **kwargs)


def observer_field(default: Any = ..., **kwargs: Any) -> Any:
    """A setting that watches a run without changing its results: outside the id, recorded beside it."""
    return Field(default, json_schema_extra={"observer": True}, **kwargs)


def _extra(schema: type[BaseModel], key: str) -> dict:
    field = schema.model_fields.get(key)
    extra = field.json_schema_extra if field is not None else None
    return extra if isinstance(extra, dict) else {}


def is_path_field(schema: type[BaseModel], key: str) -> bool:
    """A setting untrusted input may not set: a path, a hub id or a location."""
    return bool(_extra(schema, key).get("path"))


def is_hub_field(schema: type[BaseModel], key: str) -> bool:
    return bool(_extra(schema, key).get("hub"))


def path_root(schema: type[BaseModel], key: str) -> str | None:
    """The root a path setting is relative to, None for other settings (a class may set `path_root`)."""
    root = _extra(schema, key).get("path")
    if not root or root == "location":
        return None
    return getattr(schema, "path_root", root) if root == "data_root" else root


def is_observer_field(schema: type[BaseModel], key: str) -> bool:
    return bool(_extra(schema, key).get("observer"))


def nested_schemas(key: str, value: Any) -> Iterator[tuple[str, Schema]]:
    """(dotted key, schema) for a schema value, or the schemas in a list or mapping value."""
    if isinstance(value, Schema):
        yield key, value
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            if isinstance(item, Schema):
                yield f"{key}.{i}", item
    elif isinstance(value, dict):
        for k, item in value.items():
            if isinstance(item, Schema):
                yield f"{key}.{k}", item
