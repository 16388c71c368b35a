"""Study <-> text: exact round trip up to quantisation, bins, normalisation, shuffled order."""

from __future__ import annotations

import math
import random

import pytest

from planner.serialize import (
    Normalizer,
    SerializeError,
    param_token,
    quantize,
    shuffled_order,
    study_to_text,
    text_to_study,
    token_value,
    value_tokens,
)
from unit_test.planner.planner_helpers import MIXED_SPACE, make_study


def test_round_trip_is_exact_up_to_quantisation(mixed_study):
    text = study_to_text(mixed_study)
    back = text_to_study(text)
    assert back["task"] == mixed_study["task"]
    assert back["search_space"] == mixed_study["search_space"]
    assert back["algorithm"] == "random"
    assert len(back["trials"]) == len(mixed_study["trials"])
    for original, parsed in zip(mixed_study["trials"], back["trials"], strict=True):
        for key, spec in MIXED_SPACE.items():
            assert parsed["params"][key] == quantize(spec, original["params"][key])
        assert parsed["status"] == original["status"]
        assert (parsed["objective"] is None) == (original["objective"] is None)
    # serialising the parsed study again gives the identical text
    assert study_to_text(back) == text


def test_task_descriptors_and_parameter_names_are_in_the_text(mixed_study):
    study = dict(mixed_study)
    study["task"] = {**study["task"], "dataset_facts": {**study["task"]["dataset_facts"], "lin": 0.93, "knn": 0.5}}
    text = study_to_text(study)
    assert " n_classes 10 balance na lin 0.93 knn 0.5 metric " in text
    assert text_to_study(text)["task"] == study["task"]  # na (not measured) stays absent
    first_trial = text.split("<t>")[1].split()
    assert first_trial[0::2][:-1] == sorted(MIXED_SPACE)  # each value follows its parameter's name


def test_objective_is_normalised_best_is_one_for_both_modes():
    for mode in ("max", "min"):
        study = make_study(MIXED_SPACE, 10, seed=1, mode=mode)
        back = text_to_study(study_to_text(study))
        values = [t["objective"] for t in study["trials"]]
        best = values.index(max(values) if mode == "max" else min(values))
        worst = values.index(min(values) if mode == "max" else max(values))
        assert back["trials"][best]["objective"] == pytest.approx(0.995)
        assert back["trials"][worst]["objective"] == pytest.approx(0.005)


def test_normalizer_inverts_and_logs_positive_minimised_metrics():
    norm = Normalizer([10.0, 1000.0, 100.0], "min")
    assert norm.log
    assert norm(10.0) == pytest.approx(1.0) and norm(1000.0) == pytest.approx(0.0)
    assert norm(100.0) == pytest.approx(0.5)  # halfway in log space
    assert norm.raw(norm(37.0)) == pytest.approx(37.0)
    expanded = Normalizer([0.2, 0.8], "max", expand=(0.5, 0.5))
    assert expanded(0.8) == pytest.approx(0.75) and expanded(0.2) == pytest.approx(0.25)


def test_bins_log_scale_and_exact_small_randint():
    lr = MIXED_SPACE["pipeline.optim.lr"]
    assert param_token(lr, 1e-4) == "b:0" and param_token(lr, 0.3) == "b:99"
    middle = math.sqrt(1e-4 * 0.3)
    assert param_token(lr, middle * 1.01) == "b:50"  # just above the geometric middle: mid-range on a log scale
    assert quantize(lr, 0.01) == pytest.approx(0.01, rel=0.05)
    layers = MIXED_SPACE["model.layers"]
    assert value_tokens(layers) == ["b:0", "b:1", "b:2"]
    assert [token_value(layers, param_token(layers, v)) for v in (1, 2, 3)] == [1, 2, 3]
    batch = MIXED_SPACE["pipeline.batch_size"]
    assert isinstance(quantize(batch, 517), int) and abs(quantize(batch, 517) - 517) <= 10


def test_choice_tokens_are_indices_and_types_are_kept():
    spec = {"type": "choice", "values": [1, 1.0, True, "adam", None]}
    assert [param_token(spec, v) for v in (1, 1.0, True, "adam", None)] == ["c:0", "c:0", "c:2", "c:3", "c:4"]
    study = make_study({"x": spec}, 0)
    assert text_to_study(study_to_text(study))["search_space"]["x"]["values"] == [1, 1.0, True, "adam", None]


def test_shuffled_parameter_order_round_trips():
    study = make_study(MIXED_SPACE, 6, seed=5)
    order = shuffled_order(MIXED_SPACE, random.Random(0))
    assert order != sorted(MIXED_SPACE)
    text = study_to_text(study, order=order)
    back = text_to_study(text)
    assert back["param_order"] == order
    assert text_to_study(study_to_text(study))["trials"] == back["trials"]


def test_bad_inputs_are_refused_with_a_reason():
    with pytest.raises(SerializeError, match="not one of the choices"):
        param_token({"type": "choice", "values": ["a"]}, "b")
    with pytest.raises(SerializeError, match="outside"):
        param_token(MIXED_SPACE["pipeline.optim.lr"], 5.0)
    with pytest.raises(SerializeError, match="expected"):
        text_to_study("<study> pipeline execution dataset digits")
    with pytest.raises(SerializeError, match="not valid"):
        token_value(MIXED_SPACE["model.layers"], "b:7")
