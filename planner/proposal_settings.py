"""How the planner proposes each trial: one settings object for every way in.

A sweep reads it from its `tune.planner_*` keys (`of_tune`), PlannerStudy and PlannerSampler from their
keyword arguments, the command lines from their flags (`add_arguments` / `of_args`); Planner.suggest takes
it whole, and a study's id holds what of it changes the study (`identity`). The defaults are the sweep
file's (util/sweep_spec.py), so a new setting is a field here and a `planner_` key there, nothing more.
"""

from __future__ import annotations

import argparse
from dataclasses import asdict, dataclass, fields
from typing import Any

from engine.finite import finite_number
from util.sweep_spec import (
    PLANNER_CANDIDATES,
    PLANNER_EARLY_CANDIDATES,
    PLANNER_LOCAL_MODEL,
    PLANNER_NEIGHBOURS,
    PLANNER_PRIOR,
)

ACQUISITIONS = ("ei", "ucb")
LOCAL_MODELS = ("gp",)


@dataclass(frozen=True)
class ProposalSettings:
    candidates: int = PLANNER_CANDIDATES  # samples scored per proposal by the acquisition
    early_candidates: int | None = PLANNER_EARLY_CANDIDATES  # at most this many until the GP has its trials
    acquisition: str | None = "ei"  # "ei", "ucb", or None: the planner's first sample, unscored
    temperature: float | None = None  # the planner's sampling temperature; None: the checkpoint's (1.0)
    local_model: str | None = PLANNER_LOCAL_MODEL  # "gp": a GP on the study's own trials, or None
    prior: int = PLANNER_PRIOR  # a study's first trials taken from the planner's portfolio
    neighbours: int = PLANNER_NEIGHBOURS  # points next to the best trials, scored once the GP is fitted

    def __post_init__(self) -> None:
        problems = []
        if self.acquisition not in (None, *ACQUISITIONS):
            problems.append(f"acquisition must be ei, ucb or none, got {self.acquisition!r}")
        if self.local_model not in (None, *LOCAL_MODELS):
            problems.append(f"local_model must be gp or none, got {self.local_model!r}")
        if not _count(self.candidates, 1) or not (self.early_candidates is None or _count(self.early_candidates, 1)):
            problems.append(
                f"the candidate counts must be positive, got candidates={self.candidates}, "
                f"early_candidates={self.early_candidates}"
            )
        for name in ("prior", "neighbours"):
            if not _count(getattr(self, name), 0):
                problems.append(f"{name} must be a whole number >= 0, got {getattr(self, name)!r}")
        if self.temperature is not None and not (finite_number(self.temperature) or 0) > 0:
            problems.append(f"temperature must be a number > 0, got {self.temperature!r}")
        if problems:
            raise ValueError("; ".join(problems))

    @classmethod
    def of_tune(cls, tune: Any) -> ProposalSettings:
        """The settings a sweep's `tune:` section names (util/sweep_spec.py: TuneSettings)."""
        return cls(**{f.name: getattr(tune, f"planner_{f.name}") for f in fields(cls)})

    def tune_keys(self) -> dict[str, Any]:
        """The `tune.planner_*` keys that give a sweep these settings (None temperature: the sweep's 1.0)."""
        keys = {f"planner_{name}": value for name, value in asdict(self).items()}
        if self.temperature is None:
            del keys["planner_temperature"]
        return keys

    def identity(self) -> dict[str, Any]:
        """What of these settings makes a study another study; a setting at its old value adds nothing, so the
        ids of studies recorded before it existed still stand."""
        k = self.candidates
        return {
            "candidates": k,
            # no schedule (null, or no fewer than candidates) is the same study as before the setting existed
            **({"early_candidates": e} if (e := self.early_candidates) and e < k else {}),
            "acquisition": self.acquisition,
            **({"temperature": t} if (t := self.temperature) not in (None, 1.0) else {}),
            **({"local_model": m} if (m := self.local_model) else {}),
            **({"prior": n} if (n := self.prior) else {}),
            # neighbours are scored only beside the GP, with acquisition: otherwise the setting changes nothing
            **({"neighbours": n} if (n := self.neighbours) and self.local_model and self.acquisition else {}),
        }

    @staticmethod
    def add_arguments(parser: argparse.ArgumentParser) -> None:
        """The command-line flags of every setting, with the sweep file's defaults."""
        default = DEFAULTS
        parser.add_argument("-k", type=int, default=default.candidates, help="candidates scored per proposal")
        parser.add_argument(
            "--early-k", type=int, default=default.early_candidates, help="at most this many candidates until 5 trials"
        )
        parser.add_argument("--acquisition", default="ei", choices=[*ACQUISITIONS, "none"])
        parser.add_argument("--temperature", type=float, default=None, help="the planner's sampling temperature")
        parser.add_argument(
            "--local-model", default=default.local_model, choices=[*LOCAL_MODELS, "none"], help="a GP on the trials"
        )
        parser.add_argument("--prior", type=int, default=default.prior, help="first trials from the portfolio")
        parser.add_argument(
            "--neighbours", type=int, default=default.neighbours, help="points next to the best trials, scored late on"
        )

    @classmethod
    def of_args(cls, args: argparse.Namespace) -> ProposalSettings:
        """The settings `add_arguments`' flags name ("none": off)."""
        return cls(
            candidates=args.k,
            early_candidates=args.early_k or None,  # 0: no schedule
            acquisition=None if args.acquisition == "none" else args.acquisition,
            temperature=args.temperature,
            local_model=None if args.local_model == "none" else args.local_model,
            prior=args.prior,
            neighbours=args.neighbours,
        )


def _count(value: Any, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= least


DEFAULTS = ProposalSettings()  # the sweep file's defaults (frozen: safe as an argument's default)
