"""The planner's language model: a small Llama built from a config, saved with its tokenizer.

A checkpoint directory holds `model/` (transformers' save_pretrained), `vocab.json` and
`settings.json` (what it was trained with and on, and the losses measured); a shipped one
(planner/shipped/, written by planner/ship.py) also `portfolio.json` and `MODEL_CARD.md`.
No checkpoint named means the shipped one (`checkpoint_or_shipped`).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from planner.serialize import N_BINS, N_Y
from planner.vocab import Vocabulary

SHIPPED = Path(__file__).resolve().parent / "shipped"  # the planner that travels with the repository


def checkpoint_or_shipped(path: str | Path | None) -> Path:
    """The checkpoint to use: the one named, else the shipped planner."""
    return Path(path) if path else SHIPPED


@dataclass
class Settings:
    """Everything a training run depends on; saved beside the checkpoint."""

    hidden: int = 128
    layers: int = 4
    heads: int = 4
    intermediate: int = 384
    max_len: int = 512
    n_bins: int = N_BINS
    n_y: int = N_Y
    steps: int = 1200
    batch_size: int = 8
    lr: float = 1e-3
    warmup: int = 100
    weight_decay: float = 0.01
    val_fraction: float = 0.2
    shuffle_p: float = 0.2  # share of training sequences with a shuffled parameter order
    expand_max: float = 0.3  # objective range widened by up to this share on each side
    eval_every: int = 200
    patience: int = 4  # evaluations without a better held-out loss before training stops (0: never)
    max_val_studies: int = 64  # a fixed subset keeps each evaluation to seconds on a CPU
    max_minutes: float = 25.0
    seed: int = 0
    device: str = "auto"
    extra: dict[str, Any] = field(default_factory=dict)


def build_model(settings: Settings, vocab: Vocabulary):
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=settings.hidden,
        intermediate_size=settings.intermediate,
        num_hidden_layers=settings.layers,
        num_attention_heads=settings.heads,
        num_key_value_heads=settings.heads,
        max_position_embeddings=max(1024, settings.max_len),
        pad_token_id=vocab.pad_id,
        bos_token_id=vocab.id("<study>"),
        eos_token_id=vocab.id("<end>"),
        tie_word_embeddings=True,
    )
    return LlamaForCausalLM(config)


def save_checkpoint(out: Path, model, vocab: Vocabulary, settings: Settings, report: dict[str, Any]) -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out / "model")
    vocab.save(out / "vocab.json")
    atomic_write(out / "settings.json", json.dumps({"settings": asdict(settings), **report}, indent=2))


def fingerprint(path: str | Path | None) -> str:
    """A digest of a checkpoint's weights, vocabulary and portfolio (when it has one): what a study proposed
    with, wherever it is stored. None: the shipped planner's."""
    import hashlib

    path, digest = checkpoint_or_shipped(path), hashlib.sha256()
    for file in sorted([*(path / "model").rglob("*"), path / "vocab.json", path / "portfolio.json"]):
        if file.is_file():
            digest.update(file.relative_to(path).as_posix().encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def load_checkpoint(path: Path | None, device: str = "cpu"):
    """(model in eval mode, vocabulary, settings dict) from a checkpoint directory (None: the shipped planner)."""
    from transformers import LlamaForCausalLM
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()  # one tiny shard: the bar is noise in logs and tables
    path = checkpoint_or_shipped(path)
    if not (path / "model").is_dir() or not (path / "vocab.json").exists():
        hint = "`make planner` rebuilds the shipped one" if path == SHIPPED else "train one first"
        raise FileNotFoundError(f"{path} is not a planner checkpoint (no model/ or vocab.json); {hint}")
    # float32 whatever was stored: the shipped weights are float16 to halve their size in git
    model = LlamaForCausalLM.from_pretrained(path / "model").float().to(device).eval()
    vocab = Vocabulary.load(path / "vocab.json")
    settings = json.loads((path / "settings.json").read_text())
    return model, vocab, settings
