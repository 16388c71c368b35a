"""The base of every schema: typed, with defaults and ranges, unknown keys rejected."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine.registry import Registry

COMPONENT_KINDS = ("model", "dataset", "pipeline")
MODELS = Registry("model")
DATASETS = Registry("dataset")
PIPELINES = Registry("pipeline")
HOOKS = Registry("hook")
REGISTRIES = {"model": MODELS, "dataset": DATASETS, "pipeline": PIPELINES, "hook": HOOKS}


class Schema(BaseModel):
    """Strict settings: a key the schema does not declare is an error."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class Component(Schema):
    """A model, dataset or pipeline: `name` is its registry key."""

    name: str


def path_field(default: Any = ..., **kwargs: Any) -> Any:
    """A setting that names a file or folder: refused in untrusted input."""
    return Field(default, json_schema_extra={"path": True}, **kwargs)


def is_path_field(schema: type[BaseModel], key: str) -> bool:
    field = schema.model_fields.get(key)
    extra = field.json_schema_extra if field is not None else None
    return isinstance(extra, dict) and bool(extra.get("path"))
