"""Watching a Ray Tune sweep: live progress on the driver, and trials tracked as children of the sweep.

`SweepProgress` counts trials as Tune reports them to its callbacks (done,
failed, stopped by the scheduler, running), keeps the best objective so far and
estimates the time left from the rate at which trials end. On a terminal it is
a progress bar; elsewhere (CI logs, a pipe) one line per finished trial.
`tracked_trial` runs one trial inside `engine.observe.parent_context`, so that
the trial's MLflow run is nested under the sweep's and its W&B run grouped.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from database.store import Database
from engine.observe import parent_context
from util.tune_trial import tune_trial


class SweepProgress:
    """The counts and the line; knows nothing of Ray (see `progress_callback`)."""

    def __init__(self, total: int, metric: str, mode: str, done_before: list[dict[str, Any]] | None = None):
        self.total, self.metric, self.mode = total, metric, mode
        self.counts = {"completed": 0, "failed": 0, "stopped": 0}
        self.running = 0
        self.best: float | None = None
        self.best_trial: int | None = None
        self.started = time.monotonic()
        self.ended_here = 0  # trials that ended in this process: the rate for the ETA
        for trial in done_before or []:  # a resumed sweep starts from what its study already holds
            self.counts[trial["status"]] += 1
            self._consider(trial.get("objective"), trial["order"], trial["status"])

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def trial_started(self) -> None:
        self.running += 1

    def trial_ended(self, status: str, objective: float | None, order: int) -> None:
        self.running = max(0, self.running - 1)
        self.counts[status] += 1
        self.ended_here += 1
        self._consider(objective, order, status)

    def _consider(self, objective: float | None, order: int, status: str) -> None:
        if objective is None or status == "failed":
            return
        if self.best is None or (objective < self.best if self.mode == "min" else objective > self.best):
            self.best, self.best_trial = float(objective), order

    def eta_s(self) -> float | None:
        if self.ended_here == 0 or self.done >= self.total:
            return None
        rate = self.ended_here / (time.monotonic() - self.started)  # trials per second, concurrency included
        return (self.total - self.done) / rate

    def line(self) -> str:
        c = self.counts
        parts = [
            f"{self.done}/{self.total} trials",
            f"{c['completed']} completed",
            f"{c['stopped']} stopped",
            f"{c['failed']} failed",
            f"{self.running} running",
        ]
        if self.best is not None:
            parts.append(f"best {self.metric} {self.best:.4g} (trial {self.best_trial})")
        eta = self.eta_s()
        parts.append(f"ETA {_clock(eta)}" if eta is not None else f"elapsed {_clock(time.monotonic() - self.started)}")
        return " | ".join(parts)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def classify(trial: Any, failed: bool) -> tuple[str, float | None]:
    """(status, objective) of a finished Tune trial, as the study records it."""
    result = trial.last_result or {}
    if failed:
        return "failed", None
    if result.get("run_status") == "completed":
        return "completed", result.get("objective")
    return "stopped", result.get("best_objective")


def progress_callback(
    db_url: str, study_id: str, total: int, metric: str, mode: str, stream: TextIO | None = None
) -> Any:
    """A Tune Callback printing the sweep's progress: a bar on a terminal, else a line per finished trial.

    It starts (and, after Tuner.restore, starts again) from the trials the study already holds."""
    from ray.tune import Callback  # ray: only a Tune run builds its callback

    class ProgressCallback(Callback):
        def __init__(self) -> None:
            self.stream = stream
            self.bar = None
            self.progress = SweepProgress(total, metric, mode)

        def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with its experiment state
            return {**self.__dict__, "bar": None, "stream": None}

        def setup(self, **info: Any) -> None:
            with Database(db_url) as db:
                self.progress = SweepProgress(total, metric, mode, done_before=db.trials(study_id))

        def _out(self) -> TextIO:
            return self.stream or sys.stderr

        def _show(self, ended: bool) -> None:
            out = self._out()
            if not out.isatty():
                if ended:
                    print(f"sweep: {self.progress.line()}", file=out, flush=True)
                return
            if self.bar is None:
                from tqdm.auto import tqdm  # tqdm: only when the bar is drawn

                self.bar = tqdm(total=self.progress.total, desc="sweep", unit="trial", file=out, dynamic_ncols=True)
            self.bar.n = self.progress.done
            self.bar.set_postfix_str(self.progress.line().split(" | ", 1)[1], refresh=True)

        def on_trial_start(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.progress.trial_started()
            self._show(ended=False)

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.progress.trial_ended(*classify(trial, failed=False), trials.index(trial))
            self._show(ended=True)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self.progress.trial_ended(*classify(trial, failed=True), trials.index(trial))
            self._show(ended=True)

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return ProgressCallback()


def tracked_trial(config: dict[str, Any], tracking: dict[str, Any] | None = None, **kwargs: Any) -> None:
    """One Tune trial (util.tune_trial.tune_trial) whose runs are children of the sweep's tracked run."""
    with parent_context(tracking):
        tune_trial(config, **kwargs)


tracked_trial.__name__ = "tune_trial"  # Tune names trials after the function; keep the names of older sweeps
