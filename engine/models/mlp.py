"""A multilayer perceptron over flattened inputs."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.data_point import DataInfo

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class MLP(nn.Module):
    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        width = math.prod(info.input_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for _ in range(cfg.layers):
            layers += [nn.Linear(width, cfg.hidden), ACTIVATIONS[cfg.activation]()]
            if cfg.dropout:
                layers.append(nn.Dropout(cfg.dropout))
            width = cfg.hidden
        layers.append(nn.Linear(width, info.n_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, *input_shape) -> (B, n_outputs)
