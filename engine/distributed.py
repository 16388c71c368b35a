"""Data-parallel training of the execution pipeline on Ray Train: `pipeline.distributed.workers=N`.

    python -B run_metaprogram.py --config-name=metaprogram/example pipeline.distributed.workers=2

The run keeps its run directory, id and records; what changes is where it trains. This process (the
run's own, under engine.runner.execute) starts Ray Train's TorchTrainer on the Ray that job_launch and
the Tune sweeper use (the one this process already runs in, `pipeline.distributed.address`, or a fresh
local instance) and waits for it. Each of the N workers runs the execution pipeline's own loop
(engine.pipelines.execution.train) on its share of every batch (rank r takes `batch[r::N]`, in memory
or streamed: engine.data_pipe.feed.EpochBatches), with the model in DistributedDataParallel (gloo on
CPU, nccl on GPUs) and each share's loss weighed by its size, so the averaged gradient is the one of the
single-process run's batch and the metrics match it within floating-point tolerance (dropout draws
other masks, and batch norm sees a share). Every worker evaluates the whole validation split, so they
agree on early stopping and the best epoch without talking.

Checkpoints and reports are Ray Train's: at each epoch the checkpoint hook's state goes to
`ray.train.report(checkpoint=...)`, kept under the run's `checkpoints/ray_train`; a run stopped (SIGTERM,
a lost node) and started again is restored from there by Ray Train (`ray.train.get_checkpoint`) and goes
on from its last epoch; `force=true` clears it with the run's other checkpoints.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import signal
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.context import RunContext
from engine.metaprogram import Metaprogram

STORAGE = "ray_train"  # under the run's checkpoints/: Ray Train's run storage (checkpoints and its own state)
EXPERIMENT = "train"
FINAL = "final.json"  # the results, in the last checkpoint
HEALTH_CHECK_ENV, HEALTH_CHECK_S = "RAY_TRAIN_HEALTH_CHECK_INTERVAL_S", "0.2"


# Ray's start-up with code shipping lives in job_launch, above the engine: named here and imported when a run needs
# it, as a registry names a built-in entry that lives above it (engine/launchers.py's ELSEWHERE).
RAY_STARTER = "job_launch.cluster:init_ray"


def _ray_starter() -> Any:
    module, _, attr = RAY_STARTER.partition(":")
    return getattr(importlib.import_module(module), attr)


def run_distributed(mp: Metaprogram, context: RunContext) -> dict[str, Any]:
    """The execution pipeline's results, trained by `pipeline.distributed.workers` Ray Train workers."""
    import ray
    from ray.train import CheckpointConfig, FailureConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchConfig, TorchTrainer

    cfg = mp.pipeline.distributed
    started_ray = not ray.is_initialized()
    if started_ray:  # the same start-up (and code shipping) as job_launch and the Tune sweeper
        init_ray = _ray_starter()
        on_sigterm = signal.getsignal(signal.SIGTERM) if threading.current_thread() is threading.main_thread() else None
        init_ray(cfg.address, paths=context.paths)
        if on_sigterm is not None:  # Ray's core worker takes SIGTERM over (and aborts): the run records itself first
            signal.signal(signal.SIGTERM, on_sigterm)
    use_gpu = cfg.gpus_per_worker > 0
    backend = cfg.backend if cfg.backend != "auto" else ("nccl" if use_gpu else "gloo")
    context.log.info(
        "data-parallel training: %d workers on Ray Train (%s), %g CPUs and %g GPUs each, global batch %d",
        cfg.workers,
        backend,
        cfg.cpus_per_worker,
        cfg.gpus_per_worker,
        mp.pipeline.batch_size,
    )
    # Ray Train's controller takes a worker's report off its queue (which holds one) when it polls, every 2 s by
    # default: a worker's next report waits for that, which capped short epochs at one per 2 s. Polled more often.
    os.environ.setdefault(HEALTH_CHECK_ENV, HEALTH_CHECK_S)
    roots = context.paths.absolute().model_dump()
    storage = context.checkpoint_dir / STORAGE
    storage.mkdir(parents=True, exist_ok=True)
    canonical = {**mp.canonical, "pipeline": {**mp.canonical["pipeline"], "loader": mp.pipeline.loader.model_dump()}}
    config = {
        "canonical": canonical,  # with how data is fed, which the canonical form leaves out
        "roots": roots,
        "run_dir": str(context.run_dir),
        "time_left_s": None if context.deadline is None else context.deadline - time.monotonic(),
    }
    trainer = TorchTrainer(
        _worker,
        train_loop_config=config,
        torch_config=TorchConfig(backend=backend),
        scaling_config=ScalingConfig(
            num_workers=cfg.workers,
            use_gpu=use_gpu,
            resources_per_worker={"CPU": cfg.cpus_per_worker, **({"GPU": cfg.gpus_per_worker} if use_gpu else {})},
        ),
        run_config=RunConfig(
            name=EXPERIMENT,
            storage_path=str(storage.resolve()),
            checkpoint_config=CheckpointConfig(num_to_keep=1),
            failure_config=FailureConfig(max_failures=0),
        ),
    )
    outcome: dict[str, Any] = {}

    def fit() -> None:
        try:
            outcome["result"] = trainer.fit()
        except BaseException as exc:  # handed to the waiting thread
            outcome["error"] = exc

    # fit() waits inside Ray, where a signal handler does not run until it returns: wait for it here instead, so
    # that SIGTERM stops the run at once (its last epoch's checkpoint is Ray Train's) rather than after training
    waiter = threading.Thread(target=fit, name="ray-train-fit", daemon=True)
    try:
        waiter.start()
        while waiter.is_alive():
            waiter.join(0.2)
    finally:  # also on SIGTERM or Ctrl-C: stopping Ray stops the workers (the trainer's actors die with this driver)
        if started_ray:
            ray.shutdown()
    if "error" in outcome:  # a worker's error, as Ray Train wraps it
        raise RuntimeError(f"data-parallel training failed: {_cause(outcome['error'])}") from None
    result = outcome["result"]
    metrics = dict(result.metrics or {})
    results = metrics.get("results")
    if not isinstance(results, dict):
        raise RuntimeError("data-parallel training ended without results (see the run's log)")
    for epoch_metrics in metrics.get("history", []):  # the epochs, to whoever listens (Tune, trackers)
        context.report(epoch_metrics)
    return results


@dataclass
class Parallel:
    """What the execution loop needs to know inside one data-parallel worker."""

    rank: int
    world: int
    device: str
    batch_size: int  # the global batch
    extra: dict[str, Any] = field(default_factory=dict)

    def wrap(self, model: Any) -> Any:
        """The model in DistributedDataParallel (Ray Train's prepare_model: the device, then DDP)."""
        from ray.train.torch import prepare_model

        return prepare_model(model, move_to_device=self.device != "cpu")

    def mean_loss(self, batch_losses: list[Any], n: int) -> float:
        """The epoch's per-sample training loss over every worker's shares (the single-process figure)."""
        import torch
        import torch.distributed as dist

        weighted = torch.stack(batch_losses).float()  # each: share mean * share size * world / batch size
        dist.all_reduce(weighted)  # summed over workers: world x each batch's mean
        sizes = torch.full((len(batch_losses),), float(self.batch_size))
        sizes[-1] = n - self.batch_size * (len(batch_losses) - 1)
        return float((weighted.cpu() / self.world * sizes).sum() / n)


class _WorkerContext(RunContext):
    """A worker's RunContext: checkpoints go to a scratch folder that Ray Train then takes over."""

    @property
    def checkpoint_dir(self) -> Path:
        return self.extra["checkpoint_dir"]


def _worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: rebuild the metaprogram, train its share, report every epoch with a checkpoint."""
    import ray.train
    import torch
    from ray.train.torch import get_device

    from engine.hooks.checkpoint import LAST
    from engine.metaprogram import validate
    from engine.paths import Paths
    from engine.pipelines.execution import train

    train_context = ray.train.get_context()
    rank, world = train_context.get_world_rank(), train_context.get_world_size()
    paths = Paths(**config["roots"])
    mp = validate(config["canonical"], trusted=True, paths=paths)  # checked by the driver; rebuilds the objects
    run_dir = Path(config["run_dir"])
    log = _worker_log(run_dir, rank)
    device = str(get_device()) if mp.pipeline.distributed.gpus_per_worker > 0 else "cpu"
    parallel = Parallel(rank, world, device, mp.pipeline.batch_size)
    with tempfile.TemporaryDirectory(prefix=f"ray-train-{rank}-") as scratch:
        restored = ray.train.get_checkpoint()
        # Ray Train's latest checkpoint; else the one a single-process run of the same id left (the worker count is
        # a resource: a run may go on with more or fewer workers)
        start_dir = (
            Path(restored.to_directory(str(Path(scratch) / "restored"))) if restored else run_dir / "checkpoints"
        )
        history: list[dict[str, Any]] = []
        context = _WorkerContext(
            run_dir=run_dir,
            paths=paths,
            log=log,
            deadline=None if config["time_left_s"] is None else time.monotonic() + config["time_left_s"],
            extra={"checkpoint_dir": start_dir},  # read by the checkpoint hook's on_start (resume)
        )

        def report(metrics: dict[str, Any]) -> None:  # after the epoch's hooks: the checkpoint hook has saved
            epoch_dir = context.extra["checkpoint_dir"]
            saved = epoch_dir / LAST
            checkpoint = ray.train.Checkpoint.from_directory(str(epoch_dir)) if rank == 0 and saved.exists() else None
            history.append({**metrics, "worker/time_s": time.time()})  # when worker 0 ended the epoch
            started = time.monotonic()
            ray.train.report({"epoch": metrics.get("epoch")}, checkpoint=checkpoint)
            log.debug("epoch %s reported to Ray Train in %.2f s", metrics.get("epoch"), time.monotonic() - started)
            context.extra["checkpoint_dir"] = Path(scratch) / f"epoch-{metrics.get('epoch')}"

        context.report = report
        done = start_dir / FINAL
        if done.exists():  # restored after training had ended: only the results were still to hand over
            final = json.loads(done.read_text())
        else:
            torch.manual_seed(mp.seed)
            final = {"results": train(mp, context, parallel), "history": history}
        # the last report carries the results in a checkpoint of their own: Ray Train's result is that checkpoint's
        end_dir = Path(scratch) / "final"
        end_dir.mkdir()
        (end_dir / FINAL).write_text(json.dumps(final))
        checkpoint = ray.train.Checkpoint.from_directory(str(end_dir)) if rank == 0 else None
        ray.train.report(final, checkpoint=checkpoint)  # every worker reports; rank 0's are kept


def _worker_log(run_dir: Path, rank: int) -> logging.Logger:
    """Rank 0 writes into the run's log; the others into their own beside it."""
    from engine.runner import LOGGER_NAME

    log = logging.getLogger(f"{LOGGER_NAME}.worker{rank}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    if not log.handlers:
        handler = logging.FileHandler(run_dir / ("run.log" if rank == 0 else f"worker-{rank}.log"))
        handler.setFormatter(logging.Formatter(f"%(asctime)s %(levelname)s [worker {rank}] %(message)s"))
        log.addHandler(handler)
    return log


def _cause(exc: BaseException) -> str:
    while exc.__cause__ is not None:
        exc = exc.__cause__
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
