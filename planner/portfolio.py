"""portfolio: the training corpus's best configurations, tried in order (a static baseline, and the planner's prior).

    tune: {algorithm: portfolio}            # the shipped planner's portfolio.json (planner/shipped/)

Built once from the corpus the planner trains on (planner/ship.py writes `portfolio.json` beside the
weights). Per search space of the corpus, the candidates are the best trial of each study; they are
ordered greedily so that each next one adds the most to the best already reached, summed over the
corpus's tasks (as static portfolios of configurations are built, e.g. Wistuba et al. 2015, Feurer et
al. 2018). The corpus runs each configuration on one task only, so its value on another task is
estimated by that task's nearest trial (parameters as the planner's bins scaled to [0, 1], choices
one-hot), normalised within the study (1 = its best).

A study's space need not be one of the corpus's: `points(space)` takes the portfolio of the corpus
space that shares most keys with it (of most tasks among equals), keeps the values of those keys
(moved into the new range: clipped, or the nearest choice) and draws the other keys at random from
the study's seed. After the portfolio, random search goes on.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from planner import local_model
from planner.model import checkpoint_or_shipped
from planner.serialize import N_BINS, Normalizer, completed
from util.search import Study, algorithm
from util.search_space import CATEGORICAL, sample, sample_value

FILE = "portfolio.json"
SIZE = 25  # configurations kept per corpus space: the longest budget the benchmarks judge


def build(studies: list[dict[str, Any]], size: int = SIZE, n_bins: int = N_BINS) -> dict[str, Any]:
    """{"spaces": [{"space", "tasks", "studies", "configs": [params, ...]}]} from studies in the export format."""
    import numpy as np  # numpy: only when the portfolio is built

    groups: dict[str, list[dict[str, Any]]] = {}
    for study in studies:
        if any(completed(t) for t in study.get("trials", [])):
            groups.setdefault(json.dumps(study["search_space"], sort_keys=True), []).append(study)
    spaces = []
    for key, members in sorted(groups.items()):
        space = json.loads(key)
        order = sorted(space)
        by_task: dict[str, tuple[list[list[float]], list[float]]] = {}
        candidates = []
        for study in members:
            done = [t for t in study["trials"] if completed(t)]
            norm = Normalizer([t["objective"] for t in done], study["task"]["objective"]["mode"])
            points, values = by_task.setdefault(json.dumps(study["task"], sort_keys=True), ([], []))
            for trial in done:
                points.append(local_model.encode(space, order, trial["params"], n_bins))
                values.append(norm(trial["objective"]))
            best = max(done, key=lambda t: norm(t["objective"]))
            candidates.append(best["params"])
        encoded = np.array([local_model.encode(space, order, c, n_bins) for c in candidates])
        # estimate[c, t]: the normalised value of task t's trial nearest to candidate c
        estimate = np.zeros((len(candidates), len(by_task)))
        for column, (points, values) in enumerate(by_task.values()):
            distance = ((encoded[:, None, :] - np.array(points)[None, :, :]) ** 2).sum(-1)
            estimate[:, column] = np.array(values)[distance.argmin(1)]
        reached, chosen = np.zeros(len(by_task)), []
        for _ in range(min(size, len(candidates))):
            gain = np.maximum(estimate, reached).sum(1)
            gain[chosen] = -1.0  # each configuration once
            pick = int(gain.argmax())
            chosen.append(pick)
            reached = np.maximum(reached, estimate[pick])
        spaces.append(
            {
                "space": space,
                "tasks": len(by_task),
                "studies": len(members),
                "configs": [candidates[i] for i in chosen],
            }
        )
    return {"spaces": spaces}


def load(checkpoint: str | Path | None) -> dict[str, Any]:
    """The portfolio of a checkpoint (None: the shipped planner's); an error naming the file when it has none."""
    path = checkpoint_or_shipped(checkpoint) / FILE
    if not path.exists():
        raise FileNotFoundError(f"no portfolio at {path}: planner/ship.py writes one beside a trained planner")
    return json.loads(path.read_text())


def points(portfolio: dict[str, Any], space: dict[str, dict[str, Any]], rng: random.Random) -> list[dict[str, Any]]:
    """The portfolio moved into `space`: the corpus space sharing most keys with it; other keys drawn from `rng`."""
    entries = portfolio.get("spaces", [])
    if not entries:
        return []
    # most keys shared; between equals, the space of more corpus tasks (then the file's own stable order)
    entry = max(entries, key=lambda e: (len(set(e["space"]) & set(space)), e["tasks"]))
    if not set(entry["space"]) & set(space):
        return []
    out = []
    for config in entry["configs"]:
        point = {}
        for key in sorted(space):  # sorted: the same draws for the same space, however it was written
            moved = into(space[key], config[key]) if key in config else None
            point[key] = moved if moved is not None else sample_value(space[key], rng)
        out.append(point)
    return out


def into(spec: dict[str, Any], value: Any) -> Any:
    """`value` as a value of `spec`: itself, the nearest choice or clipped into the range; None when it cannot be."""
    if spec["type"] in CATEGORICAL:
        if value in spec["values"]:
            return spec["values"][spec["values"].index(value)]
        numbers = [v for v in spec["values"] if _number(v)]
        return min(numbers, key=lambda v: abs(v - value)) if numbers and _number(value) else None
    if not _number(value):
        return None
    clipped = min(max(value, spec["low"]), spec["high"])
    if spec["type"] == "randint":
        return min(int(round(clipped)), int(spec["high"]) - 1)
    return float(clipped)


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class PortfolioSearcher:
    """The portfolio's points in order, then random search (util.search_space.sample) from the same generator."""

    def __init__(self, portfolio: dict[str, Any], space: dict[str, dict[str, Any]], seed: int):
        self.space = space
        self.rng = random.Random(seed)
        self.left = points(portfolio, space, self.rng)
        self.left.reverse()  # popped from the end: the portfolio's own order

    def suggest(self) -> dict[str, Any]:
        return self.left.pop() if self.left else sample(self.space, self.rng)

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass  # a static portfolio learns nothing


def _checkpoint(sweep: Any) -> str | None:
    return sweep.tune.planner_checkpoint if sweep is not None else None


def identity(sweep: Any) -> dict[str, Any]:
    """Another corpus gives another portfolio: its file's digest is part of the study's id."""
    import hashlib

    path = checkpoint_or_shipped(_checkpoint(sweep)) / FILE
    return {"portfolio": hashlib.sha256(path.read_bytes()).hexdigest()[:16] if path.exists() else None}


@algorithm("portfolio", identity=identity)
def build_searcher(study: Study) -> PortfolioSearcher:
    return PortfolioSearcher(load(_checkpoint(study.sweep)), study.space, study.seed)
