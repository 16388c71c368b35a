"""Feature transforms fitted on the training part only: standardise, one-hot."""

from __future__ import annotations

import numpy as np

from engine.data_pipe.dag import TransformEnv
from engine.data_pipe.frame import Data, DataError


def _fit_prefix(data: Data) -> str:
    return "train/" if data.is_split else ""


def standardize(inputs: list[Data], params, env: TransformEnv) -> Data:
    data = inputs[0]
    arrays = dict(data.arrays)
    meta: dict = {}
    if params.features:
        if data.meta.get("input_kind") in ("text", "tokens"):
            raise DataError("standardize needs numeric features or images, not text or tokens")
        fit = data.arrays[f"{_fit_prefix(data)}x"]
        flat = fit.reshape(len(fit), -1)
        mean, std = flat.mean(0), flat.std(0)
        std = np.where(std > 0, std, 1.0)
        for prefix in data.parts():
            x = data.arrays[f"{prefix}x"]
            arrays[f"{prefix}x"] = ((x.reshape(len(x), mean.size) - mean) / std).reshape(x.shape).astype(np.float32)
        if "pixels" in data.meta:  # images are no longer in [0, 1]: pretrained image processors must know
            meta["pixels"] = "standardized"
    if params.targets and data.meta.get("task") == "regression":
        y = data.arrays[f"{_fit_prefix(data)}y"]
        t_mean, t_std = float(y.mean()), float(y.std() or 1.0)
        for prefix in data.parts():
            arrays[f"{prefix}y"] = ((data.arrays[f"{prefix}y"] - t_mean) / t_std).astype(np.float32)
        meta.update(target_mean=t_mean, target_std=t_std)
    return data.with_arrays(arrays, **meta)


def one_hot(inputs: list[Data], params, env: TransformEnv) -> Data:
    """Replace categorical columns by indicator columns, categories taken from train."""
    data = inputs[0]
    fit = data.arrays[f"{_fit_prefix(data)}x"]
    if fit.ndim != 2:
        raise DataError(f"one_hot needs a feature table (N, F); got samples shaped {fit.shape[1:]}")
    bad = [c for c in params.columns if not 0 <= c < fit.shape[1]]
    if bad:
        raise DataError(f"one_hot: column(s) {bad} out of range for {fit.shape[1]} features")
    categories = {c: np.unique(fit[:, c]) for c in params.columns}
    keep = [c for c in range(fit.shape[1]) if c not in categories]
    arrays = dict(data.arrays)
    for prefix in data.parts():
        x = data.arrays[f"{prefix}x"]
        blocks = [x[:, keep]] + [(x[:, [c]] == categories[c][None, :]).astype(np.float32) for c in params.columns]
        arrays[f"{prefix}x"] = np.concatenate(blocks, axis=1).astype(np.float32)
    return data.with_arrays(arrays)
