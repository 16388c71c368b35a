"""Splits and resampling: stratified train/val/test, k-fold, subsample, class balance."""

from __future__ import annotations

import numpy as np

from engine.data_pipe.dag import TransformEnv
from engine.data_pipe.frame import PARTS, Data, DataError


def _whole(data: Data, what: str) -> Data:
    if data.is_split:
        raise DataError(f"{what} needs unsplit data, but its input is already split")
    return data


def _take(data: Data, prefix: str, index: np.ndarray, new_prefix: str) -> dict[str, np.ndarray]:
    return {
        new_prefix + key[len(prefix) :]: value[index]
        for key, value in data.arrays.items()
        if key.startswith(prefix) and "/" not in key[len(prefix) :]
    }


def _stratify(data: Data, y: np.ndarray, wanted: bool) -> np.ndarray | None:
    return y if wanted and data.meta.get("task") == "classification" else None


def split(inputs: list[Data], params, env: TransformEnv) -> Data:
    from sklearn.model_selection import train_test_split

    data, y, rest, test, strat = _hold_out_test(inputs[0], params, "split")
    train, val = rest, np.array([], dtype=np.int64)
    if params.val_fraction > 0:
        share = params.val_fraction / (1.0 - params.test_fraction)
        rest_strat = strat[rest] if strat is not None else None
        try:
            train, val = train_test_split(rest, test_size=share, random_state=params.seed, stratify=rest_strat)
        except ValueError as exc:
            raise DataError(f"cannot split {len(y)} samples: {exc}") from None
    return data.with_arrays(_parts(data, (train, val, test), params.keep_order))


def kfold(inputs: list[Data], params, env: TransformEnv) -> Data:
    """Hold out a test part, then fold `fold` of k over the rest is validation, the others train."""
    from sklearn.model_selection import KFold, StratifiedKFold

    data, y, rest, test, strat = _hold_out_test(inputs[0], params, "kfold")
    folder = (StratifiedKFold if strat is not None else KFold)(params.k, shuffle=True, random_state=params.seed)
    try:
        train, val = list(folder.split(rest, y[rest]))[params.fold]
    except ValueError as exc:
        raise DataError(f"cannot make {params.k} folds of {len(y)} samples: {exc}") from None
    return data.with_arrays(_parts(data, (rest[train], rest[val], test)), fold=params.fold, k=params.k)


def _hold_out_test(data: Data, params, what: str):
    """(data, targets, rest index, test index, stratification labels) for a split of unsplit data."""
    from sklearn.model_selection import train_test_split

    data = _whole(data, what)
    y = data.arrays["y"]
    strat = _stratify(data, y, params.stratify)
    try:
        rest, test = train_test_split(
            np.arange(len(y)), test_size=params.test_fraction, random_state=params.seed, stratify=strat
        )
    except ValueError as exc:
        raise DataError(f"cannot split {len(y)} samples: {exc}") from None
    return data, y, rest, test, strat


def _parts(data: Data, indices: tuple[np.ndarray, ...], keep_order: bool = False) -> dict[str, np.ndarray]:
    """train / val / test arrays from their indices, in index order unless the given order is kept."""
    arrays: dict[str, np.ndarray] = {}
    for name, ix in zip(PARTS, indices, strict=True):
        arrays.update(_take(data, "", ix if keep_order else np.sort(ix), f"{name}/"))
    return arrays


def _targeted_parts(data: Data, part: str) -> list[str]:
    if not data.is_split:
        return [""]
    return ["train/"] if part == "train" else [f"{p}/" for p in PARTS]


def subsample(inputs: list[Data], params, env: TransformEnv) -> Data:
    from sklearn.model_selection import train_test_split

    data = inputs[0]
    arrays = dict(data.arrays)
    for prefix in _targeted_parts(data, params.part):
        y = data.arrays[f"{prefix}y"]
        n = params.n if params.n is not None else max(1, round(params.fraction * len(y)))
        if n >= len(y):
            continue
        strat = _stratify(data, y, params.stratify)
        try:
            keep, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=params.seed, stratify=strat)
        except ValueError:  # too few per class to stratify: plain random
            keep = np.random.default_rng(params.seed).choice(len(y), n, replace=False)
        arrays.update(_take(data, prefix, np.sort(keep), prefix))
    return data.with_arrays(arrays)


def balance(inputs: list[Data], params, env: TransformEnv) -> Data:
    """Equal class counts in train (or in the whole set before a split): repeat or drop samples."""
    data = inputs[0]
    if data.meta.get("task") != "classification":
        raise DataError("balance needs a classification dataset")
    prefix = "train/" if data.is_split else ""
    y = data.arrays[f"{prefix}y"]
    rng = np.random.default_rng(params.seed)
    classes, counts = np.unique(y, return_counts=True)
    target = counts.max() if params.mode == "over" else counts.min()
    chosen = []
    for c in classes:
        members = np.flatnonzero(y == c)
        if params.mode == "over":
            extra = rng.choice(members, target - len(members), replace=True)
            chosen.append(np.concatenate([members, extra]))
        else:
            chosen.append(rng.choice(members, target, replace=False))
    index = rng.permutation(np.concatenate(chosen))
    arrays = dict(data.arrays)
    arrays.update(_take(data, prefix, index, prefix))
    return data.with_arrays(arrays)
