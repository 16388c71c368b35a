"""grid: every point of the space's categorical part, `count` times over; numeric keys are drawn.

A study of `count` c over a grid of n points asks for n * c trials. The points come in the
stable order of util.search_space.grid (keys sorted); numeric keys (uniform, loguniform,
randint) are drawn for each point from `random.Random(seed)`.
"""

from __future__ import annotations

import random
from typing import Any

from util.search import Study, algorithm
from util.search_space import CATEGORICAL, grid, grid_size, sample


class GridSearcher:
    def __init__(self, space: dict[str, dict[str, Any]], seed: int, repeats: int):
        self.categorical = {k: s for k, s in space.items() if s["type"] in CATEGORICAL}
        self.numeric = {k: s for k, s in space.items() if s["type"] not in CATEGORICAL}
        self.points = grid(self.categorical) if self.categorical else [{}]
        self.rng = random.Random(seed)
        self.left = [dict(p) for _ in range(repeats) for p in self.points]
        self.left.reverse()  # popped from the end: the grid's own order

    def suggest(self) -> dict[str, Any] | None:
        if not self.left:
            return None
        point = self.left.pop()
        if self.numeric:
            point.update(sample(self.numeric, self.rng))
        return dict(sorted(point.items()))

    def observe(self, params: dict[str, Any], value: float | None) -> None:
        pass


@algorithm("grid", trials=lambda space, count: grid_size(space) * count)
def build(study: Study) -> GridSearcher:
    return GridSearcher(study.space, study.seed, study.count)
