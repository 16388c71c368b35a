"""Baseline searchers with one small interface (suggest / observe), for replays and benchmarks.

`random`: uniform over the space (for an all-categorical space, without replacement, which is
the stronger baseline on a finite grid). `tpe`: Optuna's TPESampler driven through its
ask/tell interface.
"""

from __future__ import annotations

import random
from typing import Any, Protocol

from util.search_space import CATEGORICAL, grid, point_key, sample


class Searcher(Protocol):
    def suggest(self) -> dict[str, Any]: ...

    def observe(self, params: dict[str, Any], value: float | None) -> None: ...


class RandomSearcher:
    def __init__(self, space: dict[str, dict[str, Any]], seed: int):
        self.space = space
        self.rng = random.Random(seed)
        self.finite = all(spec["type"] in CATEGORICAL for spec in space.values())
        self.remaining = grid(space) if self.finite else None
        if self.remaining is not None:
            self.rng.shuffle(self.remaining)

    def suggest(self) -> dict[str, Any]:
        if self.remaining:
            return self.remaining.pop()
        return sample(self.space, self.rng)

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


class TPESearcher:
    """Optuna TPE over the same space; failed trials are told as failures."""

    def __init__(self, space: dict[str, dict[str, Any]], mode: str, seed: int):
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.study = optuna.create_study(
            direction="maximize" if mode == "max" else "minimize", sampler=optuna.samplers.TPESampler(seed=seed)
        )
        self.distributions = {key: _distribution(optuna, spec) for key, spec in space.items()}
        self.pending: dict[str, Any] = {}

    def suggest(self) -> dict[str, Any]:
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        self.pending[point_key(params)] = trial
        return params

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        trial = self.pending.pop(point_key(params))
        if value is None:
            self.study.tell(trial, state=self.optuna.trial.TrialState.FAIL)
        else:
            self.study.tell(trial, value)


def _distribution(optuna: Any, spec: dict[str, Any]) -> Any:
    kind = spec["type"]
    if kind in CATEGORICAL:
        return optuna.distributions.CategoricalDistribution(spec["values"])
    if kind == "randint":  # [low, high) as in Ray Tune
        return optuna.distributions.IntDistribution(int(spec["low"]), int(spec["high"]) - 1)
    return optuna.distributions.FloatDistribution(spec["low"], spec["high"], log=kind == "loguniform")


def make_searcher(algorithm: str, space: dict[str, dict[str, Any]], mode: str, seed: int) -> Searcher:
    if algorithm == "random":
        return RandomSearcher(space, seed)
    if algorithm == "tpe":
        return TPESearcher(space, mode, seed)
    raise ValueError(f"unknown baseline {algorithm!r}; known: random, tpe")
