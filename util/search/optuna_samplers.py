"""tpe, tpe_multivariate, gp: Optuna's samplers over our search space, through ask/tell.

Each is one `@algorithm` below: a sampler, wrapped by `OptunaSearcher`. Adding another Optuna
sampler is one more registration of a few lines. Failed trials are told as failures, so the
sampler does not learn from them. The points of a space become Optuna distributions here, once:
choice/grid -> categorical, uniform/loguniform -> float (log), randint [low, high) -> int.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from util.search import Study, algorithm
from util.search_space import CATEGORICAL, point_key


def distributions(space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    import optuna  # a sampler library: loaded when an Optuna algorithm is built, not when a sweep is named

    out = {}
    for key, spec in space.items():
        kind = spec["type"]
        if kind in CATEGORICAL:
            out[key] = optuna.distributions.CategoricalDistribution(spec["values"])
        elif kind == "randint":  # [low, high) as in Ray Tune
            out[key] = optuna.distributions.IntDistribution(int(spec["low"]), int(spec["high"]) - 1)
        else:
            out[key] = optuna.distributions.FloatDistribution(spec["low"], spec["high"], log=kind == "loguniform")
    return out


class OptunaSearcher:
    """Any Optuna sampler over one study's space (an in-memory Optuna study, asked and told)."""

    def __init__(self, space: dict[str, dict[str, Any]], mode: str, sampler: Any):
        import optuna  # optuna: loaded when an Optuna algorithm is built, not when a sweep is named

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.fail = optuna.trial.TrialState.FAIL
        self.study = optuna.create_study(direction="maximize" if mode == "max" else "minimize", sampler=sampler)
        self.distributions = distributions(space)
        self.pending: dict[str, list[Any]] = defaultdict(list)  # point -> its Optuna trials in flight

    def suggest(self) -> dict[str, Any]:
        trial = self.study.ask(self.distributions)
        params = dict(trial.params)
        self.pending[point_key(params)].append(trial)
        return params

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        waiting = self.pending.get(point_key(params))
        if not waiting:
            return  # not ours (a trial restored from before a restart)
        trial = waiting.pop(0)
        if value is None:
            self.study.tell(trial, state=self.fail)
        else:
            self.study.tell(trial, value)


@algorithm("tpe")
def tpe(study: Study) -> OptunaSearcher:
    import optuna  # optuna: loaded when an Optuna algorithm is built, not when a sweep is named

    return OptunaSearcher(study.space, study.mode, optuna.samplers.TPESampler(seed=study.seed))


@algorithm("tpe_multivariate")
def tpe_multivariate(study: Study) -> OptunaSearcher:
    """TPE that models the keys jointly (Optuna's multivariate TPE), not one at a time."""
    import optuna  # optuna: loaded when an Optuna algorithm is built, not when a sweep is named

    sampler = optuna.samplers.TPESampler(seed=study.seed, multivariate=True)
    return OptunaSearcher(study.space, study.mode, sampler)


@algorithm("gp")
def gp(study: Study) -> OptunaSearcher:
    """Bayesian optimisation with a Gaussian process (Optuna's GPSampler; needs torch and scipy)."""
    import optuna  # optuna: loaded when an Optuna algorithm is built, not when a sweep is named

    return OptunaSearcher(study.space, study.mode, optuna.samplers.GPSampler(seed=study.seed))
