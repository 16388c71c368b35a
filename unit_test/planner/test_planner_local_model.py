"""The GP on a study's own trials: how points are encoded, when it is fitted, and that it steers the choice."""

from __future__ import annotations

import math
import random

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from planner import local_model
from planner.proposal_settings import ProposalSettings
from planner.propose import Planner
from planner.serialize import param_token, quantize
from unit_test.planner.planner_helpers import MIXED_SPACE, make_study, structured_study

LR = "pipeline.optim.lr"


def test_ranges_are_scaled_to_the_unit_interval_and_choices_one_hot():
    order = sorted(MIXED_SPACE)  # dropout, hidden, layers, batch_size, lr, name
    point = {
        "model.hidden": 256,
        "model.dropout": 0.0,
        "model.layers": 3,
        "pipeline.batch_size": 999,
        "pipeline.optim.lr": 0.3,
        "pipeline.optim.name": "sgd",
    }
    row = local_model.encode(MIXED_SPACE, order, point, n_bins=100)
    assert len(row) == 1 + 3 + 1 + 1 + 1 + 3
    assert row[0] < 0.01  # the bottom of dropout's range
    assert row[1:4] == [0.0, 0.0, 1.0]  # hidden=256 is the third choice
    assert row[4] == (2 + 0.5) / 3  # layers: 3 of randint [1, 4)
    assert row[5] > 0.99 and row[6] > 0.99  # the tops of batch_size's and lr's ranges
    assert row[7:] == [1.0, 0.0, 0.0]


def test_with_too_few_trials_the_planner_alone_decides(untrained_checkpoint):
    planner = Planner(untrained_checkpoint)
    study = structured_study(0, n_trials=local_model.MIN_TRIALS - 1)
    alone = planner.sample(study, 8, torch.Generator().manual_seed(0))
    with_gp = planner.sample(study, 8, torch.Generator().manual_seed(0), local="gp")
    assert [c.ei for c in with_gp] == [c.ei for c in alone]


def peaked_lr_study() -> tuple[dict, dict]:
    """20 completed trials over lr alone, whose objective peaks at lr=1e-2."""
    space = {LR: MIXED_SPACE[LR]}
    study = make_study(space, 20, seed=4)
    for trial in study["trials"]:
        trial["objective"] = 1.0 - abs(math.log10(trial["params"][LR]) + 2) / 3
        trial["status"] = "completed"
    return space, study


def test_the_gp_steers_the_choice_towards_the_best_region(untrained_checkpoint):
    """Random planner weights predict nothing; fitted to 20 trials peaking at lr=1e-2, the GP picks near it."""
    space, study = peaked_lr_study()
    planner = Planner(untrained_checkpoint)

    def distance_of_pick(seed: int, local: str | None) -> float:
        candidates = planner.sample(study, 16, torch.Generator().manual_seed(seed), local=local)
        return abs(math.log10(max(candidates, key=lambda c: c.ei).params[LR]) + 2)

    alone = [distance_of_pick(seed, None) for seed in range(8)]
    with_gp = [distance_of_pick(seed, "gp") for seed in range(8)]
    assert sum(with_gp) < 0.5 * sum(alone)
    assert max(with_gp) < 0.5  # within half a decade of the peak every time


def test_fewer_candidates_are_scored_before_the_study_has_min_trials(untrained_checkpoint):
    planner = Planner(untrained_checkpoint)

    def sampled(n_trials: int) -> int:
        before = planner.stats.sampled
        planner.suggest(
            structured_study(0, n_trials=n_trials),
            ProposalSettings(candidates=12, early_candidates=4, neighbours=0),
            generator=torch.Generator(),
        )
        return planner.stats.sampled - before

    assert sampled(local_model.MIN_TRIALS - 1) == 4
    assert sampled(local_model.MIN_TRIALS) == 12
    with pytest.raises(ValueError, match="candidate counts must be positive"):
        ProposalSettings(candidates=12, early_candidates=0)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), count=st.integers(1, 12), n_bins=st.sampled_from([4, 16, 100]))
def test_neighbours_stay_in_the_space_and_move_one_or_two_parameters(seed, count, n_bins):
    rng = random.Random(seed)
    order = sorted(MIXED_SPACE)
    best = [make_study(MIXED_SPACE, 1, seed=seed + i)["trials"][0]["params"] for i in range(3)]
    points = local_model.neighbours(MIXED_SPACE, order, best, count, rng, n_bins)
    assert len(points) == count
    for i, point in enumerate(points):
        source = best[i % len(best)]
        moved = [key for key in order if param_token(MIXED_SPACE[key], point[key], n_bins)
                 != param_token(MIXED_SPACE[key], source[key], n_bins)]  # fmt: skip
        assert 1 <= len(moved) <= 2
        for key in order:  # inside the space (param_token refuses what is not), a value the planner can write
            assert quantize(MIXED_SPACE[key], point[key], n_bins) == point[key]


def test_given_points_are_scored_beside_the_samples_and_can_be_picked(untrained_checkpoint):
    """The acquisition scores written points with the same predictions; the GP's evidence makes one win."""
    space, study = peaked_lr_study()
    planner = Planner(untrained_checkpoint)
    peak = {LR: quantize(space[LR], 1e-2, planner.n_bins)}

    def bin_of(lr: float) -> int:
        return int(param_token(space[LR], lr, planner.n_bins).split(":")[1])

    for seed in range(4):
        candidates = planner.sample(study, 4, torch.Generator().manual_seed(seed), local="gp", given=[peak])
        assert len(candidates) == 5 and candidates[-1].params == peak
        pick = max(candidates, key=lambda c: c.ei)
        # The GP's best guess is the peak or a bin beside it; and the peak outscores every draw further off.
        assert abs(bin_of(pick.params[LR]) - bin_of(peak[LR])) <= 1
        far = [c for c in candidates[:4] if abs(bin_of(c.params[LR]) - bin_of(peak[LR])) > 1]
        assert all(candidates[-1].ei > c.ei for c in far)
        sampled_only = planner.sample(study, 4, torch.Generator().manual_seed(seed), local="gp")
        assert [c.params for c in candidates[:4]] == [c.params for c in sampled_only]  # the draws are unchanged


def test_late_in_a_study_neighbours_of_the_best_are_scored_too(untrained_checkpoint):
    planner = Planner(untrained_checkpoint)

    def scored(n_trials: int, neighbours: int) -> int:
        before = planner.stats.sampled
        study = structured_study(0, n_trials=n_trials)
        planner.suggest(
            study, ProposalSettings(candidates=6, neighbours=neighbours), generator=torch.Generator().manual_seed(1)
        )
        return planner.stats.sampled - before

    assert scored(local_model.MIN_TRIALS - 1, 5) == 6  # too early: the GP is not fitted, nothing to refine
    assert scored(local_model.MIN_TRIALS, 5) == 11
    assert scored(local_model.MIN_TRIALS, 0) == 6


def test_a_finite_space_gets_no_neighbours(untrained_checkpoint):
    """Choices only: the samples reach every point (repeats skipped), so there is nothing between them to refine."""
    planner = Planner(untrained_checkpoint)
    choices = {
        "model.hidden": {"type": "choice", "values": [2**j for j in range(3, 12)]},
        "pipeline.batch_size": {"type": "choice", "values": [2**j for j in range(3, 11)]},
        "pipeline.optim.name": {"type": "choice", "values": ["sgd", "adam", "adamw"]},
        "model.activation": {"type": "choice", "values": ["relu", "gelu", "tanh", "silu"]},
    }
    study = make_study(choices, local_model.MIN_TRIALS + 3, seed=2)  # 8 of 864 points: repeats are unlikely
    for i, trial in enumerate(study["trials"]):
        trial["objective"], trial["status"] = i / 10, "completed"
    before = planner.stats.sampled
    planner.suggest(study, ProposalSettings(candidates=6, neighbours=5), generator=torch.Generator().manual_seed(1))
    assert planner.stats.sampled - before == 6
