"""An example plugin: a model, a dataset, a data-DAG transform, a pipeline, a metric and a search algorithm, each
registered with a decorator.

Each setting is a parameter with a type hint and a default: `model.hidden`, `dataset.noise`, ... are
validated like the built-in components' settings, and appear in `dry_run=true`, sweeps and the planner.
torch is imported inside the functions, so composing and validating stay free of it.
"""

from __future__ import annotations

import random
from typing import Literal

import numpy as np

from engine.plugins import register
from util.search import Study, algorithm
from util.search_space import sample, sample_value


@register.model("tiny_mlp")
def tiny_mlp(info, hidden: int = 32, activation: Literal["relu", "tanh"] = "relu"):
    """One hidden layer over flattened inputs: logits (B, n_outputs)."""
    import math

    import torch.nn as nn

    inputs = math.prod(info.input_shape)
    act = nn.ReLU() if activation == "relu" else nn.Tanh()
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, hidden), act, nn.Linear(hidden, info.n_outputs))


@register.dataset("spirals", task="classification")
def spirals(n_samples: int = 300, turns: float = 1.5, noise: float = 0.1, seed: int = 0):
    """Two interleaved spirals: x (N, 2) float, y (N,) class 0 or 1."""
    rng = np.random.default_rng(seed)
    t = np.sqrt(rng.uniform(0, 1, n_samples)) * turns * 2 * np.pi
    label = rng.integers(0, 2, n_samples)
    sign = np.where(label == 1, 1.0, -1.0)
    x = np.stack([sign * t * np.cos(t), sign * t * np.sin(t)], axis=1) + rng.normal(0, noise, (n_samples, 2))
    return x.astype(np.float32), label


@register.transform("clip_features")
def clip_features(data, limit: float = 3.0):
    """Clip every feature to [-limit, limit] (after standardising: outliers no longer dominate)."""
    arrays = {k: (np.clip(v, -limit, limit) if k.endswith("x") else v) for k, v in data.arrays.items()}
    return data.with_arrays(arrays)


@register.pipeline("describe_data")
def describe_data(metaprogram, context, bins: int = 4) -> dict[str, float]:
    """A pipeline of its own: statistics of the training targets, no training."""
    from engine.data_pipe import build_splits

    splits = build_splits(metaprogram.dataset, context.paths, context)
    targets = splits.train.targets.float().numpy()
    counts, _ = np.histogram(targets, bins=bins)
    return {"data/train_samples": float(len(targets)), "data/largest_bin_share": float(counts.max() / len(targets))}


@register.metric("balanced_accuracy", task="classification")
def balanced_accuracy(targets, predictions, adjusted: bool = False) -> float:
    """The mean of each class's recall (scikit-learn's balanced_accuracy_score); `adjusted`: 0 is chance."""
    classes = np.unique(targets)
    score = float(np.mean([np.mean(predictions[targets == c] == c) for c in classes]))
    return (score - 1 / len(classes)) / (1 - 1 / len(classes)) if adjusted and len(classes) > 1 else score


@algorithm("local_search")
class LocalSearch:
    """tune.algorithm=local_search: a random first point, then the best point so far with one setting redrawn."""

    def __init__(self, study: Study):
        self.space, self.sign = study.space, (1.0 if study.mode == "max" else -1.0)
        self.rng = random.Random(study.seed)
        self.best: tuple[float, dict] | None = None

    def suggest(self) -> dict:
        if self.best is None:
            return sample(self.space, self.rng)
        key = self.rng.choice(sorted(self.space))
        return {**self.best[1], key: sample_value(self.space[key], self.rng)}

    def observe(self, params: dict, value: float | None) -> None:
        if value is not None and (self.best is None or self.sign * value > self.best[0]):
            self.best = (self.sign * value, params)
