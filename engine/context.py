"""What a pipeline receives besides its metaprogram: where to write, how to report."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.paths import Paths

Reporter = Callable[[dict[str, Any]], None]
StageRunner = Callable[[Any], dict[str, Any]]  # a Metaprogram -> its results.json content


class TimeLimitExceeded(RuntimeError):
    pass


class RunFailed(RuntimeError):
    """A run ended in error; it is recorded `failed` with that error in its run directory."""

    def __init__(self, run_id: str, error: str, results: dict[str, Any]):
        self.run_id, self.error, self.results = run_id, error, results
        super().__init__(f"run {run_id} failed: {error}")


def _no_stages(_: Any) -> dict[str, Any]:
    raise RuntimeError("this context runs no stages (RunContext.run_stage is set by engine.runner.execute)")


def _ignore(_: dict[str, Any]) -> None:
    return None


@dataclass
class RunContext:
    run_dir: Path
    paths: Paths
    log: logging.Logger
    # Called with {"epoch": n, "<split>/<metric>": value, ...} after each epoch;
    # Ray Tune and trackers listen here. It may raise to stop the run early.
    report: Reporter = field(default=_ignore)
    deadline: float | None = None  # time.monotonic() past which the run must stop
    # Runs another metaprogram as its own recorded, reusable run (a chain's stage) and returns its
    # results; raises RunFailed. Given by the runner, so that pipelines never import it.
    run_stage: StageRunner = field(default=_no_stages)
    extra: dict[str, Any] = field(default_factory=dict)

    def check_deadline(self) -> None:
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise TimeLimitExceeded("the run passed its time limit (pipeline.resources.time_limit_s)")

    @property
    def checkpoint_dir(self) -> Path:
        return self.run_dir / "checkpoints"

    @property
    def artifact_dir(self) -> Path:
        path = self.run_dir / "artifacts"
        path.mkdir(parents=True, exist_ok=True)
        return path


def resolve_device(setting: str) -> str:
    """'auto' picks CUDA when present; importing torch happens only here, at run time."""
    import torch

    if setting == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if setting == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device=cuda was asked for, but no CUDA device is available")
    return setting
