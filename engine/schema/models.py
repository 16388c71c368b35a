"""Schemas of the classic model components (configs/metaprogram/component/model/classic)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from engine.schema.base import MODELS, Component

Activation = Literal["relu", "gelu", "tanh", "silu"]


class MLPConfig(Component):
    name: Literal["mlp"] = "mlp"
    hidden: int = Field(128, ge=1, le=16384, description="width of each hidden layer")
    layers: int = Field(2, ge=1, le=32, description="number of hidden layers")
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"


class CNNConfig(Component):
    name: Literal["cnn"] = "cnn"
    channels: list[int] = Field([32, 64], min_length=1, max_length=6)
    kernel_size: int = Field(3, ge=1, le=7)
    hidden: int = Field(128, ge=1, le=16384, description="width of the classifier layer")
    dropout: float = Field(0.0, ge=0.0, le=0.9)
    activation: Activation = "relu"

    @model_validator(mode="after")
    def _channels_in_range(self) -> CNNConfig:
        if any(not 1 <= c <= 1024 for c in self.channels):
            raise ValueError("channels: every entry must be between 1 and 1024")
        return self


class TransformerConfig(Component):
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


MODELS.register("mlp", MLPConfig, "engine.models.mlp:MLP")
MODELS.register("cnn", CNNConfig, "engine.models.cnn:CNN")
MODELS.register("transformer", TransformerConfig, "engine.models.transformer:TransformerEncoder")
