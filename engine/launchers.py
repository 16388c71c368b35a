"""Where a command line's validated jobs run, chosen with Hydra's `hydra/launcher` group.

- `basic` (Hydra's default): one after another in this process.
- `ray` (configs/hydra/launcher/ray.yaml): all at once through job_launch (job_launch/hydra_launcher.py,
  which registers it here), on a fresh local Ray instance or on a cluster (`hydra.launcher.address=HOST:PORT`).
- `submitit_local` / `submitit_slurm` (hydra-submitit-launcher's configs, the `slurm` extra): one
  submitit job per run, as local processes or a SLURM job array (job_launch/slurm.py, which registers them).

Each returns the command's exit status (engine/cli.py).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import Any

from engine.cli import EXIT_FAILED, EXIT_INTERRUPTED, EXIT_OK, print_results
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


class Launchers(dict):
    """Launchers by name. Those that live above the engine register themselves with `register_launcher`; the
    module of each built-in one is loaded the first time its name is asked for (as a plugin's would be), so the
    engine imports none of them."""

    def _load(self, name: object) -> None:
        if name not in self.keys() and name in ELSEWHERE:
            importlib.import_module(ELSEWHERE[name])

    def __contains__(self, name: object) -> bool:
        self._load(name)
        return super().__contains__(name)

    def __getitem__(self, name: str) -> Callable[[list[Composed], dict[str, Any]], int]:
        self._load(name)
        return super().__getitem__(name)

    def __iter__(self):  # every name a command line may give, loaded or not
        return iter([*self.keys(), *(n for n in ELSEWHERE if n not in self.keys())])


LAUNCHERS = Launchers(basic=run_here)
# name -> the module that registers it (engine imports none of them)
ELSEWHERE = {
    "ray": "job_launch.hydra_launcher",
    "submitit_local": "job_launch.slurm",
    "submitit_slurm": "job_launch.slurm",
}


def register_launcher(name: str) -> Callable:
    """`@register_launcher("name")` on `run(jobs, settings) -> exit status`: `hydra/launcher=name` runs with it."""

    def register(run: Callable[[list[Composed], dict[str, Any]], int]) -> Callable:
        dict.__setitem__(LAUNCHERS, name, run)
        return run

    return register
