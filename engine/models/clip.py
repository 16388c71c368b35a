"""CLIP on a classification dataset: transformers' CLIPModel, pretrained or a small one from scratch.

Pretrained (`model.pretrained`, `PretrainedCLIP`): the classifier's weights start as CLIP's zero-shot
classifier, the template-averaged text embedding of every class prompt; `zero_shot` evaluates it
as it is, `linear_probe` trains it on the frozen image encoder's embeddings, `finetune` trains
the image encoder too (all of it or its last layers, at its own learning rate). Images reach it
through CLIPProcessor, one by one in the DataLoader's workers.

From scratch (`CLIP`): training is contrastive: each image is paired with a caption of its class
written from a random template, and image->text and text->image logits are pushed toward the
pairs of the same class. Prediction is zero-shot, so `model(images)` gives (B, n_classes)
logits and the execution pipeline's accuracy is CLIP's zero-shot accuracy.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from engine.data_point import DataInfo
from engine.models import ShapeError
from engine.models.pretrained import ImageProcessorTransform, check_unit_pixels, load_pretrained

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>")
DIGIT_CAPTIONS = ["a photo of the digit {}", "a handwritten {}", "an image of the number {}", "{}"]
PHOTO_CAPTIONS = ["a photo of a {}", "a picture of a {}", "an image of a {}", "{}"]  # classes that are not digits
# the 18 prompts the CLIP authors used for CIFAR-10 and CIFAR-100 (openai/CLIP, data/prompts.md)
CIFAR_PROMPTS = [
    "a photo of a {}.",
    "a blurry photo of a {}.",
    "a black and white photo of a {}.",
    "a low contrast photo of a {}.",
    "a high contrast photo of a {}.",
    "a bad photo of a {}.",
    "a good photo of a {}.",
    "a photo of a small {}.",
    "a photo of a big {}.",
    "a photo of the {}.",
    "a blurry photo of the {}.",
    "a black and white photo of the {}.",
    "a low contrast photo of the {}.",
    "a high contrast photo of the {}.",
    "a bad photo of the {}.",
    "a good photo of the {}.",
    "a photo of the small {}.",
    "a photo of the big {}.",
]


def build(cfg, info: DataInfo, paths=None) -> nn.Module:
    """The registered `clip` model: pretrained when `model.pretrained` names weights, else from scratch."""
    return CLIP(cfg, info) if cfg.pretrained is None else PretrainedCLIP(cfg, info, paths)


build.wants_paths = True  # type: ignore[attr-defined]


class PretrainedCLIP(nn.Module):
    """Image encoder -> normalised embedding -> linear classifier initialised as CLIP's zero-shot one."""

    def __init__(self, cfg, info: DataInfo, paths=None):
        super().__init__()
        from transformers import CLIPModel, CLIPProcessor

        if info.task != "classification" or not info.class_names:
            raise ShapeError("model clip needs a classification dataset with class names (its prompts)")
        check_unit_pixels(info, "model clip (pretrained)")
        self.mode = cfg.resolved_mode()
        clip = load_pretrained(CLIPModel.from_pretrained, cfg.pretrained, paths, "CLIPModel")
        processor = load_pretrained(CLIPProcessor.from_pretrained, cfg.pretrained, paths, "CLIPProcessor")
        classes = _class_embeddings(clip, processor.tokenizer, cfg.templates or CIFAR_PROMPTS, info.class_names)
        self.vision, self.projection = clip.vision_model, clip.visual_projection  # the text tower is done with
        self.head = nn.Linear(classes.shape[1], classes.shape[0])  # (P -> K)
        with torch.no_grad():
            self.head.weight.copy_(clip.logit_scale.exp() * classes)
            self.head.bias.zero_()
        self.sample_transform = ImageProcessorTransform(processor.image_processor)
        self.requires_grad_(False)
        if self.mode in ("linear_probe", "finetune"):
            self.head.requires_grad_(True)
        self.encoder_params = self._unfreeze_encoder(cfg.finetune_layers) if self.mode == "finetune" else []
        self.backbone_lr = cfg.backbone_lr

    def _unfreeze_encoder(self, last: int | None) -> list[nn.Parameter]:
        layers = self.vision.encoder.layers
        if last is None:
            parts: list[nn.Module] = [self.vision, self.projection]
        else:
            if last > len(layers):
                raise ShapeError(f"model clip: finetune_layers={last}, but the image encoder has {len(layers)} layers")
            parts = [*layers[len(layers) - last :], self.vision.post_layernorm, self.projection]
        for part in parts:
            part.requires_grad_(True)
        return [p for part in parts for p in part.parameters()]

    def param_groups(self, lr: float) -> list[dict]:
        """The head at the pipeline's learning rate, the image encoder at backbone_lr."""
        groups = [{"params": list(self.head.parameters()), "lr": lr}]
        if self.encoder_params:
            groups.append({"params": self.encoder_params, "lr": self.backbone_lr})
        return groups

    def train(self, mode: bool = True) -> PretrainedCLIP:
        super().train(mode)
        if not self.encoder_params:  # a frozen encoder stays in eval mode
            self.vision.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, h, w) processed pixels -> (B, K) logits."""
        with torch.set_grad_enabled(torch.is_grad_enabled() and bool(self.encoder_params)):
            features = self.projection(self.vision(pixel_values=x).pooler_output)  # (B, P)
        return self.head(F.normalize(features, dim=-1))


@torch.no_grad()
def _class_embeddings(clip, tokenizer, templates: list[str], class_names) -> torch.Tensor:
    """One text embedding per class: the mean over templates, renormalised. (K, P)"""
    names = [str(n).replace("_", " ") for n in class_names]
    prompts = [t.format(n) for t in templates for n in names]  # template-major
    chunks = []
    for start in range(0, len(prompts), 256):
        tokens = tokenizer(prompts[start : start + 256], padding=True, truncation=True, return_tensors="pt")
        chunks.append(F.normalize(_pooled(clip.get_text_features(**tokens)), dim=-1))
    texts = torch.cat(chunks).reshape(len(templates), len(names), -1)  # (T, K, P)
    return F.normalize(texts.mean(0), dim=-1)


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
        self.class_names = [str(n) for n in info.class_names]
        digits = all(n.isdigit() for n in self.class_names)
        self.templates = list(cfg.templates or (DIGIT_CAPTIONS if digits else PHOTO_CAPTIONS))
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
