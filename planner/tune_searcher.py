"""The planner as a Ray Tune searcher (`search_alg: planner`), used like OptunaSearch.

    from planner.tune_searcher import PlannerSearch
    searcher = PlannerSearch(checkpoint="outputs/planner/ckpt", task=task, base=base_canonical)
    tune.Tuner(trainable, param_space={"pipeline": {"optim": {"lr": tune.loguniform(1e-4, 0.3)}}},
               tune_config=tune.TuneConfig(search_alg=searcher, metric="val/accuracy", mode="max", num_samples=20))

The Tune param space (nested or dotted keys; choice, uniform, loguniform, randint domains) is
converted to the study format; each suggestion has the param space's own shape. Completed trials
become the history the planner conditions on. Every suggestion is validated as an untrusted
metaprogram against `base` before it is handed to Tune; one that fails is counted and never
suggested.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher
from ray.tune.search.sample import Categorical, Domain, Float, Integer, LogUniform, Uniform

from engine.atomic import atomic_write
from planner.model import checkpoint_or_shipped
from planner.proposal_settings import DEFAULTS, ProposalSettings
from planner.serialize import check_serializable
from util.search.tune import objective_of


def space_from_tune(config: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], dict[str, tuple[str, ...]]]:
    """(space in the study format with dotted keys, the config path of each key)."""
    space: dict[str, dict[str, Any]] = {}
    paths: dict[str, tuple[str, ...]] = {}

    def walk(node: dict[str, Any], prefix: tuple[str, ...]) -> None:
        for key, value in node.items():
            path = (*prefix, *str(key).split("."))
            if isinstance(value, dict):
                walk(value, (*prefix, str(key)))
            elif isinstance(value, Domain):
                dotted = ".".join(path)
                space[dotted] = _spec(dotted, value)
                paths[dotted] = (*prefix, str(key))

    walk(config, ())
    check_serializable(space)
    return space, paths


def _spec(key: str, domain: Domain) -> dict[str, Any]:
    sampler = domain.get_sampler()
    if isinstance(domain, Categorical) and isinstance(sampler, Uniform):
        return {"type": "choice", "values": list(domain.categories)}
    if isinstance(domain, Float) and isinstance(sampler, LogUniform):
        return {"type": "loguniform", "low": domain.lower, "high": domain.upper}
    if isinstance(domain, Float) and isinstance(sampler, Uniform):
        return {"type": "uniform", "low": domain.lower, "high": domain.upper}
    if isinstance(domain, Integer) and isinstance(sampler, Uniform):
        return {"type": "randint", "low": domain.lower, "high": domain.upper}
    raise ValueError(
        f"{key}: the planner searches choice, uniform, loguniform and randint domains, "
        f"not {type(domain).__name__} with a {type(sampler).__name__} sampler"
    )


class PlannerSearch(Searcher):
    def __init__(
        self,
        checkpoint: str | Path,
        task: dict[str, Any],
        base: dict[str, Any] | None = None,
        space: dict[str, dict[str, Any]] | None = None,
        metric: str | None = None,
        mode: str | None = None,
        settings: ProposalSettings = DEFAULTS,
        seed: int = 0,
        history: list[dict[str, Any]] | None = None,
        planner: Any = None,
    ):
        super().__init__(metric=metric, mode=mode)
        if planner is None:
            from planner.propose import Planner

            planner = Planner(checkpoint, seed=seed)
        import torch

        self.planner = planner
        # the study's own random stream: studies sharing one planner (a batch) still differ by seed
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        self.task, self.base = task, base
        self.settings = settings
        self.space: dict[str, dict[str, Any]] | None = None
        self.paths: dict[str, tuple[str, ...]] = {}
        if space is not None:
            check_serializable(space)
            self.space, self.paths = space, {key: (key,) for key in space}
        self.trials: list[dict[str, Any]] = list(history or [])
        self.live: dict[str, dict[str, Any]] = {}

    @classmethod
    def for_metaprogram(cls, checkpoint: str | Path, base: Any, paths: Any, **kwargs: Any) -> PlannerSearch:
        """A searcher for a sweep over a base Metaprogram: its task is described from its data."""
        from util.task_signature import task_signature as describe

        task = describe(base, paths)
        metric, mode = task["objective"]["metric"], task["objective"]["mode"]
        return cls(checkpoint, task, base=base.canonical, **{"metric": metric, "mode": mode, **kwargs})

    @classmethod
    def for_sweep(cls, sweep: Any, **kwargs: Any) -> PlannerSearch:
        """A searcher for a Sweep (util/sweep_spec.py): its base, seed and `tune.planner_*` settings."""
        base, paths = sweep.base()
        tune = sweep.tune
        return cls.for_metaprogram(
            checkpoint_or_shipped(tune.planner_checkpoint),
            base,
            paths,
            settings=ProposalSettings.of_tune(tune),
            seed=sweep.seed,
            **kwargs,
        )

    def set_search_properties(self, metric: str | None, mode: str | None, config: dict[str, Any], **spec) -> bool:
        if self.space is not None and config:
            return False  # the space was given to the constructor
        if config:
            self.space, self.paths = space_from_tune(config)
        self._metric = metric or self._metric
        self._mode = mode or self._mode
        return True

    def study(self) -> dict[str, Any]:
        """The history so far, in the study export format."""
        task = {**self.task, "objective": {"metric": self._metric, "mode": self._mode}}
        return {
            "task": task,
            "search_space": self.space,
            "algorithm": "planner",
            "base": self.base,
            "trials": self.trials,
        }

    def suggest(self, trial_id: str) -> dict[str, Any] | None:
        if self.space is None or not self._metric or not self._mode:
            raise RuntimeError("PlannerSearch needs a search space, metric and mode (set them in TuneConfig)")
        params, _mp, _cand = self.planner.suggest(
            self.study(), self.settings, pending=list(self.live.values()), generator=self.generator
        )
        self.live[trial_id] = params
        config: dict[str, Any] = {}
        for key, value in params.items():
            node = config
            *parents, leaf = self.paths[key]
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
        return config

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        params = self.live.pop(trial_id, None)
        if params is None:
            return
        value = objective_of(result, self._metric, error)
        self.trials.append(
            {
                "order": len(self.trials),
                "params": params,
                "objective": value,
                "status": "failed" if value is None else "completed",
                "run_id": str((result or {}).get("run_id", trial_id)),
            }
        )

    @property
    def rejection_share(self) -> float:
        return self.planner.stats.rejection_share

    def get_state(self) -> dict[str, Any]:
        return {"trials": self.trials, "live": self.live, "space": self.space, "paths": self.paths}

    def set_state(self, state: dict[str, Any]) -> None:
        self.trials, self.live, self.space = state["trials"], state["live"], state["space"]
        self.paths = {k: tuple(v) for k, v in state["paths"].items()}

    def save(self, checkpoint_path: str) -> None:
        atomic_write(Path(checkpoint_path), json.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(json.loads(Path(checkpoint_path).read_text()))
