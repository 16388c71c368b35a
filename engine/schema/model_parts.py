"""Schemas of composed models (backbone + neck + head) and of the vision-language models.

A `composed` model names one registered part per slot; each part's settings are
validated against that part's schema here, so YAML mistakes surface at
validation, and sizes that do not fit surface when the model is built.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from engine.registry import Registry
from engine.schema.base import MODELS, Component, Schema, path_field
from engine.schema.models import Activation, TransformerConfig

BACKBONES = Registry("backbone")
NECKS = Registry("neck")
HEADS = Registry("head")


# ---- backbones -----------------------------------------------------------------------------------
class MLPBackbone(Component):
    name: Literal["mlp"] = "mlp"
    hidden: int = Field(128, ge=1, le=16384)
    layers: int = Field(2, ge=1, le=32)
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"


class CNNBackbone(Component):
    name: Literal["cnn"] = "cnn"
    channels: list[int] = Field([32, 64], min_length=1, max_length=6)
    kernel_size: int = Field(3, ge=1, le=7)
    activation: Activation = "relu"
    global_pool: bool = Field(True, description="average over space: the output is the last channel count")


class TransformerBackbone(TransformerConfig):
    """A transformer encoder over tokens (text) or over features-as-tokens: the classic model's settings."""


class HFBackbone(Component):
    """Any transformers architecture: built from a config (random init), or loaded from a local folder."""

    name: Literal["hf"] = "hf"
    model_type: str = Field("bert", description="a transformers model type (bert, roberta, distilbert, llama, ...)")
    config: dict[str, Any] = Field(
        default_factory=dict, description="config settings, e.g. hidden_size, num_hidden_layers"
    )
    pretrained: str | None = path_field(
        None, root="model_root", description="a local model folder (relative to path.model_root)"
    )
    pooling: Literal["mean", "first", "last"] = "mean"


# ---- necks and heads -----------------------------------------------------------------------------
class IdentityNeck(Component):
    name: Literal["identity"] = "identity"


class ProjectionNeck(Component):
    name: Literal["projection"] = "projection"
    in_features: int | None = Field(None, ge=1, le=1_000_000, description="checked against the backbone; unset: any")
    out_features: int = Field(128, ge=1, le=1_000_000)
    activation: Activation = "gelu"
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    norm: bool = True


class LinearHead(Component):
    name: Literal["linear"] = "linear"
    in_features: int | None = Field(None, ge=1, le=1_000_000, description="checked against what feeds it; unset: any")
    dropout: float = Field(0.0, ge=0.0, le=0.9)


class MLPHead(Component):
    name: Literal["mlp"] = "mlp"
    in_features: int | None = Field(None, ge=1, le=1_000_000)
    hidden: int = Field(128, ge=1, le=16384)
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"


_M = "engine.models.components"
for _registry, _name, _schema, _impl in (
    (BACKBONES, "mlp", MLPBackbone, f"{_M}:MLPBackbone"),
    (BACKBONES, "cnn", CNNBackbone, f"{_M}:CNNBackbone"),
    (BACKBONES, "transformer", TransformerBackbone, f"{_M}:TransformerBackbone"),
    (BACKBONES, "hf", HFBackbone, "engine.models.hf:HFBackbone"),
    (NECKS, "identity", IdentityNeck, f"{_M}:IdentityNeck"),
    (NECKS, "projection", ProjectionNeck, f"{_M}:ProjectionNeck"),
    (HEADS, "linear", LinearHead, f"{_M}:LinearHead"),
    (HEADS, "mlp", MLPHead, f"{_M}:MLPHead"),
):
    _registry.register(_name, _schema, _impl)


def _part(registry: Registry, value: Any) -> Any:
    if isinstance(value, Schema):
        return value
    if not isinstance(value, dict) or "name" not in value:
        raise ValueError(f"expected a mapping with a name ({', '.join(registry.names())})")
    return registry.build(value["name"], value)


class ComposedConfig(Component):
    """backbone -> neck -> head, each a registered part."""

    name: Literal["composed"] = "composed"
    backbone: Any = Field(default_factory=lambda: {"name": "mlp"})
    neck: Any = Field(default_factory=lambda: {"name": "identity"})
    head: Any = Field(default_factory=lambda: {"name": "linear"})

    @field_validator("backbone", "neck", "head", mode="before")
    @classmethod
    def _parts(cls, value: Any, info: ValidationInfo) -> Any:
        return _part({"backbone": BACKBONES, "neck": NECKS, "head": HEADS}[info.field_name], value)


class CLIPConfig(Component):
    """transformers' CLIPModel from a small config, trained contrastively on images and class-prompt captions."""

    name: Literal["clip"] = "clip"
    width: int = Field(64, ge=16, le=1024, description="hidden size of both towers")
    layers: int = Field(2, ge=1, le=24)
    heads: int = Field(4, ge=1, le=16)
    patch_size: int = Field(2, ge=1, le=32, description="must divide the image size")
    projection_dim: int = Field(64, ge=8, le=1024)
    templates: list[str] = Field(
        default_factory=lambda: ["a photo of the digit {}", "a handwritten {}", "an image of the number {}", "{}"],
        min_length=1,
        max_length=32,
        description="caption templates; {} is the class name",
    )

    @model_validator(mode="after")
    def _check(self) -> CLIPConfig:
        if self.width % self.heads:
            raise ValueError(f"width ({self.width}) must be divisible by heads ({self.heads})")
        if any("{}" not in t for t in self.templates):
            raise ValueError("every template must hold {} for the class name")
        return self


MODELS.register("composed", ComposedConfig, "engine.models.composed:Model")
MODELS.register("clip", CLIPConfig, "engine.models.clip:CLIP")
