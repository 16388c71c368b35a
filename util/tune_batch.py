"""Many studies as one Ray Tune experiment: the throughput path of util/tune_suite.py.

Running a suite study by study pays Tune's start-up (a Tuner, its actors, its storage) for every
25 short trials, and leaves CPUs idle while one study waits on its last trial. Here one Tuner
runs a whole batch of studies:

- `StudyMux`, a Tune `Searcher`, holds one searcher per study (random: `util.search_space.sample`;
  tpe: Tune's `OptunaSearch`; planner: `planner.tune_searcher.PlannerSearch`) and hands out the next
  trial of whichever study has room, so each study keeps its own history, seed and concurrency;
- trials run on reused actors with a fractional CPU each (`cpus_per_trial`), so the actors'
  round trips to the driver overlap;
- Tune's loggers, syncing and experiment checkpoints are off: a batch that is killed is started
  again, and its completed runs are reused (run ids), never recomputed;
- each study's trials are buffered on the driver and written to the database when the study has
  all of them, in one go (`batched records`), then the study is marked complete.

A study that raises in its searcher (e.g. a planner with no valid proposal) is recorded as failed
and the batch goes on. Only FIFO studies of random, tpe and planner go through here; the others
(grid, ASHA) run one by one through util.tune_sweep.run_tune.
"""

from __future__ import annotations

import logging
import math
import random
import time
from dataclasses import dataclass, field
from typing import Any

from ray.tune.search import Searcher

from database.store import Database, default_url
from util.search_space import sample
from util.sweep_spec import Sweep

BATCHABLE = {"random", "tpe", "planner"}
log = logging.getLogger("metaprogram.tune_batch")


def batchable(sweep: Sweep) -> bool:
    return sweep.tune.algorithm in BATCHABLE and sweep.tune.scheduler == "fifo" and not sweep.tune.time_budget_s


class RandomSearch(Searcher):
    """Random search over a study space, drawn by the one sampler of util.search_space."""

    def __init__(self, space: dict[str, dict[str, Any]], seed: int, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.space, self.rng = space, random.Random(seed)

    def suggest(self, trial_id: str) -> dict[str, Any]:
        return sample(self.space, self.rng)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        pass


@dataclass
class Study:
    """One study of the batch: its searcher and what it has handed out and got back."""

    index: int
    sweep: Sweep
    study_id: str
    metric: str
    mode: str
    searcher: Any = None
    suggested: int = 0
    pending: set[str] = field(default_factory=set)
    trials: dict[int, dict[str, Any]] = field(default_factory=dict)  # order -> trial record
    error: str | None = None

    @property
    def requested(self) -> int:
        return self.sweep.count

    @property
    def open(self) -> bool:
        return self.error is None and self.suggested < self.requested

    @property
    def done(self) -> bool:
        return self.error is not None or (len(self.trials) >= self.requested and not self.pending)


def make_searcher(study: Study, planner: Any = None) -> Any:
    sweep = study.sweep
    if sweep.tune.algorithm == "random":
        return RandomSearch(sweep.space, sweep.seed, study.metric, study.mode)
    if sweep.tune.algorithm == "tpe":
        import optuna
        from ray.tune.search.optuna import OptunaSearch

        from util.tune_sweep import tune_space

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        searcher = OptunaSearch(sampler=optuna.samplers.TPESampler(seed=sweep.seed))
        searcher.set_search_properties(study.metric, study.mode, tune_space(sweep))
        return searcher
    from planner.tune_searcher import PlannerSearch

    base, paths = sweep.base()
    return PlannerSearch.for_metaprogram(
        sweep.tune.planner_checkpoint,
        base,
        paths,
        space=sweep.space,
        k=sweep.tune.planner_candidates,
        acquisition=sweep.tune.planner_acquisition,
        seed=sweep.seed,
        planner=planner,
    )


class StudyMux(Searcher):
    """Round-robin over the open studies; each trial's config names its study, order and params."""

    def __init__(self, studies: list[Study]):
        super().__init__(metric="objective", mode="max")  # per study, its own metric and mode apply
        self.studies = studies
        self.live: dict[str, tuple[int, int]] = {}  # trial id -> (study index, order)
        self.cursor = 0

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        n = len(self.studies)
        for step in range(n):
            study = self.studies[(self.cursor + step) % n]
            if not study.open or len(study.pending) >= study.sweep.tune.concurrency:
                continue
            sub_id = f"{study.index}:{study.suggested}"
            try:
                params = study.searcher.suggest(sub_id)
            except Exception as exc:  # this study cannot go on: record it failed, keep the batch going
                study.error = f"{type(exc).__name__}: {exc}"
                log.warning("study %s failed: %s", study.study_id, study.error)
                continue
            if params is None:
                continue
            order = study.suggested
            study.suggested += 1
            study.pending.add(sub_id)
            self.live[trial_id] = (study.index, order)
            self.cursor = (self.cursor + step + 1) % n
            return {"study": study.index, "order": order, "params": _flat(params)}
        if all(not s.open for s in self.studies):
            return Searcher.FINISHED
        return None  # every open study is at its concurrency: ask again when a trial ends

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        index, order = self.live.pop(trial_id, (None, None))
        if index is None:
            return
        study = self.studies[index]
        sub_id = f"{index}:{order}"
        study.pending.discard(sub_id)
        if study.error is None:
            try:
                study.searcher.on_trial_complete(sub_id, result=result, error=error)
            except Exception as exc:
                study.error = f"{type(exc).__name__}: {exc}"

    def save(self, checkpoint_path: str) -> None:  # a killed batch starts again (its runs are reused)
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass


def _flat(params: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out = {}
    for key, value in params.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def batch_trial(config: dict[str, Any], bases: list[dict[str, Any]], placement: dict[str, Any]) -> None:
    """One trial of one study of the batch: an ordinary engine run through util.tune_trial (`placement`: the
    driver's job_launch.shipping.Placement, as a dict)."""
    from util.tune_trial import tune_trial

    tune_trial(config["params"], bases[config["study"]], placement, intermediate=False)


def _recorder_class() -> type:
    from ray.tune import Callback

    from util.tune_sweep import _trial_error

    class BatchRecorder(Callback):
        """Driver side: buffers each study's trials, writes a study when it has them all."""

        def __init__(self, studies: list[Study], db_url: str, on_study: Any = None):
            self.studies, self.db_url, self.on_study = studies, db_url, on_study
            self.written: set[int] = set()

        def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks; the studies stay on the driver
            return {"db_url": self.db_url}

        def _trial(self, trial: Any, failed: bool) -> None:
            config, result = trial.config, trial.last_result or {}
            study = self.studies[config["study"]]
            objective = result.get("objective")
            ok = not failed and result.get("run_status") == "completed"
            ok = ok and isinstance(objective, int | float) and math.isfinite(objective)
            study.trials[config["order"]] = {
                "run_id": result.get("run_id") or "",
                "params": config["params"],
                "objective": float(objective) if ok else None,
                "status": "completed" if ok else "failed",
                "error": None if ok else (_trial_error(trial) if failed else "no objective"),
                "epochs": int(result.get("epochs_run", 0)),
                "metrics": {k: v for k, v in result.items() if "/" in k},
                "wall_s": result.get("wall_s"),
            }

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._trial(trial, failed=False)
            self.flush()

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._trial(trial, failed=True)
            self.flush()

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            self.flush()

        def flush(self) -> None:
            ready = [s for s in self.studies if s.done and s.index not in self.written]
            if not ready:
                return
            with Database(self.db_url) as db:
                for study in ready:
                    write_study(db, study)
                    self.written.add(study.index)
                    if self.on_study:
                        self.on_study(study)

    return BatchRecorder


def write_study(db: Database, study: Study) -> None:
    """A finished study's trials in order (a failed study: the trials it got, status left unfinished)."""
    base, _ = study.sweep.base()
    from util.search_space import apply_params

    for order in sorted(study.trials):
        trial = study.trials[order]
        run_id = trial["run_id"] or _run_id(base.canonical, trial["params"])
        db.record_trial(
            study.study_id,
            order,
            run_id=run_id,
            params=trial["params"],
            objective=trial["objective"],
            status=trial["status"],
            error=trial["error"],
            epochs=trial["epochs"],
            run=(apply_params(base.canonical, trial["params"]), trial["metrics"], {"wall_s": trial["wall_s"]}),
        )
    if study.error is None:
        db.finish_study(study.study_id)
    else:
        db.fail_study(study.study_id)


def _run_id(base: dict[str, Any], params: dict[str, Any]) -> str:
    from util.sweep_spec import build_point

    try:
        return build_point(base, params).id
    except Exception:
        return "invalid"


def begin(db: Database, sweep: Sweep) -> None:
    from util.tune_sweep import begin_study

    mp, paths = sweep.base()
    begin_study(db, sweep, mp, paths, *mp.objective(), sweep.count)


def run_batch(
    sweeps: list[Sweep],
    *,
    address: str | None = None,
    db_url: str | None = None,
    cpus_per_trial: float = 0.5,
    concurrency: int | None = None,
    on_study: Any = None,
) -> dict[str, Any]:
    """Run the (batchable) sweeps as one Tune experiment; complete studies already in the database are skipped."""
    from ray import tune

    from job_launch.cluster import init_ray
    from job_launch.shipping import Placement

    empty = {"studies": 0, "skipped": 0, "complete": 0, "failed": 0, "errors": {}, "trials": 0, "wall_s": 0.0}
    if not sweeps:
        return empty
    _, paths = sweeps[0].base()
    paths = type(paths)(**{k: str(paths.root(k)) for k in paths.model_fields})  # absolute, for the workers
    db_url = db_url or default_url(paths)
    studies: list[Study] = []
    with Database(db_url) as db:
        for sweep in sweeps:
            existing = db.study(sweep.study_id)
            if existing and existing["status"] == "complete":
                continue
            mp, _ = sweep.base()
            metric, mode = mp.objective()
            begin(db, sweep)
            studies.append(Study(len(studies), sweep, sweep.study_id, metric, mode))
    if not studies:
        return {**empty, "skipped": len(sweeps)}
    planner = _shared_planner(studies)
    for study in studies:
        try:
            study.searcher = make_searcher(study, planner)
        except Exception as exc:
            study.error = f"{type(exc).__name__}: {exc}"

    init_ray(address)
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    import ray

    total_cpus = float(ray.cluster_resources().get("CPU", 1))
    concurrency = concurrency or max(1, int(total_cpus / cpus_per_trial))
    bases = [s.sweep.base()[0].canonical for s in studies]
    trainable = tune.with_resources(
        tune.with_parameters(batch_trial, bases=bases, placement=Placement.for_driver(paths).to_dict()),
        {"cpu": cpus_per_trial},
    )
    recorder = _recorder_class()(studies, db_url, on_study)
    storage = paths.root("output_root") / "tune"
    started = time.monotonic()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=StudyMux(studies),
            num_samples=sum(s.requested for s in studies),
            max_concurrent_trials=concurrency,
            reuse_actors=True,
        ),
        run_config=tune.RunConfig(
            name=f"batch-{studies[0].study_id}-{len(studies)}",
            storage_path=str(storage),
            verbose=0,
            failure_config=tune.FailureConfig(max_failures=0),
            callbacks=[recorder],
            checkpoint_config=tune.CheckpointConfig(checkpoint_at_end=False),
        ),
    )
    tuner.fit()
    recorder.flush()
    wall = time.monotonic() - started
    failed = [s for s in studies if s.error]
    return {
        "studies": len(studies),
        "skipped": len(sweeps) - len(studies),
        "complete": len(studies) - len(failed),
        "failed": len(failed),
        "errors": {s.study_id: s.error for s in failed},
        "trials": sum(len(s.trials) for s in studies),
        "wall_s": round(wall, 2),
    }


def _shared_planner(studies: list[Study]) -> Any:
    """One planner model for every planner study of the batch (same checkpoint)."""
    checkpoints = {s.sweep.tune.planner_checkpoint for s in studies if s.sweep.tune.algorithm == "planner"}
    if len(checkpoints) != 1:
        return None
    from planner.propose import Planner

    try:
        return Planner(checkpoints.pop(), seed=studies[0].sweep.seed)
    except Exception:  # each planner study then fails on its own (make_searcher), the rest go on
        return None
