"""A transformer encoder over features as tokens: each feature value becomes one token."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.data_point import DataInfo


class TransformerEncoder(nn.Module):
    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        self.n_tokens = math.prod(info.input_shape)
        self.pooling = cfg.pooling
        self.value_embed = nn.Linear(1, cfg.d_model)  # a token's value -> its embedding
        self.position = nn.Parameter(torch.zeros(1, self.n_tokens + 1, cfg.d_model))
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
        nn.init.normal_(self.position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.heads, cfg.ff_dim, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.head = nn.Linear(cfg.d_model, info.n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        tokens = self.value_embed(x.reshape(x.shape[0], self.n_tokens, 1))  # (B, T, D)
        tokens = torch.cat([self.cls.expand(x.shape[0], -1, -1), tokens], dim=1)  # (B, T+1, D)
        hidden = self.norm(self.encoder(tokens + self.position))  # (B, T+1, D)
        pooled = hidden[:, 0] if self.pooling == "cls" else hidden[:, 1:].mean(dim=1)  # (B, D)
        return self.head(pooled)  # (B, n_outputs)
