"""Training hooks, chosen by name in a pipeline's `hooks:` mapping (see engine/schema/hooks.py)."""

from __future__ import annotations

from typing import Any

from engine.hooks.base import Hook, TrainState


def build_hooks(settings: dict[str, Any]) -> list[Hook]:
    """Instantiate the hooks named in the pipeline, in the order they must run.

    A pipeline's hooks were validated with it (ExecutionConfig.hooks): they pass through unchanged.
    """
    from engine.schema.base import HOOKS

    hooks = [HOOKS.load(name)(cfg) for name, cfg in HOOKS.build_all(settings).items()]
    return sorted(hooks, key=lambda hook: hook.order)


__all__ = ["Hook", "TrainState", "build_hooks"]
