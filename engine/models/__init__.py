"""Model components, built from their YAML settings and the data they will see."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # light at import: validation reaches engine.models.llm, which must not load torch
    from engine.data_point import DataInfo


def build_model(cfg, info: DataInfo, paths=None):
    """The registered model `cfg.name`, sized for `info` (input shape, outputs)."""
    from engine.schema.base import MODELS

    model = MODELS.load(cfg.name)
    if getattr(model, "wants_paths", False):  # models that read local folders (path.model_root)
        return model(cfg, info, paths=paths)
    return model(cfg, info)


class ShapeError(ValueError):
    """Parts of a model, or a model and its data, that do not fit together."""
