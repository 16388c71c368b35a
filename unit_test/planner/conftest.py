"""Fixtures of the planner tests: an untrained checkpoint, a base metaprogram, a mixed study."""

from __future__ import annotations

from pathlib import Path

import pytest

from unit_test.planner.planner_helpers import MIXED_SPACE, make_study, structured_study


@pytest.fixture
def mixed_study() -> dict:
    return make_study(MIXED_SPACE, 12, seed=3, fail_every=5)


@pytest.fixture(scope="session")
def untrained_checkpoint(tmp_path_factory) -> Path:
    """A planner checkpoint with random weights (decoding must stay valid whatever the weights)."""
    import torch

    from planner.model import Settings, build_model, save_checkpoint
    from planner.serialize import study_to_text
    from planner.vocab import Vocabulary

    settings = Settings(hidden=32, layers=1, heads=2, intermediate=64)
    vocab = Vocabulary.build(
        [study_to_text(structured_study(s, dataset=d)) for s in range(2) for d in ("digits", "iris")]
    )
    out = tmp_path_factory.mktemp("planner") / "untrained"
    with torch.random.fork_rng():  # the same random weights whichever worker or order builds them
        torch.manual_seed(0)
        model = build_model(settings, vocab)
    save_checkpoint(out, model, vocab, settings, {})
    return out


@pytest.fixture
def execution_base() -> dict:
    from engine.metaprogram import validate

    raw = {"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": {"name": "execution", "epochs": 2}}
    return validate(raw, trusted=False).canonical
