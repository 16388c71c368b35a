"""The study database: runs, studies and trials in one SQLite file (WAL).

Every write is one transaction and idempotent by its key (run id; study id;
study id + order), so a writer killed at any point leaves a database that opens
and exports. A study is marked complete only after all of its trials are in, in
a transaction of its own; `export` writes complete studies only, so a sweep
killed halfway never yields a half-written sequence (resume it to complete it).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

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
"""
# Trial statuses: 'completed', 'stopped' (a scheduler such as ASHA ended it early; its
# objective is the best value it reported), 'failed' (raised, or passed its time limit).
TRIAL_STATUSES = ("completed", "stopped", "failed")


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

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
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

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(
            "SELECT id, metaprogram, status, metrics, timings, error FROM runs WHERE id=?", (run_id,)
        ).fetchone()
        if row is None:
            return None
        keys = ("id", "metaprogram", "status", "metrics", "timings", "error")
        out = dict(zip(keys, row, strict=True))
        for key in ("metaprogram", "metrics", "timings"):
            out[key] = json.loads(out[key])
        return out

    def runs(self, status: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT id FROM runs" + (" WHERE status=?" if status else "") + " ORDER BY updated"
        return [self.run(r[0]) for r in self._conn.execute(query, (status,) if status else ())]

    # ---- studies
    def begin_study(
        self,
        study_id: str,
        *,
        task: dict[str, Any],
        search_space: dict[str, Any],
        algorithm: str,
        scheduler: str,
        metric: str,
        mode: str,
        seed: int,
        base: dict[str, Any],
        requested: int,
        suite: str = "train",
    ) -> None:
        """Create the study, or leave an existing one (and its trials) as it is: resuming is allowed."""
        now = time.time()
        with self.transaction() as db:
            db.execute(
                "INSERT INTO studies (id, suite, task, search_space, algorithm, scheduler, metric, mode, seed, base, "
                "requested, status, created, updated) VALUES (?,?,?,?,?,?,?,?,?,?,?,'running',?,?) "
                "ON CONFLICT(id) DO NOTHING",
                (
                    study_id,
                    suite,
                    _dumps(task),
                    _dumps(search_space),
                    algorithm,
                    scheduler,
                    metric,
                    mode,
                    seed,
                    _dumps(base),
                    requested,
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
