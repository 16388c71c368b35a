"""Split arrays into train / val / test and standardise with train statistics only."""

from __future__ import annotations

import numpy as np
import torch

from engine.data_pipe.loaders import DataError, RawData
from engine.data_point import DataInfo, Split, Splits


def split_and_scale(raw: RawData, split_cfg, standardize: bool) -> Splits:
    from sklearn.model_selection import train_test_split

    n = len(raw.targets)
    index = np.arange(n)
    stratify = raw.targets if (split_cfg.stratify and raw.task == "classification") else None
    try:
        rest, test = train_test_split(
            index, test_size=split_cfg.test_fraction, random_state=split_cfg.seed, stratify=stratify
        )
        val = np.array([], dtype=np.int64)
        if split_cfg.val_fraction > 0:
            share = split_cfg.val_fraction / (1.0 - split_cfg.test_fraction)
            rest_stratify = stratify[rest] if stratify is not None else None
            train, val = train_test_split(rest, test_size=share, random_state=split_cfg.seed, stratify=rest_stratify)
        else:
            train = rest
    except ValueError as exc:
        raise DataError(f"cannot split {n} samples: {exc}") from None

    x, y = raw.features, raw.targets
    if standardize:
        flat = x.reshape(n, -1)
        mean, std = flat[train].mean(0), flat[train].std(0)
        x = ((flat - mean) / np.where(std > 0, std, 1.0)).reshape(x.shape).astype(np.float32)
    target_mean, target_std = 0.0, 1.0
    if raw.task == "regression":
        target_mean, target_std = float(y[train].mean()), float(y[train].std() or 1.0)
        y = ((y - target_mean) / target_std).astype(np.float32)

    info = DataInfo(
        task=raw.task,
        input_shape=tuple(x.shape[1:]),
        n_outputs=len(raw.class_names) if raw.task == "classification" else 1,
        class_names=raw.class_names,
        target_mean=target_mean,
        target_std=target_std,
        input_kind="image" if x.ndim == 4 else "features",
    )
    xt, yt = torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(np.ascontiguousarray(y))

    def part(ix):
        return Split(xt[torch.from_numpy(ix)], yt[torch.from_numpy(ix)])

    return Splits(part(train), part(val), part(test), info)
