"""The planner's corpus of studies (the JSONL that generate_ray_tune_data.sh exports): statistics and de-duplication.

    python -m planner.corpus stats outputs/studies_corpus.jsonl
    python -m planner.corpus dedupe outputs/studies_corpus.jsonl [--out deduped.jsonl]   (default: in place)

A study teaches the planner little when its best is at the ceiling (a maximised metric such as
accuracy at 1.0): every order of trials looks as good. `stats` prints studies, trials, distinct
tasks and search spaces, and the share of studies at the ceiling. Two studies are duplicates when
task, space and every trial (params and objective, in order) are the same; `dedupe` keeps the first.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

CEILING = 1.0 - 1e-6


def _key(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def at_ceiling(study: dict[str, Any]) -> bool:
    objective = study["task"].get("objective", {})
    values = [t["objective"] for t in study["trials"] if t["objective"] is not None]
    return objective.get("mode") == "max" and bool(values) and max(values) >= CEILING


def dedupe(studies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen, kept = set(), []
    for study in studies:
        key = _key([study["task"], study["search_space"], [(t["params"], t["objective"]) for t in study["trials"]]])
        if key not in seen:
            seen.add(key)
            kept.append(study)
    return kept


def stats(studies: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "studies": len(studies),
        "duplicates": len(studies) - len(dedupe(studies)),
        "trials": sum(len(s["trials"]) for s in studies),
        "tasks": len({_key(s["task"]) for s in studies}),
        "spaces": len({_key(s["search_space"]) for s in studies}),
        "algorithms": sorted({s["algorithm"] for s in studies}),
        "share_at_ceiling": round(sum(map(at_ceiling, studies)) / len(studies), 4) if studies else None,
    }


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["stats", "dedupe"])
    parser.add_argument("studies", type=Path, help="JSONL of studies (the export format)")
    parser.add_argument("--out", type=Path, help="dedupe: where to write (default: in place)")
    args = parser.parse_args(argv)
    try:
        studies = read(args.studies)
    except (OSError, json.JSONDecodeError) as exc:
        print(f"cannot read the corpus {args.studies}: {exc}", file=sys.stderr)
        return 2
    if args.command == "stats":
        print(json.dumps(stats(studies), indent=2))
        return 0
    from engine.records import atomic_write

    kept = dedupe(studies)
    atomic_write(args.out or args.studies, "".join(json.dumps(s, sort_keys=True) + "\n" for s in kept))
    print(f"{len(kept)} studies kept, {len(studies) - len(kept)} duplicates dropped")
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
