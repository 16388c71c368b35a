"""A sweep: a base metaprogram, a search space over its dotted keys, and how to search it.

Read from a YAML file in configs/sweep/ (plus `key=value` overrides); composing
the base goes through engine.compose, every point is re-validated with
engine.metaprogram.validate. Imports neither torch nor ray.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from omegaconf import OmegaConf
from pydantic import (
    Field,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    ValidationError,
    field_validator,
    model_validator,
)

from database.store import Database, StudyRecord
from engine.compose import CONFIG_DIR, load
from engine.errors import did_you_mean, error_lines
from engine.metaprogram import Metaprogram, MetaprogramError, validate
from engine.paths import Paths
from engine.schema.base import COMPONENT_KINDS, Schema
from engine.strict_yaml import load_file
from util import search
from util.search import names
from util.search_space import SpaceError, apply_params, grid, space_errors
from util.sweep_objective import SweepObjective, objective_errors
from util.sweep_objective import from_dict as objective_from_dict
from util.task_signature import task_signature

SWEEP_DIR = CONFIG_DIR / "sweep"
# algorithm=planner: the planner's defaults (planner/propose.py reads them from here), measured in real Tune
# studies on the held-out suite (README, "The planner"): with the GP on the study's own trials, 64 candidates
# beat 16 at 25 trials.
PLANNER_CANDIDATES = 64  # samples scored per proposal by the acquisition
PLANNER_LOCAL_MODEL = "gp"  # a GP on the study's own trials beside the planner
# The first trials (the planner's prior; README, "The planner"): the first 2 from the portfolio of its corpus
# (planner/portfolio.py), then at most 16 candidates until the GP has its 5 trials (64 were too greedy there).
PLANNER_EARLY_CANDIDATES = 16  # samples scored until the study has 5 trials (None: as many as later)
PLANNER_PRIOR = 2  # a study's first trials taken from the portfolio of the planner's corpus
# Late in a study (once the GP has its 5 trials), points next to the 3 best trials so far are scored beside the
# samples, so the acquisition can refine the best point (planner/local_model.py: neighbours).
PLANNER_NEIGHBOURS = 32


class SweepError(ValueError):
    """Everything wrong with one sweep config, one line per problem."""

    def __init__(self, errors: list[str], source: str | None = None):
        self.errors, self.source = errors, source
        where = f" {source}" if source else ""
        super().__init__("\n".join([f"invalid sweep{where}: {len(errors)} error(s)", *[f"  - {e}" for e in errors]]))


class TuneSettings(Schema):
    """`tune:` of a sweep file (mode tune)."""

    algorithm: str = "random"  # a registered search algorithm (util/search/__init__.py)
    scheduler: Literal["fifo", "asha"] = "fifo"
    concurrency: PositiveInt = 2
    time_budget_s: float | None = Field(None, gt=0)
    retries: NonNegativeInt = 0  # per trial (FailureConfig.max_failures)
    grace_period: PositiveInt = 1  # ASHA: epochs every trial runs before it can be stopped
    reduction_factor: float = Field(2.0, gt=1)  # ASHA: keep the best 1/reduction_factor at each rung
    resume: bool = False
    planner_checkpoint: str | None = None  # algorithm=planner|portfolio: a folder train_planner.sh wrote; null: shipped
    planner_candidates: PositiveInt = (
        PLANNER_CANDIDATES  # algorithm=planner: samples scored per proposal by the acquisition
    )
    planner_early_candidates: PositiveInt | None = PLANNER_EARLY_CANDIDATES  # algorithm=planner: fewer until 5 trials
    planner_prior: NonNegativeInt = PLANNER_PRIOR  # algorithm=planner: first trials from the corpus's portfolio
    planner_neighbours: NonNegativeInt = PLANNER_NEIGHBOURS  # algorithm=planner: points next to the best, scored too
    planner_acquisition: Literal["ei", "ucb"] | None = "ei"  # algorithm=planner: or null for plain sampling
    planner_temperature: PositiveFloat = 1.0  # algorithm=planner: below 1 the candidates keep closer to its favourites
    planner_local_model: Literal["gp"] | None = (
        PLANNER_LOCAL_MODEL  # algorithm=planner: a GP on the study's trials, or null
    )
    resources: dict[str, PositiveFloat] = {}  # custom Ray resources each trial also needs
    max_artifact_mb: float | None = 16.0  # files of a trial on another node larger than this stay there

    @field_validator("algorithm")
    @classmethod
    def _algorithm(cls, value: str) -> str:
        return known_algorithm(value)

    @field_validator("planner_checkpoint")
    @classmethod
    def _checkpoint(cls, value: str | None, info: Any) -> str | None:
        if info.data.get("algorithm") not in ("planner", "portfolio") or not value:
            return value  # none named: the planner that ships with the repository (planner/shipped/)
        if not Path(value).is_dir():
            raise ValueError(f"no planner checkpoint at {value}")
        return value


def known_algorithm(name: str) -> str:
    """A registered search algorithm's name, else an error naming the nearest ones."""
    if name not in names():
        raise ValueError(f"unknown search algorithm {name!r}; {did_you_mean(name, names())}")
    return name


class BaseSpec(Schema):
    """`base:` the metaprogram every point starts from."""

    config: str | None = None  # a config name such as metaprogram/example
    components: dict[Literal["model", "dataset", "pipeline"], str] = {}  # kind -> option, e.g. model: classic/mlp
    overrides: list[str] = []

    @model_validator(mode="after")
    def _complete(self) -> BaseSpec:
        if not self.config and set(self.components) != set(COMPONENT_KINDS):
            raise ValueError("give a config name, or components for all of model, dataset and pipeline")
        return self


class SweepFile(Schema):
    """A sweep file (configs/sweep/<name>.yaml); `space` is checked by util.search_space."""

    name: str | None = None
    suite: str = "train"
    base: BaseSpec
    space: dict[str, Any]
    mode: Literal["grid", "random", "tune"] = "random"
    count: PositiveInt = 10
    seed: NonNegativeInt = 0
    tune: TuneSettings = TuneSettings()
    objective: dict[str, Any] | None = None  # the sweep's own objective, checked by util.sweep_objective


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
    objective: SweepObjective | None = None  # the sweep's own objective (util/sweep_objective.py)
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
        if self.objective is not None:
            spec["objective"] = self.objective.to_dict()
        identity = search.get(self.tune.algorithm).identity
        if identity is not None:  # e.g. another planner, or other planner settings, is another study
            spec[self.tune.algorithm] = identity(self)
        digest = hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:8]
        return f"{self.suite}.{self.name}-{digest}"

    @property
    def requested_trials(self) -> int:
        """Trials the study asks for: `count`, or for a grid every point `count` times (its algorithm says)."""
        return search.get(self.tune.algorithm).trials(self.space, self.count)

    @property
    def batchable(self) -> bool:
        """Whether packed trials (util/tune_batch.py) can run it: they report once, at their end, so no scheduler
        that stops trials early (ASHA) and no time budget."""
        return self.tune.scheduler == "fifo" and not self.tune.time_budget_s

    def metric_and_mode(self) -> tuple[str, str]:
        """What the sweep optimises: its own objective's score, or the base metaprogram's objective."""
        if self.objective is not None:
            return self.objective.metric, self.objective.mode
        return self.base()[0].objective()

    def record(self, requested: int, algorithm: str | None = None, scheduler: str | None = None) -> StudyRecord:
        """The sweep's study as the database records it (a launched grid/random sweep: its mode, no scheduler)."""
        mp, paths = self.base()
        metric, mode = self.metric_and_mode()
        return StudyRecord(
            id=self.study_id,
            task=task_signature(mp, paths),
            search_space=self.space,
            algorithm=algorithm or self.tune.algorithm,
            scheduler=scheduler or self.tune.scheduler,
            metric=metric,
            mode=mode,
            seed=self.seed,
            base=mp.canonical,
            requested=requested,
            suite=self.suite,
        )

    def open_study(self, db: Database) -> bool:
        """Begin the sweep's study in `db`, or find it again to resume it; False when it is complete already (it is
        then reused, not run again). Both runners open a study here (util/tune_sweep.py, util/tune_batch.py)."""
        existing = db.study(self.study_id)
        if existing and existing["status"] == "complete":
            return False
        db.begin_study(self.record(self.requested_trials))
        return True

    # ---- points
    def build(self, params: dict[str, Any]) -> Metaprogram:
        mp, _ = self.base()
        return build_point(mp.canonical, params)

    def grid_points(self) -> list[dict[str, Any]]:
        try:
            return grid(self.space)
        except SpaceError as exc:
            raise SweepError(exc.errors) from None

    def random_points(self) -> list[dict[str, Any]]:
        """`count` points of the one random search (util/search/random_search.py), as every runner draws them."""
        searcher = search.build("random", self.space, "max", self.seed)
        return [searcher.suggest() for _ in range(self.count)]

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


def build_point(base: dict[str, Any], params: dict[str, Any]) -> Metaprogram:
    """`base` (a canonical dict) with `params` applied, validated as trusted input (a hand-written sweep)."""
    return validate(apply_params(base, params), trusted=True, source=f"with {params}")


def resolve_file(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml") and path.exists():
        return path
    candidate = SWEEP_DIR / (name if name.endswith(".yaml") else f"{name}.yaml")
    if candidate.exists():
        return candidate

    options = sorted(str(p.relative_to(SWEEP_DIR).with_suffix("")) for p in SWEEP_DIR.rglob("*.yaml"))
    raise SweepError([f"no sweep config {name!r}; {did_you_mean(name, options)}"])


def from_dict(data: Any, source: str | None = None) -> Sweep:
    """Check a sweep config (every problem at once, with key paths) and build it; the base is composed lazily."""
    if not isinstance(data, dict):
        raise SweepError(["expected a mapping with base, space, mode, count, seed, tune"], source)
    errors = space_errors(data.get("space"))
    if data.get("objective") is not None:
        errors += objective_errors(data["objective"])
    try:
        spec = SweepFile.model_validate({"space": {}, **data})
    except ValidationError as exc:
        errors = [e for e in error_lines(exc, SweepFile) if not e.startswith("space")] + errors
        raise SweepError(errors, source) from None
    if errors:
        raise SweepError(errors, source)
    return Sweep(
        name=spec.name or (Path(source).stem if source else "sweep"),
        base_config=spec.base.config,
        components=dict(spec.base.components),
        overrides=list(spec.base.overrides),
        space=data["space"],
        mode=spec.mode,
        count=spec.count,
        seed=spec.seed,
        suite=spec.suite,
        tune=spec.tune,
        objective=objective_from_dict(spec.objective) if spec.objective is not None else None,
    )


def load_sweep(name: str, overrides: list[str] = ()) -> Sweep:
    """A sweep config file (path or name under configs/sweep/) with `key=value` overrides applied."""
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
