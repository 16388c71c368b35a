"""ProposalSettings: one object for the planner's settings, read the same from a sweep, keywords and flags."""

from __future__ import annotations

import argparse
from dataclasses import asdict, fields, replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from planner.proposal_settings import DEFAULTS, ProposalSettings
from util.sweep_spec import TuneSettings

valid = st.builds(
    ProposalSettings,
    candidates=st.integers(1, 256),
    early_candidates=st.none() | st.integers(1, 256),
    acquisition=st.sampled_from([None, "ei", "ucb"]),
    temperature=st.none() | st.floats(0.01, 5.0),
    local_model=st.sampled_from([None, "gp"]),
    prior=st.integers(0, 8),
    neighbours=st.integers(0, 64),
)


def test_every_setting_is_a_planner_key_of_the_sweep_file_with_the_same_default():
    planner_keys = {key for key in TuneSettings.model_fields if key.startswith("planner_")} - {"planner_checkpoint"}
    assert planner_keys == {f"planner_{f.name}" for f in fields(ProposalSettings)}
    assert ProposalSettings.of_tune(TuneSettings()) == ProposalSettings(**{**asdict(DEFAULTS), "temperature": 1.0})


@given(valid)
def test_a_sweeps_keys_give_back_the_same_settings(settings):
    back = ProposalSettings.of_tune(TuneSettings(**settings.tune_keys()))
    assert back == ProposalSettings(**{**asdict(settings), "temperature": settings.temperature or 1.0})
    assert back.identity() == settings.identity()  # temperature None and 1.0: the same study


@given(valid, valid)
def test_settings_that_propose_differently_are_different_studies(a, b):
    """A setting left out of the id changes nothing that is proposed (neighbours without GP or acquisition)."""

    def effective(s: ProposalSettings) -> tuple:
        acquired = s.acquisition is not None
        return (
            s.candidates,
            s.early_candidates if s.early_candidates and s.early_candidates < s.candidates else None,
            s.acquisition,
            s.temperature or 1.0,
            s.local_model,
            s.prior,
            s.neighbours if s.local_model and acquired else 0,
        )

    assert (a.identity() == b.identity()) == (effective(a) == effective(b))
    for same in (  # settings that change nothing keep the study: they give the same ids
        {"early_candidates": a.candidates},
        {"early_candidates": None},
        {"neighbours": 0, "local_model": None},
        {"temperature": None if a.temperature == 1.0 else a.temperature},
    ):
        changed = replace(a, **same)
        assert (changed.identity() == a.identity()) == (effective(changed) == effective(a))


def test_the_flags_are_the_settings():
    parser = argparse.ArgumentParser()
    ProposalSettings.add_arguments(parser)
    assert ProposalSettings.of_args(parser.parse_args([])) == DEFAULTS
    args = parser.parse_args(["-k", "8", "--early-k", "0", "--acquisition", "none", "--local-model", "none"])
    assert ProposalSettings.of_args(args) == ProposalSettings(
        candidates=8, early_candidates=None, acquisition=None, local_model=None
    )


@pytest.mark.parametrize(
    ("bad", "says"),
    [
        ({"candidates": 0}, "candidate counts must be positive"),
        ({"early_candidates": -1}, "candidate counts must be positive"),
        ({"candidates": True}, "candidate counts must be positive"),
        ({"acquisition": "pi"}, "acquisition must be ei, ucb or none"),
        ({"local_model": "forest"}, "local_model must be gp or none"),
        ({"prior": -2}, "prior must be a whole number"),
        ({"neighbours": 1.5}, "neighbours must be a whole number"),
        ({"temperature": 0}, "temperature must be a number > 0"),
    ],
)
def test_a_bad_setting_is_refused_with_what_is_wrong(bad, says):
    with pytest.raises(ValueError, match=says):
        ProposalSettings(**bad)


def test_an_unknown_keyword_of_the_ask_tell_and_optuna_interfaces_is_refused():
    from planner.optuna_sampler import PlannerSampler

    with pytest.raises(TypeError, match="candidate"):
        PlannerSampler(seed=0, candidate=4)  # a misspelt setting is not ignored
