"""Any `util.search.Searcher` as a Ray Tune searcher: one Tune trial per point (util/tune_sweep.py).

Tune asks `suggest(trial_id)` for a trial's config (the point itself: dotted keys, flat) and reports
each ended trial to `on_trial_complete`; the point's objective (the trial's last result under the
study's metric) goes back to the searcher. Tune's own concurrency limit applies
(`TuneConfig.max_concurrent_trials`). The searcher is pickled with the experiment, so a sweep
resumed with `Tuner.restore` goes on from the same searcher state.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

from ray.tune.search import Searcher as TuneSearcher  # this module is the Ray side: only Tune runs load it

from engine.finite import finite_number
from util.search import Searcher


class TuneSearch(TuneSearcher):
    def __init__(self, searcher: Searcher, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.inner = searcher  # not `searcher`: Tune takes a searcher with that attribute for a wrapper
        self.live: dict[str, dict[str, Any]] = {}  # Tune trial id -> its point

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        params = self.inner.suggest()
        if params is None:
            return TuneSearcher.FINISHED
        self.live[trial_id] = params
        return dict(params)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        params = self.live.pop(trial_id, None)
        if params is not None:
            self.inner.observe(params, objective_of(result, self.metric, error))

    def get_state(self) -> dict[str, Any]:
        """What Tune checkpoints with the experiment: the searcher's own state when it says what that is (the
        planner: its study, not its model), else the whole searcher."""
        inner = self.inner.get_state() if hasattr(self.inner, "get_state") else self.inner
        return {"searcher": inner, "live": self.live}

    def set_state(self, state: dict[str, Any]) -> None:
        if hasattr(self.inner, "set_state"):
            self.inner.set_state(state["searcher"])
        else:
            self.inner = state["searcher"]
        self.live = state["live"]

    def save(self, checkpoint_path: str) -> None:
        Path(checkpoint_path).write_bytes(pickle.dumps(self.get_state()))

    def restore(self, checkpoint_path: str) -> None:
        self.set_state(pickle.loads(Path(checkpoint_path).read_bytes()))


def objective_of(result: dict | None, metric: str, error: bool = False) -> float | None:
    """A trial's objective for its searcher: a finite number, or None (failed, or it reported none)."""
    return None if error or not result else finite_number(result.get(metric))
