"""Run a batch of metaprograms as Ray tasks, each with the resources its metaprogram asks for.

The project travels to the workers with Ray's runtime_env (job_launch.cluster);
a job on another node than the driver runs in that node's scratch root and its
records come back to the driver's output root (job_launch.shipping), so the
driver's run directories and database hold every run, wherever it ran.

A job no node can ever offer (a GPU where there is none, more CPUs or memory
than any node has, a custom resource no node has) is rejected before anything
starts. One job's failure stops no other; Ray retries it up to `retries` times
(also when its node dies; the engine resumes it from its last checkpoint when
it can) and the database records it with its error and log. Ctrl-C cancels what
is in flight (each run records itself 'interrupted') and records those jobs too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from database.reports import study_params, sweep_report
from database.store import Database, default_url
from database.trials import record_trial, trial_record
from engine.metaprogram import Metaprogram
from engine.observe import sweep_run
from engine.paths import Paths
from engine.records import RunRecord
from job_launch.cluster import infeasible, init_ray, node_capacities, request_of
from job_launch.shipping import DEFAULT_MAX_FILE_MB, Placement, RunFailedOnWorker, failure_bundle, unpack


class Rejected(ValueError):
    """Jobs that no node of the cluster can run; nothing was started."""


@dataclass
class Job:
    mp: Metaprogram
    source: str  # where it came from (a file, a sweep point), for messages
    params: dict[str, Any] = field(default_factory=dict)  # a sweep's parameters, for its study


def _run_job(canonical: dict[str, Any], placement: dict[str, Any], tracking: dict | None = None) -> dict[str, Any]:
    """Inside a Ray worker: one ordinary engine run; its records come back with the result (or the error).
    With `tracking` (a sweep's tracked run) the run is tracked as its child."""
    import ray

    from engine.metaprogram import validate
    from engine.observe import parent_context
    from engine.runner import RunFailed, execute
    from job_launch.shipping import pack, worker_logging

    worker_logging()
    where = Placement(**placement)
    paths, remote = where.paths_here()
    mp = validate(canonical, trusted=True, paths=paths)  # checked by the driver already; this rebuilds the objects
    try:
        with parent_context(tracking):
            results = execute(mp, paths)
    except RunFailed as exc:  # a plain error pickles across processes; RunFailed's signature does not
        bundle = pack(paths, mp.id, where.max_file_mb) if remote else None
        raise RunFailedOnWorker(f"run {exc.run_id} failed: {exc.error}", bundle) from None
    results["node_id"] = ray.get_runtime_context().get_node_id()
    return {"results": results, "bundle": pack(paths, mp.id, where.max_file_mb) if remote else None}


def check_feasible(jobs: list[Job], custom: dict[str, float] | None = None) -> None:
    nodes = node_capacities()
    problems = []
    for job in jobs:
        why = infeasible(request_of(job.mp.pipeline.resources, custom), nodes)
        if why:
            problems.append(f"{job.source} ({job.mp.id}): {why}")
    if problems:
        raise Rejected(
            f"{len(problems)} of {len(jobs)} job(s) ask for resources no node of this Ray cluster can offer; "
            "nothing was started:\n" + "\n".join(f"  - {p}" for p in problems)
        )


def as_jobs(items: list[Job | Metaprogram]) -> list[Job]:
    """Jobs from jobs or bare metaprograms (named by their id)."""
    return [item if isinstance(item, Job) else Job(item, item.id) for item in items]


def launch(
    jobs: list[Job | Metaprogram],
    paths: Paths,
    *,
    address: str | None = None,
    retries: int = 1,
    db_url: str | None = None,
    study_id: str | None = None,
    first_order: int = 0,
    progress: bool = True,
    resources: dict[str, float] | None = None,
    max_file_mb: float | None = DEFAULT_MAX_FILE_MB,
    score: Callable[[dict[str, Any]], float | None] | None = None,
    tracking: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run every job on Ray (a fresh local instance, or the cluster at `address`); return counts,
    per-job outcomes and the cluster used. Records land under `paths`' output root and in the database.

    `resources`: custom Ray resources every job also asks for (e.g. {"gpu_node": 1}).
    `max_file_mb`: artifacts larger than this stay on a remote worker (None: bring everything back).
    With `study_id`, job i is recorded as that study's trial `first_order + i`, its objective
    `score(metrics)` when given (a sweep's own objective), else its metaprogram's.
    """
    import ray

    jobs = as_jobs(jobs)
    paths = paths.absolute()  # for the workers
    init_ray(address, paths=paths)
    check_feasible(jobs, resources)
    placement = Placement.for_driver(paths, max_file_mb).to_dict()
    remote = ray.remote(_run_job)
    db_url = db_url or default_url(paths)
    pending: dict[Any, tuple[int, Job]] = {}
    outcomes: list[dict[str, Any]] = []
    started = time.monotonic()
    with Database(db_url) as db:
        for order, job in enumerate(jobs, start=first_order):
            done = RunRecord(paths.run_dir(job.mp.id)).completed()
            if done:  # completed at the driver already: reused, wherever it ran
                outcomes.append(_record(db, {**done, "reused": True}, None, order, job, paths, study_id, score))
                continue
            request = request_of(job.mp.pipeline.resources, resources)
            custom = {k: v for k, v in request.items() if k not in ("CPU", "GPU", "memory")}
            ref = remote.options(
                num_cpus=request["CPU"],
                num_gpus=request["GPU"],
                memory=request["memory"],
                resources=custom or None,
                max_retries=retries,
                retry_exceptions=True,
                name=f"run-{job.mp.id}",
            ).remote(job.mp.canonical, placement, tracking)
            pending[ref] = (order, job)

    bar = _bar(len(jobs), progress)
    try:
        with Database(db_url) as db:
            _update(bar, outcomes, len(pending))
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
                for ref in ready:
                    order, job = pending.pop(ref)
                    outcomes.append(_collect(db, ref, order, job, paths, study_id, score))
                _update(bar, outcomes, len(pending))
    except KeyboardInterrupt:
        _cancel(pending, paths, db_url, study_id, outcomes)
        raise
    finally:
        if bar is not None:
            bar.close()
    if study_id:
        with Database(db_url) as db:
            db.finish_study(study_id)
    return _summary(outcomes, time.monotonic() - started, address)


def _collect(db: Database, ref: Any, order: int, job: Job, paths: Paths, study_id: str | None, score) -> dict:
    """A finished task: its records into the driver's output root, then into the database."""
    import ray

    output_root = paths.root("output_root")
    try:
        out = ray.get(ref)
        unpack(out["bundle"], output_root)
        return _record(db, out["results"], None, order, job, paths, study_id, score)
    except Exception as exc:  # the job's own error (after its retries), or a lost worker or node
        unpack(failure_bundle(exc), output_root)
        return _record(db, None, exc, order, job, paths, study_id, score)


def _record(
    db: Database,
    results: dict[str, Any] | None,
    exc: BaseException | None,
    order: int,
    job: Job,
    paths: Paths,
    study_id: str | None,
    score: Callable[[dict[str, Any]], float | None] | None = None,
) -> dict[str, Any]:
    mp = job.mp
    if exc is None:
        status, error = "completed", None
    else:
        results = RunRecord(paths.run_dir(mp.id)).results() or {}
        status, error = "failed", results.get("error") or _first_line(exc)
    metrics, timings = results.get("metrics", {}), results.get("timings", {})
    objective = None
    if status == "completed":
        objective = score(metrics) if score else (results.get("objective") or {}).get("value")
    if study_id:
        result = {"run_status": status, "run_id": mp.id, "objective": objective, "epochs_run": metrics.get("epochs")}
        trial = {**trial_record(job.params, result, error), "metrics": metrics}
        record_trial(db, study_id, order, trial, mp.canonical, timings)
    else:
        db.record_run(mp.id, mp.canonical, status, metrics, timings, error)
    return {
        "order": order,
        "source": job.source,
        "id": mp.id,
        "status": status,
        "error": error,
        "objective": objective,
        "node_id": results.get("node_id") or (results.get("worker") or {}).get("node_id"),
        "reused": bool(results.get("reused")),
    }


def _cancel(pending: dict, paths: Paths, db_url: str, study_id: str | None, outcomes: list) -> None:
    """Ctrl-C: cancel what is in flight (each run records itself 'interrupted'), then record those jobs."""
    import ray

    for ref in pending:
        ray.cancel(ref, force=False)  # KeyboardInterrupt inside the task: the engine records the run
    # each cancelled run records itself 'interrupted' as it stops; on a busy machine that takes a while
    ray.wait(list(pending), num_returns=len(pending), timeout=60)
    with Database(db_url) as db:
        for _ref, (_order, job) in pending.items():
            results = RunRecord(paths.run_dir(job.mp.id)).results() or {}
            status = "completed" if results.get("status") == "completed" else "interrupted"
            db.record_run(
                job.mp.id,
                job.mp.canonical,
                status,
                results.get("metrics", {}),
                results.get("timings", {}),
                None if status == "completed" else "interrupted by Ctrl-C",
            )
            outcomes.append({"id": job.mp.id, "source": job.source, "status": status})


def _bar(total: int, enabled: bool) -> Any:
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="jobs", unit="job", dynamic_ncols=True)


def _update(bar: Any, outcomes: list, in_flight: int) -> None:
    if bar is None:
        return
    failed = sum(o["status"] == "failed" for o in outcomes)
    bar.set_postfix({"done": len(outcomes) - failed, "running": in_flight, "failed": failed}, refresh=False)
    bar.n = len(outcomes)
    bar.refresh()


def _summary(outcomes: list[dict[str, Any]], wall_s: float, address: str | None) -> dict[str, Any]:
    import ray

    failed = [o for o in outcomes if o["status"] == "failed"]
    return {
        "jobs": len(outcomes),
        "completed": sum(o["status"] == "completed" for o in outcomes),
        "failed": len(failed),
        "errors": {o["source"]: o["error"] for o in failed},
        "outcomes": sorted(outcomes, key=lambda o: o.get("order", 0)),
        "wall_s": round(wall_s, 3),
        "address": address or "local",
        "gcs_address": ray.get_runtime_context().gcs_address,
    }


def launch_sweep(sweep: Any, points: list, *, address: str | None = None, db_url: str | None = None) -> dict:
    """A grid or random sweep's metaprograms, recorded as a study (algorithm grid|random, no scheduler)."""
    mp, paths = sweep.base()
    study_id = sweep.study_id
    with Database(db_url or default_url(paths)) as db:
        db.begin_study(sweep.record(len(points), algorithm=sweep.mode, scheduler="none"))
    jobs = [Job(m, f"{sweep.name}[{i}]", params) for i, (params, m) in enumerate(points)]
    with Database(db_url or default_url(paths)) as db:
        params = study_params(db.study(study_id), sweep.name)
    with sweep_run(study_id, mp, params, paths) as tracking:
        report = launch(
            jobs,
            paths,
            address=address,
            retries=sweep.tune.retries,
            db_url=db_url,
            study_id=study_id,
            resources=sweep.tune.resources,
            max_file_mb=sweep.tune.max_artifact_mb,
            score=sweep.objective.score if sweep.objective else None,
            tracking=tracking.link if tracking else None,
        )
        with Database(db_url or default_url(paths)) as db:
            report["report"] = sweep_report(db, study_id, paths.root("output_root"), tracking)
    return report


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    # Ray wraps a task's error; its last line is the error the task raised
    lines = [line for line in text.splitlines() if line.strip()]
    return lines[-1].strip() if lines else type(exc).__name__
