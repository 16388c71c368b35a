"""The planner as a Ray Tune searcher: space conversion, the suggest / complete cycle, and a real Tune run."""

from __future__ import annotations

import pytest
from ray import tune

from planner.proposal_settings import ProposalSettings
from planner.propose import Planner
from planner.tune_searcher import PlannerSearch, space_from_tune

pytestmark = pytest.mark.integration  # Ray

TASK = {
    "pipeline": "execution",
    "model": "mlp",
    "dataset": "iris",
    "dataset_facts": {"task": "classification", "n_samples": 150, "n_features": 4, "n_classes": 3},
}
PARAM_SPACE = {
    "pipeline": {"optim": {"lr": tune.loguniform(1e-4, 0.3), "name": tune.choice(["sgd", "adam"])}},
    "model.hidden": tune.choice([16, 64]),
    "model.layers": tune.randint(1, 4),
    "model.dropout": tune.uniform(0.0, 0.5),
}


def test_tune_domains_become_the_study_space():
    space, paths = space_from_tune(PARAM_SPACE)
    assert space == {
        "pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 0.3},
        "pipeline.optim.name": {"type": "choice", "values": ["sgd", "adam"]},
        "model.hidden": {"type": "choice", "values": [16, 64]},
        "model.layers": {"type": "randint", "low": 1, "high": 4},
        "model.dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
    }
    assert paths["pipeline.optim.lr"] == ("pipeline", "optim", "lr") and paths["model.hidden"] == ("model.hidden",)
    with pytest.raises(ValueError, match="qrandn|Normal|not Float"):
        space_from_tune({"x": tune.randn(0, 1)})


def test_suggest_complete_cycle(untrained_checkpoint, execution_base):
    searcher = PlannerSearch(
        untrained_checkpoint,
        TASK,
        base=execution_base,
        settings=ProposalSettings(candidates=4),
        planner=Planner(untrained_checkpoint),
    )
    assert searcher.set_search_properties("val/accuracy", "max", PARAM_SPACE)
    for i in range(4):
        config = searcher.suggest(f"t{i}")
        assert set(config) == {"pipeline", "model.hidden", "model.layers", "model.dropout"}
        assert config["pipeline"]["optim"]["name"] in ("sgd", "adam") and 1 <= config["model.layers"] <= 3
        searcher.on_trial_complete(f"t{i}", {"val/accuracy": 0.5 + i / 10} if i != 2 else None, error=i == 2)
    assert [t["status"] for t in searcher.trials] == ["completed", "completed", "failed", "completed"]
    assert searcher.trials[3]["objective"] == pytest.approx(0.8)
    assert searcher.study()["trials"] is searcher.trials and searcher.rejection_share == 0.0
    state = searcher.get_state()
    fresh = PlannerSearch(untrained_checkpoint, TASK, base=execution_base, planner=searcher.planner)
    fresh.set_state(state)
    assert fresh.trials == searcher.trials and fresh.space == searcher.space


def test_studies_sharing_one_planner_follow_their_own_seeds(untrained_checkpoint, execution_base):
    """A batch shares one planner among its studies: each study's proposals still come from its own seed."""
    shared = Planner(untrained_checkpoint, seed=0)

    def proposals(seed: int) -> list:
        searcher = PlannerSearch(
            untrained_checkpoint,
            TASK,
            base=execution_base,
            settings=ProposalSettings(candidates=4),
            seed=seed,
            planner=shared,
        )
        searcher.set_search_properties("val/accuracy", "max", PARAM_SPACE)
        return [searcher.suggest(f"t{i}") for i in range(3)]

    first, other, again = proposals(1), proposals(2), proposals(1)
    assert first == again  # the same seed proposes the same, whatever else used the planner in between
    assert first != other


@pytest.mark.slow
def test_a_real_tune_run_uses_the_planner(ray_local, untrained_checkpoint, execution_base, tmp_path):
    from engine.metaprogram import validate
    from engine.paths import Paths
    from engine.runner import execute
    from util.search_space import apply_params

    paths = Paths(
        data_root=str(tmp_path), model_root=str(tmp_path), cache_root=str(tmp_path), output_root=str(tmp_path)
    )

    def trainable(config):
        params = {"pipeline.optim.lr": config["pipeline"]["optim"]["lr"], "model.hidden": config["model.hidden"]}
        mp = validate(apply_params(execution_base, params), trusted=False)
        return {"val/accuracy": execute(mp, paths)["objective"]["value"], "run_id": mp.id}

    space = {"pipeline": {"optim": {"lr": tune.loguniform(1e-3, 0.1)}}, "model.hidden": tune.choice([16, 64])}
    searcher = PlannerSearch(untrained_checkpoint, TASK, base=execution_base, settings=ProposalSettings(candidates=4))
    results = tune.Tuner(
        trainable,
        param_space=space,
        tune_config=tune.TuneConfig(search_alg=searcher, metric="val/accuracy", mode="max", num_samples=3),
        run_config=tune.RunConfig(storage_path=str(tmp_path / "tune"), verbose=0),
    ).fit()
    assert len(results) == 3 and not results.errors
    assert len(searcher.trials) == 3 and all(t["status"] == "completed" for t in searcher.trials)


def test_searcher_for_a_base_metaprogram_describes_its_task(untrained_checkpoint, tmp_path):
    from engine.metaprogram import validate
    from engine.paths import Paths

    mp = validate(
        {"model": {"name": "mlp"}, "dataset": {"name": "wine"}, "pipeline": {"name": "execution"}}, trusted=False
    )
    paths = Paths(
        data_root=str(tmp_path), model_root=str(tmp_path), cache_root=str(tmp_path), output_root=str(tmp_path)
    )
    searcher = PlannerSearch.for_metaprogram(untrained_checkpoint, mp, paths, planner=Planner(untrained_checkpoint))
    facts = searcher.task["dataset_facts"]
    assert {k: facts[k] for k in ("task", "n_samples", "n_features", "n_classes")} == {
        "task": "classification",
        "n_samples": 178,
        "n_features": 13,
        "n_classes": 3,
    }
    assert set(facts) >= {"balance", "lin", "knn"} and 0 < facts["lin"] <= 1
    assert (searcher.metric, searcher.mode) == ("val/accuracy", "max") and searcher.base == mp.canonical
    searcher.set_search_properties(None, None, {"model": {"hidden": tune.choice([8, 16])}})
    assert searcher.suggest("a")["model"]["hidden"] in (8, 16)
