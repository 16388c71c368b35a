"""Your code, outside this repository, under the same gate: register components next to your code.

    from engine.plugins import register

    @register.model("tiny_mlp")                          # settings from the signature: model.hidden, ...
    def tiny_mlp(info, hidden: int = 64, dropout: float = 0.0):
        return torch.nn.Sequential(...)                  # info: input shape and outputs (engine.data_point)

    @register.dataset("moons", task="classification")    # split and standardised like the built-in sets
    def moons(n_samples: int = 400, noise: float = 0.1, seed: int = 0):
        return x, y                                      # numpy arrays: features (N, F), targets (N,)

    @register.transform("clip")                          # a data-DAG transform: Data in, Data out
    def clip(data, low: float = -3.0, high: float = 3.0): ...

    @register.pipeline("my_eval")                        # run(metaprogram, context, **settings) -> metrics
    def my_eval(metaprogram, context, repeats: int = 3) -> dict[str, float]: ...

    @register.hook("my_hook", settings=MyHookSettings)   # a hook class, its settings a pydantic model

    @register.metric("balanced_accuracy", task="classification")   # pipeline.metrics=[balanced_accuracy]
    def balanced_accuracy(targets, predictions) -> float: ...       # numpy arrays of a whole split

Settings come from the function's signature (type hints and defaults, as hydra-zen's `builds` does),
or from a pydantic model given as `settings=`; unknown keys and out-of-range values are refused as
for every built-in component, with did-you-mean. A search algorithm registers with
`util.search.algorithm` from the same module.

Discovery, trusted configuration only (an untrusted metaprogram may name what is registered, never
a module): installed packages through the entry-point group `metaprogram.plugins`, and the modules
named in the environment variable METAPROGRAM_PLUGINS (comma-separated module names or .py files) or
in the path config's `plugins` list. A plugin package's `configs/` folder joins Hydra's config search
path, so its YAML components appear beside the built-in ones. The digest of a plugin's source files
is an input of every run that uses it: editing the plugin never reuses a stale run.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.util
import inspect
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Literal

from pydantic import create_model

from engine.registry import Registry
from engine.schema.base import DATASETS, HOOKS, METRICS, MODELS, PIPELINES, Component, Schema
from engine.schema.models import InitFrom

ENTRY_POINT_GROUP = "metaprogram.plugins"
ENV_VAR = "METAPROGRAM_PLUGINS"


class PluginError(ValueError):
    """A plugin that cannot be loaded or registered: one paragraph naming it."""


@dataclass
class Plugin:
    module: str
    source: Path  # the module's file, or its package's folder: what the digest reads
    configs: Path | None  # its configs/ folder, for Hydra's search path


LOADED: dict[str, Plugin] = {}
PROBLEMS: list[str] = []  # plugins that failed to load: every validation reports them, so nothing runs without them


# ----------------------------------------------------------------------------- registering


def _settings_schema(fn: Callable, name: str, base: type, skip: int) -> type:
    """A pydantic schema from `fn`'s parameters after the first `skip`: each needs a type hint."""
    fields: dict[str, Any] = {"name": (Literal[name], name)}  # type: ignore[valid-type]
    hints = inspect.get_annotations(fn, eval_str=True)
    for param in list(inspect.signature(fn).parameters.values())[skip:]:
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        if param.name not in hints:
            raise PluginError(f"{fn.__module__}.{fn.__qualname__}: setting {param.name!r} needs a type hint")
        default = ... if param.default is inspect.Parameter.empty else param.default
        fields[param.name] = (hints[param.name], default)
    schema = create_model(f"{name}_settings", __base__=base, __module__=fn.__module__, **fields)
    schema.plugin_settings = tuple(key for key in fields if key != "name")  # what the function takes
    return schema


def _settings_of(cfg: Schema) -> dict[str, Any]:
    """The settings the plugin's function takes (not the base's, e.g. a pipeline's device or resources)."""
    return {key: getattr(cfg, key) for key in getattr(type(cfg), "plugin_settings", ())}


def _add(registry: Registry, name: str, schema: type, impl: Callable, origin: Callable) -> None:
    if name in registry:
        theirs = registry.entry(name).impl
        theirs = theirs if isinstance(theirs, str) else f"{theirs.__module__}.{theirs.__qualname__}"
        raise PluginError(
            f"{registry.kind} {name!r} from {origin.__module__}.{origin.__qualname__} clashes with the one already "
            f"registered from {theirs}: give the plugin's component another name"
        )
    schema.plugin_source = _source_of(origin)  # an input of every run that uses it (engine/metaprogram.py)
    registry.register(name, schema, impl)


def _source_of(obj: Any) -> Path:
    module = obj if isinstance(obj, ModuleType) else sys.modules[obj.__module__]
    file = Path(inspect.getfile(module)).resolve()
    return file.parent if file.name == "__init__.py" else file


class _PluginModel(InitFrom, Component):
    """A plugin model's settings: its function's, and `init_from` (a completed run's weights), as built-in models."""


class _Register:
    """`register.model`, `.dataset`, `.transform`, `.pipeline`, `.hook`, `.metric`: decorators for each kind."""

    def model(self, name: str, settings: type | None = None) -> Callable:
        """fn(info, **settings) -> torch.nn.Module; with `settings=`: fn(cfg, info). Signature-derived settings
        include `init_from`, so a plugin model fine-tunes from a recorded run as a built-in one does."""

        def decorate(fn: Callable) -> Callable:
            schema = settings or _settings_schema(fn, name, _PluginModel, skip=1)
            impl = fn if settings else (lambda cfg, info: fn(info, **_settings_of(cfg)))
            _add(MODELS, name, schema, impl, fn)
            return fn

        return decorate

    def pipeline(self, name: str, settings: type | None = None) -> Callable:
        """fn(metaprogram, context, **settings) -> {metric: value}; with `settings=`: fn(metaprogram, context)."""
        from engine.schema.pipelines import PipelineConfig

        def decorate(fn: Callable) -> Callable:
            schema = settings or _settings_schema(fn, name, PipelineConfig, skip=2)
            impl = fn if settings else (lambda mp, context: fn(mp, context, **_settings_of(mp.pipeline)))
            _add(PIPELINES, name, schema, impl, fn)
            return fn

        return decorate

    def hook(self, name: str, settings: type) -> Callable:
        """A hook class (engine/hooks/base.py), built with its validated settings."""

        def decorate(cls: type) -> type:
            _add(HOOKS, name, settings, cls, cls)
            return cls

        return decorate

    def transform(self, name: str, settings: type | None = None, *, inputs: int = 1) -> Callable:
        """fn(data, **settings) -> Data for a DAG node with one input (a list of Data when `inputs` > 1)."""
        from engine.schema.data_dag import TRANSFORMS, TransformParams

        def decorate(fn: Callable) -> Callable:
            base = type(f"{name}_base", (TransformParams,), {"arity": (inputs, inputs), "__module__": fn.__module__})
            schema = settings or _settings_schema(fn, name, base, skip=1)
            schema.version = _version(fn)  # the DAG cache key: editing the code recomputes the node

            def impl(found: list, params: Any, env: Any) -> Any:
                return fn(found[0] if inputs == 1 else found, **_settings_of(params))

            _add(TRANSFORMS, name, schema, impl, fn)
            return fn

        return decorate

    def metric(self, name: str, *, task: Literal["classification", "regression"] | None = None) -> Callable:
        """fn(targets, predictions, **settings) -> float, on numpy arrays of a whole split: class labels for
        classification, the target's own units for regression. Chosen with `pipeline.metrics=[name]` and
        reported as <split>/<name>; `task`: the task it is defined for (None: both)."""
        from engine.schema.pipelines import BUILT_IN_METRICS, MetricSettings

        def decorate(fn: Callable) -> Callable:
            if name in BUILT_IN_METRICS:
                raise PluginError(
                    f"metric {name!r} from {fn.__module__}.{fn.__qualname__} clashes with the built-in metric "
                    f"{name!r} (engine/metrics.py): give the plugin's metric another name"
                )
            schema = _settings_schema(fn, name, MetricSettings, skip=2)
            schema.task = task

            def impl(targets: Any, predictions: Any, cfg: Any) -> float:
                return fn(targets, predictions, **_settings_of(cfg))

            _add(METRICS, name, schema, impl, fn)
            return fn

        return decorate

    def dataset(self, name: str, *, task: Literal["classification", "regression"]) -> Callable:
        """fn(**settings) -> (x, y): a data set split and standardised as the built-in ones are."""
        from engine.schema.data_dag import TRANSFORMS, Loader
        from engine.schema.datasets import DatasetConfig

        def decorate(fn: Callable) -> Callable:
            loader = _settings_schema(fn, name, Loader, skip=0)
            loader.version = _version(fn)
            dataset = create_model(
                f"{name}_dataset",
                __base__=(DatasetConfig, loader),
                __module__=fn.__module__,
                name=(Literal[name], name),  # type: ignore[valid-type]
            )
            dataset.loader = name  # type: ignore[attr-defined]
            dataset.task = lambda self: task  # type: ignore[method-assign]

            def impl(found: list, params: Any, env: Any) -> Any:
                return _as_data(fn(**{k: getattr(params, k) for k in loader.plugin_settings}), task, name)

            _add(TRANSFORMS, name, loader, impl, fn)
            _add(DATASETS, name, dataset, "engine.data_pipe.dag:load_dag", fn)
            return fn

        return decorate


register = _Register()


def source_digest(obj: Any) -> str:
    """sha256 of the source of the module that defines `obj`: it changes whenever the plugin's code does."""
    return hashlib.sha256(inspect.getsource(sys.modules[obj.__module__]).encode()).hexdigest()


def _version(fn: Callable) -> int:
    """A number that changes with the plugin's source: the DAG cache keys on it."""
    return int(source_digest(fn)[:12], 16)


def _as_data(arrays: Any, task: str, name: str) -> Any:
    import numpy as np

    from engine.data_pipe.frame import Data, DataError

    if not (isinstance(arrays, tuple) and len(arrays) == 2):
        raise DataError(f"dataset {name!r}: the plugin must return (x, y) arrays, got {type(arrays).__name__}")
    x, y = (np.asarray(a) for a in arrays)
    if len(x) != len(y):
        raise DataError(f"dataset {name!r}: x has {len(x)} rows and y {len(y)}")
    meta: dict[str, Any] = {"task": task, "input_kind": "features" if x.ndim == 2 else "image"}
    if task == "classification":
        y = y.astype(np.int64)
        meta["class_names"] = [str(c) for c in range(int(y.max()) + 1)]
    return Data({"x": x.astype(np.float32), "y": y if task == "classification" else y.astype(np.float32)}, meta)


# ----------------------------------------------------------------------------- discovery


def load_plugins(extra: list[str] | tuple[str, ...] = ()) -> list[str]:
    """Import every plugin once: entry points, METAPROGRAM_PLUGINS, then `extra` (the path config's list).

    Returns the problems of those that failed, now or before (also kept in PROBLEMS): a plugin that fails to
    load is reported by every validation, at once with the metaprogram's own errors, rather than as a traceback
    at import."""
    env = (n.strip() for n in os.environ.get(ENV_VAR, "").split(",") if n.strip())
    names = list(dict.fromkeys([*_installed(), *env, *extra]))
    for name in names:
        if name in LOADED or name in _FAILED:  # each plugin is imported once
            continue
        try:
            LOADED[name] = _import(name)
        except PluginError as exc:
            _FAILED[name] = str(exc)
            PROBLEMS.append(str(exc))
    return [_FAILED[name] for name in names if name in _FAILED]


_FAILED: dict[str, str] = {}


@functools.cache
def _installed() -> tuple[str, ...]:
    """The installed packages' plugins (entry points): read once per process."""
    from importlib.metadata import entry_points

    return tuple(ep.value for ep in entry_points(group=ENTRY_POINT_GROUP))


def _import(name: str) -> Plugin:
    try:
        if name.endswith(".py"):
            path = Path(name).expanduser().resolve()
            spec = importlib.util.spec_from_file_location(f"metaprogram_plugin_{path.stem}", path)
            if spec is None or spec.loader is None or not path.is_file():
                raise PluginError(f"plugin {name!r}: no such file")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
        else:
            module = importlib.import_module(name)
    except PluginError:
        raise
    except Exception as exc:  # the plugin's own code failed (or registered a clashing name): say which, and why
        raise PluginError(f"plugin {name!r} could not be loaded: {exc}") from None
    source = _source_of(module) if getattr(module, "__file__", None) else Path(name)
    root = source if source.is_dir() else source.parent
    configs = next((c for c in (root / "configs", root.parent / "configs") if c.is_dir()), None)
    return Plugin(module.__name__, source, configs)


def config_dirs() -> list[Path]:
    """The configs/ folders of the plugins (loaded first, if they are not yet), for Hydra's search path."""
    load_plugins()
    return [p.configs for p in LOADED.values() if p.configs is not None]


def plugin_inputs(component: Schema, prefix: str) -> dict[str, Path]:
    """{setting: source} for every plugin component in `component` (itself, or nested): their code is an input."""
    from engine.schema.base import nested_schemas

    found: dict[str, Path] = {}
    if not LOADED:  # no plugin: nothing to look for
        return found
    source: Path | None = getattr(type(component), "plugin_source", None)
    if source is not None:
        found[f"{prefix}.plugin"] = source
    for key in component.model_fields_set:  # a plugin's component is chosen by name: set, never a default
        for where, part in nested_schemas(key, getattr(component, key)):
            found.update(plugin_inputs(part, f"{prefix}.{where}"))
    return found
