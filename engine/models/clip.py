"""CLIP on a classification dataset: transformers' CLIPModel from a small config.

Training is contrastive: each image is paired with a caption of its class
written from a random template, and image->text and text->image logits are
pushed toward the pairs of the same class. Prediction is zero-shot: an image
is scored against the (template-averaged) text embedding of every class
prompt, so `model(images)` gives (B, n_classes) logits and the execution
pipeline's accuracy is CLIP's zero-shot accuracy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")


class WordTokenizer:
    """Whitespace words of the captions -> ids; enough for class prompts, no hub needed."""

    def __init__(self, texts: list[str]):
        words = sorted({w for t in texts for w in t.lower().split()})
        self.vocab = {w: i for i, w in enumerate([*SPECIALS, *words])}
        self.pad, self.bos, self.eos, self.unk = (self.vocab[s] for s in SPECIALS)
        self.length = max(len(t.split()) for t in texts) + 2

    def __call__(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for text in texts:
            ids = [self.bos, *(self.vocab.get(w, self.unk) for w in text.lower().split()), self.eos]
            rows.append(ids + [self.pad] * (self.length - len(ids)))
        return torch.tensor(rows, dtype=torch.long)  # (N, length)


class CLIP(nn.Module):
    def __init__(self, cfg, info: DataInfo):
        super().__init__()
        from transformers import CLIPConfig, CLIPModel

        if info.task != "classification" or not info.class_names:
            raise ShapeError("model clip needs a classification dataset with class names (its prompts)")
        self.image_shape = _image_shape(info.input_shape)
        channels, height, width = self.image_shape
        if height != width or height % cfg.patch_size:
            raise ShapeError(
                f"model clip: images are {height}x{width}; they must be square and divisible by patch_size "
                f"({cfg.patch_size})"
            )
        self.templates = list(cfg.templates)
        self.class_names = [str(n) for n in info.class_names]
        captions = [t.format(n) for t in self.templates for n in self.class_names]
        self.tokenizer = WordTokenizer(captions)
        # every (template, class) caption as ids: (T * K, L), template-major
        self.register_buffer("caption_ids", self.tokenizer(captions), persistent=False)
        tower = {
            "hidden_size": cfg.width,
            "num_hidden_layers": cfg.layers,
            "num_attention_heads": cfg.heads,
            "intermediate_size": 4 * cfg.width,
        }
        config = CLIPConfig(
            text_config={
                **tower,
                "vocab_size": len(self.tokenizer.vocab),
                "max_position_embeddings": self.tokenizer.length,
                "pad_token_id": self.tokenizer.pad,
                "bos_token_id": self.tokenizer.bos,
                "eos_token_id": self.tokenizer.eos,  # the text tower pools at the first eos
            },
            vision_config={**tower, "image_size": height, "patch_size": cfg.patch_size, "num_channels": channels},
            projection_dim=cfg.projection_dim,
        )
        self.clip = CLIPModel(config)

    def _images(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(_pooled(self.clip.get_image_features(pixel_values=x.reshape(-1, *self.image_shape))), dim=-1)

    def _texts(self, ids: torch.Tensor) -> torch.Tensor:
        mask = (ids != self.tokenizer.pad).long()
        return F.normalize(_pooled(self.clip.get_text_features(input_ids=ids, attention_mask=mask)), dim=-1)

    def class_embeddings(self) -> torch.Tensor:
        """One text embedding per class: the mean over templates, renormalised. (K, P)"""
        k = len(self.class_names)
        texts = self._texts(self.caption_ids).reshape(len(self.templates), k, -1)  # (T, K, P)
        return F.normalize(texts.mean(0), dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Zero-shot logits: each image against every class prompt. (B, K)"""
        return self.clip.logit_scale.exp() * self._images(x) @ self.class_embeddings().T

    def training_loss(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """Symmetric contrastive loss between images and a caption of each image's class."""
        k = len(self.class_names)
        template = torch.randint(len(self.templates), targets.shape, device=targets.device)
        texts = self._texts(self.caption_ids[template * k + targets])  # (B, P)
        logits = self.clip.logit_scale.exp() * self._images(x) @ texts.T  # (B, B)
        same = (targets[:, None] == targets[None, :]).to(logits.dtype)  # pairs of one class are all positives
        soft = same / same.sum(1, keepdim=True)
        return (F.cross_entropy(logits, soft) + F.cross_entropy(logits.T, soft)) / 2


def _pooled(out) -> torch.Tensor:
    return out if isinstance(out, torch.Tensor) else out.pooler_output


def _image_shape(shape: tuple[int, ...]) -> tuple[int, int, int]:
    if len(shape) == 3:
        return tuple(shape)  # type: ignore[return-value]
    side = math.isqrt(math.prod(shape))
    if len(shape) == 1 and side * side == shape[0]:  # flat square images, e.g. digits without as_image
        return (1, side, side)
    raise ShapeError(f"model clip needs images (channels, height, width); the dataset gives {shape}")
