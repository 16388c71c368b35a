"""`Model`: backbone -> neck -> head, assembled from YAML parts, with sizes checked at build time."""

from __future__ import annotations

import torch
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError
from engine.models.components import ComponentModel


class Model(nn.Module):
    wants_paths = True

    def __init__(self, cfg, info: DataInfo, paths=None):
        super().__init__()
        from engine.schema.model_parts import BACKBONES, HEADS, NECKS

        backbone = BACKBONES.load(cfg.backbone.name)
        extra = {"paths": paths} if getattr(backbone, "wants_paths", False) else {}
        self.backbone: ComponentModel = backbone(cfg.backbone, info, **extra)
        self.neck: ComponentModel = NECKS.load(cfg.neck.name)(cfg.neck, fits(self.backbone, cfg.neck, "neck"))
        feeding = self.neck if cfg.neck.name != "identity" else self.backbone
        self.head: ComponentModel = HEADS.load(cfg.head.name)(cfg.head, fits(feeding, cfg.head, "head"), info.n_outputs)
        # per-sample preprocessing the data needs first (a pretrained image backbone's processor), or None
        self.sample_transform = getattr(self.backbone, "sample_transform", None)
        self._check(info)

    def _check(self, info: DataInfo) -> None:
        """Run a tiny batch through the parts: every part must give the width it declared."""
        was_training = self.training
        self.eval()
        with torch.no_grad():
            x = self.backbone.example_input()
            for part in (self.backbone, self.neck, self.head):
                x = part(x)
                if x.ndim != 2 or x.shape[1] != part.out_features:
                    raise ShapeError(
                        f"{part.label} should give (batch, {part.out_features}) but gives {tuple(x.shape)}"
                    )
        self.train(was_training)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.neck(self.backbone(x)))  # (B, *input_shape) -> (B, n_outputs)


def classic(cfg, info: DataInfo, paths=None) -> Model:
    """A classic model (mlp, cnn, transformer): composed parts wired as its schema's `composed()` says."""
    from engine.schema.model_parts import ComposedConfig

    try:
        return Model(ComposedConfig(**cfg.composed()), info, paths)
    except ShapeError as exc:  # the user named a model, not its parts
        raise ShapeError(str(exc).replace(f"backbone {cfg.name!r}", f"model {cfg.name}")) from None


def fits(source: ComponentModel, cfg, slot: str) -> int:
    """The width `source` gives, refused when the next part declares another one."""
    wanted = getattr(cfg, "in_features", None)
    if wanted is not None and wanted != source.out_features:
        raise ShapeError(
            f"model parts do not fit: {slot} {cfg.name!r} takes in_features={wanted}, but {source.label} "
            f"gives {source.out_features}; set model.{slot}.in_features to {source.out_features} or leave it unset"
        )
    return source.out_features
