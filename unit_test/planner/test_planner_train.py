"""A tiny training run on learnable studies lowers the held-out loss and saves a usable checkpoint."""

from __future__ import annotations

import json

import pytest

from planner.model import Settings, load_checkpoint
from planner.train import read_studies, split_studies, train
from unit_test.planner.planner_helpers import structured_study


@pytest.mark.integration  # a real training run of the planner's LM
def test_tiny_training_reduces_held_out_loss(tmp_path):
    studies = [structured_study(s, dataset=d) for s in range(6) for d in ("digits", "iris", "wine", "diabetes")]
    settings = Settings(
        hidden=48, layers=2, heads=2, intermediate=96, steps=60, batch_size=8, warmup=5, eval_every=30, lr=3e-3
    )
    report = train(studies, tmp_path / "ckpt", settings, log=lambda m: None)
    assert report["final_val_loss"] < report["initial_val_loss"] * 0.7
    assert report["val_studies"] > 0 and report["train_studies"] > report["val_studies"]
    model, vocab, saved = load_checkpoint(tmp_path / "ckpt")
    assert saved["settings"]["hidden"] == 48 and saved["final_val_loss"] == report["final_val_loss"]
    assert model.config.vocab_size == len(vocab)


def test_whole_tasks_are_held_out():
    studies = [structured_study(s, dataset=d) for s in range(3) for d in ("a", "b", "c", "d", "e")]
    train_set, val_set = split_studies(studies, 0.2, seed=0)
    assert {s["task"]["dataset"] for s in train_set}.isdisjoint({s["task"]["dataset"] for s in val_set})
    assert len(train_set) + len(val_set) == len(studies)


def test_bad_jsonl_names_the_line(tmp_path):
    path = tmp_path / "studies.jsonl"
    path.write_text(json.dumps(structured_study(0)) + "\n" + '{"study_id": "x"}\n')
    try:
        read_studies(path)
    except ValueError as exc:
        assert "studies.jsonl:2" in str(exc)
    else:
        raise AssertionError("a line without a task must be refused")
