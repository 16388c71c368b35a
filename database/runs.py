"""The runs table: every run of an output root, from the database and the run directories.

A run is a flat record: its id, status, components, times, objective, metrics
and settings (the resolved metaprogram as dotted keys). Filtering, sorting and
picking columns work on that record; `diff` and `show` read two or one of them.
Nothing here imports torch or any other heavy library.
"""

from __future__ import annotations

import fnmatch
import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from database.store import Database
from engine.flat import flatten

FIELDS = (
    "id",
    "status",
    "pipeline",
    "model",
    "dataset",
    "seed",
    "started",
    "finished",
    "wall_s",
    "objective_metric",
    "objective",
    "studies",
    "parent",
    "error",
    "run_dir",
)
DEFAULT_COLUMNS = ("id", "started", "status", "pipeline", "model", "dataset", "objective_metric", "objective", "wall_s")
HEADERS = {"objective_metric": "metric", "wall_s": "wall s"}
ABSENT = "(absent)"  # a key one run of a diff has and the other lacks


class RunsError(ValueError):
    """A request the runs table cannot answer (unknown id, bad date...): one clear paragraph."""


# ---- loading
def load_runs(db: Database, output_root: Path) -> list[dict[str, Any]]:
    """Every run the database knows, plus run directories it does not (older runs, or a lost write)."""
    studies = db.studies_of_runs()
    runs = {row["id"]: _from_db(row, studies) for row in db.runs()}
    for run in runs.values():
        if not run["run_dir"] and (Path(output_root) / "runs" / run["id"]).is_dir():
            run["run_dir"] = str(Path(output_root) / "runs" / run["id"])
    for run_dir in _run_dirs(output_root):
        if run_dir.name not in runs:
            run = from_run_dir(run_dir, studies)
            if run is not None:
                runs[run["id"]] = run
    return list(runs.values())


def _run_dirs(output_root: Path) -> list[Path]:
    folder = Path(output_root) / "runs"
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]


def _from_db(row: dict[str, Any], studies: dict[str, list[str]]) -> dict[str, Any]:
    mp = row["metaprogram"] or {}
    timings = row["timings"] or {}
    return _record(
        row["id"],
        mp,
        status=row["status"],
        metrics=row["metrics"] or {},
        timings=timings,
        objective_metric=row["objective_metric"],
        objective=row["objective"],
        error=row["error"],
        run_dir=row["run_dir"],
        parent=row["parent"] or lineage_parent(mp, {}),  # a row written before the column took init_from
        studies=studies.get(row["id"], []),
        observers=row["observers"] or {},
        source="database",
    )


def from_run_dir(run_dir: Path, studies: dict[str, list[str]] | None = None) -> dict[str, Any] | None:
    """A run read from its directory (results.json + metaprogram.yaml); None when it holds no run."""
    from engine.records import read_record, read_results

    results = read_results(run_dir / "results.json")
    mp = read_record(run_dir / "metaprogram.yaml") if results is not None else None
    if results is None or mp is None:  # absent, or damaged: warned and skipped, the other runs still list
        return None
    objective = results.get("objective") or {}
    return _record(
        run_dir.name,
        mp,
        status=results.get("status", "unknown"),
        metrics=results.get("metrics") or {},
        timings=results.get("timings") or {},
        objective_metric=objective.get("metric"),
        objective=objective.get("value"),
        error=results.get("error"),
        run_dir=str(run_dir),
        parent=lineage_parent(mp, results),
        studies=(studies or {}).get(run_dir.name, []),
        observers=results.get("observers") or {},
        source="run directory",
    )


def lineage_parent(canonical: dict[str, Any], results: dict[str, Any], started_by: str | None = None) -> str | None:
    """The run a run builds on: the chain that started it, else the run whose weights it starts from
    (model.init_from), else the run its metaprogram was composed from (+from_run)."""
    model = canonical.get("model") if isinstance(canonical, dict) else None
    init_from = model.get("init_from") if isinstance(model, dict) else None
    from_run = results.get("from_run") if isinstance(results, dict) else None
    for candidate in (started_by, init_from, from_run):
        if isinstance(candidate, str) and candidate:
            return candidate
    return None


def children(runs: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The runs whose parent is `run_id` (fine-tuned from it, composed from it, or its chain's stages), oldest first."""
    return sorted((r for r in runs if r["parent"] == run_id), key=lambda r: r["started"] or "")


def _record(run_id: str, mp: dict[str, Any], **values: Any) -> dict[str, Any]:
    timings = values.pop("timings")
    return {
        "id": run_id,
        "pipeline": _name(mp, "pipeline"),
        "model": _name(mp, "model"),
        "dataset": _name(mp, "dataset"),
        "seed": mp.get("seed"),
        "started": timings.get("started"),
        "finished": timings.get("finished"),
        "wall_s": timings.get("wall_s"),
        "settings": flatten({k: v for k, v in mp.items() if k in ("model", "dataset", "pipeline", "seed")}),
        **values,
    }


def _name(mp: dict[str, Any], kind: str) -> str | None:
    part = mp.get(kind)
    return part.get("name") if isinstance(part, dict) else None


# ---- selecting
def parse_time(text: str, now: datetime | None = None) -> datetime:
    """'2025-01-31', an ISO date-time, or an age: '30m', '12h', '7d' (that long ago)."""
    now = now or datetime.now(UTC)
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([smhdw])", text.strip())
    if match:
        unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[match.group(2)]
        try:
            return now - timedelta(**{unit: float(match.group(1))})
        except (OverflowError, ValueError):  # before year 1: every run is younger
            return datetime.min.replace(tzinfo=UTC)
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise RunsError(
            f"cannot read {text!r} as a time: give a date (2025-01-31), a date-time (2025-01-31T14:00) "
            "or an age (30m, 12h, 7d)"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _started(run: dict[str, Any]) -> datetime | None:
    try:
        when = datetime.fromisoformat(run["started"])
    except (TypeError, ValueError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def parse_where(items: Iterable[str]) -> dict[str, Any]:
    """KEY=VALUE conditions; values are read as YAML scalars (1e-3 is a number, true a boolean), through the
    one safe loader; a value that is not valid YAML (`'adam`) is taken as the text written."""
    import yaml

    from engine import strict_yaml
    from engine.bounds import shown

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise RunsError(f"--where takes KEY=VALUE (e.g. pipeline.optim.name=adam), got {shown(item)}")
        try:
            parsed = strict_yaml.load(value, "--where")
        except yaml.YAMLError:
            parsed = value
        out[key.strip()] = parsed if not isinstance(parsed, dict | list) else value
    return out


def select(
    runs: list[dict[str, Any]],
    *,
    pipeline: str | None = None,
    model: str | None = None,
    dataset: str | None = None,
    status: str | None = None,
    study: str | None = None,
    since: str | None = None,
    until: str | None = None,
    where: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Runs passing every filter given. Names and studies match as shell patterns (exp_*); status as a list."""
    low, high = (parse_time(since) if since else None), (parse_time(until) if until else None)
    statuses = {s.strip() for s in status.split(",")} if status else None
    out = []
    for run in runs:
        if any(
            pattern and not fnmatch.fnmatchcase(str(run[kind] or ""), pattern)
            for kind, pattern in (("pipeline", pipeline), ("model", model), ("dataset", dataset))
        ):
            continue
        if statuses and run["status"] not in statuses:
            continue
        if study and not any(fnmatch.fnmatchcase(s, study) for s in run["studies"]):
            continue
        if low or high:
            started = _started(run)
            if started is None or (low and started < low) or (high and started > high):
                continue
        if where and any(not _equal(value_of(run, k), v) for k, v in where.items()):
            continue
        out.append(run)
    return out


def query(
    runs: list[dict[str, Any]],
    *,
    columns: list[str] | None = None,
    sort: str | None = None,
    descending: bool | None = None,
    limit: int | None = None,
    where: dict[str, Any] | None = None,
    **filters: str | None,
) -> tuple[list[dict[str, Any]], list[str]]:
    """The runs table as `metaprogram runs` shows it: (chosen runs in order, their columns).

    Unknown columns, sort and `where` keys raise RunsError with the nearest keys; `filters` are select()'s."""
    explicit = bool(columns)
    columns = list(columns) if columns else list(DEFAULT_COLUMNS)
    check_keys(runs, columns, "column")
    check_keys(runs, [sort] if sort else [], "--sort")
    check_keys(runs, where or {}, "--where")
    chosen = sort_runs(select(runs, where=where, **filters), sort, descending)
    if limit is not None:
        chosen = chosen[: max(0, limit)]
    if sort and sort not in columns and not explicit:
        columns.append(sort)
    return chosen, columns


def _equal(have: Any, want: Any) -> bool:
    if isinstance(have, int | float) and isinstance(want, int | float):
        return float(have) == float(want)
    return have == want or str(have) == str(want)


def value_of(run: dict[str, Any], key: str) -> Any:
    """A column: a field of the record, else a metric, else a setting (dotted key)."""
    if key in FIELDS:
        value = run.get(key)
        return ",".join(value) if isinstance(value, list) else value
    if key in run["metrics"]:
        return run["metrics"][key]
    return run["settings"].get(key)


def check_keys(runs: list[dict[str, Any]], keys: Iterable[str], what: str) -> None:
    """A column, sort or --where key that no run has is a typo: say so, with the nearest keys."""
    known = set(FIELDS) | {k for run in runs for k in (*run["metrics"], *run["settings"])}
    for key in keys:
        if key not in known and runs:
            from engine.errors import nearest

            close = nearest(key, sorted(known))
            hint = (
                "did you mean " + " or ".join(repr(c) for c in close) + "?" if close else "`--format json` shows them"
            )
            raise RunsError(f"{what} {key!r}: no run has this field, metric or setting; {hint}")


def sort_runs(runs: list[dict[str, Any]], key: str | None, descending: bool | None = None) -> list[dict[str, Any]]:
    """Best first for a metric (lower first for losses, errors, latencies), newest first by default.

    Runs without the key go last, whatever the direction."""
    if key is None:
        return sorted(runs, key=lambda r: r["started"] or "", reverse=True)
    if descending is None:
        descending = _higher_is_better(key, runs)
    have = [r for r in runs if value_of(r, key) is not None]
    missing = [r for r in runs if value_of(r, key) is None]
    numeric = all(isinstance(value_of(r, key), int | float) for r in have)
    ordered = sorted(have, key=(lambda r: float(value_of(r, key))) if numeric else (lambda r: str(value_of(r, key))))
    return (ordered[::-1] if descending else ordered) + missing


def _higher_is_better(key: str, runs: list[dict[str, Any]]) -> bool:
    from engine.schema.pipelines import infer_mode

    if key in ("started", "finished"):
        return True
    if key == "objective":
        metrics = {r["objective_metric"] for r in runs if r["objective_metric"]}
        return len(metrics) != 1 or infer_mode(metrics.pop()) == "max"
    if key in FIELDS or not any(key in r["metrics"] for r in runs):
        return False  # a setting or a name: ascending
    return infer_mode(key) == "max"


# ---- rendering
def fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.3e}"
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d)?(\+00:00)?", value):
        return value[:16].replace("T", " ")  # started/finished: to the minute in a table
    return str(value)


def table(rows: list[list[str]], headers: list[str]) -> str:
    """A plain aligned text table; numbers right-aligned."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    numeric = [all(_looks_numeric(r[i]) for r in rows if r[i]) and any(r[i] for r in rows) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(cells, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def render(runs: list[dict[str, Any]], columns: list[str], form: str = "table") -> str:
    if form == "json":
        return json.dumps([{c: value_of(r, c) for c in columns} for r in runs], indent=2, default=str)
    if form == "csv":
        import csv
        import io

        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([["" if value_of(r, c) is None else value_of(r, c) for c in columns] for r in runs])
        return out.getvalue().rstrip("\n")
    headers = [HEADERS.get(c, c) for c in columns]
    return table([[fmt(value_of(r, c)) for c in columns] for r in runs], headers)


# ---- one run, two runs
def find(runs: list[dict[str, Any]], ref: str) -> dict[str, Any]:
    """A run by its id or a unique prefix of it (engine/lineage.py finds ids for +from_run and init_from too)."""
    from engine.lineage import UnknownRun, find_id

    try:
        run_id = find_id([r["id"] for r in runs], ref)
    except UnknownRun as exc:
        raise RunsError(str(exc)) from None
    return next(r for r in runs if r["id"] == run_id)


def diff(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    """The settings that differ (a key only one run has counts), and every metric of either, side by side."""
    keys = sorted(set(a["settings"]) | set(b["settings"]))
    sa, sb = a["settings"], b["settings"]
    settings = [(k, sa.get(k, ABSENT), sb.get(k, ABSENT)) for k in keys if sa.get(k, ABSENT) != sb.get(k, ABSENT)]
    metric_keys = sorted(set(a["metrics"]) | set(b["metrics"]))
    metrics = [(k, a["metrics"].get(k), b["metrics"].get(k)) for k in metric_keys]
    observers = sorted(set(flatten(a["observers"])) | set(flatten(b["observers"])))
    fa, fb = flatten(a["observers"]), flatten(b["observers"])
    return {
        "a": {k: a[k] for k in FIELDS},
        "b": {k: b[k] for k in FIELDS},
        "settings": settings,
        "observers": [
            (k, fa.get(k, ABSENT), fb.get(k, ABSENT)) for k in observers if fa.get(k, ABSENT) != fb.get(k, ABSENT)
        ],
        "metrics": metrics,
    }


def render_diff(d: dict[str, Any]) -> str:
    a, b = d["a"], d["b"]
    lines = []
    for tag, run in (("A", a), ("B", b)):
        lines.append(
            f"{tag}  {run['id']}  {run['status']}  {run['pipeline']} / {run['model']} / {run['dataset']}"
            f"  started {fmt(run['started']) or '?'}"
        )
    lines.append("")
    if d["settings"]:
        lines.append(f"settings that differ ({len(d['settings'])}):")
        lines.append(_indent(table([[k, _show(x), _show(y)] for k, x, y in d["settings"]], ["setting", "A", "B"])))
    else:
        lines.append("no setting differs: the two runs compute the same thing")
    if d["observers"]:
        lines.append("")
        lines.append("observers that differ (recorded beside the id, not part of it):")
        lines.append(_indent(table([[k, _show(x), _show(y)] for k, x, y in d["observers"]], ["setting", "A", "B"])))
    lines.append("")
    if d["metrics"]:
        rows = [[k, fmt(x), fmt(y), _delta(x, y)] for k, x, y in d["metrics"]]
        lines.append("metrics:")
        lines.append(_indent(table(rows, ["metric", "A", "B", "B - A"])))
    else:
        lines.append("no metrics in either run")
    return "\n".join(lines)


def _show(value: Any) -> str:
    if value is ABSENT:
        return "(absent)"
    if value is None:
        return "null"
    return json.dumps(value) if isinstance(value, dict | list) else fmt(value)


def _delta(x: Any, y: Any) -> str:
    if isinstance(x, int | float) and isinstance(y, int | float) and not isinstance(x, bool):
        return f"{y - x:+.4g}"
    return ""


def _indent(text: str) -> str:
    return "\n".join("  " + line for line in text.splitlines())


def render_show(run: dict[str, Any], kids: list[dict[str, Any]] | None = None) -> str:
    lines = [f"run {run['id']}  {run['status']}"]
    lines.append(f"  pipeline {run['pipeline']} · model {run['model']} · dataset {run['dataset']} · seed {run['seed']}")
    wall = f"{run['wall_s']:.1f} s" if isinstance(run["wall_s"], int | float) else "?"
    lines.append(f"  started {run['started'] or '?'}  finished {run['finished'] or '-'}  wall {wall}")
    if run["objective_metric"]:
        lines.append(f"  objective {run['objective_metric']} = {fmt(run['objective']) or '-'}")
    if run["studies"]:
        lines.append(f"  trial of {', '.join(run['studies'])}")
    if run["parent"]:
        weights = run["settings"].get("model.init_from") == run["parent"]
        lines.append(f"  {'starts from the weights of' if weights else 'parent'} run {run['parent']}")
    if run["run_dir"]:
        lines.append(f"  run directory {run['run_dir']}")
    if run["error"]:
        lines.append(f"  error: {run['error']}")
    if run["metrics"]:
        lines += [
            "",
            "metrics:",
            _indent(table([[k, fmt(v)] for k, v in sorted(run["metrics"].items())], ["metric", "value"])),
        ]
    lines += [
        "",
        "settings:",
        _indent(table([[k, _show(v)] for k, v in sorted(run["settings"].items())], ["setting", "value"])),
    ]
    if run["observers"]:
        rows = [[k, _show(v)] for k, v in sorted(flatten(run["observers"]).items())]
        lines += ["", "observers (not part of the id):", _indent(table(rows, ["setting", "value"]))]
    if kids:
        rows = [[k["id"], k["status"] or "", k["pipeline"] or "", k["dataset"] or "", fmt(k["started"])] for k in kids]
        lines += ["", "children (runs built on this one):"]
        lines.append(_indent(table(rows, ["run", "status", "pipeline", "dataset", "started"])))
    folder = Path(run["run_dir"]) if run["run_dir"] else None
    if folder is not None and folder.is_dir():
        from engine.records import read_record

        stages = read_record(folder / "stages.json")  # damaged: warned, and the rest is still shown
        if stages:
            rows = [
                [name, s.get("id", ""), s.get("status", "reused" if s.get("reused") else "ran")]
                for name, s in stages.items()
                if isinstance(s, dict)
            ]
            lines += ["", "chain stages:", _indent(table(rows, ["stage", "run", "status"]))]
        files = sorted(p.name + ("/" if p.is_dir() else "") for p in folder.iterdir() if not p.name.startswith("."))
        lines += ["", "files: " + "  ".join(files)]
    return "\n".join(lines)
