"""Schemas of the classic model components (configs/metaprogram/component/model/classic).

A classic model is a composed one with fixed parts (`composed()`): its backbone is the composed
backbone of the same name, so both families share one implementation and one set of blocks.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from engine.schema.base import MODELS, Component

Activation = Literal["relu", "gelu", "tanh", "silu"]


class MLPConfig(Component):
    """Also the composed `mlp` backbone: hidden layers (linear, activation, dropout) over flattened inputs."""

    name: Literal["mlp"] = "mlp"
    hidden: int = Field(128, ge=1, le=16384, description="width of each hidden layer")
    layers: int = Field(2, ge=1, le=32, description="number of hidden layers")
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"

    def composed(self) -> dict[str, Any]:
        """mlp backbone -> linear head."""
        return {"backbone": self, "head": {"name": "linear"}}


class ConvLayers(Component):
    """Conv blocks (conv, activation, 2x2 pool while the image is large enough): the classic CNN and the backbone."""

    name: Literal["cnn"] = "cnn"
    channels: list[int] = Field([32, 64], min_length=1, max_length=6)
    kernel_size: int = Field(3, ge=1, le=7)
    activation: Activation = "relu"

    @model_validator(mode="after")
    def _channels_in_range(self) -> ConvLayers:
        if any(not 1 <= c <= 1024 for c in self.channels):
            raise ValueError("channels: every entry must be between 1 and 1024")
        return self


class CNNConfig(ConvLayers):
    hidden: int = Field(128, ge=1, le=16384, description="width of the classifier layer")
    dropout: float = Field(0.0, ge=0.0, le=0.9)

    def composed(self) -> dict[str, Any]:
        """cnn backbone (no batch norm, flattened) -> mlp head."""
        backbone = {**self.model_dump(include={"channels", "kernel_size", "activation"}), "name": "cnn"}
        head = {"name": "mlp", "hidden": self.hidden, "dropout": self.dropout, "activation": self.activation}
        return {"backbone": {**backbone, "batch_norm": False, "global_pool": False}, "head": head}


class TransformerConfig(Component):
    """Also the composed `transformer` backbone."""

    name: Literal["transformer"] = "transformer"
    d_model: int = Field(64, ge=8, le=2048)
    heads: int = Field(4, ge=1, le=64)
    layers: int = Field(2, ge=1, le=24)
    ff_dim: int = Field(128, ge=8, le=16384)
    dropout: float = Field(0.1, ge=0.0, le=0.9)
    pooling: Literal["mean", "cls"] = "mean"

    @model_validator(mode="after")
    def _heads_divide_width(self) -> TransformerConfig:
        if self.d_model % self.heads:
            raise ValueError(f"d_model ({self.d_model}) must be divisible by heads ({self.heads})")
        return self

    def composed(self) -> dict[str, Any]:
        """transformer backbone -> linear head."""
        return {"backbone": self, "head": {"name": "linear"}}


for _schema in (MLPConfig, CNNConfig, TransformerConfig):
    MODELS.register(_schema.model_fields["name"].default, _schema, "engine.models.composed:classic")
