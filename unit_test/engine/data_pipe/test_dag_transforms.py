"""Each built-in DAG transform on tiny data."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from dag_fixtures import dag_config

from engine.data_pipe.dag import TransformEnv, run_dag, to_splits
from engine.data_pipe.frame import Data, DataError
from engine.schema.data_dag import TRANSFORMS

WORDS = {0: "bad awful poor terrible", 1: "good great fine excellent"}


def apply(name: str, inputs: list[Data], paths, **params) -> Data:
    schema = TRANSFORMS.schema(name)
    return TRANSFORMS.load(name)(inputs, schema.model_validate(params), TransformEnv(paths, logging.getLogger("t")))


def table(n: int = 60, classes: int = 3) -> Data:
    rng = np.random.default_rng(0)
    y = np.arange(n) % classes
    x = rng.normal(size=(n, 4)).astype(np.float32) + y[:, None]
    return Data(
        {"x": x, "y": y.astype(np.int64)},
        {"task": "classification", "input_kind": "features", "class_names": [str(c) for c in range(classes)]},
    )


def write_text_rows(path, n: int = 80) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({"text": f"this was {WORDS[i % 2].split()[i % 4]} really", "label": i % 2}) + "\n")


def test_sklearn_loader(dag_paths):
    data = apply("sklearn", [], dag_paths, dataset="digits", as_image=True)
    assert data.arrays["x"].shape == (1797, 1, 8, 8) and data.meta["input_kind"] == "image"
    assert apply("sklearn", [], dag_paths, dataset="diabetes").meta["task"] == "regression"


def test_csv_and_jsonl_loaders(dag_paths):
    root = dag_paths.root("data_root")
    root.mkdir(parents=True)
    (root / "t.csv").write_text("a,b,label\n1,2,x\n3,4,y\n5,6,x\n")
    data = apply("csv", [], dag_paths, file="t.csv", target="label")
    assert data.arrays["x"].tolist() == [[1, 2], [3, 4], [5, 6]] and data.meta["class_names"] == ["x", "y"]
    write_text_rows(root / "t.jsonl", 10)
    text = apply("jsonl", [], dag_paths, file="t.jsonl", target="label", text="text")
    assert text.meta["input_kind"] == "text" and text.arrays["x"][0].startswith("this was")
    with pytest.raises(DataError, match="no column"):
        apply("jsonl", [], dag_paths, file="t.jsonl", target="nope")


def test_image_folder_loader(dag_paths):
    from PIL import Image

    root = dag_paths.root("data_root") / "imgs"
    for label, value in (("cat", 30), ("dog", 220)):
        (root / label).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(np.full((10, 12, 3), value + i, dtype=np.uint8)).save(root / label / f"{i}.png")
    data = apply("image_folder", [], dag_paths, folder="imgs", size=6)
    assert data.arrays["x"].shape == (6, 3, 6, 6) and data.meta["class_names"] == ["cat", "dog"]
    assert data.arrays["x"][:3].mean() < 0.2 < 0.8 < data.arrays["x"][3:].mean()


def test_hf_disk_loader(dag_paths):
    import datasets

    ds = datasets.Dataset.from_dict(
        {"f1": [0.0, 1.0, 2.0, 3.0], "label": [0, 1, 0, 1]},
        features=datasets.Features(
            {"f1": datasets.Value("float32"), "label": datasets.ClassLabel(names=["no", "yes"])}
        ),
    )
    datasets.DatasetDict({"train": ds}).save_to_disk(str(dag_paths.root("data_root") / "saved"))
    data = apply("hf_disk", [], dag_paths, path="saved", split="train", target="label")
    assert data.meta["class_names"] == ["no", "yes"] and data.arrays["y"].tolist() == [0, 1, 0, 1]


def test_split_is_stratified_and_disjoint(dag_paths):
    data = apply("split", [table(90)], dag_paths, val_fraction=0.2, test_fraction=0.2)
    sizes = [len(data.arrays[f"{p}/y"]) for p in ("train", "val", "test")]
    assert sum(sizes) == 90 and sizes[2] == 18
    assert np.bincount(data.arrays["test/y"]).tolist() == [6, 6, 6]


def test_kfold_folds_cover_the_rest(dag_paths):
    vals = [apply("kfold", [table(100)], dag_paths, k=4, fold=f).arrays["val/x"] for f in range(4)]
    stacked = np.concatenate(vals)
    assert len(stacked) == 80 and len(np.unique(stacked[:, 0])) == 80


def test_subsample_and_balance(dag_paths):
    parts = apply("split", [table(120)], dag_paths)
    small = apply("subsample", [parts], dag_paths, fraction=0.5)
    assert len(small.arrays["train/y"]) == round(0.5 * len(parts.arrays["train/y"]))
    assert len(small.arrays["test/y"]) == len(parts.arrays["test/y"])
    skewed = table(60)
    keep = np.concatenate([np.flatnonzero(skewed.arrays["y"] == 0), np.flatnonzero(skewed.arrays["y"] != 0)[:10]])
    skewed = Data({k: v[keep] for k, v in skewed.arrays.items()}, skewed.meta)
    assert np.bincount(apply("balance", [skewed], dag_paths, mode="over").arrays["y"]).tolist() == [20, 20, 20]
    assert np.bincount(apply("balance", [skewed], dag_paths, mode="under").arrays["y"]).tolist() == [5, 5, 5]


def test_standardize_fits_on_train(dag_paths):
    data = apply("standardize", [apply("split", [table(200)], dag_paths)], dag_paths)
    assert np.allclose(data.arrays["train/x"].mean(0), 0, atol=1e-5)
    assert np.allclose(data.arrays["train/x"].std(0), 1, atol=1e-4)
    assert not np.allclose(data.arrays["test/x"].mean(0), 0, atol=1e-5)


def test_one_hot(dag_paths):
    data = Data({"x": np.array([[0.5, 2], [1.5, 1], [2.5, 2]], np.float32), "y": np.zeros(3, np.int64)}, {})
    out = apply("one_hot", [data], dag_paths, columns=[1])
    assert out.arrays["x"].tolist() == [[0.5, 0, 1], [1.5, 1, 0], [2.5, 0, 1]]


@pytest.mark.integration  # trains a real tokenizer
def test_tokenize_with_a_trained_tokenizer_and_a_local_folder(dag_paths):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    root = dag_paths.root("data_root")
    write_text_rows(root / "t.jsonl", 40)
    text = apply("split", [apply("jsonl", [], dag_paths, file="t.jsonl", target="label", text="text")], dag_paths)
    out = apply("tokenize", [text], dag_paths, vocab_size=300, max_length=8)
    assert out.arrays["train/x"].shape[1] == 8 and out.meta["input_kind"] == "tokens" and out.meta["pad_id"] == 0
    assert out.arrays["train/x"].max() < out.meta["vocab_size"]

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator(
        [" ".join(WORDS.values()) + " this was really"], trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]"])
    )
    folder = dag_paths.root("model_root") / "tok"
    PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", unk_token="[UNK]").save_pretrained(str(folder))
    out = apply("tokenize", [text], dag_paths, tokenizer="tok", max_length=6)
    row = out.arrays["train/x"][0].tolist()
    assert len(row) == 6 and row[4:] == [0, 0] and 1 not in row[:4]  # 4 known words, then padding


def test_augment_adds_flipped_cropped_noisy_copies_to_train_only(dag_paths):
    images = apply("split", [apply("sklearn", [], dag_paths, dataset="digits", as_image=True)], dag_paths)
    n_train, n_test = len(images.arrays["train/y"]), len(images.arrays["test/y"])
    flipped = apply("augment", [images], dag_paths, copies=1, flip=True, seed=3)
    x = flipped.arrays["train/x"]
    assert len(x) == 2 * n_train and len(flipped.arrays["test/y"]) == n_test
    copy, original = x[n_train:], x[:n_train]
    is_flipped = np.all(copy == original[..., ::-1], axis=(1, 2, 3))
    assert 0.3 < is_flipped.mean() < 0.7
    noisy = apply("augment", [images], dag_paths, copies=2, flip=False, noise_std=0.5)
    assert len(noisy.arrays["train/y"]) == 3 * n_train
    diff = noisy.arrays["train/x"][n_train:] - np.tile(images.arrays["train/x"], (2, 1, 1, 1))
    assert abs(float(diff.std()) - 0.5) < 0.02
    cropped = apply("augment", [images], dag_paths, flip=False, crop_padding=2).arrays["train/x"]
    moved = ~np.all(cropped[n_train:] == cropped[:n_train], axis=(1, 2, 3))
    assert cropped.shape[1:] == (1, 8, 8) and moved.mean() > 0.5


def test_a_text_dag_gives_token_splits(dag_paths):
    write_text_rows(dag_paths.root("data_root") / "t.jsonl", 60)
    cfg = dag_config(
        {
            "name": "dag",
            "nodes": [
                {"name": "raw", "transform": "jsonl", "params": {"file": "t.jsonl", "target": "label", "text": "text"}},
                {"name": "parts", "transform": "split", "inputs": ["raw"]},
                {
                    "name": "tokens",
                    "transform": "tokenize",
                    "inputs": ["parts"],
                    "params": {"vocab_size": 300, "max_length": 8},
                },
            ],
        }
    )
    splits = to_splits(run_dag(cfg, dag_paths)[0], "classification")
    assert splits.info.input_kind == "tokens" and splits.info.extra["pad_id"] == 0
    assert splits.train.inputs.dtype.is_floating_point is False and splits.info.input_shape == (8,)


def test_shipped_example_and_its_generator(dag_paths, tmp_path):
    from util.external_data_import.text_reviews import write_reviews

    shipped = apply("jsonl", [], dag_paths, file="example:reviews.jsonl", target="label", text="text")
    assert len(shipped.arrays["y"]) == 2000 and shipped.meta["class_names"] == ["negative", "positive"]
    a = write_reviews(tmp_path / "a.jsonl", rows=50, seed=3).read_text()
    assert a == write_reviews(tmp_path / "b.jsonl", rows=50, seed=3).read_text() and len(a.splitlines()) == 50
