"""Model components, built from their YAML settings and the data they will see."""

from __future__ import annotations

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
