"""The command-line side of run_metaprogram.py: check first, then run and report."""

from __future__ import annotations

import sys
from typing import Any

from engine.compose import PRIMARY_CONFIG, compose_sweep, from_config, load
from engine.metaprogram import MetaprogramError

EXIT_INVALID = 2
EXIT_INTERRUPTED = 143  # 128 + SIGTERM, as a shell reports a terminated job
# Hydra flags that print something and run no job; Hydra handles them itself.
_INFO_FLAGS = (
    "-h",
    "--help",
    "--hydra-help",
    "-c",
    "--cfg",
    "-i",
    "--info",
    "--shell-completion",
    "--version",
)
_VALUE_FLAGS = (
    "-cn",
    "--config-name",
    "-cp",
    "--config-path",
    "-cd",
    "--config-dir",
    "-p",
    "--package",
    "--experimental-rerun",
)


def split_argv(argv: list[str]) -> tuple[str, list[str], bool, bool]:
    """(config name, overrides, multirun?, info flag?) as Hydra will read them."""
    config_name, overrides, multirun, info = PRIMARY_CONFIG, [], False, False
    args = iter(argv)
    for arg in args:
        flag, eq, value = arg.partition("=")
        if flag in ("-m", "--multirun"):
            multirun = True
        elif flag in _INFO_FLAGS:
            info = True
            if flag in ("-c", "--cfg", "-i", "--info") and not eq:
                next(args, None)
        elif flag in _VALUE_FLAGS:
            value = value if eq else next(args, "")
            if flag in ("-cn", "--config-name"):
                config_name = value
        elif arg.startswith("-"):
            info = True  # an unknown flag: let Hydra answer it
        else:
            overrides.append(arg)
    return config_name, overrides, multirun, info


def preflight(argv: list[str]) -> bool:
    """Compose and validate every job on the command line; print all problems; run nothing.

    A single dry run is answered here, without composing a second time in Hydra's main.
    Returns True when Hydra's main should go on.
    """
    config_name, overrides, multirun, info = split_argv(argv)
    if info:
        return True
    try:
        jobs = compose_sweep(overrides) if multirun else [overrides]
    except MetaprogramError as exc:
        _report_invalid([exc], [overrides])
        sys.exit(EXIT_INVALID)
    failures, composed = [], []
    for job in jobs:
        try:
            composed.append(load(job, config_name))
        except MetaprogramError as exc:
            failures.append(exc)
    if failures:
        _report_invalid(failures, jobs)
        sys.exit(EXIT_INVALID)
    if not multirun and composed[0].dry_run:
        print_dry_run(composed[0])
        sys.exit(0)
    return True


def print_dry_run(composed: Any) -> None:
    import yaml

    print(yaml.safe_dump(composed.metaprogram.canonical, sort_keys=True).rstrip())
    print(f"id: {composed.metaprogram.id}")


def _report_invalid(failures: list[MetaprogramError], jobs: list[list[str]]) -> None:
    seen = set()
    for exc in failures:
        text = exc.render()
        if text not in seen:
            seen.add(text)
            print(text, file=sys.stderr)
    if len(jobs) > 1:
        print(f"{len(failures)} of {len(jobs)} jobs are invalid; none was run.", file=sys.stderr)
    print("Nothing was run or written.", file=sys.stderr)


def run_composed(cfg: Any, overrides: list[str]) -> bool:
    """Run one composed job; print its metrics. False when the run failed."""
    from engine.runner import Interrupted, RunFailed, execute, setup_console_logging

    composed = from_config(cfg)  # already checked by preflight: cannot fail here
    mp = composed.metaprogram
    if composed.dry_run:
        print_dry_run(composed)
        return True
    setup_console_logging()
    try:
        results = execute(mp, composed.paths, overrides=overrides, force=composed.force)
    except (Interrupted, KeyboardInterrupt):
        print(
            f"run {mp.id} interrupted; run the same command again to resume from its last checkpoint", file=sys.stderr
        )
        sys.exit(EXIT_INTERRUPTED)
    except RunFailed as exc:
        print(
            f"run {exc.run_id} failed: {exc.error}\n(the log is in {composed.paths.run_dir(exc.run_id)}/run.log)",
            file=sys.stderr,
        )
        return False
    print_results(results, composed.paths.run_dir(mp.id))
    return True


def print_results(results: dict[str, Any], run_dir: Any) -> None:
    reused = " (reused)" if results.get("reused") else ""
    print(f"id: {results['id']}{reused}")
    metrics = results["metrics"]
    shown = [k for k in metrics if k.startswith(("test/", "val/"))] or list(metrics)  # LLM pipelines: all
    for key, value in sorted(metrics.items()):
        if key in shown:
            print(f"  {key}: {value:.4f}" if isinstance(value, float) else f"  {key}: {value}")
    print(f"run directory: {run_dir}")
