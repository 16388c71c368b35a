"""Pretrained CLIP (a tiny random CLIPModel saved with save_pretrained): zero-shot, linear probe, fine-tuning."""

from __future__ import annotations

import pytest
import torch

from engine.data_pipe import build_splits
from engine.metaprogram import MetaprogramError, validate
from engine.models import ShapeError, build_model
from engine.runner import execute
from engine.schema.datasets import CIFARConfig


def clip_run(paths, mode: str, **model):
    """A CLIP metaprogram on CIFAR, validated against `paths` (where its weights and data folder are looked up)."""
    return validate(
        {
            "model": {"name": "clip", "pretrained": "tiny_clip", "mode": mode, **model},
            "dataset": {"name": "cifar"},
            "pipeline": {"name": "execution", "epochs": 1, "batch_size": 32, "device": "cpu", "hooks": {}},
        },
        trusted=True,
        paths=paths,
    )


def test_zero_shot_is_clips_own_zero_shot_and_trains_nothing(vision_paths, vision_root):
    """The predictions equal those computed with transformers' CLIPModel and CLIPProcessor directly."""
    import torch.nn.functional as F
    from transformers import CLIPModel, CLIPProcessor

    from engine.models.clip import CIFAR_PROMPTS

    results = execute(clip_run(vision_paths, "zero_shot"), vision_paths)
    assert results["metrics"]["epochs"] == 0  # evaluated only

    folder = vision_root / "models" / "tiny_clip"
    clip, processor = CLIPModel.from_pretrained(folder), CLIPProcessor.from_pretrained(folder)
    data = build_splits(CIFARConfig(), vision_paths)
    names = data.info.class_names
    with torch.no_grad():
        prompts = [t.format(n) for t in CIFAR_PROMPTS for n in names]
        texts = F.normalize(
            clip.get_text_features(**processor.tokenizer(prompts, padding=True, return_tensors="pt")).pooler_output,
            dim=-1,
        )
        classes = F.normalize(texts.reshape(len(CIFAR_PROMPTS), len(names), -1).mean(0), dim=-1)
        images = [(x * 255).round().to(torch.uint8).permute(1, 2, 0).numpy() for x in data.test.inputs]
        pixels = processor.image_processor(images=images, return_tensors="pt")["pixel_values"]  # (N, 3, 40, 40)
        embedded = F.normalize(clip.get_image_features(pixel_values=pixels).pooler_output, dim=-1)
        predicted = (embedded @ classes.T).argmax(-1)
    accuracy = (predicted == data.test.targets).float().mean().item()
    assert results["metrics"]["test/accuracy"] == pytest.approx(accuracy)

    model = build_model(clip_run(vision_paths, "zero_shot").model, data.info, vision_paths)
    assert not any(p.requires_grad for p in model.parameters())
    with torch.no_grad():
        ours = model(pixels).argmax(-1)
    assert torch.equal(ours, predicted)


def _weights(model) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("mode, layers", [("linear_probe", None), ("finetune", 1), ("finetune", None)])
def test_linear_probe_and_finetune_train_what_they_should(mode, layers, vision_paths):
    from engine.data_pipe.feed import Streamed
    from engine.schema.datasets import DataLoading

    mp = clip_run(vision_paths, mode, finetune_layers=layers, backbone_lr=1e-3)
    data = build_splits(mp.dataset, vision_paths)
    model = build_model(mp.model, data.info, vision_paths)
    before = _weights(model)
    groups = model.param_groups(0.01)
    assert groups[0]["lr"] == 0.01 and (len(groups) == 1) == (mode == "linear_probe")
    optimizer = torch.optim.Adam(groups)
    feed = Streamed(data.train, "cpu", 32, 0, DataLoading(workers=0), model.sample_transform)
    model.train()
    for inputs, targets in feed.epoch(1):
        loss = torch.nn.functional.cross_entropy(model(inputs), targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    changed = {k for k, v in model.state_dict().items() if not torch.equal(v, before[k])}
    assert {"head.weight", "head.bias"} <= changed
    encoder = {k for k in changed if k.startswith("vision.")}
    if mode == "linear_probe":
        assert encoder == set()
    elif layers == 1:  # the last layer, the final norm and the projection; the first layer untouched
        assert any(k.startswith("vision.encoder.layers.1.") for k in encoder) and "projection.weight" in changed
        assert not any(k.startswith(("vision.encoder.layers.0.", "vision.embeddings.")) for k in encoder)
    else:
        assert any(k.startswith("vision.embeddings.") for k in encoder)


def test_linear_probe_learns_where_zero_shot_cannot(vision_paths):
    """Brightness follows the label in the tiny CIFAR: a trained classifier beats the random model's zero-shot."""
    zero = execute(clip_run(vision_paths, "zero_shot"), vision_paths)["metrics"]
    mp = validate(
        {
            "model": {"name": "clip", "pretrained": "tiny_clip", "mode": "linear_probe"},
            "dataset": {"name": "cifar"},
            "pipeline": {
                "name": "execution",
                "epochs": 8,
                "batch_size": 32,
                "device": "cpu",
                "optim": {"lr": 0.05},
                "hooks": {},
            },
        },
        trusted=True,
        paths=vision_paths,
    )
    probe = execute(mp, vision_paths)["metrics"]
    assert probe["epochs"] == 8 and probe["val/loss"] < zero["val/loss"]


def test_modes_need_pretrained_weights_and_contrastive_needs_none():
    with pytest.raises(MetaprogramError, match="mode zero_shot needs pretrained weights"):
        validate(
            {
                "model": {"name": "clip", "mode": "zero_shot"},
                "dataset": {"name": "digits"},
                "pipeline": {"name": "execution"},
            },
            trusted=True,
        )
    with pytest.raises(MetaprogramError, match="mode contrastive trains the small CLIP from scratch"):
        validate(
            {
                "model": {"name": "clip", "pretrained": "x/y", "mode": "contrastive"},
                "dataset": {"name": "digits"},
                "pipeline": {"name": "execution"},
            },
            trusted=True,
        )


def test_missing_weights_say_how_to_get_them(vision_paths):
    data = build_splits(CIFARConfig(subsample=10), vision_paths)
    with pytest.raises(ShapeError, match=r"no model folder .*not_here \(relative names start at path.model_root"):
        build_model(clip_run(vision_paths, "zero_shot", pretrained="not_here").model, data.info, vision_paths)


def test_pretrained_clip_refuses_standardized_pixels(vision_paths):
    data = build_splits(CIFARConfig(subsample=10, standardize=True), vision_paths)
    with pytest.raises(ShapeError, match=r"needs pixels in \[0, 1\].*standardized"):
        build_model(clip_run(vision_paths, "zero_shot").model, data.info, vision_paths)


def test_the_weights_folder_is_an_input_file_and_a_hub_id_is_not(vision_paths, vision_root):
    assert clip_run(vision_paths, "zero_shot").model.input_files(vision_paths) == {
        "pretrained": vision_root / "models" / "tiny_clip"
    }
    assert (
        clip_run(vision_paths, "zero_shot", pretrained="openai/clip-vit-base-patch32").model.input_files(vision_paths)
        == {}
    )
