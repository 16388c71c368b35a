"""The sleep pipeline: a run whose length is known in advance (seconds x epochs), no torch.

Used to measure what a sweep costs around its trials, and to test failures,
time limits and early stopping without training anything.
"""

from __future__ import annotations

import time
from typing import Any

from engine.context import RunContext
from engine.metaprogram import Metaprogram

_TICK = 0.05  # check the deadline this often while sleeping


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    cfg = mp.pipeline
    metrics: dict[str, Any] = {}
    for epoch in range(1, cfg.epochs + 1):
        if cfg.fail:
            raise RuntimeError("the sleep pipeline was asked to fail (pipeline.fail=true)")
        end = time.monotonic() + cfg.seconds
        while (left := end - time.monotonic()) > 0:
            time.sleep(min(_TICK, left))
            context.check_deadline()
        metrics = {"epoch": epoch, "val/loss": (cfg.x - 0.3) ** 2 + 0.1 / epoch}
        context.report(metrics)
    return {"epochs": cfg.epochs, "val/loss": metrics["val/loss"]}
