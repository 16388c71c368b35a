"""A small convolutional net: conv blocks (conv, activation, 2x2 pool), then a classifier."""

from __future__ import annotations

import torch
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError
from engine.models.mlp import ACTIVATIONS


class CNN(nn.Module):
    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        if len(info.input_shape) != 3:
            raise ShapeError(
                f"model cnn needs images shaped (channels, height, width); the dataset gives "
                f"samples shaped {info.input_shape} (for digits set dataset.as_image=true)"
            )
        channels, height, width = info.input_shape
        blocks: list[nn.Module] = []
        for out_channels in cfg.channels:
            blocks += [
                nn.Conv2d(channels, out_channels, cfg.kernel_size, padding=cfg.kernel_size // 2),
                ACTIVATIONS[cfg.activation](),
            ]
            if min(height, width) >= 2:  # pool while the image is large enough
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            channels = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(channels * height * width, cfg.hidden),
            ACTIVATIONS[cfg.activation](),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, info.n_outputs),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))  # (B, C, H, W) -> (B, n_outputs)
