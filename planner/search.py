"""planner: the trained planner as a search algorithm of util.search (sweeps, batched suites, the loop).

    tune: {algorithm: planner}                                          # the shipped planner (planner/shipped/)
    tune: {algorithm: planner, planner_checkpoint: outputs/planner/ckpt}  # or one of your own

The point proposals are planner.tune_searcher.PlannerSearch's (history, acquisition, validation of
every proposal as an untrusted metaprogram); here they are asked and told through the one
`Searcher` interface. A batch shares one loaded planner between its studies (`Study.shared`);
each study draws from its own generator, seeded by its seed. The planner sits above the search
subsystem: it registers itself here, and util imports nothing of it.
"""

from __future__ import annotations

from typing import Any

from planner.model import checkpoint_or_shipped, fingerprint
from planner.proposal_settings import ProposalSettings
from util.search import Study, algorithm
from util.search_space import point_key


def identity(sweep: Any) -> dict[str, Any]:
    """What makes two planner studies different studies: another planner, or other settings."""
    tune = sweep.tune
    return {"checkpoint": fingerprint(tune.planner_checkpoint), **ProposalSettings.of_tune(tune).identity()}


class PlannerSearcher:
    """PlannerSearch (a Tune searcher over the study's own space) asked and told by point."""

    def __init__(self, search: Any):
        self.search = search
        self.asked = 0
        self.tokens: dict[str, list[str]] = {}  # point -> the ids it was suggested under

    @property
    def planner(self) -> Any:
        return self.search.planner

    def suggest(self) -> dict[str, Any]:
        token = f"p{self.asked}"
        self.asked += 1
        params = self.search.suggest(token)  # the space was given as it is: keys come back flat
        self.tokens.setdefault(point_key(params), []).append(token)
        return params

    def get_state(self) -> dict[str, Any]:  # the study so far, not the model (util/search/tune.py checkpoints it)
        return {"search": self.search.get_state(), "asked": self.asked, "tokens": self.tokens}

    def set_state(self, state: dict[str, Any]) -> None:
        self.search.set_state(state["search"])
        self.asked, self.tokens = state["asked"], state["tokens"]

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        waiting = self.tokens.get(point_key(params))
        if waiting:
            metric = self.search.metric
            self.search.on_trial_complete(waiting.pop(0), None if value is None else {metric: value}, value is None)


@algorithm("planner", identity=identity)
def build(study: Study) -> PlannerSearcher:
    if study.sweep is None:
        raise ValueError("the planner searches a sweep's study: it needs its base (planner.ask_tell: any space)")
    from planner.tune_searcher import PlannerSearch  # imports ray (a Tune Searcher) and torch

    planner = None
    if study.shared is not None:  # a batch: one loaded planner per checkpoint for all its studies
        checkpoint = checkpoint_or_shipped(study.sweep.tune.planner_checkpoint)
        if ("planner", checkpoint) not in study.shared:
            from planner.propose import Planner  # loads torch and transformers

            study.shared["planner", checkpoint] = Planner(checkpoint, seed=study.seed)
        planner = study.shared["planner", checkpoint]
    search = PlannerSearch.for_sweep(study.sweep, space=study.space, planner=planner, metric=study.metric,
                                     mode=study.mode)  # fmt: skip
    return PlannerSearcher(search)
