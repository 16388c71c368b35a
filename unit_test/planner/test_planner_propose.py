"""Constrained decoding never yields an invalid token, so never an invalid metaprogram; rejections are counted."""

from __future__ import annotations

from planner.proposal_settings import ProposalSettings
from planner.propose import Planner
from planner.serialize import param_token, value_tokens
from unit_test.planner.planner_helpers import MIXED_SPACE, make_study


def test_constrained_decoding_only_yields_valid_tokens(untrained_checkpoint, execution_base):
    planner = Planner(untrained_checkpoint, seed=0)
    study = make_study(MIXED_SPACE, 5, seed=1)
    study["base"] = execution_base
    candidates = planner.sample(study, 64)
    for cand in candidates:
        for key, token in zip(sorted(MIXED_SPACE), cand.tokens, strict=True):
            assert token in value_tokens(MIXED_SPACE[key])
            assert param_token(MIXED_SPACE[key], cand.params[key]) == token
        assert 0.0 <= cand.mean <= 1.0 and cand.ei >= 0.0
    # random weights would put mass everywhere: the mask is what keeps every proposal valid
    for _ in range(10):
        params, mp, _ = planner.suggest(study, ProposalSettings(candidates=8))
        assert mp is not None and mp.model.hidden == params["model.hidden"]
        assert mp.pipeline.optim.lr == params["pipeline.optim.lr"]
    assert planner.stats.rejected == 0 and planner.stats.sampled >= 80


def test_invalid_metaprograms_are_counted_and_never_returned(untrained_checkpoint, execution_base):
    planner = Planner(untrained_checkpoint, seed=0)
    space = {
        "model.hidden": {"type": "choice", "values": [0, 16]},
        "model.layers": {"type": "choice", "values": [1, 3]},
    }
    study = make_study(space, 0)
    study["base"] = execution_base
    returned = [planner.suggest(study, ProposalSettings(candidates=4, acquisition="ucb"))[0] for _ in range(8)]
    assert all(p["model.hidden"] == 16 for p in returned)  # hidden=0 is out of range: refused
    assert planner.stats.rejected > 0
    assert "model.hidden" in planner.stats.errors[0]


def test_acquisition_picks_the_best_predicted_candidate(untrained_checkpoint):
    planner = Planner(untrained_checkpoint, seed=3)
    study = make_study(MIXED_SPACE, 4, seed=2)
    study.pop("base")
    params, mp, cand = planner.suggest(study, ProposalSettings(candidates=16, acquisition="ucb"))
    assert mp is None  # without a base there is nothing to validate, only params
    assert set(params) == set(MIXED_SPACE)
    assert planner.stats.sampled == 16


def test_a_lower_temperature_draws_fewer_distinct_candidates(untrained_checkpoint):
    import torch

    planner = Planner(untrained_checkpoint, seed=0)
    study = make_study(MIXED_SPACE, 4, seed=2)

    def distinct(temperature):
        drawn = planner.sample(study, 64, torch.Generator().manual_seed(0), temperature=temperature)
        return len({tuple(c.tokens) for c in drawn})

    assert distinct(1e-4) == 1 < distinct(1.0)  # near zero: every candidate is the planner's favourite


def test_finite_spaces_skip_points_already_tried(untrained_checkpoint):
    planner = Planner(untrained_checkpoint, seed=0)
    space = {"model.layers": {"type": "choice", "values": [1, 2, 3]}}
    study = make_study(space, 0)
    study.pop("base")
    tried = []
    for order in range(3):
        params, _, _ = planner.suggest(study, ProposalSettings(candidates=4), max_rounds=20)
        tried.append(params["model.layers"])
        study["trials"].append({"order": order, "params": params, "objective": 0.5, "status": "completed"})
    assert sorted(tried) == [1, 2, 3]


def test_pending_points_are_skipped_too(untrained_checkpoint):
    planner = Planner(untrained_checkpoint, seed=1)
    space = {"model.layers": {"type": "choice", "values": [1, 2]}}
    study = make_study(space, 0)
    study.pop("base")
    for _ in range(5):
        params, _, _ = planner.suggest(
            study, ProposalSettings(candidates=4), max_rounds=20, pending=[{"model.layers": 1}]
        )
        assert params == {"model.layers": 2}


def test_only_what_the_planner_wrote_is_untrusted(tmp_path):
    import pytest

    from engine.metaprogram import MetaprogramError, validate
    from planner.propose import validate_proposal

    table = tmp_path / "my_table.csv"  # validation reads it: its contents are part of the run id
    table.write_text("a,b,label\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(20)))
    raw = {
        "model": {"name": "mlp"},
        "dataset": {"name": "csv", "file": str(table), "target": "label"},
        "pipeline": {"name": "execution", "epochs": 2},
    }
    base = validate(raw, trusted=True).canonical  # a hand-written base may name its data file
    mp = validate_proposal(base, {"model.hidden": 16, "pipeline.optim.lr": 0.01})
    assert mp.dataset.file == str(table) and mp.model.hidden == 16
    refused = {
        "dataset.file": ("/etc/passwd", "dataset.file: path keys are not accepted from untrusted input"),
        "pipeline.resources.cpus": (1000, "pipeline.resources.cpus: 1000"),
        "dataset.target": ("${oc.env:HOME}", "dataset.target: interpolation"),
        "model.hidden": (0, "model.hidden"),
    }
    for key, (value, message) in refused.items():
        with pytest.raises(MetaprogramError) as err:
            validate_proposal(base, {"model.dropout": 0.1, key: value})
        assert message in err.value.render() and "my_table" not in err.value.render()
