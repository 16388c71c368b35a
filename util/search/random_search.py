"""random: the one random search (sweeps, batched suites, the planner's baselines).

Each point draws its keys in sorted order from `random.Random(seed)` (util.search_space.sample),
so the same study gives the same trials whichever runner runs it. On an all-categorical space
the points come without replacement first (the whole grid, shuffled), which is the stronger
baseline on a finite grid; after that, with replacement.
"""

from __future__ import annotations

import random
from typing import Any

from util.search import Study, algorithm
from util.search_space import grid, is_finite, sample


class RandomSearcher:
    def __init__(self, space: dict[str, dict[str, Any]], seed: int):
        self.space = space
        self.rng = random.Random(seed)
        self.remaining = grid(space) if is_finite(space) else None
        if self.remaining is not None:
            self.rng.shuffle(self.remaining)

    def suggest(self) -> dict[str, Any]:
        if self.remaining:
            return self.remaining.pop()
        return sample(self.space, self.rng)

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass  # random search learns nothing


@algorithm("random")
def build(study: Study) -> RandomSearcher:
    return RandomSearcher(study.space, study.seed)
