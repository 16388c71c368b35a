"""Run metaprogram files (a sweep's output, planner output, hand-written ones) on Ray.

    python -m job_launch outputs/sweeps/<study>/*.yaml [--address HOST:PORT] [--retries 1]
    python -m job_launch plan.yaml --trusted        # hand-written files may use path keys
    python -m job_launch jobs/*.yaml --address HOST:PORT --resource big_disk=1 --all-artifacts

Each file holds one metaprogram (model, dataset, pipeline, seed). Files are
untrusted input by default (the planner writes them): no code references, no
interpolation, no path keys, resources within caps. Every file is validated and
every job's resources checked against the cluster before anything starts.
The project is shipped to the workers; every run's records come back to this
machine's output root and database, wherever the run took place.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from engine import strict_yaml
from engine.metaprogram import MetaprogramError, validate
from engine.paths import default_paths
from job_launch.shipping import DEFAULT_MAX_FILE_MB

EXIT_INVALID = 2


def read_jobs(files: list[str], trusted: bool) -> tuple[list, list[str]]:
    import yaml

    from engine.compose import file_problems
    from job_launch.launcher import Job

    paths = default_paths()
    jobs, errors = [], []
    for name in files:
        try:
            raw = strict_yaml.load_file(Path(name))  # the one safe loader
            mp = validate(raw, trusted=trusted, source=name, paths=paths)
            if problems := file_problems(mp, paths):  # e.g. a --trusted file's recipe file, read here first
                raise MetaprogramError(problems, source=name)
            jobs.append(Job(mp, name))
        except OSError as exc:
            errors.append(f"{name}: cannot read it ({exc.strerror})")
        except yaml.YAMLError as exc:
            errors.append(str(exc).splitlines()[0])
        except MetaprogramError as exc:
            errors.append(exc.render())
    return jobs, errors


def parse_resources(items: list[str]) -> dict[str, float]:
    """`NAME=AMOUNT` strings as a resource mapping."""
    out = {}
    for item in items:
        name, _, amount = item.partition("=")
        try:
            out[name.strip()] = float(amount)
        except ValueError:
            raise ValueError(f"--resource {item!r}: expected NAME=AMOUNT, e.g. --resource big_disk=1") from None
        if not name.strip() or out[name.strip()] <= 0:
            raise ValueError(f"--resource {item!r}: expected a name and a positive amount")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m job_launch", description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="+", help="metaprogram YAML files")
    parser.add_argument("--address", help="Ray cluster to join (HOST:PORT); default: a fresh local instance")
    parser.add_argument("--retries", type=int, default=1, help="retries per failed job (default 1)")
    parser.add_argument("--db", help="database file (default <output_root>/metaprogram.db)")
    parser.add_argument("--trusted", action="store_true", help="hand-written files: allow path keys")
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument(
        "--resource",
        action="append",
        default=[],
        metavar="NAME=AMOUNT",
        help="a custom Ray resource every job also needs (repeatable), e.g. --resource big_disk=1",
    )
    parser.add_argument(
        "--max-artifact-mb",
        type=float,
        default=DEFAULT_MAX_FILE_MB,
        help=f"files of a remote run larger than this stay on its worker (default {DEFAULT_MAX_FILE_MB:g})",
    )
    parser.add_argument("--all-artifacts", action="store_true", help="bring every file of remote runs back")
    args = parser.parse_args(argv)
    try:
        resources = parse_resources(args.resource)
    except ValueError as exc:
        print(f"{exc}\nNothing was run.", file=sys.stderr)
        return EXIT_INVALID

    jobs, errors = read_jobs(args.files, args.trusted)
    if errors:
        print("\n".join(errors) + "\nNothing was run.", file=sys.stderr)
        return EXIT_INVALID
    from job_launch.cluster import ShipError
    from job_launch.launcher import Rejected, launch

    try:
        summary = launch(
            jobs,
            default_paths(),
            address=args.address,
            retries=args.retries,
            db_url=args.db,
            progress=not args.no_progress,
            resources=resources,
            max_file_mb=None if args.all_artifacts else args.max_artifact_mb,
        )
    except (Rejected, ShipError) as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted: jobs in flight were cancelled and recorded as interrupted", file=sys.stderr)
        return 130
    except ConnectionError as exc:
        print(f"cannot reach the Ray cluster at {args.address}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    print(json.dumps({k: v for k, v in summary.items() if k != "outcomes"}, indent=2, sort_keys=True))
    return 0 if summary["failed"] == 0 else 1


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
