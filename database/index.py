"""Putting runs into the database: from the runner as each run ends, or from a run directory afterwards."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from database.runs import lineage_parent
from database.store import Database, default_url
from engine.observe import on_run_end
from engine.records import read_record, read_results

_OPEN: dict[tuple[int, str], Database] = {}  # one connection per process and file: a sweep worker runs many runs


def database_for(paths: Any) -> Database:
    key = (os.getpid(), paths.output_root)  # a forked child must not share its parent's connection
    if key not in _OPEN:
        _OPEN[key] = Database(default_url(paths))
    return _OPEN[key]


@on_run_end  # the engine calls it as each run ends (engine/observe.py); it imports nothing of the database
def index_results(
    paths: Any, canonical: dict[str, Any], results: dict[str, Any], run_dir: Path, parent: str | None = None
) -> None:
    """Record one run (its results.json content) in <output_root>/metaprogram.db, idempotent by id."""
    parent = lineage_parent(canonical, results, parent)
    database_for(paths).index_run(results["id"], canonical, results, run_dir=run_dir, parent=parent)


def reindex(paths: Any, run_dir: Path) -> None:
    """Record a run again after its results.json changed outside the runner; a failure only warns."""
    try:
        index_run_dir(database_for(paths), run_dir)
    except Exception as exc:  # the run directory stays the truth: `metaprogram runs index` catches up
        logging.getLogger(__name__).warning("%s: could not record it in the runs database: %s", run_dir.name, exc)


def index_run_dir(db: Database, run_dir: Path) -> bool:
    """Record a run from its directory; False when the directory holds no readable run."""
    results = read_results(run_dir / "results.json")
    canonical = read_record(run_dir / "metaprogram.yaml") if results is not None else None
    if results is None or canonical is None:
        return False
    parent = lineage_parent(canonical, results)
    db.index_run(results.get("id") or run_dir.name, canonical, results, run_dir=run_dir, parent=parent)
    return True
