"""The study database: runs, studies and trials in one SQLite file (WAL).

Every write is one transaction and idempotent by its key (run id; study id;
study id + order), so a writer killed at any point leaves a database that opens
and exports. A study is marked complete only after all of its trials are in, in
a transaction of its own; `export` writes complete studies only, so a sweep
killed halfway never yields a half-written sequence (resume it to complete it).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from engine.finite import finite_number
from engine.paths import Paths

DB_NAME = "metaprogram.db"
SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id TEXT PRIMARY KEY,
    metaprogram TEXT NOT NULL,
    status TEXT NOT NULL,
    metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS studies (
    id TEXT PRIMARY KEY,
    suite TEXT NOT NULL DEFAULT 'train',
    task TEXT NOT NULL,
    search_space TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    scheduler TEXT NOT NULL,
    metric TEXT NOT NULL,
    mode TEXT NOT NULL,
    seed INTEGER NOT NULL,
    base TEXT NOT NULL,
    requested INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'running',
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS trials (
    study_id TEXT NOT NULL REFERENCES studies(id),
    ord INTEGER NOT NULL,
    run_id TEXT NOT NULL,
    params TEXT NOT NULL,
    objective REAL,
    status TEXT NOT NULL,
    error TEXT,
    epochs INTEGER,
    updated REAL NOT NULL,
    PRIMARY KEY (study_id, ord)
);
CREATE INDEX IF NOT EXISTS trials_run ON trials(run_id);
"""
# Columns added to `runs` after its first release: added in place to an older file when it opens.
RUN_COLUMNS = {
    "objective_metric": "TEXT",  # what the run optimises, e.g. val/accuracy
    "objective": "REAL",  # its value at the end of the run
    "run_dir": "TEXT",  # where its files are
    "parent": "TEXT",  # the run it builds on: the chain that started it, else model.init_from, else +from_run
    "observers": "TEXT",  # settings recorded beside the id (trackers, plots, resources), JSON
}
RUN_KEYS = ("id", "metaprogram", "status", "metrics", "timings", "error", "updated", *RUN_COLUMNS)
JSON_KEYS = ("metaprogram", "metrics", "timings", "observers")
LOCK_RETRIES = 8  # beyond the 30 s busy timeout: many Ray workers finishing at once must not lose a record
# Trial statuses: 'completed', 'stopped' (a scheduler such as ASHA ended it early; its
# objective is the best value it reported), 'failed' (raised, or passed its time limit).
TRIAL_STATUSES = ("completed", "stopped", "failed")


@dataclass(frozen=True)
class StudyRecord:
    """One study as it is recorded: what it searches, how, and for which objective.

    util.sweep_spec.Sweep.record() builds it from a sweep file (the one way a sweep, a batched suite
    and job_launch begin a study); `Database.study` returns these fields plus status and trials.
    """

    id: str
    task: dict[str, Any]  # util.task_signature.task_signature: what the planner conditions on
    search_space: dict[str, Any]  # util/search_space.py's format
    algorithm: str  # a registered search algorithm (util/search/), or grid|random for a launched sweep
    scheduler: str  # fifo | asha | none
    metric: str
    mode: str  # min | max
    seed: int
    base: dict[str, Any]  # the canonical base metaprogram
    requested: int  # trials asked for
    suite: str = "train"


def default_url(paths: Paths) -> str:
    return str(paths.root("output_root") / DB_NAME)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class Database:
    """One SQLite file; open it per process (connections are not shared across forks)."""

    def __init__(self, url: str | Path):
        text = str(url).removeprefix("sqlite:///")
        self.path = Path(text).expanduser().resolve()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: a crash loses at most the last commit
        self._conn.executescript(SCHEMA)
        self._add_run_columns()

    def _add_run_columns(self) -> None:
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(runs)")}
        for name, kind in RUN_COLUMNS.items():
            if name not in have:
                try:
                    self._conn.execute(f"ALTER TABLE runs ADD COLUMN {name} {kind}")
                except sqlite3.OperationalError as exc:  # another process added it first
                    if "duplicate column" not in str(exc):
                        raise

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        for attempt in range(LOCK_RETRIES):
            try:
                self._conn.execute("BEGIN IMMEDIATE")  # waits up to the busy timeout for other writers
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or attempt == LOCK_RETRIES - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # ---- runs
    def record_run(
        self,
        run_id: str,
        metaprogram: dict[str, Any],
        status: str,
        metrics: dict[str, Any] | None = None,
        timings: dict[str, Any] | None = None,
        error: str | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, metaprogram, status, metrics, timings, error, updated) VALUES (?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET metaprogram=excluded.metaprogram, status=excluded.status, "
                "metrics=excluded.metrics, timings=excluded.timings, error=excluded.error, updated=excluded.updated",
                (run_id, _dumps(metaprogram), status, _dumps(metrics or {}), _dumps(timings or {}), error, time.time()),
            )

    def index_run(
        self,
        run_id: str,
        metaprogram: dict[str, Any],
        results: dict[str, Any],
        *,
        run_dir: str | Path | None = None,
        parent: str | None = None,
    ) -> None:
        """Record a run from its results.json content (every way of starting a run ends here)."""
        objective = results.get("objective") or {}
        value = objective.get("value")
        with self.transaction() as db:
            db.execute(
                "INSERT INTO runs (id, metaprogram, status, metrics, timings, error, updated, objective_metric, "
                "objective, run_dir, parent, observers) VALUES (?,?,?,?,?,?,?,?,?,?,?,?) "
                "ON CONFLICT(id) DO UPDATE SET metaprogram=excluded.metaprogram, status=excluded.status, "
                "metrics=excluded.metrics, timings=excluded.timings, error=excluded.error, updated=excluded.updated, "
                "objective_metric=excluded.objective_metric, objective=excluded.objective, "
                "run_dir=COALESCE(excluded.run_dir, runs.run_dir), parent=COALESCE(excluded.parent, runs.parent), "
                "observers=COALESCE(excluded.observers, runs.observers)",
                (
                    run_id,
                    _dumps(metaprogram),
                    results.get("status", "unknown"),
                    _dumps(results.get("metrics") or {}),
                    _dumps(results.get("timings") or {}),
                    results.get("error"),
                    time.time(),
                    objective.get("metric"),
                    finite_number(value),
                    str(run_dir) if run_dir is not None else None,
                    parent,
                    _dumps(results["observers"]) if results.get("observers") is not None else None,
                ),
            )

    def run(self, run_id: str) -> dict[str, Any] | None:
        rows = self._select_runs("WHERE id=?", (run_id,))
        return rows[0] if rows else None

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        return self._select_runs(
            "WHERE status=? ORDER BY updated" if status else "ORDER BY updated", (status,) if status else ()
        )

    def run_ids(self) -> set[str]:
        return {row[0] for row in self._conn.execute("SELECT id FROM runs")}

    def studies_of_runs(self) -> dict[str, list[str]]:
        """run id -> the studies it is a trial of."""
        out: dict[str, list[str]] = {}
        for run_id, study_id in self._conn.execute("SELECT DISTINCT run_id, study_id FROM trials ORDER BY study_id"):
            out.setdefault(run_id, []).append(study_id)
        return out

    def _select_runs(self, where: str, args: tuple) -> list[dict[str, Any]]:
        rows = self._conn.execute(f"SELECT {', '.join(RUN_KEYS)} FROM runs {where}", args).fetchall()
        out = []
        for row in rows:
            run = dict(zip(RUN_KEYS, row, strict=True))
            try:
                for key in JSON_KEYS:
                    run[key] = json.loads(run[key]) if run[key] is not None else None
            except (TypeError, ValueError, RecursionError):  # one damaged row: warned and skipped, the rest list
                logging.getLogger("metaprogram").warning("%s: run %s has a damaged %s column, skipped",
                                                         self.path, run["id"], key)  # fmt: skip
                continue
            out.append(run)
        return out

    # ---- studies
    def begin_study(self, study: StudyRecord) -> None:
        """Create the study, or leave an existing one (and its trials) as it is: resuming is allowed."""
        now, row = time.time(), asdict(study)
        with self.transaction() as db:
            db.execute(
                "INSERT INTO studies (id, suite, task, search_space, algorithm, scheduler, metric, mode, seed, base, "
                "requested, status, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,'running',?,?) "
                "ON CONFLICT(id) DO NOTHING",
                (
                    *(row[k] for k in ("id", "suite")),
                    *(_dumps(row[k]) for k in ("task", "search_space")),
                    *(row[k] for k in ("algorithm", "scheduler", "metric", "mode", "seed")),
                    _dumps(row["base"]),
                    row["requested"],
                    now,
                    now,
                ),
            )

    def record_trial(
        self,
        study_id: str,
        order: int,
        *,
        run_id: str,
        params: dict[str, Any],
        objective: float | None,
        status: str,
        error: str | None = None,
        epochs: int | None = None,
        run: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] | None = None,
    ) -> None:
        """One trial (and, given `run` = (metaprogram, metrics, timings), its run) in one transaction."""
        if status not in TRIAL_STATUSES:
            raise ValueError(f"trial status must be one of {TRIAL_STATUSES}, got {status!r}")
        now = time.time()
        with self.transaction() as db:
            if run is not None:
                mp, metrics, timings = run
                run_status = "failed" if status == "failed" else ("stopped" if status == "stopped" else "completed")
                db.execute(
                    "INSERT INTO runs (id, metaprogram, status, metrics, timings, error, updated) "
                    "VALUES (?,?,?,?,?,?,?) ON CONFLICT(id) DO UPDATE SET status=excluded.status, "
                    "metrics=excluded.metrics, timings=excluded.timings, error=excluded.error, "
                    "updated=excluded.updated",
                    (run_id, _dumps(mp), run_status, _dumps(metrics), _dumps(timings), error, now),
                )
            db.execute(
                "INSERT INTO trials (study_id, ord, run_id, params, objective, status, error, epochs, updated) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(study_id, ord) DO UPDATE SET run_id=excluded.run_id, "
                "params=excluded.params, objective=excluded.objective, status=excluded.status, error=excluded.error, "
                "epochs=excluded.epochs, updated=excluded.updated",
                (study_id, order, run_id, _dumps(params), objective, status, error, epochs, now),
            )
            db.execute("UPDATE studies SET updated=? WHERE id=?", (now, study_id))

    def finish_study(self, study_id: str) -> bool:
        """Mark the study complete when it holds the trials it asked for; say whether it did."""
        with self.transaction() as db:
            row = db.execute("SELECT requested FROM studies WHERE id=?", (study_id,)).fetchone()
            if row is None:
                return False
            (have,) = db.execute("SELECT COUNT(*) FROM trials WHERE study_id=?", (study_id,)).fetchone()
            if have < row[0]:
                return False
            db.execute("UPDATE studies SET status='complete', updated=? WHERE id=?", (time.time(), study_id))
            return True

    def settle_requested(self, study_id: str) -> int:
        """A study ended early (a time budget ran out): it asks for the trials it holds; return that count."""
        with self.transaction() as db:
            (have,) = db.execute("SELECT COUNT(*) FROM trials WHERE study_id=?", (study_id,)).fetchone()
            db.execute("UPDATE studies SET requested=? WHERE id=? AND requested>?", (have, study_id, have))
            return have

    def fail_study(self, study_id: str) -> None:
        """Mark a study that could not go on (e.g. its searcher raised); export leaves it out, a rerun resumes it."""
        with self.transaction() as db:
            db.execute("UPDATE studies SET status='failed', updated=? WHERE id=?", (time.time(), study_id))

    def study(self, study_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT id, suite, task, search_space, algorithm, scheduler, metric, mode, seed, base, requested, status "
            "FROM studies WHERE id=?",
            (study_id,),
        ).fetchone()
        if row is None:
            return None
        keys = ("id", "suite", "task", "search_space", "algorithm", "scheduler", "metric", "mode", "seed", "base")
        out = dict(zip(keys, row[:10], strict=True))
        out["requested"], out["status"] = row[10], row[11]
        for key in ("task", "search_space", "base"):
            out[key] = json.loads(out[key])
        out["trials"] = self.trials(study_id)
        return out

    def trials(self, study_id: str) -> list[dict[str, Any]]:
        rows = self._conn.execute(
            "SELECT ord, run_id, params, objective, status, error, epochs FROM trials WHERE study_id=? ORDER BY ord",
            (study_id,),
        ).fetchall()
        return [
            {
                "order": o,
                "run_id": r,
                "params": json.loads(p),
                "objective": obj,
                "status": s,
                "error": e,
                "epochs": ep,
            }
            for o, r, p, obj, s, e, ep in rows
        ]

    def studies(self, suite: str | None = None) -> list[dict[str, Any]]:
        query = (
            "SELECT s.id, s.suite, s.algorithm, s.scheduler, s.metric, s.mode, s.requested, s.status, "
            "(SELECT COUNT(*) FROM trials t WHERE t.study_id=s.id) FROM studies s"
        )
        args: tuple = ()
        if suite:
            query, args = query + " WHERE s.suite=?", (suite,)
        keys = ("id", "suite", "algorithm", "scheduler", "metric", "mode", "requested", "status", "trials")
        return [dict(zip(keys, row, strict=True)) for row in self._conn.execute(query + " ORDER BY s.created", args)]
