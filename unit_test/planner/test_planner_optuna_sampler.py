"""PlannerSampler in real Optuna studies (every kind of parameter, pruned and failed trials) and in Ray Tune."""

from __future__ import annotations

import logging
import math
import pickle
import warnings

import optuna
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from optuna.distributions import BaseDistribution

from planner.optuna_sampler import Codec, PlannerSampler

optuna.logging.set_verbosity(optuna.logging.WARNING)


def objective(trial: optuna.Trial) -> float:
    """Every kind of distribution; trial 3 is pruned after a report, trial 5 fails."""
    lr = trial.suggest_float("lr", 1e-4, 0.3, log=True)
    dropout = trial.suggest_float("dropout", 0.0, 0.5)
    momentum = trial.suggest_float("momentum", 0.0, 0.9, step=0.1)
    layers = trial.suggest_int("layers", 1, 4)
    width = trial.suggest_int("width", 8, 512, log=True)
    batch = trial.suggest_int("batch", 16, 128, step=16)
    act = trial.suggest_categorical("act", ["relu", "tanh", "leaky relu"])  # a choice with a space
    flag = trial.suggest_categorical("flag", [True, False, None])
    if trial.number == 3:
        trial.report(0.1, step=1)
        raise optuna.TrialPruned()
    if trial.number == 5:
        raise ValueError("this trial fails")
    score = -abs(math.log10(lr) + 2) - dropout + momentum / 10 + layers / 10 + math.log2(width) / 100 + batch / 1000
    return score + (act == "tanh") * 0.1 + (flag is True) * 0.05


def run_study(sampler: PlannerSampler, n: int = 9) -> optuna.Study:
    study = optuna.create_study(direction="maximize", sampler=sampler)
    study.optimize(objective, n_trials=n, catch=(ValueError,))
    return study


def test_an_optuna_study_with_every_kind_of_parameter_pruned_and_failed_trials(untrained_checkpoint):
    study = run_study(PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=4))
    states = [t.state for t in study.trials]
    assert len(states) == 9
    assert states[3] == optuna.trial.TrialState.PRUNED and states[5] == optuna.trial.TrialState.FAIL
    assert states.count(optuna.trial.TrialState.COMPLETE) == 7
    for trial in study.trials:
        p = trial.params
        assert 1e-4 <= p["lr"] <= 0.3 and 0.0 <= p["dropout"] <= 0.5
        assert 0.0 <= p["momentum"] <= 0.9 and abs(p["momentum"] * 10 - round(p["momentum"] * 10)) < 1e-9
        assert isinstance(p["layers"], int) and 1 <= p["layers"] <= 4
        assert isinstance(p["width"], int) and 8 <= p["width"] <= 512
        assert p["batch"] in range(16, 129, 16)
        assert p["act"] in ("relu", "tanh", "leaky relu") and p["flag"] in (True, False, None)
    assert study.best_value is not None


def test_the_same_seed_gives_the_same_trials_and_another_seed_others(untrained_checkpoint):
    first = [t.params for t in run_study(PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=4)).trials]
    again = [t.params for t in run_study(PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=4)).trials]
    other = [t.params for t in run_study(PlannerSampler(seed=1, checkpoint=untrained_checkpoint, candidates=4)).trials]
    assert first == again
    assert first != other


def test_a_pickled_sampler_goes_on_without_its_model(untrained_checkpoint):
    """Ray Tune checkpoints its searcher by pickling: the loaded planner stays out, the random state goes along."""
    sampler = PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=4)
    study = run_study(sampler, n=2)
    copy = pickle.loads(pickle.dumps(sampler))
    assert copy._planner is None and sampler._planner is not None
    study.sampler = copy
    study.optimize(objective, n_trials=2)
    assert len(study.trials) == 4 and copy._planner is not None


def test_the_shipped_planner_is_used_without_a_checkpoint_and_says_what_it_assumed(caplog):
    from planner.model import SHIPPED, fingerprint

    assert (SHIPPED / "model" / "model.safetensors").is_file() and (SHIPPED / "portfolio.json").is_file()
    assert fingerprint(None) == fingerprint(SHIPPED)
    with caplog.at_level(logging.WARNING, logger="planner"):
        study = run_study(PlannerSampler(seed=0), n=6)
    assert "no task description" in caplog.text and "unknown" in caplog.text
    assert sum(t.state == optuna.trial.TrialState.COMPLETE for t in study.trials) == 4  # 3 pruned, 5 failed


D = optuna.distributions
CHOICE = st.one_of(st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.floats(-1e6, 1e6), st.text(max_size=6))


@st.composite
def distributions(draw) -> BaseDistribution:
    """Any distribution Optuna takes: float, int, log, stepped, categorical of any choices (over 64: random)."""
    kind = draw(st.sampled_from(["float", "log float", "stepped float", "int", "log int", "stepped int", "choice"]))
    if kind == "choice":
        return D.CategoricalDistribution(draw(st.lists(CHOICE, min_size=1, max_size=70, unique_by=repr)))
    low = draw(st.floats(-1e4, 1e4)) if "float" in kind else draw(st.integers(-1000, 1000))
    width = draw(st.floats(0, 1e4)) if "float" in kind else draw(st.integers(0, 10**5))
    if kind == "log float":
        return D.FloatDistribution(abs(low) + 1e-6, (abs(low) + 1e-6) * (1 + width), log=True)
    if kind == "log int":
        return D.IntDistribution(abs(low) + 1, abs(low) + 1 + width, log=True)
    if kind.startswith("stepped"):
        step = draw(st.floats(1e-3, 100)) if "float" in kind else draw(st.integers(1, 50))
        cls = D.FloatDistribution if "float" in kind else D.IntDistribution
        with warnings.catch_warnings():  # a range not divisible by the step: Optuna trims it, with a warning
            warnings.simplefilter("ignore")
            return cls(low, low + width, step=step)
    return (D.FloatDistribution if kind == "float" else D.IntDistribution)(low, low + width)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    space=st.dictionaries(st.text(min_size=1, max_size=10), distributions(), min_size=1, max_size=4),
    fates=st.lists(st.sampled_from(["value", "nan", "inf", "raise", "pruned", "pruned early", "branch"]), min_size=6),
    direction=st.sampled_from(["minimize", "maximize"]),
)
def test_any_space_and_any_fate_of_a_trial(untrained_checkpoint, space, fates, direction):
    """Whatever the parameters (names, ranges, choices) and however trials end, every proposal is inside its
    distribution and the study goes on: pruned with or without a report, failed, NaN, a parameter set only
    on one branch."""

    def objective(trial: optuna.Trial) -> float:
        fate = fates[trial.number % len(fates)]
        values = []
        for i, (name, distribution) in enumerate(space.items()):
            if fate == "branch" and i == 0:
                continue  # define-by-run: this trial never asks for the first parameter
            value = trial._suggest(name, distribution)
            assert distribution._contains(distribution.to_internal_repr(value))
            values.append(value)
        if fate == "raise":
            raise ValueError("this trial fails")
        if fate in ("pruned", "pruned early"):
            if fate == "pruned":
                trial.report(0.5, step=1)
            raise optuna.TrialPruned()
        return {"nan": math.nan, "inf": math.inf}.get(fate, sum(len(repr(v)) for v in values) / 10)

    study = optuna.create_study(
        direction=direction, sampler=PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=2)
    )
    with warnings.catch_warnings():  # Optuna's own warnings on NaN and inf values, the planner's on random draws
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=6, catch=(ValueError,))
    assert len(study.trials) == 6


def test_the_codec_turns_optuna_distributions_into_the_planner_space_and_back():
    D = optuna.distributions
    codec = Codec(
        {
            "learning rate": D.FloatDistribution(1e-4, 1.0, log=True),
            "units": D.IntDistribution(2, 64, step=2),
            "kind": D.CategoricalDistribution(["a b", "a_b", 3]),  # two choices that would be spelt alike
        }
    )
    assert codec.space == {
        "learning_rate": {"type": "loguniform", "low": 1e-4, "high": 1.0},
        "units": {"type": "randint", "low": 0, "high": 32},
        "kind": {"type": "choice", "values": ["choice0", "choice1", "choice2"]},
    }
    params = {"learning rate": 0.01, "units": 10, "kind": 3}
    assert codec.holds(params) and not codec.holds({**params, "units": 11})
    encoded = codec.encode(params)
    assert encoded == {"learning_rate": 0.01, "units": 4, "kind": "choice2"}
    assert codec.decode(encoded) == params


@pytest.mark.integration
def test_ray_tune_searches_with_the_planner_through_optuna_search(ray_local, untrained_checkpoint, tmp_path):
    from ray import tune
    from ray.tune.search.optuna import OptunaSearch

    def trainable(config):
        return {"score": -((math.log10(config["lr"]) + 2) ** 2) + config["layers"] / 10}

    search = OptunaSearch(sampler=PlannerSampler(seed=0, checkpoint=untrained_checkpoint, candidates=4))
    tuner = tune.Tuner(
        trainable,
        param_space={"lr": tune.loguniform(1e-4, 0.3), "layers": tune.randint(1, 5), "act": tune.choice(["a", "b"])},
        tune_config=tune.TuneConfig(search_alg=search, metric="score", mode="max", num_samples=6),
        run_config=tune.RunConfig(storage_path=str(tmp_path), verbose=0),
    )
    results = tuner.fit()
    assert len(results) == 6 and not results.errors
    for result in results:
        assert 1e-4 <= result.config["lr"] <= 0.3 and result.config["layers"] in range(1, 5)
    assert results.get_best_result().metrics["score"] is not None
