"""The dataclasses that carry data between the data pipeline, the model and the metrics."""

from engine.data_point.types import Batch, DataInfo, Split, Splits

__all__ = ["Batch", "DataInfo", "Split", "Splits"]
