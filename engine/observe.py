"""What watches a run from outside its pipeline: the runs database and the trackers.

Every run passes through engine.runner.execute, which calls this module in three
places: `watch` around the run (when it ends, whatever its status, it is recorded
in <output_root>/metaprogram.db, idempotent by id), `tracked` around the pipeline
(the trackers that `pipeline.hooks` names, mlflow and wandb, see it start, every
step it reports, and its end), and `reused` for a run whose results are reused.

A run started inside another run of this process (a chain's stage) is its child:
recorded with the parent's id, tracked with the parent's trackers as a nested
run. A run in a Ray worker learns its parent (a sweep) from `parent_context`.
Nothing here changes a run's id.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TRACKER_HOOKS = ("mlflow", "wandb")
TRAINING_PIPELINES = ("execution",)  # the pipelines that build training hooks; the others take trackers only
log = logging.getLogger("metaprogram")


@dataclass
class _Frame:
    run_id: str
    trackers: list = field(default_factory=list)  # (kind, settings, tracker) of this run


class _Local(threading.local):
    """Per thread (a Tune trial runs in a thread of its worker): runs in progress, outermost first, and the
    parent started in another process (a sweep), see parent_context."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.remote: list[dict[str, Any]] = []


_LOCAL = _Local()


@contextmanager
def watch(mp: Any, context: Any) -> Iterator[None]:
    """Around one run: at its end, put what results.json says into the runs database."""
    parent = _LOCAL.stack[-1].run_id if _LOCAL.stack else None
    _LOCAL.stack.append(_Frame(mp.id))
    try:
        yield
    finally:
        _LOCAL.stack.pop()
        _index(context.paths, mp, parent, context.run_dir)


def tracked(pipeline: Callable, mp: Any, context: Any) -> dict[str, Any]:
    """Run the pipeline under its trackers (none configured: just run it)."""
    check_hooks(mp.pipeline)
    specs = tracker_specs(mp)
    if not specs:
        return pipeline(mp, context)
    trackers = _start(specs, mp, context.run_dir, context.paths)
    frame = _LOCAL.stack[-1] if _LOCAL.stack and _LOCAL.stack[-1].run_id == mp.id else None
    if frame is not None:
        frame.trackers = trackers
    original = context.report

    def report(metrics: dict[str, Any]) -> None:
        step = metrics.get("epoch")
        for _, _, tracker in trackers:
            tracker.log_metrics(metrics, step=int(step) if isinstance(step, int | float) else None)
        original(metrics)  # last: a Tune scheduler stops a trial by raising here

    context.report = report
    status, metrics = "FAILED", {}
    try:
        metrics = pipeline(mp, context)
        for kind, _, tracker in trackers:
            log_model(kind, tracker, mp.pipeline.name, context.run_dir)
        status = "FINISHED"
        return metrics
    except BaseException as exc:
        if not isinstance(exc, Exception):  # interrupted (SIGTERM, Ctrl-C) or stopped by a scheduler
            status = "KILLED"
        raise
    finally:
        context.report = original
        _finish(trackers, status, metrics, context.run_dir)
        if frame is not None:
            frame.trackers = []


def reused(mp: Any, paths: Any, results: dict[str, Any]) -> None:
    """A completed run reused: index it, and give its trackers (its own, or a parent's) a run marked reused."""
    parent = _LOCAL.stack[-1].run_id if _LOCAL.stack else None
    run_dir = paths.run_dir(mp.id)
    _index(paths, mp, parent, run_dir)
    specs = tracker_specs(mp)
    if specs:
        trackers = _start(specs, mp, run_dir, paths, reused=True)
        _finish(trackers, "FINISHED", results.get("metrics") or {}, run_dir)


def log_model(kind: str, tracker: Any, pipeline: str, run_dir: Path, model: Any = None) -> None:
    """Log the run's model if the tracker is set to; a failure is a warning (the model is on disk anyway)."""
    try:
        tracker.log_model(pipeline, run_dir, model)
    except Exception as exc:
        log.warning("%s: could not log the model: %s: %s", kind, type(exc).__name__, exc)


def current(kind: str) -> Any:
    """The tracker of this kind of the innermost run in progress (for a training hook that logs the model)."""
    for frame in reversed(_LOCAL.stack):
        for name, _, tracker in frame.trackers:
            if name == kind:
                return tracker
    return None


@contextmanager
def parent_context(link: dict[str, Any] | None) -> Iterator[None]:
    """Runs started inside are children of `link` ({kind: {"settings": ..., ...link()}}), e.g. a sweep's trials."""
    if not link:
        yield
        return
    _LOCAL.remote.append(link)
    try:
        yield
    finally:
        _LOCAL.remote.pop()


def check_hooks(pipeline: Any) -> None:
    hooks = getattr(pipeline, "hooks", None) or {}
    if pipeline.name in TRAINING_PIPELINES:
        return
    other = sorted(set(hooks) - set(TRACKER_HOOKS))
    if other:
        raise ValueError(
            f"pipeline.hooks: the {pipeline.name} pipeline does not train, so it takes only the tracking hooks "
            f"({', '.join(TRACKER_HOOKS)}); remove {', '.join(other)}"
        )


def tracker_specs(mp: Any) -> list[tuple[str, dict[str, Any], dict[str, Any] | None]]:
    """(kind, settings, parent link) per tracker: the run's own hooks, plus the parent's trackers it lacks."""
    own = {k: v or {} for k, v in (getattr(mp.pipeline, "hooks", None) or {}).items() if k in TRACKER_HOOKS}
    parent_trackers = _parent_links(mp.id)
    specs = []
    for kind in TRACKER_HOOKS:
        parent = parent_trackers.get(kind)
        if kind in own:
            specs.append((kind, own[kind], parent))
        elif parent is not None:
            specs.append((kind, parent["settings"], parent))
    return specs


def _parent_links(run_id: str) -> dict[str, dict[str, Any]]:
    """{kind: {"settings": ..., link...}} of the nearest parent: a run of this process, else a remote one."""
    for frame in reversed(_LOCAL.stack):
        if frame.run_id != run_id and frame.trackers:
            return {kind: {"settings": settings, **tracker.link()} for kind, settings, tracker in frame.trackers}
    return dict(_LOCAL.remote[-1]) if _LOCAL.remote else {}


def _start(specs: list, mp: Any, run_dir: Path, paths: Any, reused: bool = False) -> list:
    from engine.trackers import build

    tags = {
        "metaprogram.id": mp.id,
        "metaprogram.pipeline": mp.pipeline.name,
        "metaprogram.model": str(getattr(mp.model, "name", "")),
        "metaprogram.dataset": str(getattr(mp.dataset, "name", "")),
    }
    if reused:
        tags["metaprogram.reused"] = "true"
    params = mp.canonical
    from engine.flat import flatten

    flat = flatten(params)
    started = []
    try:
        for kind, settings, parent in specs:
            tracker = build(kind, settings)
            tracker.start(mp.id, flat, tags, run_dir, paths.root("output_root"), parent)
            started.append((kind, settings, tracker))
    except BaseException:
        _finish(started, "FAILED", {}, run_dir)
        raise
    return started


def _finish(trackers: list, status: str, metrics: dict[str, Any], run_dir: Path | None) -> None:
    for kind, _, tracker in reversed(trackers):
        try:
            if run_dir is not None and run_dir.is_dir():
                tracker.log_files(run_dir)
            tracker.finish(status, metrics)
        except Exception as exc:  # a tracker's trouble at the end must not turn a finished run into a failure
            log.warning("%s: could not finish the tracked run: %s", kind, exc)


# What else records a finished run (the runs table of the study database): layers above the engine register a
# function here with `on_run_end`; the engine imports none of them. The module that registers each built-in one is
# loaded at the first run's end (it is above the engine, as a plugin is).
RUN_RECORDERS: list[Callable[[Any, dict[str, Any], dict[str, Any], Path, str | None], None]] = []
BUILTIN_RECORDERS = ("database.index",)
_loaded = False


def on_run_end(recorder: Callable[[Any, dict[str, Any], dict[str, Any], Path, str | None], None]) -> Callable:
    """Register `recorder(paths, canonical, results, run_dir, parent)`, called as each run ends."""
    if recorder not in RUN_RECORDERS:
        RUN_RECORDERS.append(recorder)
    return recorder


def _recorders() -> list[Callable]:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILTIN_RECORDERS:
            importlib.import_module(module)
    return RUN_RECORDERS


def _index(paths: Any, mp: Any, parent: str | None, run_dir: Path) -> None:
    from engine.records import RunRecord

    results = RunRecord(run_dir).results()
    if results is None:
        return
    for recorder in _recorders():
        try:
            recorder(paths, mp.canonical, results, run_dir, parent)
        except Exception as exc:  # the run directory stays the truth: `metaprogram runs index` catches up
            log.warning("run %s: could not record it in the runs database: %s", mp.id, exc)


class SweepTracking:
    """The tracked run of a sweep: its trials attach to `link`; `summary` and `folder` are logged at its end."""

    def __init__(self, trackers: list):
        self.trackers = trackers
        self.summary: dict[str, Any] = {}
        self.folder: Path | None = None

    @property
    def link(self) -> dict[str, Any]:
        return {kind: {"settings": settings, **tracker.link()} for kind, settings, tracker in self.trackers}


@contextmanager
def sweep_run(study_id: str, base: Any, params: dict[str, Any], paths: Any) -> Iterator[SweepTracking | None]:
    """A parent tracked run for a sweep whose base metaprogram names trackers; None when it names none."""
    specs = [(kind, settings, None) for kind, settings, _ in tracker_specs(base)]
    if not specs:
        yield None
        return
    from engine.trackers import build

    root = paths.root("output_root")
    folder = root / "sweeps" / study_id
    tags = {"metaprogram.study": study_id, "metaprogram.pipeline": "sweep"}
    trackers = []
    try:
        for kind, settings, _ in specs:
            tracker = build(kind, settings)
            tracker.start(study_id, params, tags, folder, root, None)
            trackers.append((kind, settings, tracker))
    except BaseException:
        _finish(trackers, "FAILED", {}, None)
        raise
    handle = SweepTracking(trackers)
    status = "FAILED"
    try:
        yield handle
        status = "FINISHED"
    except BaseException as exc:
        if not isinstance(exc, Exception):
            status = "KILLED"
        raise
    finally:
        _finish(trackers, status, handle.summary, handle.folder)
