"""`hydra/launcher=ray`: a command line's validated jobs all at once through job_launch on Ray.

On a fresh local Ray instance or on a cluster (`hydra.launcher.address=HOST:PORT`), each job with
its own pipeline.resources; every run is recorded in its run directory and in the study database.
Registered with the engine's launchers (engine/launchers.py), which imports nothing of job_launch.
"""

from __future__ import annotations

import sys
from typing import Any

import ray

from engine.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, print_results
from engine.compose import Composed
from engine.launchers import register_launcher
from engine.records import RunRecord
from job_launch.launcher import Job, Rejected, launch


@register_launcher("ray")
def run_on_ray(jobs: list[Composed], settings: dict[str, Any]) -> int:
    paths = jobs[0].paths
    problems = []
    if any(job.paths != paths for job in jobs):
        problems.append("the jobs of one hydra/launcher=ray multirun must share their path roots")
    if any(job.force for job in jobs):
        problems.append("force=true is not supported with hydra/launcher=ray (completed runs are reused)")
    if problems:
        print("\n".join(problems) + "\nNothing was run or written.", file=sys.stderr)
        return EXIT_INVALID
    unique = {job.metaprogram.id: job for job in jobs}  # jobs that differ only in observers are one run
    try:
        summary = launch(
            [Job(job.metaprogram, " ".join(job.overrides) or "(no overrides)") for job in unique.values()],
            paths,
            address=settings.get("address"),
            retries=int(settings.get("retries", 1)),
        )
    except Rejected as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_INVALID
    except ConnectionError as exc:
        print(f"cannot reach the Ray cluster at {settings.get('address')}: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted: jobs in flight were cancelled and recorded as interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if ray.is_initialized():
            ray.shutdown()
    for outcome in summary["outcomes"]:
        run_dir = paths.run_dir(outcome["id"])
        if outcome["status"] == "completed":
            print_results({**(RunRecord(run_dir).results() or {}), "reused": outcome.get("reused")}, run_dir)
        else:
            print(f"run {outcome['id']} {outcome['status']}: {outcome.get('error')}\n(the log is in {run_dir}/run.log)",
                  file=sys.stderr)  # fmt: skip
    print(f"{summary['completed']} of {summary['jobs']} run(s) completed on Ray ({summary['address']}) "
          f"in {summary['wall_s']:.1f} s", file=sys.stderr)  # fmt: skip
    return EXIT_FAILED if summary["failed"] else EXIT_OK
