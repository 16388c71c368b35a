"""Putting runs into the database: from the runner as each run ends, or from a run directory afterwards."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from database.store import Database, default_url

_OPEN: dict[tuple[int, str], Database] = {}  # one connection per process and file: a sweep worker runs many runs


def database_for(paths: Any) -> Database:
    url = default_url(paths)
    key = (os.getpid(), url)  # a forked child must not share its parent's connection
    if key not in _OPEN:
        _OPEN[key] = Database(url)
    return _OPEN[key]


def index_results(paths: Any, canonical: dict[str, Any], results: dict[str, Any], parent: str | None = None) -> None:
    """Record one run (its results.json content) in <output_root>/metaprogram.db, idempotent by id."""
    run_id = results["id"]
    database_for(paths).index_run(run_id, canonical, results, run_dir=paths.run_dir(run_id), parent=parent)


def index_run_dir(db: Database, run_dir: Path) -> bool:
    """Record a run from its directory; False when the directory holds no readable run."""
    import yaml

    try:
        results = json.loads((run_dir / "results.json").read_text())
        canonical = yaml.safe_load((run_dir / "metaprogram.yaml").read_text())
    except (OSError, ValueError, yaml.YAMLError):
        return False
    db.index_run(results.get("id") or run_dir.name, canonical, results, run_dir=run_dir)
    return True
