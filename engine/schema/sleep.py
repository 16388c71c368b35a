"""Schema of the `sleep` pipeline: a run of known length, for sweep tests and the overhead benchmark."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from engine.schema.base import PIPELINES
from engine.schema.pipelines import PipelineConfig


class SleepConfig(PipelineConfig):
    """Sleeps `seconds` per epoch and reports a known objective: val/loss = (x - 0.3)^2 + 0.1 / epoch."""

    name: Literal["sleep"] = "sleep"
    epochs: int = Field(1, ge=1, le=10_000)
    seconds: float = Field(1.0, ge=0.0, le=3600.0, description="sleep per epoch")
    x: float = Field(0.5, ge=0.0, le=1.0, description="the knob a sweep tunes; best at 0.3")
    fail: bool = Field(False, description="raise at the first epoch (tests of failure handling)")

    def default_objective(self, task: str) -> tuple[str, str]:
        return "val/loss", "min"


PIPELINES.register("sleep", SleepConfig, "engine.pipelines.sleep:run")
