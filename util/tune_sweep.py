"""The `tune` mode of the sweeper: a Ray Tune search whose trials are engine runs, recorded as a study.

Search algorithms: any registered in util/search/ (random, grid, tpe, tpe_multivariate, gp, planner),
driven through util.search.tune.TuneSearch; schedulers: fifo, asha. Metric and mode come from the
sweep's `objective` when it declares one (util/sweep_objective.py), else from the base metaprogram's;
resources per trial from its pipeline.resources (plus `tune.resources`, custom
Ray resources). Trials on other nodes than the driver's send their records to a
RecordSink actor on the driver's node (job_launch.shipping). Tune's storage is
under <output_root>/tune/<study id>; `tune.resume=true` continues an interrupted
sweep with Tuner.restore (finished trials are not run again, and an engine run
that completed is reused, never recomputed). The driver records every finished
trial in the database, in trial order, and marks the study complete at the end.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from database.reports import study_params, sweep_report
from database.store import Database, default_url
from database.trials import record_trial, trial_record
from engine.observe import sweep_run
from engine.paths import Paths
from engine.records import RunRecord
from job_launch.cluster import init_ray
from job_launch.shipping import Placement, start_sink
from util import search
from util.sweep_spec import Sweep, build_point
from util.sweep_watch import progress_callback, tracked_trial
from util.tune_trial import mark_stopped


def searcher(sweep: Sweep, metric: str, mode: str, shared: Any = None) -> search.Searcher:
    """The sweep's search algorithm (util/search/), one for both runners: a Tune trial per point, or packed."""
    algorithm = sweep.tune.algorithm
    return search.build(algorithm, sweep.space, mode, sweep.seed, count=sweep.count, metric=metric, sweep=sweep,
                        shared=shared)  # fmt: skip


def reports_per_run(pipeline: Any) -> int:
    """How many intermediate reports a run makes: one per epoch, or one per stage of a chain."""
    if hasattr(pipeline, "stage_names"):
        return len(pipeline.stage_names())
    return int(getattr(pipeline, "epochs", 100))


def scheduler(sweep: Sweep, epochs: int) -> Any:
    from ray.tune.schedulers import ASHAScheduler, FIFOScheduler  # ray: only when the sweep runs

    if sweep.tune.scheduler == "fifo":
        return FIFOScheduler()
    # max_t = epochs + 1: the trial's final report (test metrics) comes after its last epoch (or stage).
    return ASHAScheduler(
        time_attr="training_iteration",
        max_t=epochs + 1,
        grace_period=min(sweep.tune.grace_period, epochs),
        reduction_factor=sweep.tune.reduction_factor,
    )


def _callback_class() -> type:
    from ray.tune import Callback  # ray: only when the sweep runs

    class StudyRecorder(Callback):
        """Driver side: each finished trial (and its run) goes into the database as it ends."""

        def __init__(self, db_url: str, study_id: str, base: dict[str, Any], paths: dict[str, str]):
            self.db_url, self.study_id, self.base, self.paths = db_url, study_id, base, paths  # the driver's roots
            self._db: Database | None = None

        def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks with its experiment state
            return {**self.__dict__, "_db": None}

        def _database(self) -> Database:
            if self._db is None:
                self._db = Database(self.db_url)
            return self._db

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            if self._db is not None:
                self._db.close()
                self._db = None

        def _record(self, trials: list, trial: Any, failed: bool) -> None:
            params = dict(trial.config)
            mp = build_point(self.base, params)
            local = RunRecord(Paths(**self.paths).run_dir(mp.id)).results() or {}
            error = (local.get("error") or trial_error(trial)) if failed else None
            record = trial_record(params, trial.last_result, error)
            record.update(run_id=mp.id, metrics=record["metrics"] or local.get("metrics", {}))
            order = trials.index(trial)  # creation order: stable across Tuner.restore
            record_trial(self._database(), self.study_id, order, record, mp.canonical, local.get("timings", {}))

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._record(trials, trial, failed=False)

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._record(trials, trial, failed=True)

    return StudyRecorder


def trial_error(trial: Any) -> str:
    try:
        text = Path(trial.error_file).read_text().strip().splitlines()
        return text[-1] if text else "trial failed"
    except (OSError, TypeError):
        return "trial failed (see the Tune storage folder)"


def run_tune(sweep: Sweep, address: str | None = None, db_url: str | None = None) -> dict[str, Any]:
    """Run (or resume) the sweep as a Ray Tune experiment; return a summary of the study."""
    mp, paths = sweep.base()
    paths = paths.absolute()  # for the workers
    metric, mode = sweep.metric_and_mode()
    study_id = sweep.study_id
    db_url = db_url or default_url(paths)
    requested = sweep.requested_trials
    with Database(db_url) as db:
        if not sweep.open_study(db):
            return summarize(db, study_id, 0.0, reused=True)
        params = study_params(db.study(study_id), sweep.name)  # what the sweep's tracked run records
    with sweep_run(study_id, mp, params, paths) as tracking:
        summary = _fit(sweep, mp, paths, study_id, db_url, requested, metric, mode, address, tracking)
    return summary


def _fit(sweep, mp, paths, study_id, db_url, requested, metric, mode, address, tracking) -> dict[str, Any]:
    import ray  # ray: only when the sweep runs
    from ray import tune  # ray: only when the sweep runs

    from util.search.tune import TuneSearch  # a Ray Tune searcher: ray loads with it

    init_ray(address, paths=paths)
    placement = Placement.for_driver(paths, sweep.tune.max_artifact_mb)
    sink = start_sink(paths.root("output_root"))
    # Tune's result loggers are off (they cost time per trial); its result grid then warns about them.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    storage = paths.root("output_root") / "tune"
    experiment = storage / study_id
    resources = mp.pipeline.resources
    trainable = tune.with_resources(
        tune.with_parameters(
            tracked_trial,
            base=mp.canonical,
            placement=placement.to_dict(),
            intermediate=sweep.tune.scheduler != "fifo",
            sink=sink,
            objective=sweep.objective.to_dict() if sweep.objective else None,
            tracking=tracking.link if tracking else None,  # trials are tracked as the sweep's children
        ),
        {"cpu": resources.cpus, "gpu": resources.gpus, **sweep.tune.resources},
    )
    started = time.monotonic()
    if sweep.tune.resume and tune.Tuner.can_restore(str(experiment)):
        tuner = tune.Tuner.restore(str(experiment), trainable, resume_unfinished=True, resume_errored=False)
    else:
        if experiment.exists():  # a fresh start of an unfinished sweep: its old Tune state would confuse it
            shutil.rmtree(experiment)
        epochs = reports_per_run(mp.pipeline)
        tuner = tune.Tuner(
            trainable,
            tune_config=tune.TuneConfig(
                metric=metric,
                mode=mode,
                search_alg=TuneSearch(searcher(sweep, metric, mode), metric, mode),
                scheduler=scheduler(sweep, epochs),
                num_samples=requested,  # a grid: every point, count times
                max_concurrent_trials=sweep.tune.concurrency,
                time_budget_s=sweep.tune.time_budget_s,
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=study_id,
                storage_path=str(storage),
                verbose=0,  # SweepProgress prints instead: counts, best so far, ETA
                failure_config=tune.FailureConfig(max_failures=sweep.tune.retries),
                callbacks=[
                    _callback_class()(db_url, study_id, mp.canonical, paths.model_dump()),
                    progress_callback(db_url, study_id, requested, metric, mode),
                ],
            ),
        )
    try:
        tuner.fit()
    finally:
        ray.kill(sink)
    wall = time.monotonic() - started
    with Database(db_url) as db:
        _settle_stopped(db, study_id, paths)
        if sweep.tune.time_budget_s and wall >= sweep.tune.time_budget_s:  # the budget ended it: it holds what ran
            db.settle_requested(study_id)
        db.finish_study(study_id)
        summary = summarize(db, study_id, wall)
        summary["report"] = sweep_report(db, study_id, paths.root("output_root"), tracking)
        return summary


def _settle_stopped(db: Database, study_id: str, paths: Any) -> None:
    """A trial stopped while its worker was torn down may have left its run 'running': settle it."""
    for trial in db.trials(study_id):
        if trial["status"] == "stopped":
            run_dir = paths.run_dir(trial["run_id"])
            results = RunRecord(run_dir).results()
            if results and results.get("status") in ("running", "interrupted"):
                mark_stopped(run_dir, trial["epochs"] or 0, results.get("metrics") or {}, paths)


def summarize(db: Database, study_id: str, wall_s: float, reused: bool = False) -> dict[str, Any]:
    study = db.study(study_id)
    trials = study["trials"]
    scored = [t for t in trials if t["objective"] is not None and t["status"] != "failed"]
    pick = min if study["mode"] == "min" else max
    best = pick(scored, key=lambda t: t["objective"]) if scored else None
    counts = {s: sum(t["status"] == s for t in trials) for s in ("completed", "stopped", "failed")}
    return {
        "study_id": study_id,
        "complete": study["status"] == "complete",
        "requested": study["requested"],
        "trials": len(trials),
        **counts,
        "epochs_run": sum(t["epochs"] or 0 for t in trials),
        "metric": study["metric"],
        "mode": study["mode"],
        "best": {"objective": best["objective"], "params": best["params"], "run_id": best["run_id"]} if best else None,
        "wall_s": round(wall_s, 2),
        "reused": reused,
    }
