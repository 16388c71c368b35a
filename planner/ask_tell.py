"""The planner over any search space and any objective: ask for a point, tell how it went.

    from planner.ask_tell import PlannerStudy

    study = PlannerStudy({"lr": {"type": "loguniform", "low": 1e-4, "high": 0.3},
                          "layers": {"type": "randint", "low": 1, "high": 5},
                          "act": {"type": "choice", "values": ["relu", "tanh"]}}, mode="min", seed=0)
    for _ in range(20):
        params = study.ask()
        study.tell(params, my_objective(**params))    # None: the trial failed
    print(study.best)

The space is util/search_space.py's format (choice, uniform, loguniform, randint with `high`
excluded); no metaprogram is needed, so nothing is validated against one. The shipped planner
(planner/shipped/) is used unless `checkpoint` names another. `task` describes what is tuned, as a
study records it (util/task_signature.py: model, dataset, dataset_facts with task, n_samples,
n_features, n_classes; objective); without one the planner conditions on "unknown" and says so in
a warning. A PlannerStudy is also a `util.search.Searcher` (suggest / observe).
"""

from __future__ import annotations

import logging
from typing import Any

from engine.finite import finite_number
from planner.proposal_settings import ProposalSettings
from planner.serialize import check_serializable

log = logging.getLogger("planner")

# What the planner is told about a task nobody described: every word it does not know, no data facts.
UNKNOWN_TASK = {"pipeline": "execution", "model": "unknown", "dataset": "unknown", "dataset_facts": {}}


def task_record(task: dict[str, Any] | None, metric: str, mode: str) -> tuple[dict[str, Any], list[str]]:
    """(the task as a study records it, what was assumed): `task` completed with UNKNOWN_TASK's entries."""
    given = dict(task or {})
    assumed = [key for key in UNKNOWN_TASK if key not in given]
    record = {**UNKNOWN_TASK, **given, "objective": {"metric": metric, "mode": mode}}
    return record, assumed


def say_assumed(record: dict[str, Any], assumed: list[str]) -> None:
    if assumed:
        shown = {key: record[key] for key in assumed}
        log.warning(
            "planner: no task description for %s; it assumes %s. Describe yours with task={'model': ..., "
            "'dataset': ..., 'dataset_facts': {'task': 'classification', 'n_samples': ..., 'n_features': ..., "
            "'n_classes': ...}} for proposals informed by similar studies.",
            ", ".join(assumed),
            shown,
        )


def load_planner(checkpoint: Any = None, seed: int = 0) -> Any:
    from planner.propose import Planner  # loads torch and transformers

    return Planner(checkpoint, seed=seed)


class PlannerStudy:
    """One study searched by the planner through ask / tell (the trials so far are its history)."""

    def __init__(
        self,
        space: dict[str, dict[str, Any]],
        mode: str = "max",
        *,
        task: dict[str, Any] | None = None,
        metric: str = "objective",
        checkpoint: Any = None,
        seed: int = 0,
        planner: Any = None,
        generator: Any = None,
        quiet: bool = False,
        **settings: Any,
    ):
        import torch

        if mode not in ("max", "min"):
            raise ValueError(f"mode must be 'max' or 'min', got {mode!r}")
        check_serializable(space)  # a clear SpaceError for a space the planner cannot read
        self.settings = ProposalSettings(**settings)  # candidates, prior, ...: planner/proposal_settings.py
        self.space, self.mode = space, mode
        self.task, assumed = task_record(task, metric, mode)
        if not quiet:
            say_assumed(self.task, assumed)
        self.planner = planner or load_planner(checkpoint, seed)
        self.generator = generator or torch.Generator(device="cpu").manual_seed(seed)
        self.trials: list[dict[str, Any]] = []
        self.pending: list[dict[str, Any]] = []  # asked, not told yet

    def record(self) -> dict[str, Any]:
        """The study so far in the export format (what the planner reads)."""
        return {"task": self.task, "search_space": self.space, "algorithm": "planner", "trials": self.trials}

    def ask(self) -> dict[str, Any]:
        params, _, _ = self.planner.suggest(
            self.record(), self.settings, pending=list(self.pending), generator=self.generator
        )
        self.pending.append(params)
        return params

    def tell(self, params: dict[str, Any], value: float | None) -> None:
        """The objective of `params` (None, NaN or infinite: the trial failed)."""
        if params in self.pending:
            self.pending.remove(params)
        value = finite_number(value)
        status = "failed" if value is None else "completed"
        self.trials.append({"order": len(self.trials), "params": dict(params), "objective": value, "status": status})

    suggest = ask  # the util.search.Searcher interface
    observe = tell

    @property
    def best(self) -> dict[str, Any] | None:
        """The best completed trial so far (params, objective), or None."""
        done = [t for t in self.trials if t["status"] == "completed"]
        if not done:
            return None
        return (max if self.mode == "max" else min)(done, key=lambda t: t["objective"])
