"""The runs table for notebooks and scripts: what `metaprogram runs` lists, as records or a DataFrame.

    from database.api import runs

    runs()                                          # every run of the output root, newest first
    runs(status="completed", dataset="iris", where={"pipeline.optim.name": "adam"})
    runs(as_frame=True)                             # a pandas DataFrame (settings and metrics as columns)

Each record is a dict: id, status, pipeline, model, dataset, seed, started, finished, wall_s, objective_metric,
objective, studies, parent (the run it builds on), error, run_dir, metrics and settings (dotted keys).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from database import runs as table
from database.store import DB_NAME, Database
from engine.api import run
from engine.paths import default_paths

__all__ = ["run", "runs"]


def runs(
    output_root: str | Path | None = None,
    *,
    sort: str | None = None,
    as_frame: bool = False,
    **filters: Any,
) -> list[dict[str, Any]] | Any:
    """The runs of `output_root` (default: $METAPROGRAM_OUTPUT_ROOT, else ./outputs) passing every filter.

    Filters are those of `metaprogram runs`: pipeline, model, dataset (shell patterns), status ("completed,failed"),
    study, since, until ("2d", "2025-01-31") and where ({setting or metric: value}). `sort`: a metric (best first),
    a setting or a column; newest first by default. `as_frame=True` gives a pandas DataFrame, one row per run,
    with the record's fields, then its metrics and settings as columns (pandas must be installed)."""
    root = Path(output_root).expanduser().resolve() if output_root else default_paths().root("output_root")
    if not root.is_dir():
        found: list[dict[str, Any]] = []
    else:
        with Database(root / DB_NAME) as db:
            found = table.load_runs(db, root)
    unknown = sorted(set(filters) - {"pipeline", "model", "dataset", "status", "study", "since", "until", "where"})
    if unknown:
        raise table.RunsError(f"runs(): unknown filter {', '.join(unknown)}; filters: pipeline, model, dataset, "
                              "status, study, since, until, where")  # fmt: skip
    chosen = table.sort_runs(table.select(found, **filters), sort)
    if not as_frame:
        return chosen
    import pandas as pd  # optional: only for a DataFrame

    rows = [
        {**{k: r[k] for k in table.FIELDS}, **r["metrics"], **{k: v for k, v in r["settings"].items()}} for r in chosen
    ]
    return pd.DataFrame(rows, columns=list(dict.fromkeys(k for row in rows for k in row)) or list(table.FIELDS))
