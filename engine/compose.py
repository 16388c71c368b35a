"""Compose metaprograms with Hydra's compose API and turn its errors into ours.

Hydra composes; our schemas validate. Hydra's struct mode would refuse a setting that the
component YAML leaves to its schema's default (`pipeline.hooks.progress.leave`), so a plain
`key=value` on a metaprogram or run setting is applied as Hydra's `++key=value` (set, adding the key
when absent) and the schema, which knows every setting and default, refuses what is misspelt, with
the nearest valid names. Hydra's own messages for a misspelt option exit 1 with no suggestion; here
every problem becomes one line with its key path, so the command line can exit 2 before anything runs.

`+from_run=<id or unique prefix>` takes a recorded run's metaprogram (<output_root>/runs/<id>/metaprogram.yaml,
read back through the one safe loader) as the base in place of --config-name: a component chosen with
`+metaprogram/component/<kind>=...` replaces the recorded one, then every `key=value` applies on top, by
Hydra's own override parser, and the result passes the same gate as any metaprogram. Nothing is written.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import product
from pathlib import Path
from typing import Any

from engine.bounds import shown
from engine.errors import did_you_mean, nearest
from engine.metaprogram import TOP_LEVEL_KEYS, Metaprogram, MetaprogramError, validate
from engine.paths import Paths, paths_from

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"
RUN_KEYS = ("dry_run", "force", "path", "hydra")
PRIMARY_CONFIG = "run"
FROM_RUN = re.compile(r"^\+{0,2}from_run=(.*)$")  # +from_run=<id or unique prefix>: compose from a recorded run
_SETTABLE = (*TOP_LEVEL_KEYS, *RUN_KEYS[:-1])  # first segments that `key=value` may add (not hydra.*)


@dataclass
class Composed:
    metaprogram: Metaprogram
    paths: Paths
    dry_run: bool
    force: bool
    overrides: list[str] = field(default_factory=list)  # as the user wrote them
    launcher: str = "basic"  # Hydra's hydra/launcher choice: basic (one after another) or ray (parallel)
    launcher_settings: dict[str, Any] = field(default_factory=dict)


def group_options(group: str) -> list[str]:
    """Every option of a config group, nested folders included ('classic/mlp'), plugins' options too."""
    from engine.plugins import config_dirs

    options = set()
    for root in (CONFIG_DIR / group, *(folder / group for folder in config_dirs())):
        options.update(str(p.relative_to(root).with_suffix("")) for p in root.rglob("*.yaml"))
    return sorted(options)


def settable(override: str) -> str:
    """`key=value` on a metaprogram or run setting as `++key=value`: the schema, not struct mode, checks keys."""
    key, eq, _ = override.partition("=")
    if not eq or key.startswith(("+", "~")) or "/" in key or "@" in key:
        return override
    if key.split(".")[0] not in _SETTABLE or (CONFIG_DIR / key).is_dir():  # `path=default` picks a group option
        return override
    return "++" + override


def expand_sweep(overrides: list[str]) -> list[list[str]]:
    """The override lists of every job in a Hydra multirun (cartesian product of sweeps), by Hydra's parser."""
    from hydra.core.override_parser.overrides_parser import OverridesParser

    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except Exception as exc:
        raise MetaprogramError([_first_line(exc)]) from None
    choices = []
    for override in parsed:
        if override.is_sweep_override():
            key = override.get_key_element()
            choices.append([f"{key}={v}" for v in override.sweep_string_iterator()])
        else:
            choices.append([override.input_line])
    return [list(combo) for combo in product(*choices)]


class Composer:
    """Hydra initialised once for many compositions (a multirun's jobs)."""

    def __enter__(self) -> Composer:
        from hydra import initialize_config_dir
        from hydra.core.global_hydra import GlobalHydra

        GlobalHydra.instance().clear()
        self._context = initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None)
        self._context.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)

    def compose(
        self, overrides: list[str], config_name: str = PRIMARY_CONFIG, with_hydra: bool = False
    ) -> tuple[Any, list[str]]:
        """The config composed from the overrides Hydra accepts (None if even that fails), and one line per refusal.

        `with_hydra` keeps Hydra's own settings (the launcher) under `hydra`; they cost time to compose.
        """
        from hydra import compose as hydra_compose

        errors: list[str] = []
        remaining = [settable(o) for o in overrides]
        while True:  # drop each refused override in turn to find them all
            try:
                return hydra_compose(
                    config_name=config_name, overrides=remaining, return_hydra_config=with_hydra
                ), errors
            except Exception as exc:  # Hydra raises several unrelated types; all are input errors here
                message, bad = _explain(exc, remaining, config_name)
                errors.append(message)
                if bad is None:
                    return None, errors
                remaining.remove(bad)

    def load(self, overrides: list[str], config_name: str = PRIMARY_CONFIG, with_hydra: bool = False) -> Composed:
        """Compose and validate one job (trusted: hand-written config and command line)."""
        refs = [m.group(1) for o in overrides if (m := FROM_RUN.match(o))]
        if refs:
            return self._load_from_run(refs, overrides, config_name, with_hydra)
        cfg, errors = self.compose(overrides, config_name, with_hydra)
        if cfg is None:
            raise MetaprogramError(errors)
        composed = from_config(cfg, errors)
        composed.overrides = list(overrides)
        return composed

    def _load_from_run(self, refs: list[str], overrides: list[str], config_name: str, with_hydra: bool) -> Composed:
        """A recorded run's metaprogram as the base, the components chosen here in its place, the settings on top."""
        from omegaconf import OmegaConf, open_dict

        from engine.lineage import UnknownRun, recorded_run
        from engine.records import read_record

        if len(refs) > 1:
            raise MetaprogramError([f"+from_run: given {len(refs)} times ({', '.join(refs)}); give one run"])
        if config_name != PRIMARY_CONFIG:
            raise MetaprogramError([f"+from_run and --config-name={config_name}: give one of them as the base"])
        ref, rest = refs[0], [o for o in overrides if not FROM_RUN.match(o)]
        values = [o for o in rest if _is_setting(o)]
        cfg, errors = self.compose([o for o in rest if not _is_setting(o)], PRIMARY_CONFIG, with_hydra)
        if cfg is None:
            raise MetaprogramError(errors)
        paths = paths_from(OmegaConf.to_container(cfg.get("path"), resolve=True) if "path" in cfg else None)
        try:
            run_id, run_dir = recorded_run(paths.root("output_root"), ref)
        except UnknownRun as exc:
            raise MetaprogramError([*errors, f"+from_run={ref}: {exc}"]) from None
        record = run_dir / "metaprogram.yaml"
        recorded = read_record(record)  # the one safe loader; damaged or absent: None
        if recorded is None or _has_interpolation(recorded):
            why = "is missing or damaged" if recorded is None else "holds an interpolation (`${`), which we never write"
            raise MetaprogramError([*errors, f"+from_run={ref}: {record} {why}; it cannot be built on"])
        with open_dict(cfg):
            for kind in TOP_LEVEL_KEYS:  # a component chosen on this command line replaces the recorded one
                if kind not in cfg or kind == "seed":
                    cfg[kind] = as_written(recorded.get(kind))
        errors += apply_settings(cfg, values)
        source = f"(from run {run_id})"
        try:
            composed = from_config(cfg, errors)
        except MetaprogramError as exc:
            raise MetaprogramError(exc.errors, source) from None
        composed.metaprogram.from_run = run_id
        composed.overrides = [f"+from_run={run_id}" if FROM_RUN.match(o) else o for o in overrides]
        return composed


def _is_setting(override: str) -> bool:
    """`[+|++|~]model.x=...`, `seed=3`: a value of the metaprogram, applied on top of a recorded run's."""
    key = override.lstrip("+~").partition("=")[0]
    return "/" not in key and "@" not in key and key.split(".")[0] in TOP_LEVEL_KEYS


def apply_settings(cfg: Any, overrides: list[str]) -> list[str]:
    """Apply `key=value` overrides to a config with Hydra's own parser and rules; one line per refusal."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl
    from hydra.core.override_parser.overrides_parser import OverridesParser

    errors = []
    parser = OverridesParser.create()
    for override in overrides:
        try:
            ConfigLoaderImpl._apply_overrides_to_config(parser.parse_overrides([settable(override)]), cfg)
        except Exception as exc:  # Hydra raises several unrelated types; all are input errors here
            errors.append(f"{override}: {_first_line(exc.__cause__ or exc)}")
    return errors


def _has_interpolation(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_has_interpolation(k) or _has_interpolation(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_interpolation(v) for v in value)
    return isinstance(value, str) and "${" in value


def as_written(value: Any) -> Any:
    """The resolved form as config files write it, so that every key printed can be set on the command line:
    a list of named settings (a data DAG's nodes) becomes a mapping by name (`dataset.nodes.raw.params.file=...`)."""
    if isinstance(value, dict):
        return {key: as_written(item) for key, item in value.items()}
    if isinstance(value, list) and value and all(isinstance(v, dict) and isinstance(v.get("name"), str) for v in value):
        names = [v["name"] for v in value]
        if len(set(names)) == len(names):
            return {v["name"]: as_written({k: x for k, x in v.items() if k != "name"}) for v in value}
    return value


def load(overrides: list[str], config_name: str = PRIMARY_CONFIG) -> Composed:
    """Compose and validate one metaprogram."""
    with Composer() as composer:
        return composer.load(overrides, config_name)


def from_config(cfg: Any, errors: list[str] | None = None) -> Composed:
    """Validate a composed config; `errors` from composition are reported with the schema's."""
    from omegaconf import OmegaConf, open_dict

    errors = list(errors or [])
    launcher, launcher_settings = "basic", {}
    if "hydra" in cfg:
        try:  # resolved in place: a launcher's settings may refer to other hydra.* keys (submitit: hydra.sweep.dir)
            launcher_settings = OmegaConf.to_container(cfg.hydra.launcher, resolve=True)
        except Exception as exc:
            raise MetaprogramError([*errors, f"hydra.launcher: {_first_line(exc)}"]) from None
        with open_dict(cfg):
            hydra_cfg = cfg.pop("hydra")
        launcher = str(hydra_cfg.runtime.choices.get("hydra/launcher", "basic"))
    try:
        data = OmegaConf.to_container(cfg, resolve=True, throw_on_missing=False)
    except Exception as exc:  # an interpolation that cannot be resolved
        raise MetaprogramError([*errors, _first_line(exc)]) from None
    paths = None
    try:
        paths = paths_from(data.get("path"))
    except MetaprogramError as exc:
        errors += exc.errors
    raw = {k: v for k, v in data.items() if k not in RUN_KEYS}
    try:
        mp = validate(raw, trusted=True, paths=paths) if paths is not None else None
    except MetaprogramError as exc:
        # a refused component option already explains why that component is missing
        refused = {kind for kind in TOP_LEVEL_KEYS if any(f"/component/{kind}=" in e for e in errors)}
        rest = [e for e in exc.errors if not any(e.startswith(f"{kind}: missing") for kind in refused)]
        raise MetaprogramError([*errors, *rest]) from None
    errors += [
        f"{key}: must be true or false, got {shown(data[key])}"
        for key in ("dry_run", "force")
        if data.get(key) is not None and not isinstance(data[key], bool)
    ]
    if errors or mp is None:
        raise MetaprogramError(errors)
    if problems := file_problems(mp, paths):
        raise MetaprogramError(problems)
    return Composed(
        mp, paths, data.get("dry_run") is True, data.get("force") is True, [], launcher, launcher_settings or {}
    )


def file_problems(mp: Metaprogram, paths: Paths) -> list[str]:
    """What is wrong with files the pipeline will read (e.g. a recipe file), checked once the roots are known."""
    check = getattr(mp.pipeline, "file_problems", None)
    return check(paths) if check else []


def _explain(exc: Exception, overrides: list[str], config_name: str) -> tuple[str, str | None]:
    """One line for a Hydra composition error, and the override that caused it (if any)."""
    import yaml
    from hydra.errors import MissingConfigException

    if isinstance(exc, yaml.YAMLError):
        return _yaml_problem(exc), None
    text = str(exc)
    if isinstance(exc, MissingConfigException) and exc.missing_cfg_file:
        missing = exc.missing_cfg_file.strip("/")
        for override in overrides:
            key, _, value = override.lstrip("+~").partition("=")
            if f"{key.strip('/')}/{value}" == missing:
                options = _all_options(key.strip("/"))
                hint = _nearest_option(value, options)
                if value.startswith("submitit") and not any(o.startswith("submitit") for o in options):
                    hint += " (the submitit launchers come with the slurm extra: pip install -e '.[slurm]')"
                return f"{key}={value}: no such option; {hint}", override
        if missing == config_name.strip("/"):
            return f"--config-name={config_name}: no such config; {did_you_mean(missing, group_options(''))}", None
        return f"config {missing!r} not found", None
    match = re.search(r"Could not (?:override|append|delete)[^']*'([^']+)'", text)
    if match:
        key = match.group(1)
        override = next((o for o in overrides if o.lstrip("+~").split("=")[0] == key), None)
        return f"{key}: {_first_line(exc.__cause__ or exc)}", override
    return _first_line(exc), None


def _all_options(group: str) -> list[str]:
    """A group's options: our files and, for Hydra's own groups, what installed plugins add (the launchers)."""
    options = set(group_options(group))
    if group.startswith("hydra/"):
        try:
            from hydra.core.global_hydra import GlobalHydra

            options.update(GlobalHydra.instance().hydra.config_loader.get_group_options(group))
        except Exception:  # Hydra not initialised: our files only
            pass
    return sorted(options)


def _yaml_problem(exc: Exception) -> str:
    """A config file that is not valid YAML, or repeats a key: name the file and the lines."""
    from engine.strict_yaml import DuplicateKey, load_file

    mark = getattr(exc, "problem_mark", None)
    if mark is not None and Path(mark.name).is_file():
        try:
            load_file(Path(mark.name))
        except DuplicateKey as duplicate:
            return str(duplicate)
        except Exception:
            pass
        return f"{mark.name}: not valid YAML at line {mark.line + 1}: {getattr(exc, 'problem', None) or exc}"
    return _first_line(exc)


def _nearest_option(value: str, options: list[str]) -> str:
    """Did-you-mean for 'family/name' options: names within the same family first, then any option."""
    family, _, name = value.rpartition("/")
    same = [o for o in options if not family or o.rpartition("/")[0] == family]
    if nearest(name, same, key=lambda option: option.rpartition("/")[2]):
        return did_you_mean(name, same, key=lambda option: option.rpartition("/")[2])
    return did_you_mean(value, options)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return " ".join(lines[:3]) if lines else type(exc).__name__
