"""Train the planner from scratch on studies (JSONL in the agreed export format).

    python -m planner.train --studies outputs/planner_dev/studies.jsonl --out outputs/planner/ckpt

Studies of some tasks are held out for validation (whole tasks, so the held-out loss measures
transfer to tasks never seen); the loss counts the trial section only (the task and space are
given, the trials are what the planner predicts). Each training sequence is serialised afresh:
a shuffled parameter order for a share of them and a randomly widened objective range, so the
planner learns neither one order nor that the best value always sits in the top bin.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from planner.model import Settings, build_model, save_checkpoint
from planner.serialize import SerializeError, shuffled_order, study_words
from planner.vocab import Vocabulary
from util.search_space import SpaceError

IGNORE = -100


def read_studies(path: Path) -> list[dict[str, Any]]:
    """Studies from JSONL; a line that is not a study is an error naming its line."""
    studies = []
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            study = json.loads(line)
            study_words(study)  # refuses what cannot be serialised
        except (json.JSONDecodeError, KeyError, TypeError, SerializeError, SpaceError) as exc:
            raise ValueError(f"{path}:{n}: not a study in the export format ({type(exc).__name__}: {exc})") from exc
        if study.get("trials"):
            studies.append(study)
    if not studies:
        raise ValueError(f"{path}: no studies with trials")
    return studies


def task_key(study: dict[str, Any]) -> str:
    return json.dumps(study["task"], sort_keys=True)


def split_studies(
    studies: list[dict[str, Any]], val_fraction: float, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Hold out whole tasks when there are at least 3, else single studies."""
    rng = random.Random(seed)
    tasks = sorted({task_key(s) for s in studies})
    if len(tasks) >= 3:
        rng.shuffle(tasks)
        held = set(tasks[: max(1, round(len(tasks) * val_fraction))])
        return [s for s in studies if task_key(s) not in held], [s for s in studies if task_key(s) in held]
    if len(studies) < 2:  # nothing to hold out: validate on the training study itself
        return list(studies), list(studies)
    order = list(range(len(studies)))
    rng.shuffle(order)
    cut = min(max(1, round(len(studies) * val_fraction)), len(studies) - 1)
    return [studies[i] for i in order[cut:]], [studies[i] for i in order[:cut]]


def encode_study(
    study: dict[str, Any], vocab: Vocabulary, settings: Settings, rng: random.Random | None
) -> tuple[list[int], list[int]]:
    """(input ids, labels): labels ignore everything up to and including <trials>."""
    order, expand = None, (0.0, 0.0)
    if rng is not None:
        if rng.random() < settings.shuffle_p:
            order = shuffled_order(study["search_space"], rng)
        expand = (rng.uniform(0, settings.expand_max), rng.uniform(0, settings.expand_max))
    words = study_words(study, order=order, n_bins=settings.n_bins, n_y=settings.n_y, expand=expand)
    ids = vocab.encode_words(words)[: settings.max_len]
    start = ids.index(vocab.id("<trials>")) + 1
    labels = [IGNORE] * start + ids[start:]
    return ids, labels


def collate(pairs: list[tuple[list[int], list[int]]], pad_id: int, torch) -> dict[str, Any]:
    width = max(len(ids) for ids, _ in pairs)
    input_ids = torch.full((len(pairs), width), pad_id, dtype=torch.long)
    labels = torch.full((len(pairs), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(pairs), width), dtype=torch.long)
    for row, (ids, labs) in enumerate(pairs):
        input_ids[row, : len(ids)] = torch.tensor(ids)
        labels[row, : len(labs)] = torch.tensor(labs)
        mask[row, : len(ids)] = 1
    return {"input_ids": input_ids, "labels": labels, "attention_mask": mask}


def evaluate(model, batches: list[dict[str, Any]], device: str, torch) -> float:
    """Mean loss per predicted token over fixed batches."""
    model.eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for batch in batches:
            batch = {k: v.to(device) for k, v in batch.items()}
            n = int((batch["labels"][:, 1:] != IGNORE).sum())
            total += model(**batch).loss.item() * n
            count += n
    model.train()
    return total / max(count, 1)


def train(
    studies: list[dict[str, Any]],
    out: Path,
    settings: Settings,
    log=print,
    init: Path | None = None,
    progress: bool = False,
    keep_last: bool = False,
) -> dict[str, Any]:
    """Train from scratch, or go on from the checkpoint `init` (its vocabulary and architecture kept).

    The held-out loss is measured every `eval_every` steps; the checkpoint in `out` is always the
    best one so far (written when it improves), and training stops after `patience` evaluations
    without improvement. `keep_last`: the last weights are kept at the end instead, for a caller
    that judges them by something else (the loop: regret in held-out studies). `loss_curve.png`
    beside it shows both losses.
    """
    import torch

    from engine.context import resolve_device

    torch.manual_seed(settings.seed)
    rng = random.Random(settings.seed)
    device = str(resolve_device(settings.device))
    train_set, val_set = split_studies(studies, settings.val_fraction, settings.seed)
    if init is not None:
        from planner.model import load_checkpoint

        model, vocab, saved = load_checkpoint(init, device)
        for key in ("hidden", "layers", "heads", "intermediate", "n_bins", "n_y"):
            setattr(settings, key, saved["settings"][key])
    else:
        vocab = Vocabulary.build((" ".join(study_words(s)) for s in studies), n_bins=settings.n_bins, n_y=settings.n_y)
        model = build_model(settings, vocab)
    model = model.to(device)
    n_params = sum(p.numel() for p in model.parameters())
    log(f"planner: {n_params / 1e6:.2f} M parameters, vocabulary {len(vocab)}, device {device}")
    log(
        f"studies: {len(train_set)} for training, {len(val_set)} held out ({len({task_key(s) for s in val_set})} tasks)"
    )

    val_pairs = [
        encode_study(s, vocab, settings, None) for s in val_set[:: max(1, len(val_set) // settings.max_val_studies)]
    ]
    val_batches = [
        collate(val_pairs[i : i + settings.batch_size], vocab.pad_id, torch)
        for i in range(0, len(val_pairs), settings.batch_size)
    ]
    optimizer = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)

    def lr_at(step: int) -> float:  # linear warm-up, then cosine to a tenth
        if step < settings.warmup:
            return (step + 1) / settings.warmup
        progress = (step - settings.warmup) / max(1, settings.steps - settings.warmup)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_at)
    history = [{"step": 0, "val_loss": evaluate(model, val_batches, device, torch)}]
    log(f"step 0: held-out loss {history[0]['val_loss']:.4f}")
    best = {"step": 0, "val_loss": history[0]["val_loss"]}
    report = {
        "parameters": n_params,
        "train_studies": len(train_set),
        "val_studies": len(val_set),
        "val_tasks": sorted({task_key(s) for s in val_set}),
    }

    def keep_best() -> None:  # the checkpoint on disk is always the best so far: nothing is lost when stopped
        save_checkpoint(out, model, vocab, settings, {**report, **_losses(history, best), "steps_done": step})

    started = time.monotonic()
    model.train()
    step, running, stale, stop = 0, [], 0, ""
    keep_best()
    bar = _progress_bar(settings.steps, progress)
    say = bar.write if progress else log  # lines above the bar, not through it
    while step < settings.steps:
        batch = collate(
            [encode_study(rng.choice(train_set), vocab, settings, rng) for _ in range(settings.batch_size)],
            vocab.pad_id,
            torch,
        )
        loss = model(**{k: v.to(device) for k, v in batch.items()}).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        step += 1
        running.append(loss.item())
        bar.update(1)
        bar.set_postfix(loss=f"{running[-1]:.3f}", held_out=f"{history[-1]['val_loss']:.3f}", refresh=False)
        out_of_time = time.monotonic() - started > settings.max_minutes * 60
        if step % settings.eval_every == 0 or step == settings.steps or out_of_time:
            val_loss = evaluate(model, val_batches, device, torch)
            history.append({"step": step, "train_loss": sum(running) / len(running), "val_loss": val_loss})
            running = []
            if val_loss < best["val_loss"]:
                best, stale = {"step": step, "val_loss": val_loss}, 0
                keep_best()
            else:
                stale += 1
            say(
                f"step {step}: train loss {history[-1]['train_loss']:.4f}, held-out loss {val_loss:.4f}"
                f" (best {best['val_loss']:.4f} at step {best['step']})"
            )
            if settings.patience and stale >= settings.patience:
                stop = f"held-out loss has not improved for {stale} evaluations"
        if out_of_time:
            stop = f"the time limit of {settings.max_minutes} min is reached"
        if stop:
            log(f"stopping at step {step}: {stop}")
            break
    bar.close()
    if keep_last and best["step"] != step:
        best = {"step": step, "val_loss": history[-1]["val_loss"]}
        keep_best()
    report.update(
        _losses(history, best), steps_done=step, wall_s=time.monotonic() - started, stopped_early=stop or None
    )
    _rewrite_report(out, report)
    plot_losses(history, best, out / "loss_curve.png")
    log(
        f"held-out loss {report['initial_val_loss']:.4f} -> best {best['val_loss']:.4f} at step {best['step']} "
        f"(last {history[-1]['val_loss']:.4f}); best checkpoint in {out}"
    )
    return report


def _losses(history: list[dict[str, Any]], best: dict[str, Any]) -> dict[str, Any]:
    return {
        "history": history,
        "initial_val_loss": history[0]["val_loss"],
        "best_step": best["step"],
        "best_val_loss": best["val_loss"],
        "last_val_loss": history[-1]["val_loss"],
        "final_val_loss": best["val_loss"],  # the loss of the checkpoint that was kept
    }


def _rewrite_report(out: Path, report: dict[str, Any]) -> None:
    """settings.json of the kept checkpoint, with the whole history (the weights stay the best ones)."""
    path = out / "settings.json"
    data = json.loads(path.read_text())
    data.update(report)
    path.write_text(json.dumps(data, indent=2))


def _progress_bar(total: int, enabled: bool):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="planner", unit="step", disable=not enabled, dynamic_ncols=True)


def plot_losses(history: list[dict[str, Any]], best: dict[str, Any], path: Path) -> None:
    """Training and held-out loss against steps, the kept checkpoint marked."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    train = [h for h in history if "train_loss" in h]
    if train:
        ax.plot([h["step"] for h in train], [h["train_loss"] for h in train], marker=".", label="training loss")
    ax.plot([h["step"] for h in history], [h["val_loss"] for h in history], marker="o", label="held-out loss")
    ax.axvline(best["step"], color="grey", linestyle="--", linewidth=1)
    ax.scatter([best["step"]], [best["val_loss"]], color="red", zorder=3, label=f"kept: step {best['step']}")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per predicted token")
    ax.set_title("planner training")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--studies", type=Path, required=True, help="JSONL of studies (the database export)")
    parser.add_argument("--out", type=Path, default=Path("outputs/planner/ckpt"))
    parser.add_argument("--init", type=Path, default=None, help="go on training from this checkpoint")
    for f in fields(Settings):
        if f.name != "extra":
            parser.add_argument(f"--{f.name.replace('_', '-')}", type=type(f.default), default=f.default)
    args = parser.parse_args(argv)
    settings = Settings(**{f.name: getattr(args, f.name) for f in fields(Settings) if f.name != "extra"})
    settings.extra = {"studies": str(args.studies)}
    try:
        studies = read_studies(args.studies)
    except (OSError, ValueError) as exc:
        print(f"cannot train the planner: {exc}", file=sys.stderr)
        return 2
    report = train(studies, args.out, settings, log=lambda m: print(m, flush=True), init=args.init, progress=True)
    keys = ("initial_val_loss", "best_val_loss", "best_step", "last_val_loss", "steps_done", "wall_s")
    print(json.dumps({k: report[k] for k in keys}))
    return 0


if __name__ == "__main__":
    import sys

    from engine.boundary import guarded  # bad input: one paragraph, exit 2; a bug: a crash log

    sys.exit(guarded(main))
