"""Schemas of the classic model components (configs/metaprogram/component/model/classic).

A classic model is a composed one with fixed parts (`composed()`): its backbone is the composed
backbone of the same name, so both families share one implementation and one set of blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, field_validator, model_validator

from engine.lineage import RUN_REF_PATTERN, parent_weights
from engine.schema.base import MODELS, Component, Schema

if TYPE_CHECKING:
    from engine.paths import Paths

Activation = Literal["relu", "gelu", "tanh", "silu"]


class InitFrom(Schema):
    """A model the execution pipeline may start from a completed run's trained weights (fine-tuning, transfer).

    The parent's id is a setting, so it is hashed; its weights file is an input, so its contents are too. Only a
    run id (or a unique prefix, written out in full once found) is accepted: never a path."""

    init_from: str | None = Field(
        None,
        pattern=RUN_REF_PATTERN,
        exclude_if=lambda value: value is None,  # unset, it is left out: runs recorded before it keep their ids
        description="start from the trained weights of this completed run (its id, or a unique prefix)",
    )

    @field_validator("init_from", mode="before")
    @classmethod
    def _digits_are_text(cls, value: Any) -> Any:
        # a prefix of digits only (`4332`) reaches here as a number from the command line or YAML
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value

    def input_files(self, paths: Paths) -> dict[str, Path]:
        found = super().input_files(paths)
        if self.init_from is not None:
            run_id, weights = parent_weights(paths, self.init_from)
            self.init_from = run_id  # one spelling of the parent in the record and the id, whatever prefix was given
            found["init_from"] = weights
        return found


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


class CNNConfig(InitFrom, ConvLayers):
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


class MLPModel(InitFrom, MLPConfig):
    """The classic mlp model (MLPConfig is also the composed mlp backbone, which starts from no run)."""


class TransformerModel(InitFrom, TransformerConfig):
    """The classic transformer model (TransformerConfig is also the composed transformer backbone)."""


for _schema in (MLPModel, CNNConfig, TransformerModel):
    MODELS.register(_schema.model_fields["name"].default, _schema, "engine.models.composed:classic")
