"""The execution pipeline: train, validate each epoch, test once with the best weights.

`model.init_from=<run>` starts from a completed run's weights (fine-tuning); `pipeline.mode=test` trains
nothing and evaluates the model on the dataset's test split, writing predictions.csv. A trained run leaves
the weights it tested with in model.pt, for the runs that build on it.

Reads top to bottom: data -> model -> how the data is fed -> optimizer and schedule -> hooks ->
the epoch loop -> test. Data that fits is held on the device and a batch is an index slice, so
the loop costs what a hand-written one costs; larger data, or data a model preprocesses per
sample, streams from a DataLoader with the same batches (engine.data_pipe.feed). A model with
nothing to train (zero-shot CLIP) is evaluated only.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from engine.atomic import atomic_path, atomic_write
from engine.context import RunContext, resolve_device
from engine.data_pipe import build_splits
from engine.data_pipe.feed import InMemory, Streamed, data_gb
from engine.data_point import DataInfo
from engine.hooks import Hook, TrainState, build_hooks
from engine.lineage import WEIGHTS
from engine.metaprogram import Metaprogram
from engine.metrics import classification_metrics, regression_metrics
from engine.models import build_model
from engine.optim import make_optimizer, make_scheduler
from engine.paths import Paths
from engine.precision import Precision
from engine.schema.base import METRICS


def run(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    if mp.pipeline.distributed.workers > 1:  # data-parallel on Ray Train: each worker runs `train` on its share
        from engine.distributed import run_distributed

        return run_distributed(mp, context)
    return train(mp, context)


def train(mp: Metaprogram, context: RunContext, parallel: Any = None) -> dict[str, Any]:
    """The whole run in this process, or, with `parallel` (engine.distributed.Parallel), one data-parallel worker's
    part: its share of every batch, gradients averaged across workers (DDP)."""
    cfg = mp.pipeline
    rank, world = (parallel.rank, parallel.world) if parallel else (0, 1)
    device = parallel.device if parallel else resolve_device(cfg.device)
    torch.manual_seed(mp.seed)
    if device == "cpu":  # use the CPUs the run reserved; more threads than that oversubscribe the machine
        cpus = cfg.distributed.cpus_per_worker if parallel else cfg.resources.cpus
        torch.set_num_threads(max(1, int(cpus)))

    data = build_splits(mp.dataset, context.paths, context)
    info = data.info
    model = build_model(mp.model, info, context.paths)
    parent = getattr(mp.model, "init_from", None)
    if parent is not None:  # before any step: weights that do not fit fail the run here
        load_parent_weights(model, context.paths.run_dir(parent) / WEIGHTS, parent)
        context.log.info("model %s: starting from the weights of run %s", mp.model.name, parent)
    model = model.to(device)
    # what trains: the model itself, or its DDP wrapper (the checkpoint and best weights keep the model's own keys)
    net = parallel.wrap(model) if parallel else model
    n_params = sum(p.numel() for p in model.parameters())
    context.log.info("model %s: %d parameters", mp.model.name, n_params)
    testing = cfg.mode == "test"

    # in memory (on the device), or streamed when a transform runs per sample or the data is too large
    transform = getattr(model, "sample_transform", None)
    size = data_gb(data.train, data.val, data.test)
    if transform is not None or size > cfg.loader.in_memory_limit_gb:
        train = Streamed(data.train, device, cfg.batch_size, mp.seed, cfg.loader, transform, rank, world)
        val, test = (
            Streamed(split, device, cfg.batch_size, mp.seed, cfg.loader, transform) for split in (data.val, data.test)
        )
        why = "a per-sample transform" if transform is not None else f"{size:.2f} GB > in_memory_limit_gb"
        feeding = f"streamed ({why}; {cfg.loader.workers} workers)"
    else:
        train = InMemory(data.train, device, cfg.batch_size, mp.seed, rank, world)
        val, test = (InMemory(split, device, cfg.batch_size, mp.seed) for split in (data.val, data.test))
        feeding = "in memory"
    context.log.info(
        "data: %d train, %d val, %d test samples shaped %s; %s on %s, %s",
        len(train),
        len(val),
        len(test),
        info.input_shape,
        info.task,
        device,
        feeding,
    )

    trainable = any(p.requires_grad for p in model.parameters()) and not testing
    epochs = cfg.epochs if trainable else 0
    if testing:
        context.log.info("test mode: evaluating model %s on the test split of %s", mp.model.name, mp.dataset.name)
        return {
            "parameters": n_params,
            **evaluate(model, test, info, "test", cfg.metrics, context.run_dir / PREDICTIONS),
        }
    if not trainable:
        context.log.info("model %s has nothing to train: evaluating only", mp.model.name)
    optimizer = scheduler = None
    if trainable:
        steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
        # a model may give parameter groups of their own learning rates (a pretrained encoder's, a head's)
        groups = model.param_groups(cfg.optim.lr) if hasattr(model, "param_groups") else model.parameters()
        optimizer = make_optimizer(cfg.optim, groups)
        scheduler = make_scheduler(cfg.schedule, optimizer, cfg.epochs, steps_per_epoch)
    loss_fn = F.cross_entropy if info.task == "classification" else _mse
    # a model with its own objective (e.g. CLIP's contrastive loss) trains on it; evaluation uses its logits
    custom_loss = getattr(net, "training_loss", None) if not parallel else None
    if parallel and hasattr(model, "training_loss"):
        raise ValueError(f"model {mp.model.name} trains on its own loss, which data-parallel training does not split")
    precision = Precision(cfg.precision, device)
    context.log.info("precision %s", precision.name)
    hooks = build_hooks(cfg.hooks)
    # per-batch work the loop can skip: a constant schedule, hooks with nothing to do after backward
    step_schedule = cfg.schedule.name != "constant" or cfg.schedule.warmup_epochs > 0
    backward_hooks = [h for h in hooks if type(h).on_after_backward is not Hook.on_after_backward]
    state = TrainState(model, optimizer, scheduler, epochs, mp.objective(), hooks)
    metric, mode = state.objective

    for hook in hooks:
        hook.on_start(state, context)
    while state.epoch < epochs and not state.stop:
        epoch = state.epoch + 1
        model.train()
        batch_losses = []  # summed once per epoch: no per-batch arithmetic or device sync
        for step, (inputs, targets) in enumerate(train.epoch(epoch)):
            with precision.autocast():
                if custom_loss is not None:
                    loss = custom_loss(inputs, targets)
                else:
                    outputs = net(inputs)  # logits (B, n_outputs); B: this worker's share when data-parallel
                    loss = loss_fn(outputs, targets) if len(targets) else outputs.sum() * 0.0
            if parallel:  # DDP averages over workers: weigh each share by its size, as one batch's mean would
                loss = loss * (len(targets) * world / min(cfg.batch_size, len(train) - step * cfg.batch_size))
            optimizer.zero_grad(set_to_none=True)
            precision.backward(loss, optimizer)
            for hook in backward_hooks:
                hook.on_after_backward(state)
            precision.step(optimizer)
            if step_schedule:
                scheduler.step()
            batch_losses.append(loss.detach())
            context.check_deadline()

        metrics = {
            "epoch": epoch,
            "train/loss": parallel.mean_loss(batch_losses, len(train))
            if parallel
            else _mean_loss(batch_losses, len(train), cfg.batch_size),
            "lr": optimizer.param_groups[0]["lr"],
        }
        metrics.update(evaluate(model, val, info, "val", cfg.metrics))
        state.epoch = epoch
        state.history.append(metrics)
        if metric in metrics and state.is_better(metrics[metric], mode, state.best_value):
            state.best_value, state.best_epoch = metrics[metric], epoch
            state.best_weights = {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}
        for hook in hooks:
            hook.on_epoch_end(state, metrics, context)
        context.report(metrics)
    for hook in hooks:
        hook.on_end(state, context)

    if cfg.restore_best and state.best_weights is not None:
        model.load_state_dict(state.best_weights)
    if epochs:  # the weights it tests with, for runs that start from this one (model.init_from)
        with atomic_path(context.run_dir / WEIGHTS) as tmp:
            torch.save({k: v.detach().cpu() for k, v in model.state_dict().items()}, tmp)
    results: dict[str, Any] = {"epochs": state.epoch, "parameters": n_params}
    if state.best_epoch is not None:
        results["best_epoch"] = state.best_epoch
    results.update(evaluate(model, val, info, "val", cfg.metrics))
    results.update(evaluate(model, test, info, "test", cfg.metrics))
    for hook in hooks:
        hook.on_results(results, context)
    return results


def _mean_loss(batch_losses: list[torch.Tensor], n: int, batch_size: int) -> float:
    """The per-sample mean over an epoch: every batch is full but maybe the last."""
    sizes = torch.full((len(batch_losses),), float(batch_size))
    sizes[-1] = n - batch_size * (len(batch_losses) - 1)
    return float((torch.stack(batch_losses).float().cpu() * sizes).sum() / n)


def _mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return F.mse_loss(predictions.squeeze(-1), targets)  # (B, 1) vs (B,)


PREDICTIONS = "predictions.csv"


class IncompatibleWeights(ValueError):
    """A parent run's weights that do not fit the model built here."""


def weight_problems(own: dict[str, Any], saved: dict[str, Any], parent: str) -> str | None:
    """Why a parent's state dict `saved` does not fit a model whose state dict is `own` (None: it fits)."""
    problems = [f"{k} is missing there" for k in own if k not in saved]
    problems += [f"{k} is there but not here" for k in saved if k not in own]
    problems += [
        f"{k} is {tuple(saved[k].shape)} there, {tuple(v.shape)} here"
        for k, v in own.items()
        if k in saved and saved[k].shape != v.shape
    ]
    if not problems:
        return None
    shown = "; ".join(problems[:3]) + (f"; and {len(problems) - 3} more" if len(problems) > 3 else "")
    return (
        f"the weights of run {parent} do not fit this model ({shown}): the parent had other model settings, "
        "or data with other inputs or classes"
    )


def _parent_state(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True, mmap=True)  # a plain state dict: no code loaded


def problems_before_run(mp: Metaprogram, paths: Paths) -> list[str]:
    """Checked by the runner before the run starts (engine/runner.py): parent weights (model.init_from) that do
    not fit the model this run builds. The model is built for the dataset's shapes on the meta device, so no
    weights are allocated; data or a model that cannot be built is left to the run, which records why."""
    parent = getattr(mp.model, "init_from", None)
    if parent is None:
        return []
    try:
        data = build_splits(mp.dataset, paths)
        with torch.device("meta"):
            model = build_model(mp.model, data.info, paths)
    except Exception:
        return []
    problem = weight_problems(model.state_dict(), _parent_state(paths.run_dir(parent) / WEIGHTS), parent)
    return [f"model.init_from: {problem}"] if problem else []


def load_parent_weights(model: torch.nn.Module, path: Path, parent: str) -> None:
    """Load a parent run's state dict into `model`; every tensor must be there with the same shape."""
    saved = _parent_state(path)
    if problem := weight_problems(model.state_dict(), saved, parent):
        raise IncompatibleWeights(f"model.init_from: {problem}")
    model.load_state_dict(saved)


@torch.no_grad()
def evaluate(
    model: torch.nn.Module,
    split: InMemory | Streamed,
    info: DataInfo,
    prefix: str,
    extra: dict[str, Any] | None = None,
    predictions: Path | None = None,
) -> dict[str, float]:
    """Loss and task metrics over a whole split, `prefix/` before each name; `extra`: registered metrics (name ->
    settings, pipeline.metrics) on the same targets and predictions; `predictions`: also write one CSV row per
    sample (row, target, prediction and, for classification, the predicted class's probability)."""
    if len(split) == 0:
        return {}
    was_training = model.training
    model.eval()
    outputs, targets = [], []
    for inputs, target in split.in_order():
        outputs.append(model(inputs))
        targets.append(target)
    model.train(was_training)
    outputs, target = torch.cat(outputs), torch.cat(targets)
    if info.task == "classification":
        loss = F.cross_entropy(outputs, target).item()
        predicted = outputs.argmax(-1).cpu().numpy()
        scores = classification_metrics(target.cpu().numpy(), predicted)
        columns = {"target": target.cpu().numpy(), "prediction": predicted,
                   "probability": outputs.float().softmax(-1).max(-1).values.cpu().numpy()}  # fmt: skip
    else:
        loss = _mse(outputs, target).item()
        # metrics in the target's own units, not the standardised ones used for training
        scale = lambda t: (t.squeeze(-1).cpu().double().numpy() * info.target_std) + info.target_mean  # noqa: E731
        scores = regression_metrics(scale(target), scale(outputs))
        columns = {"target": scale(target), "prediction": scale(outputs)}
    for name, settings in (extra or {}).items():  # a plugin's metric, on what the built-in ones saw
        try:
            scores[name] = float(METRICS.load(name)(columns["target"], columns["prediction"], settings))
        except Exception as exc:  # the plugin's code: the failed run's record says which metric, and why
            raise ValueError(f"metric {name!r} ({prefix} split) failed: {type(exc).__name__}: {exc}") from exc
    if predictions is not None:
        _write_csv(predictions, columns)
    return {f"{prefix}/loss": loss, **{f"{prefix}/{k}": v for k, v in scores.items()}}


def _write_csv(path: Path, columns: dict[str, Any]) -> None:
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["row", *columns])
    writer.writerows([i, *(c[i].item() for c in columns.values())] for i in range(len(next(iter(columns.values())))))
    atomic_write(path, out.getvalue())
