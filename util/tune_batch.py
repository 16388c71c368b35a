"""Many studies as one Ray Tune experiment: the throughput path of util/tune_suite.py.

Running a suite study by study pays Tune's start-up (a Tuner, its actors, its storage) for every
25 short trials, and leaves CPUs idle while one study waits on its last trial. A Tune trial also
costs the driver and the worker a round trip or more each, which is more than a 0.1 s engine run.
Here one Tuner runs the whole suite (util/tune_suite.py: one experiment by default):

- `StudyMux`, a Tune `Searcher`, holds one searcher per study (util/search/: the same algorithm, built the
  same way, as a single sweep's; a batch's planner studies share one loaded model, each with its own seed)
  and hands out packs: one Tune trial carries up to `pack_size()`
  engine trials ("items") of the open studies, the earliest studies first (so they finish, and are
  written, one after another), each study within its own concurrency;
- the pack size: enough items for ~PACK_SECONDS (2 s) of engine work, by the median measured item,
  and no more than a fair share (the open studies' concurrency over the workers), at most MAX_PACK;
- a worker (`batch_trial`) runs its pack's items one after another, each an ordinary engine run
  (same run id, directory, results.json and runs-table row as any run), and reports them as they end,
  items that end within REPORT_EVERY_S together; each item's result goes at once to its study's
  searcher, so a study goes on while the pack runs on. A failed item is recorded failed, alone;
- one worker per CPU (`cpus_per_trial` 1), reused for every pack: each starts (and imports torch and
  the engine) once per suite;
- Tune's loggers, syncing and experiment checkpoints are off: a suite that is killed is started
  again, and its completed runs are reused (run ids), never recomputed;
- each study's trials are buffered on the driver and written to the database when the study has
  all of them, in one go (`batched records`), then the study is marked complete.

A study that raises in its searcher (e.g. a planner with no valid proposal) is recorded as failed
and the batch goes on. Every FIFO study without a time budget can go through here (`Sweep.batchable`); ASHA
studies (they stop trials between reports) and time-budgeted ones run one by one through
util.tune_sweep.run_tune. A study gives the same trials either way for the same seed, and is scored by
the sweep's own objective when it declares one. Throughput against the in-process
floor: benchmarks/data_generation.py.
"""

from __future__ import annotations

import logging
import statistics
import time
from dataclasses import dataclass, field
from typing import Any

import ray
from ray import tune
from ray.tune.search import Searcher

from database.store import Database, default_url
from database.trials import record_trial, trial_record
from job_launch.cluster import init_ray
from job_launch.shipping import Placement
from util.search.tune import objective_of
from util.search_space import apply_params
from util.sweep_spec import Sweep, build_point
from util.tune_sweep import searcher, trial_error
from util.tune_trial import trial_result

log = logging.getLogger("metaprogram.tune_batch")


@dataclass
class Study:
    """One study of the batch: its searcher and what it has handed out and got back."""

    index: int
    sweep: Sweep
    study_id: str
    metric: str
    mode: str
    searcher: Any = None  # a util.search.Searcher
    suggested: int = 0
    pending: dict[str, dict[str, Any]] = field(default_factory=dict)  # item id -> its point, until it comes back
    trials: dict[int, dict[str, Any]] = field(default_factory=dict)  # order -> trial record
    error: str | None = None
    exhausted: bool = False  # its searcher has nothing more to propose (a grid handed out in full)

    @property
    def requested(self) -> int:
        return self.suggested if self.exhausted else self.sweep.requested_trials

    @property
    def open(self) -> bool:
        return self.error is None and self.suggested < self.requested

    @property
    def done(self) -> bool:
        return self.error is not None or (len(self.trials) >= self.requested and not self.pending)


PACK_SECONDS = 2.0  # engine work one Tune trial carries: Tune's own cost per trial is then a small share of it
MAX_PACK = 16


class StudyMux(Searcher):
    """Hands out packs: each Tune trial carries up to `pack_size()` engine trials ("items") of the open studies.

    Items are drawn from the open studies in order (the earliest first, so studies finish one after another and
    are written as they do), each study up to its own concurrency: an item counts as running from the moment it
    is packed until its result comes back (`on_trial_result`: the worker reports every item as it ends). Each
    item's result goes to its own study's searcher at once, so the study can go on while the pack runs on.
    """

    def __init__(self, studies: list[Study], slots: int = 1, pack_seconds: float = PACK_SECONDS):
        super().__init__(metric="objective", mode="max")  # per study, its own metric and mode apply
        self.studies, self.slots, self.pack_seconds = studies, max(1, slots), pack_seconds
        self.live: dict[str, list[tuple[int, int]]] = {}  # Tune trial id -> its items (study index, order)
        self.item_seconds: list[float] = []  # measured wall seconds of items, for the pack size
        self.first_open = 0  # every study before it has handed out all its trials (or failed)

    def pack_size(self) -> int:
        """Enough items to hold ~pack_seconds of work, and no more than a fair share of what the open studies
        may run at once (so that every slot gets work, and the last studies are not packed into one trial)."""
        share = sum(s.sweep.tune.concurrency for s in self.studies[self.first_open :] if s.open) // self.slots
        typical = statistics.median(self.item_seconds[-50:]) if self.item_seconds else 0.25
        return max(1, min(MAX_PACK, share, round(self.pack_seconds / max(typical, 1e-3))))

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        items: list[dict[str, Any]] = []
        size = self.pack_size()
        while self.first_open < len(self.studies) and not self.studies[self.first_open].open:
            self.first_open += 1  # studies handed out in full stay behind the cursor
        for study in self.studies[self.first_open :]:
            while len(items) < size and study.open and len(study.pending) < study.sweep.tune.concurrency:
                params = self._next(study)
                if params is None:
                    break
                items.append({"study": study.index, "order": study.suggested - 1, "params": params})
            if len(items) >= size:
                break
        if items:
            self.live[trial_id] = [(item["study"], item["order"]) for item in items]
            return {"items": items}
        if self.first_open >= len(self.studies):
            return Searcher.FINISHED
        return None  # every open study is at its concurrency: Tune asks again when a result comes back

    def _next(self, study: Study) -> dict[str, Any] | None:
        sub_id = f"{study.index}:{study.suggested}"
        try:
            params = study.searcher.suggest()
        except Exception as exc:  # this study cannot go on: record it failed, keep the batch going
            study.error = f"{type(exc).__name__}: {exc}"
            log.warning("study %s failed: %s", study.study_id, study.error)
            return None
        if params is None:
            study.exhausted = True
            return None
        study.suggested += 1
        study.pending[sub_id] = params
        return params

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        items = self.live.get(trial_id, [])
        for back in reported(result, len(items)):
            index, order = items[back["item"]]
            if isinstance(back.get("item_s"), int | float):
                self.item_seconds.append(float(back["item_s"]))
            self._back(index, order, back, error=back.get("run_status") != "completed")

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        for index, order in self.live.pop(trial_id, []):  # items the worker never reported: failed
            self._back(index, order, None, error=True)

    def _back(self, index: int, order: int, result: dict | None, error: bool) -> None:
        study = self.studies[index]
        sub_id = f"{index}:{order}"
        if sub_id not in study.pending:
            return
        params = study.pending.pop(sub_id)
        if study.error is None:
            try:  # `objective`: the item's score, by the sweep's own objective when it declares one
                study.searcher.observe(params, objective_of(result, "objective", error))
            except Exception as exc:
                study.error = f"{type(exc).__name__}: {exc}"

    def save(self, checkpoint_path: str) -> None:  # a killed batch starts again (its runs are reused)
        pass

    def restore(self, checkpoint_path: str) -> None:
        pass


REPORT_EVERY_S = 0.5  # a worker waits for the driver at each report: items ended within this go back together


def batch_trial(
    config: dict[str, Any],
    bases: list[dict[str, Any]],
    placement: dict[str, Any],
    objectives: list[dict[str, Any] | None] | None = None,
) -> None:
    """One Tune trial: its items one after another, each an ordinary engine run through util.tune_trial. Items go
    back as they end, those that end within REPORT_EVERY_S of the last report together (`items`: a list of results,
    each with `item`, its place in the pack). A failed item is reported failed and the pack goes on.
    `placement`: the driver's job_launch.shipping.Placement, as a dict; `objectives`: each study's own objective
    (util.sweep_objective, as a dict), or None for the base metaprogram's."""
    done: list[dict[str, Any]] = []
    last = time.monotonic()
    for number, item in enumerate(config["items"]):
        started = time.monotonic()
        try:
            objective = objectives[item["study"]] if objectives else None
            result = trial_result(
                item["params"], bases[item["study"]], placement, intermediate=False, objective=objective
            )
        except Exception as exc:  # a failed run (or invalid params): this item alone fails
            result = {"run_status": "failed", "error": " ".join(f"{type(exc).__name__}: {exc}".split())[:500]}
        done.append({**result, "item": number, "item_s": time.monotonic() - started})
        if number == len(config["items"]) - 1 or time.monotonic() - last >= REPORT_EVERY_S:
            tune.report({"objective": None, "items": done})  # `objective`: the key Tune expects of a result
            done, last = [], time.monotonic()


def reported(result: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """The item results in one of batch_trial's reports (of a pack of `size` items)."""
    items = result.get("items")
    if not isinstance(items, list):
        return []
    return [r for r in items if isinstance(r, dict) and isinstance(r.get("item"), int) and 0 <= r["item"] < size]


def _recorder_class() -> type:
    from ray.tune import Callback  # ray: Tune callbacks, built when a batch runs

    class BatchRecorder(Callback):
        """Driver side: buffers each study's trials as their items come back, writes a study when it has them all."""

        def __init__(self, studies: list[Study], db_url: str, on_study: Any = None):
            self.studies, self.db_url, self.on_study = studies, db_url, on_study
            self.written: set[int] = set()
            self.items = 0
            self.first: dict[Any, tuple[float, int]] = {}  # worker pid -> (time, items back) at its first result

        def __getstate__(self) -> dict[str, Any]:  # Tune pickles callbacks; the studies stay on the driver
            return {"db_url": self.db_url}

        def on_trial_result(self, iteration: int, trials: list, trial: Any, result: dict, **info: Any) -> None:
            items = trial.config.get("items", [])
            studies = []
            for back in reported(result, len(items)):
                item = items[back["item"]]
                studies.append(self.studies[item["study"]])
                record_item(studies[-1], item, back)
                self.items += 1
            if studies:
                self.first.setdefault(result.get("pid"), (time.monotonic(), self.items))
                self.flush(studies)

        def ready(self, started: float) -> tuple[float, int]:
            """(seconds from `started` until the last worker to start returned its first result, items back by
            then): the workers' start-up, imports included, which a suite pays once."""
            if not self.first:
                return 0.0, 0
            at, items = max(self.first.values())
            return at - started, items

        def _ended(self, trial: Any, error: str) -> None:
            for item in trial.config.get("items", []):  # items that never came back fail with the trial
                study = self.studies[item["study"]]
                if item["order"] not in study.trials:
                    record_item(study, item, {"run_status": "failed", "error": error})
            self.flush()

        def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, "no result")

        def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
            self._ended(trial, trial_error(trial))

        def on_experiment_end(self, trials: list, **info: Any) -> None:
            self.flush()

        def flush(self, studies: list[Study] | None = None) -> None:
            """Write the studies (of `studies`, default all) that have all their trials and are not written yet."""
            ready = {s.index: s for s in (studies or self.studies) if s.done and s.index not in self.written}.values()
            if not ready:
                return
            with Database(self.db_url) as db:
                for study in ready:
                    write_study(db, study)
                    self.written.add(study.index)
                    if self.on_study:
                        self.on_study(study)

    return BatchRecorder


def record_item(study: Study, item: dict[str, Any], result: dict[str, Any]) -> None:
    """One item's result as its study's trial record (kept on the driver until the study is written)."""
    error = None if result.get("run_status") == "completed" else (result.get("error") or "no result")
    study.trials[item["order"]] = {**trial_record(item["params"], result, error), "wall_s": result.get("wall_s")}


def write_study(db: Database, study: Study) -> None:
    """A finished study's trials in order (a failed study: the trials it got, status left unfinished)."""
    base, _ = study.sweep.base()

    for order in sorted(study.trials):
        trial = study.trials[order]
        trial["run_id"] = trial["run_id"] or _run_id(base.canonical, trial["params"])
        canonical = apply_params(base.canonical, trial["params"])  # not validated again: it ran, or it failed
        record_trial(db, study.study_id, order, trial, canonical, {"wall_s": trial["wall_s"]})
    if study.error is None:
        db.finish_study(study.study_id)
    else:
        db.fail_study(study.study_id)


def _run_id(base: dict[str, Any], params: dict[str, Any]) -> str:
    try:
        return build_point(base, params).id
    except Exception:
        return "invalid"


def run_batch(
    sweeps: list[Sweep],
    *,
    address: str | None = None,
    db_url: str | None = None,
    cpus_per_trial: float = 1.0,
    concurrency: int | None = None,
    on_study: Any = None,
) -> dict[str, Any]:
    """Run the (batchable) sweeps as one Tune experiment; complete studies already in the database are skipped."""
    empty = {"studies": 0, "skipped": 0, "complete": 0, "failed": 0, "errors": {}, "trials": 0, "wall_s": 0.0}
    empty.update(ready_s=0.0, ready_trials=0)
    if not sweeps:
        return empty
    _, paths = sweeps[0].base()
    paths = paths.absolute()  # for the workers
    db_url = db_url or default_url(paths)
    studies: list[Study] = []
    with Database(db_url) as db:
        for sweep in sweeps:
            if not sweep.open_study(db):
                continue  # complete already: reused
            metric, mode = sweep.metric_and_mode()  # the sweep's own objective first
            studies.append(Study(len(studies), sweep, sweep.study_id, metric, mode))
    if not studies:
        return {**empty, "skipped": len(sweeps)}
    shared: dict[Any, Any] = {}  # e.g. one loaded planner for every planner study of the batch
    for study in studies:
        try:
            study.searcher = searcher(study.sweep, study.metric, study.mode, shared=shared)
        except Exception as exc:
            study.error = f"{type(exc).__name__}: {exc}"

    init_ray(address)
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)

    total_cpus = float(ray.cluster_resources().get("CPU", 1))
    concurrency = concurrency or max(1, int(total_cpus / cpus_per_trial))
    bases = [s.sweep.base()[0].canonical for s in studies]
    objectives = [s.sweep.objective.to_dict() if s.sweep.objective else None for s in studies]
    placement = Placement.for_driver(paths).to_dict()
    trainable = tune.with_resources(
        tune.with_parameters(batch_trial, bases=bases, placement=placement, objectives=objectives),
        {"cpu": cpus_per_trial},
    )
    recorder = _recorder_class()(studies, db_url, on_study)
    storage = paths.root("output_root") / "tune"
    started = time.monotonic()
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            search_alg=StudyMux(studies, slots=concurrency),
            num_samples=sum(s.requested for s in studies),  # at most: a pack holds one item or more
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
    ready_s, ready_trials = recorder.ready(started)
    failed = [s for s in studies if s.error]
    planners = {id(p): p for p in (getattr(s.searcher, "planner", None) for s in studies) if p is not None}
    return {
        "proposals": {key: sum(getattr(p.stats, key) for p in planners.values()) for key in ("sampled", "rejected")},
        "studies": len(studies),
        "skipped": len(sweeps) - len(studies),
        "complete": len(studies) - len(failed),
        "failed": len(failed),
        "errors": {s.study_id: s.error for s in failed},
        "trials": sum(len(s.trials) for s in studies),
        "wall_s": round(wall, 2),
        "ready_s": round(ready_s, 2),
        "ready_trials": ready_trials,
    }
