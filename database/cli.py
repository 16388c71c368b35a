"""The `metaprogram` command (also `python -m database`): runs, studies, reports.

    metaprogram runs [--status completed] [--model 'mlp*'] [--study S] [--since 2d] [--where k=v]
                     [--sort val/accuracy] [--columns id,status,val/accuracy,pipeline.optim.lr]
                     [--format table|csv|json] [--limit N]
    metaprogram runs show ID            one run, readably (a unique prefix of the id is enough)
    metaprogram runs diff A B           the settings that differ, and the metrics side by side
    metaprogram runs index              record run directories missing from the database or changed since
    metaprogram list [--suite S]        one line per study
    metaprogram show STUDY [--format json]
    metaprogram export OUT.jsonl [--suite S]
    metaprogram report STUDY|RUN ...    rebuild a sweep report (plots + report.md) or a chain's plot
    metaprogram mcp [--max-runs N]      the MCP server (stdio) for AI agents: see agent_server/server.py

--root picks the output root (default: METAPROGRAM_OUTPUT_ROOT, else ./outputs);
--db the database file (default: <root>/metaprogram.db).
"""

from __future__ import annotations

import argparse
import importlib
import json
import sqlite3
import sys
from pathlib import Path

from database.store import DB_NAME, Database

EXIT_BAD_INPUT = 2
# commands served by a layer above the database (docs/ARCHITECTURE.md), named as an entry point would name them
ELSEWHERE = {"mcp": "agent_server.server:serve"}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="metaprogram",
        description="runs, studies and reports of an output root",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    top.add_argument("--root", help="output root (default: $METAPROGRAM_OUTPUT_ROOT or ./outputs)")
    top.add_argument("--db", help="database file (default: <root>/metaprogram.db)")
    sub = top.add_subparsers(dest="command", required=True)

    runs = sub.add_parser("runs", help="the runs table (and: runs show ID, runs diff A B, runs index)")
    runs.add_argument("--pipeline", help="pipeline name (shell pattern)")
    runs.add_argument("--model", help="model name (shell pattern)")
    runs.add_argument("--dataset", help="dataset name (shell pattern)")
    runs.add_argument("--status", help="completed, failed, stopped, interrupted, running (comma-separated)")
    runs.add_argument("--study", help="runs that are trials of this study (shell pattern)")
    runs.add_argument("--since", help="started at or after: 2025-01-31, 2025-01-31T14:00, or an age (12h, 7d)")
    runs.add_argument("--until", help="started at or before (same forms)")
    runs.add_argument("--where", action="append", default=[], metavar="KEY=VALUE", help="a setting or metric equals")
    runs.add_argument("--sort", metavar="KEY", help="a metric, setting or column; best first for metrics")
    order = runs.add_mutually_exclusive_group()
    order.add_argument("--asc", dest="descending", action="store_false", default=None, help="ascending")
    order.add_argument("--desc", dest="descending", action="store_true", help="descending")
    runs.add_argument("--columns", help="comma-separated: columns, metrics (val/accuracy), settings (model.hidden)")
    runs.add_argument("--format", choices=("table", "csv", "json"), default="table")
    runs.add_argument("--limit", type=int, help="show the first N")
    actions = runs.add_subparsers(dest="action")
    show = actions.add_parser("show", help="one run, readably")
    show.add_argument("run")
    show.add_argument("--format", dest="show_format", choices=("text", "json"), default="text")
    compare = actions.add_parser("diff", help="two runs: differing settings, metrics side by side")
    compare.add_argument("a")
    compare.add_argument("b")
    compare.add_argument("--format", dest="diff_format", choices=("text", "json"), default="text")
    actions.add_parser("index", help="record run directories missing from the database or changed since")

    listing = sub.add_parser("list", help="one line per study")
    listing.add_argument("--suite")
    study = sub.add_parser("show", help="one study with its trials")
    study.add_argument("study")
    study.add_argument("--format", choices=("text", "json"), default="text")
    export = sub.add_parser("export", help="complete studies as JSONL, one per line")
    export.add_argument("out")
    export.add_argument("--suite")
    report = sub.add_parser("report", help="rebuild the report of studies (one plot) or of a chain run")
    report.add_argument("targets", nargs="+", metavar="STUDY|RUN")
    report.add_argument("--out", help="folder for a study report (default: <root>/sweeps/<first study>/report)")
    mcp = sub.add_parser("mcp", help="serve AI agents over MCP (stdio): validate, run and compare, within caps")
    mcp.add_argument("--max-runs", type=int, default=2, help="runs at once per client connection (default 2)")
    mcp.add_argument("--cpu-seconds", type=float, default=3600.0, help="CPU seconds of its runs (default 3600)")
    mcp.add_argument("--disk-mb", type=float, default=2048.0, help="MB of its run directories (default 2048)")
    mcp.add_argument("--max-trials", type=int, default=32, help="trials of one sweep (default 32)")
    mcp.add_argument("--planner-checkpoint", help="a trained planner (train_planner.sh's folder), for propose")
    return top


def main(argv: list[str] | None = None) -> int:
    """The command, inside the error boundary: bad input exits 2 in one paragraph, a bug leaves a crash log."""
    from database.runs import RunsError
    from engine.boundary import guarded

    return guarded(_main, sys.argv[1:] if argv is None else argv, expected=(RunsError,))


def _main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if args.command in ELSEWHERE:  # served from a layer above: its module is imported when asked for
        module, _, function = ELSEWHERE[args.command].partition(":")
        return getattr(importlib.import_module(module), function)(args)
    from engine.paths import default_paths

    root = Path(args.root).expanduser().resolve() if args.root else default_paths().root("output_root")
    url = args.db or str(root / DB_NAME)
    if args.db is None and not root.is_dir():
        print(f"no output root {root}: nothing has run there yet (--root picks another)", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        db = Database(url)
    except sqlite3.Error as exc:
        print(f"cannot open the database {url}: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    from database.runs import RunsError

    try:
        with db:
            return _dispatch(args, db, root)
    except RunsError as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BAD_INPUT


def _dispatch(args: argparse.Namespace, db: Database, root: Path) -> int:
    if args.command == "runs":
        return _runs(args, db, root)
    if args.command == "report":
        from database.reports import rebuild

        for line in rebuild(db, root, args.targets, Path(args.out) if args.out else None):
            print(line)
        return 0
    if args.command == "list":
        rows = db.studies(args.suite)
        for s in rows:
            print(
                f"{s['id']}  {s['suite']}  {s['algorithm']}/{s['scheduler']}  {s['metric']} ({s['mode']})  "
                f"{s['trials']}/{s['requested']} trials  {s['status']}"
            )
        print(f"{len(rows)} studies in {db.path}")
        return 0
    if args.command == "show":
        return _show_study(args, db)
    from database.export import export_jsonl

    count = export_jsonl(db, args.out, args.suite)
    print(f"exported {count} complete studies to {args.out}")
    return 0


def _runs(args: argparse.Namespace, db: Database, root: Path) -> int:
    from database import runs as table

    everything = table.load_runs(db, root)
    if args.action == "show":
        run = table.find(everything, args.run)
        kids = table.children(everything, run["id"])
        if args.show_format == "json":
            print(json.dumps({**run, "children": [k["id"] for k in kids]}, indent=2, default=str))
        else:
            print(table.render_show(run, kids))
        return 0
    if args.action == "diff":
        d = table.diff(table.find(everything, args.a), table.find(everything, args.b))
        print(json.dumps(d, indent=2, default=str) if args.diff_format == "json" else table.render_diff(d))
        return 0
    if args.action == "index":
        from database.index import index_run_dir

        recorded = {row["id"]: row["updated"] for row in db.runs()}
        stale = [p for p in table._run_dirs(root) if _changed_since(p, recorded.get(p.name))]
        added = sum(index_run_dir(db, p) for p in stale)
        print(f"recorded {added} new or changed run(s) in {db.path}; {len(recorded)} were there before")
        return 0
    chosen, columns = table.query(
        everything,
        columns=[c.strip() for c in args.columns.split(",") if c.strip()] if args.columns else None,
        sort=args.sort,
        descending=args.descending,
        limit=args.limit,
        where=table.parse_where(args.where),
        pipeline=args.pipeline,
        model=args.model,
        dataset=args.dataset,
        status=args.status,
        study=args.study,
        since=args.since,
        until=args.until,
    )
    print(table.render(chosen, columns, args.format))
    if args.format == "table":
        print(f"{len(chosen)} of {len(everything)} runs in {root}", file=sys.stderr)
    return 0


def _show_study(args: argparse.Namespace, db: Database) -> int:
    from database.export import study_line
    from database.runs import fmt, table

    study = db.study(args.study)
    if study is None:
        names = [s["id"] for s in db.studies()]
        print(f"no study {args.study!r} in {db.path}; studies: {', '.join(names[:10]) or 'none'}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if args.format == "json":
        print(json.dumps({**study_line(study), "status": study["status"]}, indent=2, sort_keys=True))
        return 0
    trials = study["trials"]
    print(f"study {study['id']}  {study['status']}  ({len(trials)}/{study['requested']} trials)")
    print(f"  {study['algorithm']}/{study['scheduler']}, seed {study['seed']}, {study['metric']} ({study['mode']})")
    print(f"  search space: {json.dumps(study['search_space'], sort_keys=True)}")
    keys = sorted({k for t in trials for k in t["params"]})
    rows = [
        [str(t["order"]), t["status"], fmt(t["objective"]), t["run_id"], *(fmt(t["params"].get(k)) for k in keys)]
        for t in trials
    ]
    print()
    print(table(rows, ["trial", "status", study["metric"], "run", *keys]))
    return 0


if __name__ == "__main__":
    sys.exit(main())


def _changed_since(run_dir: Path, recorded: float | None) -> bool:
    """A run directory whose results.json is newer than its row (e.g. a write that failed, or an older run)."""
    try:
        return recorded is None or (run_dir / "results.json").stat().st_mtime > recorded
    except OSError:
        return False
