"""The one study runner: a list of sweeps' studies, each begun, searched, recorded and summarised the same way.

    from util.study_runner import run_studies
    counts = run_studies(sweeps)                  # packed where it can (the default)
    counts = run_studies(sweeps, batch=False)     # one Ray Tune trial per point, study after study

Each study's searcher (util/search/), its opening (Sweep.open_study) and its trial records
(database/trials.py) are the same whichever way it runs; `batch` only decides how trials travel:
packed, many studies in one Tune experiment (util/tune_batch.py), or one Tune trial per point
(util/tune_sweep.py, which also serves ASHA, time budgets, resume and tracking). Used by
util/tune_suite.py, the planner's loop and held-out evaluation, and the benchmarks.
"""

from __future__ import annotations

import time
from typing import Any

from database.store import Database, default_url
from util.sweep_spec import Sweep
from util.tune_sweep import run_tune


def run_studies(
    sweeps: list[Sweep],
    *,
    address: str | None = None,
    db_url: str | None = None,
    batch_size: int | None = None,
    cpus_per_trial: float = 1.0,
    batch: bool = True,
    log=print,
) -> dict[str, Any]:
    """Run the studies; a failed one is recorded as failed and the rest go on. Returns counts.

    `batch` is a throughput setting, not another search: with it, the studies that can (`Sweep.batchable`: FIFO, no
    time budget) run as packed trials of one Tune experiment (`batch_size` studies per experiment, default all), the
    others one Tune trial per point; without it, all of them one Tune trial per point."""
    started = time.monotonic()
    if not db_url and sweeps:
        db_url = default_url(sweeps[0].base()[1])
    counts = {"studies": len(sweeps), "complete": 0, "failed": 0, "trials": 0}
    done = 0

    def report(study_id: str, trials: int, failed: int, best: Any, error: str | None) -> None:
        nonlocal done
        done += 1
        counts["complete" if error is None else "failed"] += 1
        counts["trials"] += trials
        elapsed = time.monotonic() - started
        state = f"FAILED ({error})" if error else f"{trials} trials ({failed} failed), best {best}"
        log(f"[{done}/{len(sweeps)}] {study_id}: {state}; {elapsed:.0f} s so far")

    batched = [s for s in sweeps if s.batchable] if batch else []
    one_by_one = [s for s in sweeps if s not in batched]
    if batched:
        from util.tune_batch import run_batch  # imports ray (its StudyMux is a Tune Searcher)

        def on_study(study: Any) -> None:
            values = [t["objective"] for t in study.trials.values() if t["objective"] is not None]
            best = (max if study.mode == "max" else min)(values) if values else None
            failed = sum(t["status"] == "failed" for t in study.trials.values())
            report(study.study_id, len(study.trials), failed, best, study.error)

        step = batch_size or len(batched)  # default: one experiment, so workers start (and import) once
        for i in range(0, len(batched), step):
            summary = run_batch(
                batched[i : i + step],
                address=address,
                db_url=db_url,
                cpus_per_trial=cpus_per_trial,
                on_study=on_study,
            )
            done += summary["skipped"]
            counts["complete"] += summary["skipped"]
            counts["ready_s"] = counts.get("ready_s", 0.0) + summary["ready_s"]  # the workers' start-up
            counts["ready_trials"] = counts.get("ready_trials", 0) + summary["ready_trials"]
            if summary.get("proposals", {}).get("sampled"):  # planner studies: what was sampled, what refused
                totals = counts.setdefault("proposals", {"sampled": 0, "rejected": 0})
                for key in totals:
                    totals[key] += summary["proposals"][key]
    for sweep in one_by_one:
        try:
            summary = run_tune(sweep, address=address, db_url=db_url)
        except Exception as exc:  # recorded as failed; the suite goes on
            error = " ".join(f"{type(exc).__name__}: {exc}".split())[:500]
            with Database(db_url) as db:
                db.fail_study(sweep.study_id)
            report(sweep.study_id, 0, 0, None, error)
            continue
        best = summary["best"]["objective"] if summary["best"] else None
        report(summary["study_id"], summary["trials"], summary["failed"], best, None)
    counts["wall_s"] = round(time.monotonic() - started, 1)
    return counts
