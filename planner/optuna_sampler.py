"""The planner as an Optuna sampler: `optuna.create_study(sampler=PlannerSampler(seed=0))` for any objective.

    import optuna
    from planner.optuna_sampler import PlannerSampler

    def objective(trial):
        lr = trial.suggest_float("lr", 1e-4, 0.3, log=True)
        layers = trial.suggest_int("layers", 1, 4)
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        return train_and_score(lr, layers, act)

    study = optuna.create_study(direction="maximize", sampler=PlannerSampler(seed=0))
    study.optimize(objective, n_trials=25)

Ray Tune takes it through `OptunaSearch(sampler=PlannerSampler(seed=0))`.

Relative sampling: once a trial has completed (or been pruned), the parameters every such trial set
(Optuna's intersection search space) are proposed together: the study's trials become the planner's
history (completed: their value; pruned: their last reported value, a pessimistic one; failed: a
failure) and running trials are pending points. Before that, and for a parameter outside that space,
the planner proposes the parameter alone from the trials that set it. Float (log or step), int (log or
step) and categorical distributions are handled; a categorical of more than 64 choices and
multi-objective studies fall back to Optuna's RandomSampler, with a warning.

The shipped planner (planner/shipped/) is used unless `checkpoint` names another; it is loaded on the
first proposal, and left out when the sampler is pickled (Ray Tune checkpoints its searcher).
`task`: as planner.ask_tell's (without one the planner assumes an unknown task and says so).
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict
from typing import Any

import optuna
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import FrozenTrial, TrialState

from planner.ask_tell import PlannerStudy, load_planner, log, say_assumed, task_record
from planner.proposal_settings import ProposalSettings
from planner.vocab import MAX_CHOICES


class PlannerSampler(BaseSampler):
    def __init__(
        self,
        *,
        seed: int | None = None,
        checkpoint: Any = None,
        task: dict[str, Any] | None = None,
        **settings: Any,
    ):
        # no seed: a random one, as Optuna's samplers do (a seed makes the study repeat its trials)
        self._seed = seed if seed is not None else random.SystemRandom().randrange(2**31 - 1)
        self._checkpoint, self._task = checkpoint, task
        self._settings = ProposalSettings(**settings)  # candidates, prior, ...: planner/proposal_settings.py
        self._random = RandomSampler(seed=seed)
        self._planner: Any = None
        self._generator: Any = None
        self._said = False

    # -- what pickling keeps: the settings and the random state, not the loaded model ---------------

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_planner"] = None
        state["_generator"] = None if self._generator is None else self._generator.get_state()
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if state["_generator"] is not None:
            import torch

            saved, self._generator = state["_generator"], torch.Generator(device="cpu")
            self._generator.set_state(saved)

    def reseed_rng(self) -> None:
        self._random.reseed_rng()
        self._generator = None  # a fresh one, seeded from the random sampler's new state
        self._seed = int(self._random._rng.rng.randint(2**31 - 1))

    # -- Optuna's sampler interface --------------------------------------------------------------------

    def infer_relative_search_space(self, study: optuna.Study, trial: FrozenTrial) -> dict[str, BaseDistribution]:
        if study._is_multi_objective():
            return {}
        trials = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.PRUNED))
        space = optuna.search_space.intersection_search_space(trials, include_pruned=True)
        return {name: d for name, d in space.items() if supported(d) and not d.single()}

    def sample_relative(
        self, study: optuna.Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        if not search_space:
            return {}
        return self._propose(study, trial, search_space)

    def sample_independent(
        self, study: optuna.Study, trial: FrozenTrial, param_name: str, param_distribution: BaseDistribution
    ) -> Any:
        if study._is_multi_objective() or not supported(param_distribution):
            what = "multi-objective studies" if study._is_multi_objective() else f"{param_distribution}"
            log.warning("PlannerSampler: %s is drawn at random (the planner does not handle %s)", param_name, what)
            return self._random.sample_independent(study, trial, param_name, param_distribution)
        if param_distribution.single():  # nothing to choose
            internal = 0 if isinstance(param_distribution, CategoricalDistribution) else param_distribution.low
            return param_distribution.to_external_repr(internal)
        return self._propose(study, trial, {param_name: param_distribution})[param_name]

    # -- the planner's proposal ------------------------------------------------------------------------

    def _propose(self, study: optuna.Study, trial: FrozenTrial, distributions: dict[str, BaseDistribution]):
        import torch

        if self._planner is None:
            self._planner = load_planner(self._checkpoint, self._seed)
        if self._generator is None:
            self._generator = torch.Generator(device="cpu").manual_seed(self._seed)
        codec = Codec(distributions)
        mode = "max" if study.direction == optuna.study.StudyDirection.MAXIMIZE else "min"
        if not self._said:  # once per sampler: what it assumed about the task
            say_assumed(*task_record(self._task, "objective", mode))
            self._said = True
        planned = PlannerStudy(
            codec.space,
            mode,
            task=self._task,
            planner=self._planner,
            generator=self._generator,
            quiet=True,
            **asdict(self._settings),
        )
        for past in study.get_trials(deepcopy=False):
            if past.number == trial.number or not codec.holds(past.params):
                continue
            params = codec.encode(past.params)
            if past.state == TrialState.RUNNING:
                planned.pending.append(params)
            elif past.state == TrialState.COMPLETE:
                planned.tell(params, past.value)
            elif past.state == TrialState.PRUNED:  # its last report: what it reached before it was stopped
                steps = past.intermediate_values
                planned.tell(params, steps[max(steps)] if steps else None)
            elif past.state == TrialState.FAIL:
                planned.tell(params, None)
        return codec.decode(planned.ask())


def supported(distribution: BaseDistribution) -> bool:
    if isinstance(distribution, CategoricalDistribution):
        return len(distribution.choices) <= MAX_CHOICES
    return isinstance(distribution, FloatDistribution | IntDistribution)


class Codec:
    """Optuna distributions <-> the planner's space (util/search_space.py format), and values both ways.

    Names and choices become single words (whitespace -> `_`; a choice that cannot be a word is `choice<i>`);
    a stepped float or int is searched over its grid's index; an int on a log scale as a log range, rounded.
    """

    def __init__(self, distributions: dict[str, BaseDistribution]):
        self.distributions = distributions
        self.keys: dict[str, str] = {}
        for name in distributions:
            key = re.sub(r"\s+", "_", name) or "_"
            while key in self.keys.values():
                key += "_"
            self.keys[name] = key
        self.space = {self.keys[name]: self._spec(d) for name, d in distributions.items()}

    @staticmethod
    def _spec(d: BaseDistribution) -> dict[str, Any]:
        if isinstance(d, CategoricalDistribution):
            words = [_word(c, i) for i, c in enumerate(d.choices)]
            if len({repr(w) for w in words}) < len(words):  # two choices spelt alike: their indices instead
                words = [f"choice{i}" for i in range(len(words))]
            return {"type": "choice", "values": words}
        if _stepped(d):  # the grid's index
            return {"type": "randint", "low": 0, "high": _steps(d) + 1}
        if d.log:
            return {"type": "loguniform", "low": float(d.low), "high": float(d.high)}
        if isinstance(d, IntDistribution):
            return {"type": "randint", "low": int(d.low), "high": int(d.high) + 1}
        return {"type": "uniform", "low": float(d.low), "high": float(d.high)}

    def holds(self, params: dict[str, Any]) -> bool:
        """Whether a past trial set every parameter, each inside its distribution (a history point)."""
        return all(
            name in params and d._contains(d.to_internal_repr(params[name])) for name, d in self.distributions.items()
        )

    def encode(self, params: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, d in self.distributions.items():
            value, spec = params[name], self.space[self.keys[name]]
            if isinstance(d, CategoricalDistribution):
                value = spec["values"][d.to_internal_repr(value)]
            elif _stepped(d):
                value = min(max(int(round((value - d.low) / d.step)), 0), _steps(d))
            elif isinstance(d, IntDistribution) and not d.log:
                value = int(value)
            else:
                value = min(max(float(value), spec["low"]), spec["high"])
            out[self.keys[name]] = value
        return out

    def decode(self, point: dict[str, Any]) -> dict[str, Any]:
        out = {}
        for name, d in self.distributions.items():
            value, spec = point[self.keys[name]], self.space[self.keys[name]]
            if isinstance(d, CategoricalDistribution):
                out[name] = d.choices[_index(spec["values"], value)]
            elif _stepped(d):
                out[name] = _cast(d, min(d.low + int(value) * d.step, d.high))
            elif isinstance(d, IntDistribution):
                out[name] = min(max(int(round(value)), d.low), d.high)
            else:
                out[name] = min(max(float(value), d.low), d.high)
        return out


def _index(values: list[Any], value: Any) -> int:
    """The position of `value` among the choices, type and all (True is not 1 here)."""
    return next((i for i, v in enumerate(values) if type(v) is type(value) and v == value), values.index(value))


def _stepped(d: BaseDistribution) -> bool:
    """A float with a step, or an int with a step over 1: searched as the index of its grid."""
    if not isinstance(d, FloatDistribution | IntDistribution) or d.step is None or d.log:
        return False
    return isinstance(d, FloatDistribution) or d.step != 1


def _steps(d: FloatDistribution | IntDistribution) -> int:
    return int(math.floor((d.high - d.low) / d.step + 1e-9))


def _cast(d: BaseDistribution, value: float) -> Any:
    return int(value) if isinstance(d, IntDistribution) else float(value)


def _word(choice: Any, index: int) -> Any:
    """A choice as the planner writes it: itself when it is one word or a number, else a placeholder."""
    if choice is None or isinstance(choice, bool | int | float):
        return choice
    text = re.sub(r"\s+", "_", str(choice))
    return text if text and isinstance(choice, str) else f"choice{index}"
