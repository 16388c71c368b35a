"""A Gaussian process over one study's own trials, to sharpen the planner's predictions late in a study.

The planner predicts a candidate's objective from what it learned on other studies, conditioned on
this study's history; with 0.9 M parameters its predictions near the best points stay broad, so
its expected improvement cannot rank close neighbours. A GP fitted to this study's completed
trials knows those neighbourhoods. The two are combined as a product of experts over the
planner's objective bins: p(bin) ∝ planner(bin) × N(bin centre; GP mean, GP std). Far from the
history the GP is wide and the planner decides; near the history the GP's evidence takes over.

Parameters are encoded as the planner's bins scaled to [0, 1] (log ranges stay on their log
scale), choices one-hot. Objectives are in the planner's normalised units (1 = the best of the
history's widened range).
"""

from __future__ import annotations

import warnings
from typing import Any

from planner.serialize import CATEGORICAL, n_values, param_token, quantize, token_value, value_tokens

MIN_TRIALS = 5  # below this the GP's length scales are guesses: the planner alone decides
MIN_STD = 0.02  # the GP is never trusted to a finer resolution than two objective bins


def encode(space: dict[str, dict[str, Any]], order: list[str], params: dict[str, Any], n_bins: int) -> list[float]:
    """The point as the GP sees it: each range parameter's bin in [0, 1], each choice one-hot."""
    row: list[float] = []
    for key in order:
        spec = space[key]
        index = _index(spec, params[key], n_bins)
        count = n_values(spec, n_bins)
        if spec["type"] in CATEGORICAL:
            row.extend(1.0 if i == index else 0.0 for i in range(count))
        else:
            row.append((index + 0.5) / count)
    return row


def fit(points: list[list[float]], values: list[float], seed: int = 0):
    """A GP (Matern 5/2 with one length scale per input, plus noise) on the normalised values; None if too few."""
    if len(points) < MIN_TRIALS:
        return None
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.gaussian_process import GaussianProcessRegressor
    from sklearn.gaussian_process.kernels import ConstantKernel, Matern, WhiteKernel

    dims = len(points[0])
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * Matern([0.5] * dims, (1e-2, 1e1), nu=2.5) + WhiteKernel(
        1e-2, (1e-5, 1e-1)
    )
    model = GaussianProcessRegressor(kernel, normalize_y=True, n_restarts_optimizer=2, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(points, values)
    return model


def combine(probs, centres, model, points: list[list[float]]):
    """The planner's bin probabilities (K, bins) times the GP's Gaussian at each bin centre, renormalised."""
    import torch

    mean, std = model.predict(points, return_std=True)
    mean = torch.tensor(mean, dtype=probs.dtype).view(-1, 1)
    std = torch.tensor(std, dtype=probs.dtype).clamp(min=MIN_STD).view(-1, 1)
    log_gp = -0.5 * ((centres.view(1, -1) - mean) / std) ** 2
    return torch.softmax(probs.clamp(min=1e-12).log() + log_gp, dim=-1)


def neighbours(
    space: dict[str, dict[str, Any]],
    order: list[str],
    ranked: list[dict[str, Any]],
    count: int,
    rng: Any,
    n_bins: int,
    spread: float = 0.05,
) -> list[dict[str, Any]]:
    """`count` points next to the study's best points (`ranked`, best first), for the acquisition to score
    beside the planner's samples. Each is one of them with one or two parameters moved: a range parameter by
    a few bins (Gaussian, `spread` of its bins), a choice to another value. Every value is one the planner
    writes. The planner's samples follow its own distribution, which stays broad near the best; these let a
    study refine its best point late on."""
    if not ranked or count < 1:
        return []
    points = []
    for i in range(count):
        params = {key: quantize(space[key], value, n_bins) for key, value in ranked[i % len(ranked)].items()}
        for key in rng.sample(order, k=min(len(order), 1 + (rng.random() < 0.5))):
            spec, size = space[key], n_values(space[key], n_bins)
            index = _index(spec, params[key], n_bins)
            if spec["type"] in CATEGORICAL:
                index = rng.choice([j for j in range(size) if j != index] or [index])
            else:  # a step of at least one bin, back the other way at an edge
                step = round(rng.gauss(0, spread * size)) or rng.choice((-1, 1))
                index = min(max(index + step if 0 <= index + step < size else index - step, 0), size - 1)
            params[key] = token_value(spec, value_tokens(spec, n_bins)[index], n_bins)
        points.append(params)
    return points


def _index(spec: dict[str, Any], value: Any, n_bins: int) -> int:
    """The value's bin (a range) or choice index, as the planner's token for it numbers it."""
    return int(param_token(spec, value, n_bins).partition(":")[2])
