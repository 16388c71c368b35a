"""Offline stand-ins for real image data and pretrained models (no hub, no download).

- CIFAR in the real python-version layout (pickled dicts of uint8 rows, `batches.meta` / `meta`),
  with random images: the loader cannot tell it from the real folder.
- A tiny random CLIPModel with a character-level CLIP tokenizer and a CLIP image processor, and a
  tiny random ViT with its image processor, written with save_pretrained like a downloaded model.
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np

CIFAR10_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def write_cifar10(data_root: Path, per_batch: int = 40, n_test: int = 100, seed: int = 0) -> Path:
    """data_root/cifar-10-batches-py: five training batches of `per_batch` images and a test batch."""
    rng = np.random.default_rng(seed)
    folder = Path(data_root) / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)

    def batch(n: int, label: str) -> dict:
        labels = (np.arange(n) % 10).tolist()  # every class in every batch, as stratified splits need
        return {
            "batch_label": label,
            "labels": labels,
            "data": _images(rng, labels),
            "filenames": [f"{i}.png" for i in range(n)],
        }

    for i in range(1, 6):
        _pickle(folder / f"data_batch_{i}", batch(per_batch, f"training batch {i} of 5"))
    _pickle(folder / "test_batch", batch(n_test, "testing batch 1 of 1"))
    _pickle(folder / "batches.meta", {"label_names": CIFAR10_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072})
    return folder


def write_cifar100(data_root: Path, n_train: int = 300, n_test: int = 200, seed: int = 0) -> Path:
    """data_root/cifar-100-python: `train`, `test` and `meta` with fine and coarse labels."""
    rng = np.random.default_rng(seed)
    folder = Path(data_root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    for name, n in (("train", n_train), ("test", n_test)):
        fine = (np.arange(n) % 100).tolist()
        _pickle(
            folder / name, {"fine_labels": fine, "coarse_labels": [f // 5 for f in fine], "data": _images(rng, fine)}
        )
    _pickle(folder / "meta", {"fine_label_names": [f"class_{i}" for i in range(100)], "coarse_label_names": []})
    return folder


def _images(rng, labels: list[int]) -> np.ndarray:
    """(N, 3072) uint8 rows, channel-major as in CIFAR; the mean brightness follows the label a little."""
    base = rng.integers(0, 200, size=(len(labels), 3072), dtype=np.int64)
    return (base + 5 * np.asarray(labels)[:, None] % 56).clip(0, 255).astype(np.uint8)


def _pickle(path: Path, payload: dict) -> None:
    with path.open("wb") as handle:
        pickle.dump(payload, handle)


def save_tiny_clip(folder: Path, image_size: int = 40) -> Path:
    """A random 2-layer CLIPModel with CLIPProcessor (character-level BPE tokenizer, no merges)."""
    from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel, CLIPProcessor, CLIPTokenizer

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    vocab = {c: i for i, c in enumerate(chars)} | {c + "</w>": len(chars) + i for i, c in enumerate(chars)}
    vocab |= {"<|startoftext|>": len(vocab), "<|endoftext|>": len(vocab) + 1}
    (folder / "vocab.json").write_text(json.dumps(vocab))
    (folder / "merges.txt").write_text("#version: 0.2\n")
    tokenizer = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"))
    images = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    tower = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}
    config = CLIPConfig(
        text_config={
            **tower,
            "vocab_size": len(vocab),
            "max_position_embeddings": 77,
            "bos_token_id": vocab["<|startoftext|>"],
            "eos_token_id": vocab["<|endoftext|>"],
            "pad_token_id": vocab["<|endoftext|>"],
        },
        vision_config={**tower, "image_size": image_size, "patch_size": 8},
        projection_dim=16,
    )
    CLIPModel(config).save_pretrained(folder)
    CLIPProcessor(image_processor=images, tokenizer=tokenizer).save_pretrained(folder)
    return folder


def save_tiny_vit(folder: Path, image_size: int = 40) -> Path:
    """A random 2-layer ViTModel with its image processor."""
    from transformers import ViTConfig, ViTImageProcessorPil, ViTModel

    folder = Path(folder)
    config = ViTConfig(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        image_size=image_size,
        patch_size=8,
    )
    ViTModel(config, add_pooling_layer=False).save_pretrained(folder)
    ViTImageProcessorPil(size={"height": image_size, "width": image_size}).save_pretrained(folder)
    return folder


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map, which CLIP's tokenizer is built on."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = list(printable), 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, map(chr, chars), strict=True))
