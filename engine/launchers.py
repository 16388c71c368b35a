"""Where a command line's validated jobs run, chosen with Hydra's `hydra/launcher` group.

- `basic` (Hydra's default): one after another in this process.
- `ray` (configs/hydra/launcher/ray.yaml): all at once through job_launch, on a fresh local Ray
  instance or on a cluster (`hydra.launcher.address=HOST:PORT`), each job with its own
  pipeline.resources; every run is recorded in its run directory and in the study database.
- `submitit_local` / `submitit_slurm` (hydra-submitit-launcher's configs, the `slurm` extra): one
  submitit job per run, as local processes or a SLURM job array (job_launch/slurm.py).

Each returns the command's exit status (engine/cli.py).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from engine.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, print_results
from engine.compose import Composed


def run_here(jobs: list[Composed], settings: dict[str, Any]) -> int:
    from engine.runner import Interrupted, RunFailed, execute, setup_console_logging

    setup_console_logging()
    status = EXIT_OK
    for job in jobs:
        mp = job.metaprogram
        try:
            results = execute(mp, job.paths, overrides=job.overrides, force=job.force)
        except (Interrupted, KeyboardInterrupt):
            print(f"run {mp.id} interrupted; run the same command again to resume from its last checkpoint",
                  file=sys.stderr)  # fmt: skip
            return EXIT_INTERRUPTED
        except RunFailed as exc:
            run_log = job.paths.run_dir(exc.run_id) / "run.log"
            print(f"run {exc.run_id} failed: {exc.error}\n(the log is in {run_log})", file=sys.stderr)
            status = EXIT_FAILED
            continue
        print_results(results, job.paths.run_dir(mp.id))
    return status


def run_on_ray(jobs: list[Composed], settings: dict[str, Any]) -> int:
    from engine.records import RunRecord

    paths = jobs[0].paths
    problems = []
    if any(job.paths != paths for job in jobs):
        problems.append("the jobs of one hydra/launcher=ray multirun must share their path roots")
    if any(job.force for job in jobs):
        problems.append("force=true is not supported with hydra/launcher=ray (completed runs are reused)")
    if problems:
        print("\n".join(problems) + "\nNothing was run or written.", file=sys.stderr)
        return EXIT_INVALID
    import ray

    from job_launch.launcher import Job, Rejected, launch

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


def run_on_submitit(cluster: str) -> Callable[[list[Composed], dict[str, Any]], int]:
    def launch(jobs: list[Composed], settings: dict[str, Any]) -> int:
        from job_launch.slurm import run_on_submitit

        return run_on_submitit(jobs, settings, cluster)

    return launch


LAUNCHERS: dict[str, Callable[[list[Composed], dict[str, Any]], int]] = {
    "basic": run_here,
    "ray": run_on_ray,
    "submitit_local": run_on_submitit("local"),
    "submitit_slurm": run_on_submitit("slurm"),
}
