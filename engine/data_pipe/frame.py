"""`Data`: what flows between DAG nodes, named numpy arrays plus JSON metadata.

Arrays are keyed `x` (features, images, texts or token ids) and `y` (targets);
after a split node every key carries its part as a prefix (`train/x`, `val/y`, ...).
Keeping to plain arrays lets the cache store them without pickle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PARTS = ("train", "val", "test")


class DataError(ValueError):
    """Data that cannot be used (a missing or malformed file, an impossible split), with the reason."""


@dataclass
class Data:
    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)  # task, class_names, input_kind, vocab_size, ...

    @property
    def is_split(self) -> bool:
        return "train/x" in self.arrays

    def parts(self) -> list[str]:
        """Key prefixes: the three parts after a split, else the whole set."""
        return [f"{p}/" for p in PARTS] if self.is_split else [""]

    def __len__(self) -> int:
        return sum(len(self.arrays[f"{p}x"]) for p in self.parts())

    def with_arrays(self, arrays: dict[str, np.ndarray], **meta: Any) -> Data:
        return Data(arrays, {**self.meta, **meta})

    def samples(self, n: int = 5) -> dict[str, Any]:
        """A few samples of every array, JSON-ready (for `inspect`)."""
        out: dict[str, Any] = {"meta": self.meta}
        for key, value in self.arrays.items():
            head = value[:n]
            out[key] = {"shape": list(value.shape), "dtype": str(value.dtype), "head": _jsonable(head)}
        return out


def _jsonable(array: np.ndarray) -> Any:
    if array.dtype.kind in "US":
        return [str(v) for v in array.reshape(-1)]
    if array.ndim > 2:  # images: summarise, a full 3-d array is unreadable
        return [{"mean": float(a.mean()), "std": float(a.std()), "shape": list(a.shape)} for a in array]
    return np.round(array.astype(np.float64), 4).tolist() if array.dtype.kind == "f" else array.tolist()
