"""The Python entry point, for notebooks and scripts: the command line's gate, ids and records, as a function.

    from engine.api import run

    results = run("metaprogram/example", ["pipeline.epochs=2"])           # like --config-name=... overrides
    child = run(overrides=[f"+from_run={results['id']}", "pipeline.optim.lr=0.01"])
    tuned = run("metaprogram/example", [f"model.init_from={results['id']}"])
    mine = run(metaprogram={"model": {"name": "mlp"}, "dataset": {"name": "iris"},
                            "pipeline": {"name": "execution", "epochs": 2}})

A bad metaprogram raises MetaprogramError (every problem, one line each) before anything runs or is written;
a run that fails raises RunFailed after recording itself. The runs table reads back with
`database.api.runs()`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from engine.compose import PRIMARY_CONFIG, Composed, Composer, apply_settings, from_config
from engine.metaprogram import MetaprogramError

__all__ = ["MetaprogramError", "compose", "run"]


def compose(
    config_name: str | None = None, overrides: Sequence[str] = (), metaprogram: Mapping[str, Any] | None = None
) -> Composed:
    """Compose and validate one metaprogram, as run_metaprogram.py would; raise MetaprogramError when it is bad.

    `config_name` and `overrides` are the command line's `--config-name` and `key=value` arguments
    (`+from_run=<id>` included); `metaprogram`: a mapping of model, dataset, pipeline (and seed, path) to start
    from instead, with the `key=value` overrides applied on top by Hydra's parser."""
    overrides = [str(o) for o in ([overrides] if isinstance(overrides, str) else overrides)]
    if metaprogram is None:
        with Composer() as composer:
            return composer.load(overrides, config_name or PRIMARY_CONFIG)
    if config_name is not None:
        raise MetaprogramError([f"config_name={config_name!r} and metaprogram=: give one of them as the base"])
    if not isinstance(metaprogram, Mapping):
        raise MetaprogramError([f"metaprogram: expected a mapping, got {type(metaprogram).__name__}"])
    from omegaconf import OmegaConf

    try:
        cfg = OmegaConf.create(dict(metaprogram))
    except Exception as exc:  # omegaconf refuses values that are not plain data
        raise MetaprogramError([f"metaprogram: {str(exc).splitlines()[0]}"]) from None
    errors = apply_settings(cfg, overrides)
    composed = from_config(cfg, errors)
    composed.overrides = overrides
    return composed


def run(
    config_name: str | None = None,
    overrides: Sequence[str] = (),
    metaprogram: Mapping[str, Any] | None = None,
    force: bool = False,
) -> dict[str, Any]:
    """Compose, validate, then run the metaprogram, or reuse its completed run; return its results.

    The results are its results.json content (id, status, metrics, objective, timings...) plus `run_dir`;
    `reused` is true when a completed run with the same id was found. `force=True` (or `force=true` among the
    overrides) runs it again. With `dry_run=true` among the overrides nothing runs: the results hold the id and
    the resolved metaprogram."""
    from engine.runner import execute, setup_console_logging

    composed = compose(config_name, overrides, metaprogram)
    mp = composed.metaprogram
    run_dir = composed.paths.run_dir(mp.id)
    if composed.dry_run:
        return {"id": mp.id, "dry_run": True, "metaprogram": mp.canonical, "run_dir": str(run_dir)}
    setup_console_logging()
    results = execute(mp, composed.paths, overrides=composed.overrides, force=force or composed.force)
    return {**results, "reused": bool(results.get("reused")), "run_dir": str(run_dir)}
