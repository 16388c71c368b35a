"""Compose a metaprogram with Hydra's compose API and turn its errors into ours.

Hydra's own messages for a misspelt component or key exit 1 with no
suggestion; here every problem becomes one line with its key path and the
nearest valid names, so that the command line can exit 2 before anything runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import product
from pathlib import Path
from typing import Any

from engine.metaprogram import TOP_LEVEL_KEYS, Metaprogram, MetaprogramError, validate
from engine.paths import Paths, paths_from
from engine.registry import did_you_mean, nearest

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
RUN_KEYS = ("dry_run", "force", "path", "hydra")
PRIMARY_CONFIG = "run"


@dataclass
class Composed:
    metaprogram: Metaprogram
    paths: Paths
    dry_run: bool
    force: bool


def group_options(group: str) -> list[str]:
    """Every option of a config group, nested folders included ('classic/mlp')."""
    root = CONFIG_DIR / group
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))


def compose(overrides: list[str], config_name: str = PRIMARY_CONFIG) -> tuple[Any, list[str]]:
    """Hydra-compose `config_name` with `overrides`.

    Returns the config composed from the overrides that are fine (None when even that
    fails) and one line per override Hydra refused, so that every problem is reported at once.
    """
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    errors: list[str] = []
    remaining = list(overrides)
    while True:  # drop each refused override in turn to find them all
        GlobalHydra.instance().clear()
        try:
            with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
                return hydra_compose(config_name=config_name, overrides=remaining), errors
        except Exception as exc:  # Hydra raises several unrelated types; all are input errors here
            message, bad = _explain(exc, remaining, config_name)
            errors.append(message)
            if bad is None:
                return None, errors
            remaining.remove(bad)


def compose_sweep(overrides: list[str], config_name: str = PRIMARY_CONFIG) -> list[list[str]]:
    """The override lists of every job in a Hydra multirun (cartesian product of sweeps)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise MetaprogramError([_first_line(exc)]) from None
    choices = []
    for override in parsed:
        key = override.get_key_element()
        if override.is_sweep_override():
            choices.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    return [list(combo) for combo in product(*choices)]


def load(overrides: list[str], config_name: str = PRIMARY_CONFIG) -> Composed:
    """Compose and validate (trusted: hand-written config and command line)."""
    cfg, errors = compose(overrides, config_name)
    if cfg is None:
        raise MetaprogramError(errors)
    return from_config(cfg, errors)


def from_config(cfg: Any, errors: list[str] | None = None) -> Composed:
    """Validate a composed config; `errors` from composition are reported with the schema's."""
    from omegaconf import OmegaConf

    errors = list(errors or [])
    try:
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except Exception as exc:  # an interpolation that cannot be resolved
        raise MetaprogramError([*errors, _first_line(exc)]) from None
    data.pop("hydra", None)
    raw = {k: v for k, v in data.items() if k not in RUN_KEYS}
    try:
        mp = validate(raw, trusted=True)
    except MetaprogramError as exc:
        # a refused component option already explains why that component is missing
        refused = {kind for kind in TOP_LEVEL_KEYS if any(f"/component/{kind}=" in e for e in errors)}
        rest = [e for e in exc.errors if not any(e.startswith(f"{kind}: missing") for kind in refused)]
        raise MetaprogramError([*errors, *rest]) from None
    if errors:
        raise MetaprogramError(errors)
    try:
        paths = paths_from(data.get("path"))
    except Exception as exc:
        raise MetaprogramError([f"path: {_first_line(exc)}"]) from None
    if problems := file_problems(mp, paths):
        raise MetaprogramError(problems)
    return Composed(mp, paths, bool(data.get("dry_run")), bool(data.get("force")))


def file_problems(mp: Metaprogram, paths: Paths) -> list[str]:
    """What is wrong with files the pipeline will read (e.g. a recipe file), checked once the roots are known."""
    check = getattr(mp.pipeline, "file_problems", None)
    return check(paths) if check else []


def _explain(exc: Exception, overrides: list[str], config_name: str) -> tuple[str, str | None]:
    """One line for a Hydra composition error, and the override that caused it (if any)."""
    from hydra.errors import MissingConfigException

    text = str(exc)
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        missing = exc.missing_cfg_file.strip("/")
        for override in overrides:
            key, _, value = override.lstrip("+~").partition("=")
            if f"{key.strip('/')}/{value}" == missing:
                hint = _nearest_option(value, group_options(key.strip("/")))
                return f"{key}={value}: no such option; {hint}", override
        if missing == config_name.strip("/"):
            return f"--config-name={config_name}: no such config; {did_you_mean(missing, group_options(''))}", None
        return f"config {missing!r} not found", None
    match = re.search(r"Could not override '([^']+)'", text) or re.search(
        r"Could not (?:append|delete) (?:to config\. )?.*?'([^']+)'", text
    )
    if match:
        key = match.group(1)
        override = next((o for o in overrides if o.lstrip("+~").split("=")[0] == key), None)
        parent, _, leaf = key.rpartition(".")
        siblings = _keys_at(parent, [o for o in overrides if o != override], config_name)
        if siblings is not None and leaf not in siblings:
            return f"{key}: unknown key; {did_you_mean(leaf, siblings)}", override
        return f"{key}: {_first_line(exc.__cause__ or exc)}", override
    return _first_line(exc), None


def _nearest_option(value: str, options: list[str]) -> str:
    """Did-you-mean for 'family/name' options: compare names within the same family first."""
    family, _, name = value.rpartition("/")
    by_name: dict[str, list[str]] = {}
    for option in options:  # without a family, any family's option of that name is a candidate
        if not family or option.rpartition("/")[0] == family:
            by_name.setdefault(option.rpartition("/")[2], []).append(option)
    close = [option for match in nearest(name, list(by_name)) for option in by_name[match]]
    if close:
        return "did you mean " + " or ".join(repr(c) for c in close) + "?"
    return did_you_mean(value, options)


def _keys_at(parent: str, overrides: list[str], config_name: str) -> list[str] | None:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
            cfg = hydra_compose(config_name=config_name, overrides=overrides)
        node = OmegaConf.select(cfg, parent) if parent else cfg
        if node is None and parent in TOP_LEVEL_KEYS:
            return None
        return [str(k) for k in node.keys()] if hasattr(node, "keys") else None
    except Exception:
        return None


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__
