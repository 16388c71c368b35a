"""The planner proposes for a plugin's component: its settings are searched like the built-in ones."""

from __future__ import annotations

from engine.metaprogram import validate
from planner.proposal_settings import ProposalSettings
from planner.propose import Planner
from unit_test.planner.planner_helpers import make_study


def test_the_planner_proposes_a_plugins_settings(untrained_checkpoint):
    base = validate({"model": {"name": "tiny_mlp"}, "dataset": {"name": "spirals"},
                     "pipeline": {"name": "execution", "epochs": 1}}, trusted=False).canonical  # fmt: skip
    space = {"model.hidden": {"type": "choice", "values": [4, 8, 16]},
             "dataset.noise": {"type": "uniform", "low": 0.0, "high": 0.3}}  # fmt: skip
    study = make_study(space, 3, seed=1)
    study["base"] = base
    study["task"].update(model="tiny_mlp", dataset="spirals")
    planner = Planner(untrained_checkpoint, seed=0)
    for _ in range(3):
        params, mp, _ = planner.suggest(study, ProposalSettings(candidates=4))
        assert mp is not None and mp.model.name == "tiny_mlp" and mp.dataset.name == "spirals"
        assert params["model.hidden"] in (4, 8, 16) and 0.0 <= params["dataset.noise"] <= 0.3
        assert mp.model.hidden == params["model.hidden"]
    assert planner.stats.rejected == 0
