"""A command line's validated jobs on SLURM (or as local processes) through submitit, as Hydra's
submitit launcher runs them: `-m hydra/launcher=submitit_slurm` or `hydra/launcher=submitit_local`.

    python -B run_metaprogram.py --config-name=metaprogram/example -m seed=1,2,3 hydra/launcher=submitit_slurm \\
        hydra.launcher.partition=gpu hydra.launcher.gpus_per_node=1 hydra.launcher.timeout_min=120

The settings are the plugin's own (hydra-submitit-launcher's `hydra/launcher` configs: partition,
timeout_min, gpus_per_node, cpus_per_task, mem_gb, account, qos, setup, additional_parameters...) and
go to submitit's executor as the plugin gives them; what is left unset is taken from the jobs'
`pipeline.resources` (CPUs, GPUs, memory). Every job was composed and validated by engine/cli.py
before this module sees it, so nothing is submitted unless all are valid. Each submitted job is an
ordinary engine run (engine.runner.execute): the same run directory, id and records, and its row in
the runs table of its output root. A job SLURM stops at its time limit or preempts is resubmitted
when `hydra.launcher.max_num_timeout` allows it, and resumes from its last checkpoint, as any run does.
"""

from __future__ import annotations

import math
import sys
import time
from typing import Any

from engine.launchers import register_launcher

# submitit's own names for settings every executor understands; the rest are prefixed with the cluster's name
_GENERIC = {"timeout_min", "cpus_per_task", "gpus_per_node", "tasks_per_node", "mem_gb", "nodes", "name",
            "stderr_to_stdout"}  # fmt: skip
_NOT_PARAMETERS = {"_target_", "submitit_folder", "max_num_timeout"}


class EngineJob:
    """What one submitted job runs: revalidate the metaprogram (it rebuilds the objects), then one engine run.

    A callable object, not a function, so that submitit can resubmit it (`checkpoint`) when SLURM stops it
    at its time limit or preempts it; the run then resumes from its last checkpoint.
    """

    def __call__(self, canonical: dict[str, Any], roots: dict[str, str], overrides: list[str], force: bool) -> dict:
        from engine.metaprogram import validate
        from engine.paths import Paths
        from engine.runner import RunFailed, execute, setup_console_logging

        setup_console_logging()  # into the job's own log (submitit's stdout/stderr files)
        paths = Paths(**roots)
        mp = validate(canonical, trusted=True, paths=paths)  # checked before submission; rebuilds the objects
        try:
            results = execute(mp, paths, overrides=overrides, force=force)
        except RunFailed as exc:  # its record is written; the driver reports it
            return {"id": exc.run_id, "status": "failed", "error": exc.error}
        return {**results, "status": "completed"}

    def checkpoint(self, canonical: dict[str, Any], roots: dict[str, str], overrides: list[str], force: bool) -> Any:
        import submitit

        # the run keeps its checkpoints: the resubmitted job resumes them instead of starting again
        return submitit.helpers.DelayedSubmission(self, canonical, roots, overrides, False)


def executor_for(cluster: str, settings: dict[str, Any], jobs: list[Any]) -> Any:
    """submitit's executor with the plugin's settings; what they leave unset comes from the jobs' resources."""
    import submitit

    params = {k: v for k, v in settings.items() if k not in _NOT_PARAMETERS}
    init = {}
    if settings.get("max_num_timeout") is not None:
        init[f"{cluster}_max_num_timeout"] = settings["max_num_timeout"]
    executor = submitit.AutoExecutor(folder=settings["submitit_folder"], cluster=cluster, **init)
    resources = [job.metaprogram.pipeline.resources for job in jobs]
    wanted = {
        "cpus_per_task": max(math.ceil(r.cpus) for r in resources),
        "gpus_per_node": max(math.ceil(r.gpus) for r in resources),
        "mem_gb": max(math.ceil(r.memory_gb) for r in resources),
    }
    for key, value in wanted.items():
        if params.get(key) is None:
            params[key] = value
    if params.get("name") in (None, "app"):  # Hydra's compose API names every job "app"
        params["name"] = "run_metaprogram"
    executor.update_parameters(
        **{k if k in _GENERIC else f"{cluster}_{k}": v for k, v in params.items() if v is not None}
    )
    return executor


def run_on_submitit(jobs: list[Any], settings: dict[str, Any], cluster: str) -> int:
    """Submit every job (one job array), wait for them all, print each one's results; the command's exit status."""
    from engine.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_INVALID, EXIT_OK, print_results

    if any(job.paths != jobs[0].paths for job in jobs):
        print(f"the jobs of one hydra/launcher=submitit_{cluster} multirun must share their path roots\n"
              "Nothing was run or written.", file=sys.stderr)  # fmt: skip
        return EXIT_INVALID
    unique = list({job.metaprogram.id: job for job in jobs}.values())  # jobs that differ only in observers: one run
    paths = jobs[0].paths
    roots = paths.absolute().model_dump()  # absolute: a job may start elsewhere
    try:
        executor = executor_for(cluster, settings, unique)
    except (ValueError, TypeError, RuntimeError) as exc:  # a setting submitit refuses, or no SLURM here (no srun)
        print(f"hydra/launcher=submitit_{cluster}: {_last_line(exc)}\nNothing was run or written.", file=sys.stderr)
        return EXIT_INVALID
    started = time.monotonic()
    try:
        submitted = executor.map_array(
            EngineJob(),
            [job.metaprogram.canonical for job in unique],
            [roots] * len(unique),
            [list(job.overrides) for job in unique],
            [job.force for job in unique],
        )
    except Exception as exc:  # sbatch refused the array (an unknown partition, an account without time...)
        print(f"hydra/launcher=submitit_{cluster}: submission failed: {_last_line(exc)}\nNothing was run.",
              file=sys.stderr)  # fmt: skip
        return EXIT_FAILED
    print(f"submitted {len(submitted)} job(s) to submitit ({cluster}): "
          f"{', '.join(j.job_id for j in submitted)}; logs in {executor.folder}", file=sys.stderr)  # fmt: skip
    completed = 0
    try:
        for job, handle in zip(unique, submitted, strict=True):
            run_dir = paths.run_dir(job.metaprogram.id)
            try:
                outcome = handle.result()
            except Exception as exc:  # the job died outside the engine (killed, out of memory, cancelled)
                outcome = {"status": "failed", "error": _last_line(exc)}
            if outcome["status"] == "completed":
                completed += 1
                print_results(outcome, run_dir)
            else:
                print(f"run {job.metaprogram.id} failed: {outcome['error']}\n(the log is in {run_dir}/run.log; "
                      f"submitit's in {handle.paths.stderr})", file=sys.stderr)  # fmt: skip
    except KeyboardInterrupt:
        for handle in submitted:
            handle.cancel(check=False)  # each run records itself 'interrupted' as it stops
        print("interrupted: the submitted jobs were cancelled; run the same command again to resume them",
              file=sys.stderr)  # fmt: skip
        return EXIT_INTERRUPTED
    print(f"{completed} of {len(unique)} run(s) completed through submitit ({cluster}) "
          f"in {time.monotonic() - started:.1f} s", file=sys.stderr)  # fmt: skip
    return EXIT_OK if completed == len(unique) else EXIT_FAILED


def _last_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


@register_launcher("submitit_local")
def run_on_submitit_local(jobs: list[Any], settings: dict[str, Any]) -> int:
    return run_on_submitit(jobs, settings, "local")


@register_launcher("submitit_slurm")
def run_on_submitit_slurm(jobs: list[Any], settings: dict[str, Any]) -> int:
    return run_on_submitit(jobs, settings, "slurm")
