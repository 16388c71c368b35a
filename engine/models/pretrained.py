"""Pretrained transformers weights by name, and per-sample image preprocessing with their processor.

`pretrained: NAME` is a folder written with save_pretrained (absolute, or under path.model_root)
when one exists, else a hub id (`owner/name`) that transformers downloads when online. A name
that is neither fails with the commands that fetch it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from engine.models import ShapeError
from engine.schema.model_parts import pretrained_folder


class PretrainedNotFound(ShapeError):
    """Pretrained weights that are neither a local folder nor loadable from the hub: the model cannot be built."""


def load_pretrained(load: Callable[..., Any], name: str, paths, what: str) -> Any:
    """`load(folder_or_hub_id)`, e.g. CLIPModel.from_pretrained; a missing model says how to get it."""
    from engine.paths import default_paths

    paths = paths or default_paths()
    folder = pretrained_folder(name, paths)
    if folder is not None:
        return load(str(folder), local_files_only=True)
    target = paths.root("model_root") / name
    if name.count("/") != 1 or name.startswith(("/", ".", "~")):
        raise PretrainedNotFound(
            f"{what} {name!r}: no model folder {target} (relative names start at path.model_root; "
            "a hub id is owner/name)"
        )
    from huggingface_hub import constants

    try:
        if constants.HF_HUB_OFFLINE:
            raise OSError("HF_HUB_OFFLINE is set")
        return load(name)
    except OSError as exc:  # not on the hub, or no network: transformers raises OSError for both
        raise PretrainedNotFound(
            f"{what} {name!r}: no model folder {target}, and the hub did not give it ({_first_line(exc)}). "
            f'On a machine with internet run `python -c "from transformers import {what}; '
            f"{what}.from_pretrained('{name}').save_pretrained('{target}')\"` (for CLIP also CLIPProcessor, for an "
            "image model AutoImageProcessor, into the same folder) and bring the folder here, or run online."
        ) from None


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:200]


class ImageProcessorTransform:
    """One image in [0, 1], (C, H, W), through a transformers image processor -> its pixel values (3, h, w).

    Runs per sample, in the DataLoader's workers: resizing every image to the model's size is
    what keeps such data from fitting in memory as one tensor.
    """

    def __init__(self, processor: Any):
        self.processor = processor

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        pixels = (image.clamp(0, 1) * 255).round().to(torch.uint8)  # the processor rescales uint8 itself
        if pixels.shape[0] == 1:  # grayscale: the pretrained models want RGB
            pixels = pixels.expand(3, -1, -1)
        array = pixels.permute(1, 2, 0).numpy()  # (H, W, C)
        return self.processor(images=array, return_tensors="pt")["pixel_values"][0]


def check_unit_pixels(info, what: str) -> None:
    """Pretrained image models take pixels in [0, 1] (their processor normalises them)."""
    if info.input_kind != "image":
        raise ShapeError(f"{what} needs images; the dataset gives {info.input_kind} shaped {info.input_shape}")
    if info.extra.get("pixels") != "unit":
        state = "standardized" if info.extra.get("pixels") else "of an unknown scale"
        raise ShapeError(
            f"{what} needs pixels in [0, 1] (its processor normalises them), but the dataset's are {state}: use "
            "classification/cifar or classification/image_folder with dataset.standardize=false"
        )
