"""planner/ship.py: a trained planner made the shipped one (half-size weights, portfolio, model card), and the one
that ships is a complete checkpoint small enough for git."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest

from planner.model import SHIPPED, Settings, fingerprint, load_checkpoint
from planner.ship import ship
from planner.train import train
from unit_test.helpers import REPO
from unit_test.planner.planner_helpers import structured_study


def test_a_trained_planner_is_shipped_with_its_portfolio_and_card(tmp_path):
    studies = [structured_study(s, dataset=d) for s in range(3) for d in ("digits", "iris", "wine")]
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(s) + "\n" for s in studies))
    settings = Settings(hidden=32, layers=1, heads=2, intermediate=64, steps=4, warmup=1, eval_every=2)
    train(studies, tmp_path / "ckpt", settings, log=lambda m: None)
    text = ship(tmp_path / "ckpt", corpus, tmp_path / "shipped", "make planner")
    out = tmp_path / "shipped"
    assert (out / "model" / "model.safetensors").is_file() and (out / "portfolio.json").is_file()
    assert hashlib.sha256(corpus.read_bytes()).hexdigest() in text and "make planner" in text
    assert "Held-out loss" in text and (out / "MODEL_CARD.md").read_text() == text
    model, vocab, info = load_checkpoint(out)
    assert str(model.dtype) == "torch.float32"  # stored as float16, run as float32
    assert info["corpus"]["studies"] == 9 and info["settings"]["extra"] == {"studies": "corpus.jsonl"}
    assert fingerprint(out) != fingerprint(tmp_path / "ckpt")  # the portfolio and the weights' bytes count


def test_the_shipped_planner_is_a_complete_checkpoint_of_a_few_megabytes():
    files = {p.relative_to(SHIPPED).as_posix(): p.stat().st_size for p in SHIPPED.rglob("*") if p.is_file()}
    assert {"model/model.safetensors", "model/config.json", "vocab.json", "settings.json", "portfolio.json",
            "MODEL_CARD.md"} <= set(files)  # fmt: skip
    assert sum(files.values()) < 8e6
    card = (SHIPPED / "MODEL_CARD.md").read_text()
    info = json.loads((SHIPPED / "settings.json").read_text())
    assert info["corpus"]["sha256"] in card and info["training_command"] in card


@pytest.mark.integration  # the command in a subprocess
def test_ship_refuses_a_folder_that_is_no_planner_in_one_paragraph(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(json.dumps(structured_study(0)) + "\n")
    command = [sys.executable, "-B", "-m", "planner.ship", "--checkpoint", str(tmp_path / "nothing")]
    result = subprocess.run(
        [*command, "--corpus", str(corpus), "--command", "x", "--out", str(tmp_path / "out")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2 and "is not a planner checkpoint" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()
