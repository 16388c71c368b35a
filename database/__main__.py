"""List studies, show one, export them as JSONL.

python -m database list [--suite heldout]
python -m database show STUDY_ID
python -m database export OUT.jsonl [--suite train]
(--db PATH picks the file; default <output_root>/metaprogram.db, output_root from METAPROGRAM_OUTPUT_ROOT)
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from database.export import export_jsonl, study_line
from database.store import Database, default_url
from engine.paths import default_paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m database", description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database file (default: <output_root>/metaprogram.db)")
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser("list", help="one line per study")
    listing.add_argument("--suite")
    show = sub.add_parser("show", help="one study with its trials")
    show.add_argument("study")
    export = sub.add_parser("export", help="complete studies as JSONL, one per line")
    export.add_argument("out")
    export.add_argument("--suite")
    args = parser.parse_args(argv)

    url = args.db or default_url(default_paths())
    try:
        db = Database(url)
    except sqlite3.Error as exc:
        print(f"cannot open the database {url}: {exc}", file=sys.stderr)
        return 2
    with db:
        if args.command == "list":
            rows = db.studies(args.suite)
            for s in rows:
                print(
                    f"{s['id']}  {s['suite']}  {s['algorithm']}/{s['scheduler']}  {s['metric']} ({s['mode']})  "
                    f"{s['trials']}/{s['requested']} trials  {s['status']}"
                )
            print(f"{len(rows)} studies in {db.path}")
        elif args.command == "show":
            study = db.study(args.study)
            if study is None:
                names = [s["id"] for s in db.studies()]
                print(
                    f"no study {args.study!r} in {db.path}; studies: {', '.join(names[:10]) or 'none'}", file=sys.stderr
                )
                return 2
            print(json.dumps({**study_line(study), "status": study["status"]}, indent=2, sort_keys=True))
        else:
            count = export_jsonl(db, args.out, args.suite)
            print(f"exported {count} complete studies to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
