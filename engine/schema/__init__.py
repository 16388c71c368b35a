"""Typed schemas for every component kind, and their registries.

Importing this package registers every component; it imports pydantic only,
never torch, so that composing and validating stay fast.
"""

# the user's own components (engine/plugins.py): installed packages' entry points and METAPROGRAM_PLUGINS,
# registered beside the built-in ones at the first lookup in any registry (before any metaprogram is composed or
# validated), not here: a plugin may import a module whose own import is what brought us here
from engine.plugins import load_plugins  # noqa: E402
from engine.registry import on_first_lookup  # noqa: E402
from engine.schema import (  # noqa: F401  (registers)
    data_dag,
    datasets,
    hooks,
    llm_data,
    llm_models,
    llm_pipelines,
    model_parts,
    models,
    pipelines,
    sleep,
)
from engine.schema.base import COMPONENT_KINDS, REGISTRIES

on_first_lookup(load_plugins)

__all__ = ["COMPONENT_KINDS", "REGISTRIES"]
