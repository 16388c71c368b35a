"""`ComponentModel` and the built-in parts: backbones (mlp, cnn, transformer), necks and heads.

A backbone is built from the data it will see and says its `out_features`;
a neck or head is built from the `in_features` that feeds it. `engine.models.composed.Model`
wires them and checks that the sizes fit before any training starts. The classic models
(mlp, cnn, transformer) are these parts too, wired in a fixed way.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "tanh": nn.Tanh, "silu": nn.SiLU}


class ComponentModel(nn.Module):
    """One part of a model: knows its slot, its YAML name and the width it gives."""

    slot = "part"

    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        self.out_features: int = 0

    @property
    def label(self) -> str:
        return f"{self.slot} {self.cfg.name!r}"


# ---- backbones: (B, *input_shape) -> (B, out_features) -------------------------------------------
class Backbone(ComponentModel):
    slot = "backbone"

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg)
        self.info = info

    def example_input(self, batch: int = 2) -> torch.Tensor:
        """A batch shaped like the data, for the build-time shape check."""
        if self.info.input_kind == "tokens":
            return torch.ones((batch, *self.info.input_shape), dtype=torch.long)
        return torch.zeros((batch, *self.info.input_shape))


class MLPBackbone(Backbone):
    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        if info.input_kind == "tokens":
            raise ShapeError("backbone 'mlp' needs numeric features or images, not token ids (use transformer or hf)")
        width = math.prod(info.input_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for _ in range(cfg.layers):
            layers += [nn.Linear(width, cfg.hidden), ACTIVATIONS[cfg.activation](), nn.Dropout(cfg.dropout)]
            width = cfg.hidden
        self.net = nn.Sequential(*layers)
        self.out_features = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, *input_shape) -> (B, hidden)


class CNNBackbone(Backbone):
    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        if len(info.input_shape) != 3:
            raise ShapeError(
                f"backbone 'cnn' needs images shaped (channels, height, width); the dataset gives "
                f"samples shaped {info.input_shape} (for digits set dataset.as_image=true)"
            )
        channels, height, width = info.input_shape
        blocks: list[nn.Module] = []
        for out_channels in cfg.channels:
            blocks.append(nn.Conv2d(channels, out_channels, cfg.kernel_size, padding=cfg.kernel_size // 2))
            if cfg.batch_norm:
                blocks.append(nn.BatchNorm2d(out_channels))
            blocks.append(ACTIVATIONS[cfg.activation]())
            if min(height, width) >= 2:  # pool while the image is large enough
                blocks.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            channels = out_channels
        blocks += [nn.AdaptiveAvgPool2d(1), nn.Flatten()] if cfg.global_pool else [nn.Flatten()]
        self.net = nn.Sequential(*blocks)
        self.out_features = channels if cfg.global_pool else channels * height * width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, C, H, W) -> (B, out_features)


class TransformerBackbone(Backbone):
    """Token ids through an embedding (text), or each feature value as a token (tables, pixels)."""

    def __init__(self, cfg, info: DataInfo):
        super().__init__(cfg, info)
        self.tokens = info.input_kind == "tokens"
        self.n_tokens = math.prod(info.input_shape)
        if self.tokens:
            self.pad_id = int(info.extra.get("pad_id", 0))
            self.embed = nn.Embedding(int(info.extra["vocab_size"]), cfg.d_model, padding_idx=self.pad_id)
        else:
            self.embed = nn.Linear(1, cfg.d_model)
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.d_model))
        self.position = nn.Parameter(torch.randn(1, self.n_tokens + 1, cfg.d_model) * 0.02)
        layer = nn.TransformerEncoderLayer(
            cfg.d_model, cfg.heads, cfg.ff_dim, cfg.dropout, batch_first=True, norm_first=True
        )
        self.encoder = nn.TransformerEncoder(layer, cfg.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(cfg.d_model)
        self.out_features = cfg.d_model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        if not self.tokens:  # features as tokens: no padding, so no mask
            tokens = self.embed(x.reshape(batch, self.n_tokens, 1))  # (B, T, D)
            tokens = torch.cat([self.cls.expand(batch, -1, -1), tokens], dim=1) + self.position  # (B, T+1, D)
            hidden = self.norm(self.encoder(tokens))  # (B, T+1, D)
            return hidden[:, 0] if self.cfg.pooling == "cls" else hidden[:, 1:].mean(dim=1)  # (B, D)
        keep = x != self.pad_id  # (B, T) True on real tokens
        tokens = torch.cat([self.cls.expand(batch, -1, -1), self.embed(x)], dim=1) + self.position  # (B, T+1, D)
        keep = torch.cat([torch.ones(batch, 1, dtype=torch.bool, device=x.device), keep], dim=1)
        hidden = self.norm(self.encoder(tokens, src_key_padding_mask=~keep))  # (B, T+1, D)
        if self.cfg.pooling == "cls":
            return hidden[:, 0]
        weights = keep[:, 1:, None].to(hidden.dtype)  # mean over real tokens only
        return (hidden[:, 1:] * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, D)


# ---- necks and heads: (B, in_features) -> (B, out_features) --------------------------------------
class IdentityNeck(ComponentModel):
    slot = "neck"

    def __init__(self, cfg, in_features: int):
        super().__init__(cfg)
        self.out_features = in_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class ProjectionNeck(ComponentModel):
    slot = "neck"

    def __init__(self, cfg, in_features: int):
        super().__init__(cfg)
        self.net = nn.Sequential(
            nn.Linear(in_features, cfg.out_features),
            nn.LayerNorm(cfg.out_features) if cfg.norm else nn.Identity(),
            ACTIVATIONS[cfg.activation](),
            nn.Dropout(cfg.dropout),
        )
        self.out_features = cfg.out_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class LinearHead(ComponentModel):
    slot = "head"

    def __init__(self, cfg, in_features: int, n_outputs: int):
        super().__init__(cfg)
        self.net = nn.Sequential(nn.Dropout(cfg.dropout), nn.Linear(in_features, n_outputs))
        self.out_features = n_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, n_outputs) logits or values


class MLPHead(ComponentModel):
    slot = "head"

    def __init__(self, cfg, in_features: int, n_outputs: int):
        super().__init__(cfg)
        self.net = nn.Sequential(
            nn.Linear(in_features, cfg.hidden),
            ACTIVATIONS[cfg.activation](),
            nn.Dropout(cfg.dropout),
            nn.Linear(cfg.hidden, n_outputs),
        )
        self.out_features = n_outputs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)
