"""One Ray Tune trial = one ordinary engine run (same run directory, id and records).

Runs inside a Ray worker: on the driver's node it writes into the driver's output
root; on another node into that node's scratch root, and its records go back to
the driver (job_launch.shipping) before Tune learns that the trial ended. Each
epoch's (or chain stage's) metrics go to `ray.tune.report` so that a
scheduler such as ASHA can stop the trial; when it does, Ray raises SystemExit in
our report call, and the run is recorded as 'stopped' (not left 'running'): a
later run of the same metaprogram resumes from its last checkpoint.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from database.index import reindex
from database.trials import STOP_MESSAGE
from engine.paths import Paths
from engine.records import RunRecord, write_json
from engine.runner import Interrupted, RunFailed, execute
from engine.trackers import numeric
from job_launch.shipping import Placement, RunFailedOnWorker, pack, worker_logging
from util.sweep_objective import from_dict as objective_from_dict
from util.sweep_spec import build_point

STOPPED = "stopped"


class TrialStopped(Interrupted):
    """The Tune scheduler ended this trial: the runner records it 'stopped'; mark_stopped adds its last metrics."""

    status = STOPPED


@contextmanager
def run_lock(paths: Paths, run_id: str) -> Iterator[None]:
    """Two trials that drew the same point run it once: the second waits, then reuses it."""
    folder = paths.root("output_root") / "runs" / ".locks"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / f"{run_id}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def mark_stopped(run_dir: Path, epochs: int, metrics: dict[str, Any], paths: Paths) -> None:
    """A run ended by the scheduler: 'stopped', with the metrics of its last epoch (in the runs table too)."""
    record = RunRecord(run_dir)
    results = record.results()
    if results is None or results.get("status") == "completed":
        return
    results.update(status=STOPPED, error=f"{STOP_MESSAGE} after {epochs} epoch(s)", metrics=metrics)
    results["objective"] = {**results["objective"], "value": metrics.get(results["objective"]["metric"])}
    write_json(record.results_path, results)
    reindex(paths, run_dir)  # the runs table: its status and metrics


def tune_trial(
    config: dict[str, Any],
    base: dict[str, Any],
    placement: dict[str, Any],
    intermediate: bool = True,
    sink: Any = None,
    objective: dict[str, Any] | None = None,
) -> None:
    """One trial. `intermediate`: report every epoch or stage (ASHA needs them; FIFO does not, and each costs a
    round trip). `sink`: the driver's RecordSink, which takes the run's records when it ran on another node.
    `objective`: the sweep's own objective (util.sweep_objective), scored at every report."""
    from ray import tune  # ray: in a Tune worker only

    result = trial_result(config, base, placement, intermediate, sink, objective)
    tune.report(result)  # a SystemExit here (stop after the last result) must reach Ray: the run is complete


def trial_result(
    config: dict[str, Any],
    base: dict[str, Any],
    placement: dict[str, Any],
    intermediate: bool = True,
    sink: Any = None,
    objective: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run (or reuse) the trial's engine run; its final result, as tune_trial reports it. A failed run raises
    RunFailedOnWorker (see tune_trial for the arguments)."""
    import ray  # ray: in a Tune worker only
    from ray import tune  # ray: in a Tune worker only

    worker_logging()
    where = Placement(**placement)
    paths, remote = where.paths_here()
    params = dict(config)
    mp = build_point(base, params)
    scorer = objective_from_dict(objective) if objective else None
    metric, mode = (scorer.metric, scorer.mode) if scorer else mp.objective()
    better = (lambda a, b: a < b) if mode == "min" else (lambda a, b: a > b)
    seen: dict[str, Any] = {"epochs": 0, "best": None, "last": {}}

    def scored(values: dict[str, float]) -> dict[str, float]:
        if scorer is not None and (score := scorer.score(values)) is not None:
            values = {**values, metric: score}
        return values

    def report(metrics: dict[str, Any]) -> None:
        values = scored(numeric(metrics))
        seen["epochs"] += 1
        seen["last"] = values
        value = values.get(metric)
        if value is not None and (seen["best"] is None or better(value, seen["best"])):
            seen["best"] = value
        if not intermediate:
            return
        extra = {"epochs_run": seen["epochs"], "run_id": mp.id}
        if seen["best"] is not None:
            extra["best_objective"] = seen["best"]
        try:
            tune.report({**values, **extra})
        except SystemExit:  # Ray's way of stopping a function trainable
            raise TrialStopped(STOP_MESSAGE) from None

    def ship() -> None:  # a run on another node: its records go to the driver before Tune hears of its end
        if remote and sink is not None:
            ray.get(sink.store.remote(pack(paths, mp.id, where.max_file_mb)))

    results = ray.get(sink.completed.remote(mp.id)) if remote and sink is not None else None
    if results is not None:  # completed at the driver already: reused, not recomputed here
        results = {**results, "reused": True}
    else:
        with run_lock(paths, mp.id):
            try:
                results = execute(mp, paths, report=report)
            except TrialStopped:
                mark_stopped(paths.run_dir(mp.id), seen["epochs"], seen["last"], paths)
                ship()
                raise SystemExit(0) from None
            except RunFailed as exc:  # a plain error pickles across processes; RunFailed's signature does not
                ship()
                raise RunFailedOnWorker(f"run {exc.run_id} failed: {exc.error}") from None
            ship()
    final = scored(numeric(results.get("metrics", {})))
    objective_value = final.get(metric) if scorer else results["objective"]["value"]
    final.update(
        epochs_run=seen["epochs"],
        run_id=mp.id,
        run_status="completed",
        reused=bool(results.get("reused")),
        wall_s=float(results.get("timings", {}).get("wall_s") or 0.0),
    )
    if objective_value is not None:
        final["objective"] = float(objective_value)
        final["best_objective"] = float(objective_value)
    return final
