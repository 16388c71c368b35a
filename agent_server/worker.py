"""One run started by the MCP server, in its own process: `python -m agent_server.worker` < job.json.

The job (written by agent_server.session, never by the agent) holds the metaprogram the server has already
validated as untrusted, the caps, and the configured roots. The worker validates it again through the same gate,
runs it with engine.runner.execute (the run directory, id and records every run gets), and keeps a small progress
file beside the server's log: its status and the metrics reported so far. SIGTERM stops the run, which the engine
records as `interrupted`.
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path
from typing import Any


class _Stopped(BaseException):
    """SIGTERM before the run began (the engine turns a later one into Interrupted)."""


def _stop(signum: int, frame: Any) -> None:
    raise _Stopped()


def main() -> int:
    signal.signal(signal.SIGTERM, _stop)
    try:
        return _main()
    except _Stopped:
        return 143


def _main() -> int:
    job = json.loads(sys.stdin.read())
    from engine.atomic import atomic_write

    progress_path = Path(job["progress"])
    progress: dict[str, Any] = {"status": "starting", "metrics": {}, "updated": time.time()}

    def save(**values: Any) -> None:
        progress.update(values, updated=time.time())
        atomic_write(progress_path, json.dumps(progress, default=str))

    started: dict[str, Any] = {}  # the validated metaprogram and its roots, once known
    try:
        return _work(job, save, started)
    except _Stopped:  # before the engine took SIGTERM over (it records a run it stops as interrupted)
        if "mp" in started:
            _record_interrupted(started["mp"], started["paths"])
        save(status="interrupted")
        return 143


def _record_interrupted(mp: Any, paths: Any) -> None:
    """A run cancelled before the engine began it is recorded as interrupted all the same (when nothing is)."""
    from engine.records import RunRecord

    record = RunRecord(paths.run_dir(mp.id))
    if record.results() is None:
        record.finish(record.begin(mp, []), "interrupted", {}, 0.0, "stopped before it began")


def _work(job: dict[str, Any], save: Any, started: dict[str, Any]) -> int:
    from engine.metaprogram import Caps, MetaprogramError, validate
    from engine.paths import Paths
    from engine.runner import Interrupted, RunFailed, execute, setup_console_logging

    so_far: dict[str, Any] = {}  # the metrics reported so far (a pipeline reports each epoch or stage)

    def report(metrics: dict[str, Any]) -> None:
        so_far.update(metrics)
        save(metrics=dict(so_far))

    setup_console_logging()
    paths = Paths(**job["paths"])
    from engine.plugins import load_plugins

    load_plugins(paths.plugins)  # the machine's plugins, as the server loaded them (their problems: it refused)
    if "sweep" in job:
        return _sweep(job, paths, save)
    try:
        mp = validate(job["metaprogram"], trusted=False, caps=Caps(**job["caps"]), paths=paths, source="agent input")
    except MetaprogramError as exc:
        save(status="invalid", error=exc.render())
        return 2
    started.update(mp=mp, paths=paths)
    save(status="running", id=mp.id)
    try:
        results = execute(mp, paths, report=report)
    except Interrupted:
        save(status="interrupted")
        return 143
    except RunFailed as exc:
        save(status="failed", error=exc.error)
        return 1
    save(status=results["status"], metrics=results["metrics"], reused=bool(results.get("reused")))
    return 0


def _sweep(job: dict[str, Any], paths: Any, save: Any) -> int:
    """A Ray Tune study over the agent's space (each value already checked as untrusted input by the server)."""
    from engine.metaprogram import Caps, MetaprogramError, validate
    from util.sweep_objective import from_dict
    from util.sweep_spec import Sweep, TuneSettings
    from util.tune_sweep import run_tune

    spec = job["sweep"]
    try:
        mp = validate(spec["base"], trusted=False, caps=Caps(**job["caps"]), paths=paths, source="agent sweep base")
    except MetaprogramError as exc:
        save(status="invalid", error=exc.render())
        return 2
    objective = from_dict(spec["objective"]) if spec.get("objective") is not None else None
    tune = TuneSettings.model_validate(spec["tune"])
    sweep = Sweep("agent", None, {}, [], spec["space"], mode="tune", count=spec["count"], seed=spec["seed"],
                  suite="agent", tune=tune, objective=objective)  # fmt: skip
    sweep._base = (mp, paths)
    save(status="running", study=sweep.study_id)
    try:
        summary = run_tune(sweep)
    except Exception as exc:  # recorded for study(id); the log has the details
        save(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise
    save(status="complete" if summary["complete"] else "incomplete", summary=summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
