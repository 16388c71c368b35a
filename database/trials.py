"""One trial as the database records it, whichever runner ran it.

util/tune_sweep.py (one Ray Tune trial per point), util/tune_batch.py (packed trials) and
job_launch/launcher.py (a launched grid/random sweep, the planner loop's proposals) turn what a
trial left into one record here and write it with its run, so the same outcome is the same record:

- `trial_record`: a trial's last result (the keys util/tune_trial.py reports: run_status, objective,
  best_objective, epochs_run, metrics by name) as `completed` (its objective; None when nothing was
  scored), `stopped` (a scheduler ended it: its best objective so far) or `failed` (with the error);
- `record_trial`: that record and its run, in one transaction, at its place in the study.
"""

from __future__ import annotations

from typing import Any

from database.store import Database
from engine.finite import finite_number

STOP_MESSAGE = "stopped early by the scheduler"


def trial_record(params: dict[str, Any], result: dict[str, Any] | None, error: str | None = None) -> dict[str, Any]:
    """The database's record of one trial from its last result; `error`: the trial failed (it did, too, when its
    result says run_status failed)."""
    result = result or {}
    record = {
        "run_id": result.get("run_id") or "",
        "params": params,
        "epochs": int(result.get("epochs_run", 0) or 0),
        "metrics": {k: v for k, v in result.items() if ("/" in k and not k.startswith("config/")) or k == "epoch"},
        "error": None,
    }
    if error is not None or result.get("run_status") == "failed":
        return {**record, "status": "failed", "objective": None, "error": error or result.get("error") or "failed"}
    if result.get("run_status") == "completed":
        return {**record, "status": "completed", "objective": finite_number(result.get("objective"))}
    best = finite_number(result.get("best_objective"))
    return {**record, "status": "stopped", "objective": best, "error": STOP_MESSAGE}


def record_trial(
    db: Database,
    study_id: str,
    order: int,
    trial: dict[str, Any],
    canonical: dict[str, Any],
    timings: dict[str, Any] | None = None,
) -> None:
    """One trial (a `trial_record`) and its run (`canonical`, the trial's metrics, `timings`), in one transaction."""
    db.record_trial(
        study_id,
        order,
        run_id=trial["run_id"],
        params=trial["params"],
        objective=trial["objective"],
        status=trial["status"],
        error=trial["error"],
        epochs=trial["epochs"],
        run=(canonical, trial["metrics"], timings or {}),
    )
