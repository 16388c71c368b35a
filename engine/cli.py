"""The one entry path of run_metaprogram.py: read the command line as Hydra does, compose every job
once, validate them all, then run them.

    main(argv) -> exit status: 0 done, 1 a run failed, 2 invalid input (nothing run or written),
                               143 interrupted (run the same command again to resume)

Hydra parses the command line (its own parser) and composes each job (its compose API); what
prints and runs nothing (--help, --cfg, --info, shell completion) is Hydra's own main. A multirun's
jobs are composed and validated before the first one starts, then handed to the launcher Hydra's
`hydra/launcher` group chose: `basic` runs them one after another here, `ray` in parallel
through job_launch (engine/launchers.py).
"""

from __future__ import annotations

import sys
from typing import Any

from engine.compose import CONFIG_DIR, PRIMARY_CONFIG, Composed, Composer, as_written, expand_sweep
from engine.metaprogram import MetaprogramError

__all__ = ["as_written", "main", "print_dry_run", "print_results"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
EXIT_INTERRUPTED = 143  # 128 + SIGTERM, as a shell reports a terminated job


def main(argv: list[str]) -> int:
    from hydra._internal.utils import get_args_parser

    args = get_args_parser().parse_args(argv)  # exits itself for --version and unknown flags
    modes = [flag for flag, given in (("--multirun", args.multirun), ("--cfg", args.cfg), ("--info", args.info),
             ("--shell-completion", args.shell_completion)) if given]  # fmt: skip
    if len(modes) > 1:
        print(f"{' and '.join(modes)}: give only one of them", file=sys.stderr)
        return EXIT_INVALID
    if args.help or args.hydra_help or args.cfg or args.info or args.shell_completion:
        return _hydra_answers(argv)
    unsupported = [flag for flag, given in (("--config-path", args.config_path), ("--config-dir", args.config_dir),
                   ("--experimental-rerun", args.experimental_rerun)) if given]  # fmt: skip
    if unsupported:
        print(f"{', '.join(unsupported)}: not supported; configs come from {CONFIG_DIR}", file=sys.stderr)
        return EXIT_INVALID
    config_name = args.config_name or PRIMARY_CONFIG
    try:
        jobs = expand_sweep(args.overrides) if args.multirun else [list(args.overrides)]
    except MetaprogramError as exc:
        return _report_invalid([exc], 1)

    composed, failures = [], []
    with Composer() as composer:
        for number, job in enumerate(jobs):
            try:  # the launcher is the command's: Hydra's settings are read from the first job
                composed.append(composer.load(job, config_name, with_hydra=number == 0))
            except MetaprogramError as exc:
                failures.append(exc)
    if failures:
        return _report_invalid(failures, len(jobs))
    for job in composed:
        if job.dry_run:
            print_dry_run(job)
    to_run = [job for job in composed if not job.dry_run]
    if not to_run:
        return EXIT_OK
    from engine.launchers import LAUNCHERS

    name = composed[0].launcher
    if name not in LAUNCHERS:
        print(f"hydra/launcher={name}: run_metaprogram.py runs jobs with {' or '.join(LAUNCHERS)}", file=sys.stderr)
        return EXIT_INVALID
    return LAUNCHERS[name](to_run, composed[0].launcher_settings)


def _hydra_answers(argv: list[str]) -> int:
    """Hydra's own main for what prints and runs nothing: help, --cfg, --info, shell completion."""
    import hydra

    @hydra.main(config_path=str(CONFIG_DIR), config_name=PRIMARY_CONFIG, version_base=None)
    def _runs_nothing(cfg: Any) -> None:  # Hydra answers these flags without calling its task
        raise AssertionError("Hydra called its task for an information flag")

    sys.argv = [sys.argv[0], *argv]
    _runs_nothing()
    return EXIT_OK


def print_dry_run(composed: Composed) -> None:
    import yaml

    print(yaml.safe_dump(as_written(composed.metaprogram.canonical), sort_keys=True).rstrip())
    print(f"id: {composed.metaprogram.id}")


def _report_invalid(failures: list[MetaprogramError], jobs: int) -> int:
    seen = set()
    for exc in failures:
        text = exc.render()
        if text not in seen:
            seen.add(text)
            print(text, file=sys.stderr)
    if jobs > 1:
        print(f"{len(failures)} of {jobs} jobs are invalid; none was run.", file=sys.stderr)
    print("Nothing was run or written.", file=sys.stderr)
    return EXIT_INVALID


def print_results(results: dict[str, Any], run_dir: Any) -> None:
    reused = " (reused)" if results.get("reused") else ""
    print(f"id: {results['id']}{reused}")
    metrics = results["metrics"]
    shown = [k for k in metrics if k.startswith(("test/", "val/"))] or list(metrics)  # LLM pipelines: all
    for key, value in sorted(metrics.items()):
        if key in shown:
            print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    print(f"run directory: {run_dir}")
