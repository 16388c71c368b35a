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


def script_held_out_losses(monkeypatch, losses: list[float]) -> list[dict]:
    """A fake held-out evaluation returning `losses` in turn; the weights at each evaluation are kept (returned)."""
    import planner.train as training

    scripted, snapshots = iter(losses), []

    def fake_evaluate(model, batches, device, torch_module):
        snapshots.append({k: v.detach().clone() for k, v in model.state_dict().items()})
        return next(scripted)

    monkeypatch.setattr(training, "evaluate", fake_evaluate)
    return snapshots


def test_early_stopping_keeps_the_best_checkpoint_and_draws_the_losses(tmp_path, monkeypatch):
    """The held-out losses are scripted (a fake evaluation, for the stopping logic only); training is real."""
    import torch

    import planner.train as training

    snapshots = script_held_out_losses(monkeypatch, [5.0, 3.0, 2.0, 2.5, 4.0, 4.5, 6.0, 7.0])
    studies = [structured_study(s, dataset=d) for s in range(2) for d in ("digits", "iris", "wine")]
    settings = Settings(hidden=16, layers=1, heads=2, intermediate=32, steps=100, eval_every=2, warmup=2, patience=3)
    report = training.train(studies, tmp_path / "ckpt", settings, log=lambda m: None)
    assert report["best_step"] == 4 and report["best_val_loss"] == 2.0 and report["final_val_loss"] == 2.0
    assert report["steps_done"] == 10 and "not improved for 3 evaluations" in report["stopped_early"]
    assert report["last_val_loss"] == 4.5 and [h["step"] for h in report["history"]] == [0, 2, 4, 6, 8, 10]
    model, _, saved = load_checkpoint(tmp_path / "ckpt")
    kept = model.state_dict()
    assert all(torch.equal(kept[k], snapshots[2][k]) for k in kept)  # the weights of step 4, not of step 10
    assert not all(torch.equal(kept[k], snapshots[-1][k]) for k in kept)
    assert saved["best_step"] == 4 and len(saved["history"]) == 6
    png = tmp_path / "ckpt" / "loss_curve.png"
    assert png.stat().st_size > 10_000 and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_keep_last_keeps_the_last_weights_when_the_held_out_loss_only_rose(tmp_path, monkeypatch):
    """The loop judges retrained planners by held-out regret: a rising loss must not silently keep the old weights."""
    import torch

    import planner.train as training

    snapshots = script_held_out_losses(monkeypatch, [1.0, 2.0, 3.0])  # the stopping logic only; training is real
    studies = [structured_study(s, dataset=d) for s in range(2) for d in ("digits", "iris", "wine")]
    settings = Settings(hidden=16, layers=1, heads=2, intermediate=32, steps=4, eval_every=2, warmup=1, patience=0)
    report = training.train(studies, tmp_path / "ckpt", settings, log=lambda m: None, keep_last=True)
    assert report["best_step"] == 4 and report["final_val_loss"] == 3.0
    kept = load_checkpoint(tmp_path / "ckpt")[0].state_dict()
    assert all(torch.equal(kept[k], snapshots[-1][k]) for k in kept)
    assert not all(torch.equal(kept[k], snapshots[0][k]) for k in kept)


def test_the_command_shows_a_progress_bar_with_the_loss(tmp_path, capsys):
    from planner.train import main

    path = tmp_path / "studies.jsonl"
    path.write_text("".join(json.dumps(structured_study(s, dataset=d)) + "\n" for s in range(2) for d in "abc"))
    args = ["--studies", str(path), "--out", str(tmp_path / "ckpt"), "--steps", "6", "--eval-every", "3"]
    args += ["--hidden", "32", "--layers", "1", "--heads", "2", "--intermediate", "64", "--warmup", "1"]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "planner: 100%" in err and "6/6" in err and "loss=" in err and "held_out=" in err
