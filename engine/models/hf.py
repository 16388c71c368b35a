"""A backbone from any transformers architecture: a config built here (random init) or a local folder."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError
from engine.models.components import Backbone


class HFBackbone(Backbone):
    wants_paths = True  # a local folder is found under path.model_root

    def __init__(self, cfg, info: DataInfo, paths=None):
        super().__init__(cfg, info)
        from transformers import AutoConfig, AutoModel

        self.tokens = info.input_kind == "tokens"
        if cfg.pretrained:
            from engine.paths import default_paths

            folder = _folder(cfg.pretrained, (paths or default_paths()).model_root)
            self.model = AutoModel.from_pretrained(str(folder), local_files_only=True)
        else:
            settings = dict(cfg.config)
            if self.tokens:
                settings.setdefault("vocab_size", int(info.extra["vocab_size"]))
                settings.setdefault("pad_token_id", int(info.extra.get("pad_id", 0)))
            settings.setdefault("max_position_embeddings", max(64, math.prod(info.input_shape) + 8))
            try:
                config = AutoConfig.for_model(cfg.model_type, **settings)
            except ValueError as exc:
                raise ShapeError(f"backbone 'hf': {exc}") from None
            self.model = AutoModel.from_config(config)
        config = self.model.config
        width = getattr(config, "hidden_size", None) or getattr(config, "d_model", None) or getattr(config, "dim", None)
        if width is None:
            raise ShapeError(f"backbone 'hf': cannot tell the hidden size of a {config.model_type} model")
        if self.tokens and int(info.extra["vocab_size"]) > config.vocab_size:
            raise ShapeError(
                f"backbone 'hf': the data's tokenizer has {info.extra['vocab_size']} ids, "
                f"the model only {config.vocab_size}"
            )
        self.pad_id = int(info.extra.get("pad_id", 0))
        self.n_tokens = math.prod(info.input_shape)
        if not self.tokens:  # features as tokens, fed as embeddings
            self.embed = nn.Linear(1, width)
        self.out_features = int(width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.tokens:
            mask = (x != self.pad_id).long()  # (B, T)
            hidden = self.model(input_ids=x, attention_mask=mask).last_hidden_state  # (B, T, D)
        else:
            mask = torch.ones(x.shape[0], self.n_tokens, dtype=torch.long, device=x.device)
            embeds = self.embed(x.reshape(x.shape[0], self.n_tokens, 1))  # (B, T, D)
            hidden = self.model(inputs_embeds=embeds, attention_mask=mask).last_hidden_state
        if self.cfg.pooling == "first":
            return hidden[:, 0]
        if self.cfg.pooling == "last":  # last real token (causal models)
            last = mask.sum(1).clamp(min=1) - 1
            return hidden[torch.arange(hidden.shape[0], device=x.device), last]
        weights = mask[..., None].to(hidden.dtype)
        return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1.0)  # (B, D)


def _folder(name: str, model_root: str):
    from pathlib import Path

    path = Path(name).expanduser()
    path = path if path.is_absolute() else Path(model_root).expanduser().resolve() / path
    if not path.is_dir():
        raise ShapeError(f"backbone 'hf': no model folder at {path} (relative paths start at path.model_root)")
    return path
