"""Streaming from a DataLoader gives the batches, and so the results, of the in-memory path."""

from __future__ import annotations

import pytest
import torch

from engine.data_pipe.feed import InMemory, Streamed
from engine.data_point import Split
from engine.metaprogram import validate
from engine.runner import execute
from engine.schema.datasets import DataLoading


def test_streamed_batches_are_the_in_memory_batches():
    split = Split(torch.randn(103, 3, 4, 4), torch.arange(103) % 5)
    memory = InMemory(split, "cpu", 16, seed=7)
    streamed = Streamed(split, "cpu", 16, 7, DataLoading(workers=0))
    for epoch in (1, 2):
        pairs = list(zip(memory.epoch(epoch), streamed.epoch(epoch), strict=True))
        assert len(pairs) == 7
        assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in pairs)
    assert all(torch.equal(a[0], b[0]) for a, b in zip(memory.in_order(), streamed.in_order(), strict=True))


def test_a_per_sample_transform_runs_in_the_workers():
    split = Split(torch.rand(40, 1, 6, 6), torch.arange(40) % 2)
    streamed = Streamed(split, "cpu", 8, 0, DataLoading(workers=2), transform=_upscale)
    batches = list(streamed.epoch(1))
    assert len(batches) == 5 and batches[0][0].shape == (8, 1, 12, 12)
    assert torch.equal(torch.cat([x for x, _ in streamed.in_order()]), torch.stack([_upscale(x) for x in split.inputs]))


def _upscale(image: torch.Tensor) -> torch.Tensor:
    return image.repeat_interleave(2, -1).repeat_interleave(2, -2)


@pytest.mark.parametrize("workers", [0, 2])
def test_a_run_streamed_ends_like_a_run_in_memory(workers, paths, tmp_path):
    from engine.paths import Paths

    def run(loader: dict, out: str):
        mp = validate(
            {
                "model": {"name": "mlp", "hidden": 16, "dropout": 0.2},
                "dataset": {"name": "wine"},
                "pipeline": {
                    "name": "execution",
                    "epochs": 3,
                    "batch_size": 16,
                    "device": "cpu",
                    "hooks": {},
                    "loader": loader,
                },
            },
            trusted=True,
        )
        return mp.id, execute(mp, Paths(**{**paths.model_dump(), "output_root": str(tmp_path / out)}))["metrics"]

    memory_id, memory = run({}, "a")
    streamed_id, streamed = run({"in_memory_limit_gb": 0, "workers": workers}, "b")
    assert streamed == memory and streamed_id == memory_id  # how data is fed is not part of the id


def test_a_pretrained_vit_backbone_trains_on_cifar(vision_paths):
    mp = validate(
        {
            "model": {"name": "composed", "backbone": {"name": "hf", "pretrained": "tiny_vit", "pooling": "first"}},
            "dataset": {"name": "cifar", "subsample": 40},
            "pipeline": {"name": "execution", "epochs": 1, "batch_size": 16, "device": "cpu", "hooks": {}},
        },
        trusted=True,
        paths=vision_paths,
    )
    results = execute(mp, vision_paths)
    log = (vision_paths.run_dir(mp.id) / "run.log").read_text()
    assert results["status"] == "completed" and "streamed (a per-sample transform" in log
    assert mp.model.backbone.input_files(vision_paths) == {"pretrained": vision_paths.root("model_root") / "tiny_vit"}


def test_a_vit_from_a_config_reads_the_images_as_they_are(vision_paths):
    backbone = {
        "name": "hf",
        "model_type": "vit",
        "pooling": "mean",
        "config": {
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
            "patch_size": 8,
        },
    }
    mp = validate(
        {
            "model": {"name": "composed", "backbone": backbone},
            "dataset": {"name": "cifar", "subsample": 40},
            "pipeline": {"name": "execution", "epochs": 1, "batch_size": 16, "device": "cpu", "hooks": {}},
        },
        trusted=True,
        paths=vision_paths,
    )
    results = execute(mp, vision_paths)
    assert results["status"] == "completed" and "in memory" in (vision_paths.run_dir(mp.id) / "run.log").read_text()
