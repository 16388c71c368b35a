"""Models from components: every backbone, neck and head; the build-time shape check; CLIP; text classification."""

from __future__ import annotations

import pytest
import torch

from engine.data_point import DataInfo
from engine.metaprogram import validate
from engine.models import ShapeError, build_model
from engine.schema.model_parts import ComposedConfig

FEATURES = DataInfo("classification", (12,), 3)
IMAGES = DataInfo("classification", (1, 8, 8), 4, input_kind="image")
TOKENS = DataInfo("classification", (10,), 2, input_kind="tokens", extra={"vocab_size": 50, "pad_id": 0})


def composed(backbone: dict, neck: dict | None = None, head: dict | None = None) -> ComposedConfig:
    return ComposedConfig.model_validate(
        {"backbone": backbone, "neck": neck or {"name": "identity"}, "head": head or {"name": "linear"}}
    )


def sample(info: DataInfo, batch: int = 5) -> torch.Tensor:
    if info.input_kind == "tokens":
        ids = torch.randint(1, 50, (batch, *info.input_shape))
        ids[:, 7:] = 0  # padding at the end
        return ids
    return torch.randn(batch, *info.input_shape)


@pytest.mark.parametrize(
    ("backbone", "info"),
    [
        ({"name": "mlp", "hidden": 16}, FEATURES),
        ({"name": "mlp", "hidden": 16}, IMAGES),
        ({"name": "cnn", "channels": [4, 8]}, IMAGES),
        ({"name": "cnn", "channels": [4], "global_pool": False}, IMAGES),
        ({"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32}, FEATURES),
        ({"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "ff_dim": 32, "pooling": "cls"}, TOKENS),
        (
            {
                "name": "hf",
                "model_type": "bert",
                "config": {
                    "hidden_size": 16,
                    "num_hidden_layers": 1,
                    "num_attention_heads": 2,
                    "intermediate_size": 32,
                },
            },
            TOKENS,
        ),
        (
            {
                "name": "hf",
                "model_type": "distilbert",
                "config": {"dim": 16, "n_layers": 1, "n_heads": 2, "hidden_dim": 32},
            },
            FEATURES,
        ),
    ],
    ids=[
        "mlp-features",
        "mlp-images",
        "cnn",
        "cnn-flat",
        "transformer-features",
        "transformer-tokens",
        "hf-bert-tokens",
        "hf-distilbert-features",
    ],
)
def test_every_backbone_trains_one_step(backbone, info):
    model = build_model(
        composed(backbone, {"name": "projection", "out_features": 8}, {"name": "mlp", "hidden": 8}), info
    )
    x = sample(info)
    logits = model(x)
    assert logits.shape == (5, info.n_outputs)
    loss = torch.nn.functional.cross_entropy(logits, torch.zeros(5, dtype=torch.long))
    loss.backward()
    # every backbone weight matrix learns (aside from HF parts this use skips: pooler, unused embeddings)
    unused = ("pooler", "token_type", "word_embeddings") if info.input_kind != "tokens" else ("pooler", "token_type")
    got = [
        p.grad is not None
        for n, p in model.backbone.named_parameters()
        if p.dim() > 1 and not any(u in n for u in unused)
    ]
    assert got and all(got)


def test_transformer_ignores_padding():
    torch.manual_seed(0)
    model = build_model(
        composed({"name": "transformer", "d_model": 16, "heads": 2, "layers": 1, "dropout": 0}), TOKENS
    ).eval()
    ids = sample(TOKENS, 2)
    changed = ids.clone()
    changed[:, 7:] = 0
    assert torch.allclose(model(ids), model(changed))
    longer = ids.clone()
    longer[:, 7] = 5  # a real token where padding was: the output moves
    assert not torch.allclose(model(ids), model(longer))


def test_hf_backbone_from_a_local_folder(tmp_path):
    from transformers import BertConfig, BertModel

    from engine.paths import Paths

    BertModel(
        BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32)
    ).save_pretrained(tmp_path / "models" / "tiny_bert")
    paths = Paths(data_root="d", model_root=str(tmp_path / "models"), cache_root="c", output_root="o")
    model = build_model(composed({"name": "hf", "pretrained": "tiny_bert"}), TOKENS, paths)
    assert model.backbone.out_features == 16 and model(sample(TOKENS)).shape == (5, 2)
    with pytest.raises(ShapeError, match="no model folder"):
        build_model(composed({"name": "hf", "pretrained": "missing"}), TOKENS, paths)


def test_parts_that_do_not_fit_fail_at_build_naming_both_and_the_sizes():
    cfg = composed({"name": "mlp", "hidden": 32}, head={"name": "linear", "in_features": 64})
    with pytest.raises(ShapeError) as err:
        build_model(cfg, FEATURES)
    message = str(err.value)
    assert "head 'linear'" in message and "backbone 'mlp'" in message
    assert "in_features=64" in message and "gives 32" in message
    cfg = composed({"name": "mlp"}, {"name": "projection", "out_features": 16}, {"name": "mlp", "in_features": 20})
    with pytest.raises(ShapeError, match="head 'mlp' takes in_features=20, but neck 'projection' gives 16"):
        build_model(cfg, FEATURES)
    with pytest.raises(ShapeError, match="backbone 'cnn' needs images"):
        build_model(composed({"name": "cnn"}), FEATURES)


def test_part_settings_are_validated_with_did_you_mean():
    from engine.metaprogram import MetaprogramError

    raw = {
        "model": {"name": "composed", "backbone": {"name": "transfomer"}, "head": {"name": "linear", "dropot": 0}},
        "dataset": {"name": "iris"},
        "pipeline": {"name": "execution"},
    }
    with pytest.raises(MetaprogramError) as err:
        validate(raw, trusted=True)
    assert "did you mean 'transformer'" in str(err.value)


def test_precision_is_part_of_the_id_and_plain_datasets_gain_no_dag_fields():
    mp = validate(
        {"model": {"name": "mlp"}, "dataset": {"name": "digits"}, "pipeline": {"name": "execution"}}, trusted=True
    )
    assert mp.canonical["pipeline"]["precision"] == "auto" and "nodes" not in mp.canonical["dataset"]
    fp16 = validate(
        {
            "model": {"name": "mlp"},
            "dataset": {"name": "digits"},
            "pipeline": {"name": "execution", "precision": "fp16"},
        },
        trusted=True,
    )
    assert fp16.canonical["pipeline"]["precision"] == "fp16" and fp16.id != mp.id


@pytest.mark.integration  # a real CLIP training run
def test_clip_trains_contrastively_and_predicts_zero_shot(tmp_path):
    from engine.compose import load
    from engine.runner import execute

    composed_run = load(
        [
            "+metaprogram/component/pipeline=execution",
            "+metaprogram/component/model=vlms/clip",
            "+metaprogram/component/dataset=classification/digits",
            "+path=default",
            f"path.output_root={tmp_path}",
            "pipeline.epochs=2",
            "pipeline.device=cpu",
        ]
    )
    results = execute(composed_run.metaprogram, composed_run.paths)
    # two epochs only: the contrastive loss falls; the full run's zero-shot accuracy (>= 0.7) is the slow test
    saved = torch.load(
        composed_run.paths.run_dir(composed_run.metaprogram.id) / "checkpoints" / "last.pt", weights_only=False
    )
    losses = [row["train/loss"] for row in saved["history"]]
    assert losses[1] < losses[0]
    assert 0.0 <= results["metrics"]["test/accuracy"] <= 1.0 and "val/accuracy" in results["metrics"]


def test_clip_loss_prefers_matching_captions():
    from engine.schema.model_parts import CLIPConfig

    torch.manual_seed(0)
    model = build_model(
        CLIPConfig(width=32, layers=1, heads=2),
        IMAGES.__class__("classification", (1, 8, 8), 4, class_names=("0", "1", "2", "3"), input_kind="image"),
    )
    images, labels = torch.randn(6, 1, 8, 8), torch.tensor([0, 1, 2, 3, 0, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = model.training_loss(images, labels).item()
    for _ in range(30):
        loss = model.training_loss(images, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first
    assert (model(images).argmax(-1) == labels).float().mean() >= 0.5


@pytest.mark.slow
def test_clip_command_reaches_zero_shot_accuracy_on_digits(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[3]
    env = {**os.environ, "PYTHONPATH": str(repo), "METAPROGRAM_OUTPUT_ROOT": str(tmp_path / "out")}
    done = subprocess.run(
        [
            sys.executable,
            "-B",
            str(repo / "run_metaprogram.py"),
            "+metaprogram/component/pipeline=execution",
            "+metaprogram/component/model=vlms/clip",
            "+metaprogram/component/dataset=classification/digits",
            "+path=default",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    accuracy = float(done.stdout.split("test/accuracy:")[1].split()[0])
    assert accuracy >= 0.7


@pytest.mark.integration  # a shipped metaprogram end to end
def test_text_classification_metaprogram_end_to_end(tmp_path):
    from engine.compose import load
    from engine.runner import execute

    run = load(
        [
            f"path.data_root={tmp_path / 'data'}",
            f"path.cache_root={tmp_path / 'cache'}",
            f"path.output_root={tmp_path / 'out'}",
            "pipeline.epochs=5",
            "pipeline.batch_size=32",
            "pipeline.device=cpu",
        ],
        config_name="metaprogram/text_classification",
    )
    results = execute(run.metaprogram, run.paths)
    assert results["metrics"]["test/accuracy"] > 0.75  # chance is 0.5
    import json

    nodes = json.loads((run.paths.run_dir(run.metaprogram.id) / "data_dag.json").read_text())
    assert [(n["name"], n["status"]) for n in nodes] == [
        ("raw", "computed"),
        ("parts", "computed"),
        ("tokens", "computed"),
    ]


def test_clip_takes_flat_square_images_and_refuses_other_shapes():
    from engine.schema.model_parts import CLIPConfig

    names = tuple(str(i) for i in range(3))
    flat = DataInfo("classification", (64,), 3, class_names=names)
    model = build_model(CLIPConfig(width=16, layers=1, heads=2, projection_dim=8, templates=["{}"]), flat)
    assert model(torch.randn(2, 64)).shape == (2, 3)
    with pytest.raises(ShapeError, match="images"):
        build_model(CLIPConfig(), DataInfo("classification", (10,), 3, class_names=names))
    with pytest.raises(ShapeError, match="patch_size"):
        build_model(CLIPConfig(patch_size=3), flat)
