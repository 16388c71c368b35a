"""A sweep: a base metaprogram, a search space over its dotted keys, and how to search it.

Read from a YAML file in configs/sweep/ (plus `key=value` overrides); composing
the base goes through engine.compose, every point is re-validated with
engine.metaprogram.validate. Imports neither torch nor ray.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.compose import CONFIG_DIR, load
from engine.metaprogram import Metaprogram, MetaprogramError, validate
from engine.paths import Paths, default_paths
from engine.schema.base import COMPONENT_KINDS

SPACE_TYPES = ("choice", "grid", "uniform", "loguniform", "randint")
MODES = ("grid", "random", "tune")
ALGORITHMS = ("random", "grid", "tpe", "planner")
SCHEDULERS = ("fifo", "asha")
SWEEP_DIR = CONFIG_DIR / "sweep"


class SweepError(ValueError):
    """Everything wrong with one sweep config, one line per problem."""

    def __init__(self, errors: list[str], source: str | None = None):
        self.errors, self.source = errors, source
        where = f" {source}" if source else ""
        super().__init__("\n".join([f"invalid sweep{where}: {len(errors)} error(s)", *[f"  - {e}" for e in errors]]))


@dataclass
class TuneSettings:
    algorithm: str = "random"
    scheduler: str = "fifo"
    concurrency: int = 2
    time_budget_s: float | None = None
    retries: int = 0  # per trial (FailureConfig.max_failures)
    grace_period: int = 1  # ASHA: epochs every trial runs before it can be stopped
    reduction_factor: float = 2.0  # ASHA: keep the best 1/reduction_factor at each rung
    resume: bool = False
    planner_checkpoint: str | None = None  # algorithm=planner: a folder written by train_planner.sh
    planner_candidates: int = 16  # algorithm=planner: samples scored per proposal by the acquisition
    planner_acquisition: str | None = "ei"  # algorithm=planner: ei, ucb, or null for plain sampling


@dataclass
class Sweep:
    name: str
    base_config: str | None  # a config name such as metaprogram/example
    components: dict[str, str]  # kind -> option, e.g. model: classic/mlp
    overrides: list[str]
    space: dict[str, dict[str, Any]]
    mode: str = "random"
    count: int = 10
    seed: int = 0
    suite: str = "train"
    tune: TuneSettings = field(default_factory=TuneSettings)
    _base: tuple[Metaprogram, Paths] | None = field(default=None, repr=False)

    # ---- the base metaprogram
    def compose_args(self) -> tuple[list[str], str]:
        if self.base_config:
            group = [f"metaprogram/component/{k}={v}" for k, v in sorted(self.components.items())]
            return [*group, *self.overrides], self.base_config
        group = [f"+metaprogram/component/{k}={v}" for k, v in sorted(self.components.items())]
        return [*group, "+path=default", *self.overrides], "run"

    def base(self) -> tuple[Metaprogram, Paths]:
        if self._base is None:
            overrides, config_name = self.compose_args()
            composed = load(overrides, config_name)
            self._base = (composed.metaprogram, composed.paths)
        return self._base

    @property
    def study_id(self) -> str:
        """Stable across restarts of the same sweep, so that resuming finds its study."""
        mp, _ = self.base()
        spec = {
            "base": mp.canonical,
            "space": self.space,
            "mode": self.mode,
            "count": self.count,
            "seed": self.seed,
            "algorithm": self.tune.algorithm,
            "scheduler": self.tune.scheduler,
        }
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.suite}.{self.name}-{digest}"

    # ---- points
    def build(self, params: dict[str, Any]) -> Metaprogram:
        mp, _ = self.base()
        return apply_params(mp.canonical, params)

    def grid_points(self) -> list[dict[str, Any]]:
        finite = {k: s for k, s in self.space.items() if s["type"] in ("choice", "grid")}
        others = sorted(set(self.space) - set(finite))
        if others:
            raise SweepError([f"space.{k}: grid mode needs finite values (choice or grid)" for k in others])
        keys = sorted(finite)
        return [
            dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(finite[k]["values"] for k in keys))
        ]

    def random_points(self) -> list[dict[str, Any]]:
        rng = random.Random(self.seed)
        return [{k: sample(self.space[k], rng) for k in sorted(self.space)} for _ in range(self.count)]

    def metaprograms(self) -> list[tuple[dict[str, Any], Metaprogram]]:
        """Grid or random points as validated metaprograms, duplicates (same id) dropped, order kept."""
        points = self.grid_points() if self.mode == "grid" else self.random_points()
        seen: set[str] = set()
        out = []
        for params in points:
            mp = self.build(params)
            if mp.id not in seen:
                seen.add(mp.id)
                out.append((params, mp))
        return out


def sample(spec: dict[str, Any], rng: random.Random) -> Any:
    kind = spec["type"]
    if kind in ("choice", "grid"):
        return rng.choice(spec["values"])
    if kind == "uniform":
        return rng.uniform(spec["low"], spec["high"])
    if kind == "loguniform":
        return math.exp(rng.uniform(math.log(spec["low"]), math.log(spec["high"])))
    return rng.randrange(int(spec["low"]), int(spec["high"]))  # randint: high excluded, as in Ray Tune


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = tree
    for part in parts[:-1]:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[parts[-1]] = value


def apply_params(base: dict[str, Any], params: dict[str, Any]) -> Metaprogram:
    """`base` (a canonical dict) with `params` set at their dotted keys, validated (trusted).

    Setting `<kind>.name` to another component starts that component from its
    defaults: the base's other settings belong to the old component.
    """
    raw = copy.deepcopy(base)
    for kind in COMPONENT_KINDS:
        new = params.get(f"{kind}.name")
        if new is not None and new != raw[kind].get("name"):
            raw[kind] = {"name": new}
    for key, value in sorted(params.items()):
        set_dotted(raw, key, value)
    return validate(raw, trusted=True, source=f"with {params}")


def space_errors(space: Any) -> list[str]:
    if not isinstance(space, dict) or not space:
        return ["space: a mapping of dotted keys to {type: ..., values: [...] | low: .., high: ..}"]
    errors = []
    for key, spec in space.items():
        where = f"space.{key}"
        if not isinstance(spec, dict) or spec.get("type") not in SPACE_TYPES:
            errors.append(f"{where}: type must be one of {', '.join(SPACE_TYPES)}")
            continue
        if spec["type"] in ("choice", "grid"):
            if not isinstance(spec.get("values"), list) or not spec["values"]:
                errors.append(f"{where}: {spec['type']} needs a non-empty list `values`")
            elif set(spec) - {"type", "values"}:
                errors.append(f"{where}: unknown keys {sorted(set(spec) - {'type', 'values'})}")
            continue
        low, high = spec.get("low"), spec.get("high")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in (low, high)) or not low < high:
            errors.append(f"{where}: {spec['type']} needs numbers low < high")
        elif spec["type"] == "loguniform" and low <= 0:
            errors.append(f"{where}: loguniform needs low > 0")
        elif set(spec) - {"type", "low", "high"}:
            errors.append(f"{where}: unknown keys {sorted(set(spec) - {'type', 'low', 'high'})}")
    return errors


def resolve_file(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = SWEEP_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if candidate.exists():
        return candidate
    from engine.registry import did_you_mean

    options = sorted(str(p.relative_to(SWEEP_DIR).with_suffix("")) for p in SWEEP_DIR.rglob("*.yaml"))
    raise SweepError([f"no sweep config {name!r}; {did_you_mean(name, options)}"])


def from_dict(data: dict[str, Any], source: str | None = None) -> Sweep:
    """Check a sweep config (all problems at once) and build it; the base is composed lazily."""
    errors: list[str] = []
    known = {"name", "suite", "base", "space", "mode", "count", "seed", "tune"}
    errors += [f"{k}: unknown key; valid: {', '.join(sorted(known))}" for k in data if k not in known]
    base = data.get("base") or {}
    if not isinstance(base, dict) or set(base) - {"config", "components", "overrides"}:
        errors.append("base: a mapping with config (a config name), components ({kind: option}), overrides ([k=v])")
        base = {}
    components = base.get("components") or {}
    if not isinstance(components, dict) or set(components) - set(COMPONENT_KINDS):
        errors.append(f"base.components: a mapping of {', '.join(COMPONENT_KINDS)} to component options")
        components = {}
    if not base.get("config") and set(components) != set(COMPONENT_KINDS):
        errors.append("base: give a config name, or components for all of model, dataset and pipeline")
    errors += space_errors(data.get("space"))
    mode = data.get("mode", "random")
    if mode not in MODES:
        errors.append(f"mode: must be one of {', '.join(MODES)}, got {mode!r}")
    count, seed = data.get("count", 10), data.get("seed", 0)
    if not isinstance(count, int) or count < 1:
        errors.append(f"count: a positive integer, got {count!r}")
    if not isinstance(seed, int) or seed < 0:
        errors.append(f"seed: a non-negative integer, got {seed!r}")
    tune_raw = data.get("tune") or {}
    fields = TuneSettings.__dataclass_fields__
    errors += [f"tune.{k}: unknown key; valid: {', '.join(fields)}" for k in tune_raw if k not in fields]
    tune = TuneSettings(**{k: v for k, v in tune_raw.items() if k in fields})
    if tune.algorithm not in ALGORITHMS:
        errors.append(f"tune.algorithm: must be one of {', '.join(ALGORITHMS)}, got {tune.algorithm!r}")
    if tune.algorithm == "planner" and not tune.planner_checkpoint:
        errors.append("tune.planner_checkpoint: algorithm=planner needs the folder train_planner.sh wrote")
    elif tune.algorithm == "planner" and not Path(tune.planner_checkpoint).is_dir():
        errors.append(f"tune.planner_checkpoint: no planner checkpoint at {tune.planner_checkpoint}")
    if tune.scheduler not in SCHEDULERS:
        errors.append(f"tune.scheduler: must be one of {', '.join(SCHEDULERS)}, got {tune.scheduler!r}")
    if not isinstance(tune.concurrency, int) or tune.concurrency < 1:
        errors.append(f"tune.concurrency: a positive integer, got {tune.concurrency!r}")
    if errors:
        raise SweepError(errors, source)
    overrides = base.get("overrides") or []
    return Sweep(
        name=str(data.get("name") or (Path(source).stem if source else "sweep")),
        base_config=base.get("config"),
        components={k: str(v) for k, v in components.items()},
        overrides=[str(o) for o in overrides],
        space=data["space"],
        mode=mode,
        count=count,
        seed=seed,
        suite=str(data.get("suite", "train")),
        tune=tune,
    )


def load_sweep(name: str, overrides: list[str] = ()) -> Sweep:
    """A sweep config file (path or name under configs/sweep/) with `key=value` overrides applied."""
    from omegaconf import OmegaConf

    from engine.strict_yaml import load_file

    path = resolve_file(name)
    try:
        load_file(path)  # a key written twice is refused, naming it and both lines
        cfg = OmegaConf.load(path)
        if overrides:
            cfg = OmegaConf.merge(cfg, OmegaConf.from_dotlist(list(overrides)))
        data = OmegaConf.to_container(cfg, resolve=True)
    except Exception as exc:  # YAML or dotlist syntax
        raise SweepError([str(exc).strip().splitlines()[0]], str(path)) from None
    return from_dict(data, str(path))


def check_base(sweep: Sweep) -> None:
    """Compose the base and validate one point, so a bad space fails before anything runs."""
    try:
        sweep.base()
        first = sweep.grid_points()[0] if sweep.mode == "grid" else sweep.random_points()[0]
        sweep.build(first)
    except MetaprogramError as exc:
        raise SweepError(exc.errors, sweep.name) from None


def output_paths(sweep: Sweep) -> Paths:
    try:
        return sweep.base()[1]
    except MetaprogramError:
        return default_paths()
