"""The search subsystem: one `Searcher` interface over util.search_space, one registry of algorithms.

A searcher proposes points of a space (dotted keys -> values, the format of util/search_space.py)
and is told how each one went:

    from util.search import build
    searcher = build("tpe", space, mode="max", seed=0)
    params = searcher.suggest()          # None: nothing left to propose (a finished grid)
    searcher.observe(params, 0.93)       # None instead of a value: the trial failed

Every algorithm is one module that registers itself with `@algorithm("name")`:

- util/search/random_search.py  random (the one random search: sweeps, batched suites, baselines)
- util/search/grid_search.py    grid (every point of the categorical part, numeric keys drawn)
- util/search/optuna_samplers.py tpe, tpe_multivariate, gp (Optuna's samplers through ask/tell)
- planner/search.py             planner (the trained planner; it lives with the planner, which
                             imports this package, never the other way round)
- planner/portfolio.py          portfolio (the planner's corpus's best configurations, tried in order)

The same searcher serves every runner: one Tune trial per engine run (util/tune_sweep.py, through
util/search/tune.py), packed Tune trials (util/tune_batch.py, a throughput setting of a suite), and
table look-ups (planner/dev_data.py, benchmarks/planner.py). A plugin registers its own algorithm
the same way, from a module imported before the sweep runs. Imports neither torch nor ray.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from engine.errors import did_you_mean

# Built-in algorithms and the module that registers each: imported when one is first asked for, so
# naming, validating and listing import no sampler library. planner.search registers `planner` with
# this package (the planner sits above the search subsystem and imports it, as a plugin would).
BUILTIN = {
    "random": "util.search.random_search",
    "grid": "util.search.grid_search",
    "tpe": "util.search.optuna_samplers",
    "tpe_multivariate": "util.search.optuna_samplers",
    "gp": "util.search.optuna_samplers",
    "planner": "planner.search",
    "portfolio": "planner.portfolio",
}


class Searcher(Protocol):
    """Proposes points of one study's space, one at a time, and learns from what came back."""

    def suggest(self) -> dict[str, Any] | None:
        """The next point (dotted key -> value), or None when the algorithm has nothing left to propose."""

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        """The objective of a point it suggested (None: the trial failed or reported no objective)."""


@dataclass(frozen=True)
class Study:
    """What an algorithm may read about the study it searches (settings are the sweep's `tune:`)."""

    space: dict[str, dict[str, Any]]
    mode: str  # "min" | "max"
    seed: int = 0
    count: int = 1  # trials asked for (grid: repeats of the grid)
    metric: str = "objective"
    sweep: Any = None  # the util.sweep_spec.Sweep, when there is one (the planner reads its base and settings)
    shared: dict[Any, Any] | None = None  # what one batch's studies share (the planner: one loaded model)


@dataclass(frozen=True)
class Algorithm:
    name: str
    build: Callable[[Study], Searcher]
    # trials a study of `count` asks for (grid: every point of the grid, `count` times)
    trials: Callable[[dict[str, dict[str, Any]], int], int] = lambda space, count: count
    # what else makes two studies of this algorithm different studies (the planner: its checkpoint, settings)
    identity: Callable[[Any], dict[str, Any]] | None = None


ALGORITHMS: dict[str, Algorithm] = {}


class AlgorithmClash(ValueError):
    """A second algorithm registered under a name already taken."""


def algorithm(
    name: str,
    *,
    trials: Callable[[dict[str, dict[str, Any]], int], int] | None = None,
    identity: Callable[[Any], dict[str, Any]] | None = None,
) -> Callable[[Callable[[Study], Searcher]], Callable[[Study], Searcher]]:
    """Register `build(study) -> Searcher` under `name` (the name a sweep's `tune.algorithm` uses).

    A name registered already, or a built-in one from another module, is an error naming both. An algorithm
    from outside the built-in modules (a plugin's) has its module's source digest in the study id, so editing
    its code starts another study rather than resuming one its old code ran."""

    def register(build: Callable[[Study], Searcher]) -> Callable[[Study], Searcher]:
        theirs = ALGORITHMS[name].build if name in ALGORITHMS else None
        where = f"{build.__module__}.{build.__qualname__}"
        if theirs is not None or BUILTIN.get(name, build.__module__) != build.__module__:
            other = f"{theirs.__module__}.{theirs.__qualname__}" if theirs else BUILTIN[name]
            raise AlgorithmClash(
                f"search algorithm {name!r} from {where} clashes with the one registered from {other}: "
                "give the new algorithm another name"
            )
        extra = {"trials": trials} if trials else {}
        own = identity
        if build.__module__ not in BUILTIN.values():
            own = _with_code(build, identity)
        ALGORITHMS[name] = Algorithm(name, build, identity=own, **extra)
        return build

    return register


def _with_code(build: Callable, identity: Callable[[Any], dict[str, Any]] | None) -> Callable[[Any], dict[str, Any]]:
    """A plugin algorithm's identity: its own (if any) and its module's source digest."""
    # engine.plugins digests plugin code the same way for components; imported here, when a plugin registers
    from engine.plugins import source_digest

    code = source_digest(build)
    return lambda sweep: {**(identity(sweep) if identity else {}), "code": code}


def _load_plugins() -> None:
    # a plugin registers its algorithm when it is imported: engine.plugins imports them once (trusted config only)
    from engine.plugins import load_plugins

    load_plugins()


def names() -> list[str]:
    """Every algorithm a sweep may name: the built-in ones and the plugins'."""
    _load_plugins()
    return sorted({*BUILTIN, *ALGORITHMS})


class UnknownAlgorithm(ValueError):
    pass


def get(name: str) -> Algorithm:
    _load_plugins()
    if name not in ALGORITHMS and name in BUILTIN:
        importlib.import_module(BUILTIN[name])
    if name not in ALGORITHMS:
        raise UnknownAlgorithm(f"unknown search algorithm {name!r}; {did_you_mean(name, names())}")
    return ALGORITHMS[name]


def build(name: str, space: dict[str, dict[str, Any]], mode: str, seed: int = 0, **study: Any) -> Searcher:
    """A fresh searcher of algorithm `name` for one study (`study`: the other fields of `Study`)."""
    return get(name).build(Study(space=space, mode=mode, seed=seed, **study))
