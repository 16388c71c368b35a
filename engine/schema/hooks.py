"""Schemas of the training hooks, set in a pipeline's `hooks:` mapping by name."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.schema.base import HOOKS, Schema


class CheckpointConfig(Schema):
    every: int = Field(1, ge=1, le=10_000, description="save every N epochs")


class EarlyStoppingConfig(Schema):
    patience: int = Field(10, ge=1, le=10_000, description="epochs without improvement")
    metric: str = Field("auto", description="'auto' follows the pipeline's objective")
    mode: Literal["auto", "min", "max"] = "auto"
    min_delta: float = Field(0.0, ge=0.0)


class ProgressConfig(Schema):
    leave: bool = Field(True, description="keep the bar on screen when done")


HOOKS.register("checkpoint", CheckpointConfig, "engine.hooks.checkpoint:CheckpointHook")
HOOKS.register("early_stopping", EarlyStoppingConfig, "engine.hooks.early_stopping:EarlyStoppingHook")
HOOKS.register("progress", ProgressConfig, "engine.hooks.progress:ProgressHook")
