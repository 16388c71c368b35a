"""Studies as JSONL sequences, one study per line, trials in order: the planner's training data.

Only complete studies are exported (a study killed halfway is left out until a
resumed sweep completes it). A trial that a scheduler stopped early is exported
as "completed" with the best objective it reported (one stopped before any
report, e.g. by a time budget, is exported "failed"); a failed trial has
objective null.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from database.store import Database
from engine.records import atomic_write

EXPORT_STATUS = {"completed": "completed", "stopped": "completed", "failed": "failed"}


def study_line(study: dict[str, Any]) -> dict[str, Any]:
    """The exported form of one study (keys agreed with the planner)."""
    trials = []
    for trial in study["trials"]:
        objective = trial["objective"]
        if objective is not None and not math.isfinite(objective):
            objective = None
        status = EXPORT_STATUS[trial["status"]]
        if objective is None:  # stopped before it reported anything (e.g. by the time budget): no result
            status = "failed"
        trials.append(
            {
                "order": int(trial["order"]),
                "params": trial["params"],
                "objective": None if status == "failed" else objective,
                "status": status,
                "run_id": trial["run_id"],
            }
        )
    return {
        "study_id": study["id"],
        "task": study["task"],
        "search_space": study["search_space"],
        "algorithm": study["algorithm"],
        "scheduler": study["scheduler"],
        "seed": int(study["seed"]),
        "base": study["base"],
        "trials": trials,
    }


def export_jsonl(db: Database, out: Path, suite: str | None = None) -> int:
    """Write every complete study (of `suite`, when given) to `out`; return how many."""
    lines = []
    for summary in db.studies(suite):
        if summary["status"] != "complete":
            continue
        study = db.study(summary["id"])
        lines.append(json.dumps(study_line(study), sort_keys=True, allow_nan=False))
    atomic_write(Path(out), "".join(line + "\n" for line in lines))
    return len(lines)
