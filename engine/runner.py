"""Run one validated metaprogram into its run directory, or reuse the finished one.

Every way in (run_metaprogram.py, a sweep trial, job_launch, the planner loop)
ends here, so every run gets the same directory, id and records.
"""

from __future__ import annotations

import logging
import shutil
import signal
import sys
import threading
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from engine import observe
from engine.context import Reporter, RunContext, RunFailed
from engine.identity import still_matches
from engine.metaprogram import Metaprogram, MetaprogramError
from engine.paths import Paths
from engine.records import RunRecord
from engine.schema.base import PIPELINES

LOGGER_NAME = "metaprogram"


class Interrupted(BaseException):
    """SIGTERM arrived: stop, keep the last checkpoint, resume on the next start."""

    status = "interrupted"  # what the run's record says; a subclass names its own (a sweep's stopped trial)


__all__ = ["Interrupted", "RunFailed", "execute", "setup_console_logging"]


def execute(
    mp: Metaprogram,
    paths: Paths,
    *,
    overrides: list[str] | tuple[str, ...] = (),
    force: bool = False,
    report: Reporter | None = None,
) -> dict[str, Any]:
    """Run `mp` (or reuse its completed results) and return its results.json content."""
    run_dir = paths.run_dir(mp.id)
    record = RunRecord(run_dir)
    log = logging.getLogger(LOGGER_NAME)
    done = record.completed()
    if done and not force:
        log.info("run %s already completed in %s: reusing its results (force=true recomputes)", mp.id, run_dir)
        observe.reused(mp, paths, done)
        return {**done, "reused": True}
    # what only the built model or loaded data can tell (the gate imports no torch): bad input, refused before the
    # run starts, so nothing is recorded (the execution pipeline: parent weights that do not fit)
    before_run = PIPELINES.companion(mp.pipeline.name, "problems_before_run")
    if before_run is not None and (problems := before_run(mp, paths)):
        raise MetaprogramError(problems)
    if force and run_dir.exists():
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    if changed := still_matches(mp.inputs, paths.root("cache_root")):  # between validation and now
        raise RunFailed(mp.id, f"{', '.join(changed)} changed since the metaprogram was validated: run it again", {})

    state = record.begin(mp, list(overrides))
    limit = mp.pipeline.resources.time_limit_s
    started = time.monotonic()
    context = RunContext(
        run_dir=run_dir,
        paths=paths,
        log=log,
        report=report or (lambda _: None),
        deadline=started + limit if limit else None,
        run_stage=lambda stage: execute(stage, paths),
    )
    with _log_to(run_dir / "run.log", log), _sigterm_interrupts(), observe.watch(mp, context):
        log.info("run %s: %s on %s with %s", mp.id, mp.pipeline.name, mp.dataset.name, mp.model.name)
        try:
            metrics = observe.tracked(PIPELINES.load(mp.pipeline.name), mp, context)
        except (Interrupted, KeyboardInterrupt) as exc:
            # the record is written once, with its final status: a worker torn down right after cannot leave
            # a stopped trial's run saying 'interrupted'
            status = getattr(exc, "status", Interrupted.status)
            record.finish(state, status, {}, time.monotonic() - started, str(exc) or status)
            log.warning("run %s %s; start it again to resume from its last checkpoint", mp.id, status)
            raise
        except Exception as exc:  # recorded, then surfaced to the caller as RunFailed
            error = f"{type(exc).__name__}: {exc}"
            log.error("run %s failed: %s", mp.id, error)
            log.debug("traceback:\n%s", traceback.format_exc())  # into run.log, not the console
            results = record.finish(state, "failed", {}, time.monotonic() - started, error)
            raise RunFailed(mp.id, error, results) from exc
        if changed := still_matches(mp.inputs, paths.root("cache_root")):  # the id must describe what was read
            error = f"{', '.join(changed)} changed while the run read it: its results would not match its id"
            log.error("run %s failed: %s", mp.id, error)
            results = record.finish(state, "failed", {}, time.monotonic() - started, error)
            raise RunFailed(mp.id, error, results)
        results = record.finish(state, "completed", metrics, time.monotonic() - started)
    log.info("run %s completed in %.1f s; results in %s", mp.id, results["timings"]["wall_s"], run_dir)
    return results


@contextmanager
def _log_to(path, log: logging.Logger) -> Iterator[None]:
    handler = logging.FileHandler(path)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    handler.setLevel(logging.DEBUG)
    log.addHandler(handler)
    log.setLevel(logging.DEBUG)  # the console handler filters at its own level
    try:
        yield
    finally:
        log.removeHandler(handler)
        handler.close()


@contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """Turn SIGTERM into Interrupted so the run records itself before exiting."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def _raise(signum, frame):
        raise Interrupted()

    previous = signal.signal(signal.SIGTERM, _raise)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def setup_console_logging(level: int = logging.INFO) -> None:
    log = logging.getLogger(LOGGER_NAME)
    if not any(getattr(h, "_metaprogram_console", False) for h in log.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("[%(asctime)s] %(message)s", "%H:%M:%S"))
        handler._metaprogram_console = True  # type: ignore[attr-defined]
        handler.setLevel(level)
        log.addHandler(handler)
    log.setLevel(logging.DEBUG)  # each handler filters at its own level
    log.propagate = False
