"""Make a trained planner the one that ships: half-size weights, its vocabulary, the corpus's portfolio, a model card.

    python -m planner.ship --checkpoint outputs/planner/ckpt --corpus outputs/studies_corpus.jsonl \
        --command "make planner" [--figures benchmarks/results/planner_real.json] [--out planner/shipped]
    python -m planner.ship --card-only --figures benchmarks/results/planner_real.json   # figures measured since

`make planner` runs it after the corpus and the training. The folder it writes is a planner checkpoint
(planner/model.py) that `tune.algorithm=planner`, `PlannerSampler` and `planner.ask_tell` use when no
checkpoint is named: `model/` (safetensors, float16: the planner runs in float32, the weights lose
nothing it can measure and take half the room in git), `vocab.json`, `settings.json` (the training
settings and held-out losses), `portfolio.json` (planner/portfolio.py, built from the same corpus) and
`MODEL_CARD.md`, which names the corpus by its digest and gives the training command and the held-out
figures: the training's held-out loss, and, with `--figures`, the regret measured in real Tune studies
on the held-out suite (benchmarks/planner.py --real). It prints the card's figures last.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from engine.atomic import atomic_path, atomic_write
from planner import portfolio
from planner.model import SHIPPED, load_checkpoint

CARD = "MODEL_CARD.md"


def ship(checkpoint: Path, corpus: Path, out: Path, command: str, figures: dict[str, Any] | None = None) -> str:
    """Write the shipped planner into `out` (replacing what was there); returns the model card's text."""
    import torch  # the weights are converted here

    from planner.corpus import read, stats
    from planner.train import read_studies

    model, _vocab, info = load_checkpoint(checkpoint)
    studies = read_studies(corpus)
    with atomic_path(out, folder=True) as staging:  # the old planner stays whole until the new one is
        model.to(torch.float16).save_pretrained(staging / "model")  # safetensors
        shutil.copy(Path(checkpoint) / "vocab.json", staging / "vocab.json")
        digest = hashlib.sha256(Path(corpus).read_bytes()).hexdigest()
        info = {**info, "corpus": {"sha256": digest, **stats(read(corpus))}, "training_command": command}
        info["settings"]["extra"] = {"studies": Path(corpus).name}  # not this machine's path
        atomic_write(staging / "settings.json", json.dumps(info, indent=2))
        atomic_write(staging / portfolio.FILE, json.dumps(portfolio.build(studies), indent=1))
        text = card(info, figures, _size(staging))
        atomic_write(staging / CARD, text)
        shutil.rmtree(out, ignore_errors=True)  # then replaced by the complete new one
    return text


def update_card(out: Path, figures: dict[str, Any]) -> str:
    """Rewrite the model card of a shipped planner with regret figures measured since (its weights unchanged)."""
    text = card(json.loads((Path(out) / "settings.json").read_text()), figures, _size(out))
    atomic_write(Path(out) / CARD, text)
    return text


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def card(info: dict[str, Any], figures: dict[str, Any] | None, size: int) -> str:
    """The model card: what the planner is, what it learned from, how it was made and what it measured."""
    s, corpus = info["settings"], info["corpus"]
    lines = [
        "# The shipped planner",
        "",
        "A small causal language model (Llama architecture, trained from scratch) that reads a study (task facts,",
        "search space, trials so far) and proposes the next trial. Used by `tune.algorithm=planner`,",
        "`planner.optuna_sampler.PlannerSampler` and `planner.ask_tell.PlannerStudy` when no checkpoint is named.",
        "",
        "## Model",
        f"- {info['parameters'] / 1e6:.2f} M parameters: hidden {s['hidden']}, {s['layers']} layers,",
        f"  {s['heads']} heads, context {s['max_len']} tokens; float16 safetensors; this folder {size / 1e6:.2f} MB.",
        f"- {s['n_bins']} bins per numeric parameter, {s['n_y']} objective bins.",
        "",
        "## Training data",
        f"- Corpus: {corpus['studies']} Ray Tune studies, {corpus['trials']} trials, {corpus['tasks']} tasks,",
        f"  {corpus['spaces']} search spaces, algorithms {', '.join(corpus['algorithms'])}",
        f"  (configs/sweep/suite/corpus.yaml); sha256 `{corpus['sha256']}`.",
        "- `portfolio.json`: the corpus's best configurations per search space, in greedy order",
        "  (planner/portfolio.py).",
        "",
        "## How it was made",
        f"- `{info['training_command']}`",
        f"- {info['steps_done']} steps of batch {s['batch_size']}, learning rate {s['lr']}, seed {s['seed']};",
        f"  {info['train_studies']} studies for training, {info['val_studies']} of {len(info['val_tasks'])} other",
        f"  tasks held out; {info.get('wall_s', 0) / 60:.1f} min.",
        "",
        "## Held-out figures",
        f"- Held-out loss per predicted token: {info['initial_val_loss']:.3f} untrained -> {info['best_val_loss']:.3f}",
        f"  (best at step {info['best_step']}, kept).",
    ]
    if figures:
        lines += ["", *regret_lines(figures)]
    return "\n".join(lines) + "\n"


def regret_lines(figures: dict[str, Any]) -> list[str]:
    """Regret per method and budget, and the planner's paired tests, as benchmarks/planner.py --real measured it."""
    from planner.heldout_eval import markdown

    settings = figures.get("settings", {})
    return [
        f"Real Tune studies on the held-out suite (configs/sweep/suite/heldout.yaml; `python -B benchmarks/planner.py"
        f" --real`): {figures['pairs']} (task, space, seed) pairs; planner settings {settings}. Lower is better;"
        " p: paired one-sided Wilcoxon (planner < other).",
        "",
        markdown(figures).rstrip(),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="a trained planner (planner.train --out)")
    parser.add_argument("--corpus", type=Path, help="the studies it was trained on (JSONL)")
    parser.add_argument("--command", help="the command that trained it, for the model card")
    parser.add_argument("--figures", type=Path, help="benchmarks/planner.py --real's JSON, for the model card")
    parser.add_argument("--card-only", action="store_true", help="only rewrite the card of --out with --figures")
    parser.add_argument("--out", type=Path, default=SHIPPED)
    args = parser.parse_args(argv)
    needed = ["figures"] if args.card_only else ["checkpoint", "corpus", "command"]
    if missing := [f"--{name}" for name in needed if getattr(args, name) is None]:
        parser.error(f"{' and '.join(missing)} needed")
    try:
        figures = json.loads(args.figures.read_text()) if args.figures else None
        if args.card_only:
            text = update_card(args.out, figures)
        else:
            text = ship(args.checkpoint, args.corpus, args.out, args.command, figures)
    except (OSError, ValueError, KeyError) as exc:
        print(f"cannot ship the planner: {exc}", file=sys.stderr)
        return 2
    print(text[text.index("## Held-out figures") :].rstrip())
    print(f"shipped planner in {args.out} ({_size(args.out) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
