"""Training hooks, chosen by name in a pipeline's `hooks:` mapping (see engine/schema/hooks.py)."""

from __future__ import annotations

from engine.hooks.base import Hook, TrainState


def build_hooks(settings: dict[str, dict]) -> list[Hook]:
    """Instantiate the hooks named in the pipeline, in the order they must run."""
    from engine.schema.base import HOOKS

    hooks = []
    for name, params in settings.items():
        schema = HOOKS.schema(name)
        hooks.append(HOOKS.load(name)(schema.model_validate(params or {})))
    return sorted(hooks, key=lambda hook: hook.order)


__all__ = ["Hook", "TrainState", "build_hooks"]
