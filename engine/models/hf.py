"""A backbone from any transformers architecture: a config built here (random init), or pretrained weights
(a folder under path.model_root, or a hub id). Token ids, features-as-tokens, or images (e.g. a ViT:
a pretrained one gets its images through its own image processor, per sample, in the DataLoader)."""

from __future__ import annotations

import math

import torch
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError
from engine.models.components import Backbone
from engine.models.pretrained import ImageProcessorTransform, check_unit_pixels, load_pretrained


class HFBackbone(Backbone):
    wants_paths = True  # a local folder is found under path.model_root

    def __init__(self, cfg, info: DataInfo, paths=None):
        super().__init__(cfg, info)
        from transformers import AutoConfig, AutoModel

        self.tokens = info.input_kind == "tokens"
        self.images = info.input_kind == "image"
        if cfg.pretrained:
            self.model = load_pretrained(AutoModel.from_pretrained, cfg.pretrained, paths, "AutoModel")
            if self.images:
                # the module's class: transformers' top-level name is a placeholder without torchvision,
                # while this one falls back to the PIL processors
                from transformers.models.auto.image_processing_auto import AutoImageProcessor

                check_unit_pixels(info, "backbone 'hf' (pretrained)")
                processor = load_pretrained(
                    AutoImageProcessor.from_pretrained, cfg.pretrained, paths, "AutoImageProcessor"
                )
                self.sample_transform = ImageProcessorTransform(processor)
        else:
            settings = dict(cfg.config)
            if self.tokens:
                settings.setdefault("vocab_size", int(info.extra["vocab_size"]))
                settings.setdefault("pad_token_id", int(info.extra.get("pad_id", 0)))
            if self.images:  # a vision model sized for the data's images
                settings.setdefault("num_channels", info.input_shape[0])
                settings.setdefault("image_size", info.input_shape[-1])
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
        if not self.tokens and not self.images:  # features as tokens, fed as embeddings
            self.embed = nn.Linear(1, width)
        self.out_features = int(width)

    def example_input(self, batch: int = 2) -> torch.Tensor:
        transform = getattr(self, "sample_transform", None)
        if transform is None:
            return super().example_input(batch)
        sample = transform(torch.zeros(self.info.input_shape))  # the processed shape, e.g. (3, 224, 224)
        return sample.expand(batch, *sample.shape).clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.images:  # (B, C, H, W) -> the model's patch tokens
            hidden = self.model(pixel_values=x).last_hidden_state  # (B, T, D)
            mask = torch.ones(hidden.shape[:2], dtype=torch.long, device=x.device)
        elif self.tokens:
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
