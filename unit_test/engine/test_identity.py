"""Identity = what determines the result: file contents in, observers out, defaults expanded."""

from __future__ import annotations

import json

import pytest

from engine.identity import digest
from engine.metaprogram import MetaprogramError, validate
from engine.runner import execute


def raw(dataset=None, model=None, **pipeline):
    return {
        "model": model or {"name": "mlp", "hidden": 16},
        "dataset": dataset or {"name": "iris"},
        "pipeline": {"name": "execution", "epochs": 2, "device": "cpu", **pipeline},
    }


def id_of(value, paths, trusted=True) -> str:
    return validate(value, trusted=trusted, paths=paths).id


def write_table(paths, labels) -> None:
    data = paths.root("data_root")
    data.mkdir(parents=True, exist_ok=True)
    rows = [f"{i % 5},{(i * 3) % 7},{label}" for i, label in enumerate(labels)]
    (data / "t.csv").write_text("a,b,label\n" + "\n".join(rows) + "\n")


# ----------------------------------------------------------------------------- file contents


def test_a_changed_data_file_is_never_reused(paths):
    write_table(paths, [i % 2 for i in range(60)])
    table = raw({"name": "csv", "file": "t.csv", "target": "label"}, hooks={})
    first = validate(table, trusted=True, paths=paths)
    assert execute(first, paths)["status"] == "completed"
    assert first.inputs["dataset.file"]["path"] == str(paths.root("data_root") / "t.csv")

    write_table(paths, [(i + 1) % 2 for i in range(60)])  # same size, same path, other labels
    second = validate(table, trusted=True, paths=paths)
    assert second.id != first.id
    assert not execute(second, paths).get("reused")

    write_table(paths, [(i + 1) % 2 for i in range(60)])  # rewritten, same contents: same run
    assert id_of(table, paths) == second.id
    assert execute(validate(table, trusted=True, paths=paths), paths)["reused"]


def test_recipe_model_and_dag_files_enter_the_id_by_contents(paths):
    data, models = paths.root("data_root"), paths.root("model_root")
    data.mkdir(parents=True)
    (data / "recipe.yaml").write_text("quant_stage: {}\n")
    quantize = {
        "model": {"name": "tiny_llama"},
        "dataset": {"name": "lm_tasks"},
        "pipeline": {"name": "quantize", "recipe_file": "recipe.yaml"},
    }
    before = id_of(quantize, paths)
    (data / "recipe.yaml").write_text("quant_stage: {x: 1}\n")
    assert id_of(quantize, paths) != before

    folder = models / "my_model"  # a model folder: every file's relative name and contents count
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / "weights.bin").write_bytes(b"\0" * 64)
    evaluate = {**quantize, "pipeline": {"name": "evaluate"}, "model": {"name": "hf", "local_dir": "my_model"}}
    evaluate["dataset"] = {"name": "lm_tasks", "suite": None, "tasks": ["hellaswag"]}  # a hub task: no local file
    before = id_of(evaluate, paths)
    (folder / "weights.bin").write_bytes(b"\1" + b"\0" * 63)
    changed = id_of(evaluate, paths)
    (folder / "weights.bin").rename(folder / "other.bin")
    assert len({before, changed, id_of(evaluate, paths)}) == 3

    gguf = {**quantize, "model": {"name": "smollm2_135m", "gguf_file": "model.gguf"}}  # a GGUF given by path
    (data / "model.gguf").write_bytes(b"GGUF" + b"\0" * 60)
    before = id_of(gguf, paths)
    (data / "model.gguf").write_bytes(b"GGUF" + b"\1" * 60)
    assert id_of(gguf, paths) != before

    write_table(paths, [0, 1] * 20)
    dag = {
        "name": "dag",
        "nodes": [
            {"name": "raw", "transform": "csv", "params": {"file": "t.csv", "target": "label"}},
            {"name": "split", "transform": "split", "inputs": ["raw"]},
        ],
    }
    before = id_of(raw(dag), paths)
    write_table(paths, [1, 0] * 20)
    assert id_of(raw(dag), paths) != before


def test_llm_task_data_counts_only_for_the_pipelines_that_read_it(paths):
    data = paths.root("data_root")
    data.mkdir(parents=True)
    (data / "hellaswag_val.jsonl").write_text('{"x": 1}\n')
    tasks = {"name": "lm_tasks", "suite": None, "tasks": ["hellaswag_local"]}
    evaluate = {"model": {"name": "tiny_llama"}, "dataset": tasks, "pipeline": {"name": "evaluate"}}
    bench = {**evaluate, "pipeline": {"name": "benchmark"}}
    eval_id, bench_id = id_of(evaluate, paths), id_of(bench, paths)
    assert "dataset.data_files.hellaswag_local.validation" in validate(evaluate, trusted=True, paths=paths).inputs
    (data / "hellaswag_val.jsonl").write_text('{"x": 2}\n')
    assert id_of(evaluate, paths) != eval_id and id_of(bench, paths) == bench_id
    (data / "hellaswag_val.jsonl").unlink()
    assert id_of(bench, paths) == bench_id  # serving reads no task data: not needed, not checked
    with pytest.raises(MetaprogramError, match=r"hellaswag_local.validation: .* does not exist"):
        validate(evaluate, trusted=True, paths=paths)


def test_a_missing_file_is_a_validation_error_naming_the_setting(paths):
    with pytest.raises(MetaprogramError) as err:
        validate(raw({"name": "csv", "file": "absent.csv", "target": "y"}), trusted=True, paths=paths)
    absent = paths.root("data_root") / "absent.csv"
    assert err.value.errors == [f"dataset.file: {absent} does not exist (relative paths start at path.data_root)"]


def test_digests_are_cached_by_path_size_mtime_inode_and_ctime(tmp_path, monkeypatch):
    import hashlib
    import os
    import time
    import types

    import engine.identity as identity

    later = types.SimpleNamespace(time_ns=lambda: time.time_ns() + 10 * 10**9)  # every change is old by then
    monkeypatch.setattr(identity, "time", later)
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * 100_000)
    written = time.time_ns() - 60 * 10**9
    os.utime(big, ns=(written, written))
    cache = tmp_path / "cache"
    first = digest(big, cache)
    assert first == hashlib.sha256(b"a" * 100_000).hexdigest()
    monkeypatch.setattr(identity, "_memo", {})  # a new process: only the cache under cache_root is left
    reads = []
    real = hashlib.file_digest
    monkeypatch.setattr(hashlib, "file_digest", lambda f, name: reads.append(f) or real(f, name))
    assert digest(big, cache) == first and reads == []
    big.write_bytes(b"b" * 100_000)  # same size, new mtime: read again
    os.utime(big, ns=(written + 1, written + 1))
    assert digest(big, cache) != first and len(reads) == 1
    with open(big, "r+b") as handle:  # edited in place, size and mtime put back: the ctime moved
        handle.write(b"c")
    os.utime(big, ns=(written + 1, written + 1))
    assert digest(big, cache) == hashlib.sha256(b"c" + b"b" * 99_999).hexdigest() and len(reads) == 2
    replacement = tmp_path / "other.bin"  # replaced by another file with the same size and times: a new inode
    replacement.write_bytes(b"d" * 100_000)
    os.utime(replacement, ns=(written + 1, written + 1))
    os.replace(replacement, big)
    assert digest(big, cache) == hashlib.sha256(b"d" * 100_000).hexdigest() and len(reads) == 3
    monkeypatch.setattr(identity, "time", time)
    big.write_bytes(b"e" * 100_000)  # just written: read every time until it has been still a while
    assert digest(big, cache) == digest(big, cache) == hashlib.sha256(b"e" * 100_000).hexdigest()
    assert len(reads) == 5


# ----------------------------------------------------------------------------- observers and defaults


@pytest.mark.parametrize(
    "change",
    [
        {"hooks": {"checkpoint": {}, "early_stopping": {}, "plot": {}, "progress": {}}},  # the plot added
        {"hooks": {"checkpoint": {}, "early_stopping": {}}},  # the progress bar removed
        {"hooks": {"checkpoint": {"every": 5}, "early_stopping": {}, "progress": {"leave": False}}},
        {"hooks": {"early_stopping": {}, "lr_logger": {}, "mlflow": {}, "wandb": {"mode": "disabled"}}},
        {"resources": {"cpus": 4, "memory_gb": 8, "time_limit_s": 600}},
        # the defaults written out: the same run
        {"hooks": {"checkpoint": {"every": 1}, "early_stopping": {"patience": 10}, "progress": {"leave": True}}},
    ],
    ids=["plot", "no-progress", "checkpoint-every", "trackers", "resources", "explicit-defaults"],
)
def test_observers_and_explicit_defaults_keep_the_id(change, paths):
    assert id_of(raw(**change), paths) == id_of(raw(), paths)


@pytest.mark.parametrize(
    "change",
    [
        {"hooks": {"checkpoint": {}, "progress": {}}},  # early stopping removed
        {"hooks": {"early_stopping": {"patience": 3}}},
        {"hooks": {"early_stopping": {}, "grad_clip": {}}},
        {"precision": "bf16"},
        {"device": "cuda"},
    ],
    ids=["no-early-stopping", "patience", "grad-clip", "precision", "device"],
)
def test_settings_that_change_the_outcome_change_the_id(change, paths):
    assert id_of(raw(**change), paths) != id_of(raw(), paths)


def test_observers_are_recorded_beside_the_id(paths):
    mp = validate(raw(hooks={"plot": {}, "early_stopping": {}}, resources={"cpus": 1}), trusted=True, paths=paths)
    results = json.loads(json.dumps(execute(mp, paths)))
    recorded = json.loads((paths.run_dir(mp.id) / "results.json").read_text())
    assert recorded["observers"]["pipeline.hooks.plot"] == {"every": 1, "file": "learning_curves.png"}
    assert recorded["observers"]["pipeline.resources"]["cpus"] == 1.0
    assert "plot" not in mp.computation["pipeline"]["hooks"] and "resources" not in mp.computation["pipeline"]
    assert "plot" in mp.canonical["pipeline"]["hooks"]  # metaprogram.yaml keeps everything
    assert results["id"] == mp.id


def test_shipped_ids_change_only_as_the_readme_says():
    """Every shipped id, pinned by the README's table: a change to what it hashes must say so there."""
    from engine.compose import CONFIG_DIR, load
    from unit_test.helpers import REPO

    readme = (REPO / "README.md").read_text()
    example = load([], "metaprogram/example").metaprogram
    assert example.id == "f7ffd5d05495adc0"
    assert f"| `example` | `c957bf400c4b210f` | `{example.id}` |" in readme
    for path in sorted((CONFIG_DIR / "metaprogram").glob("*.yaml")):
        mp = load([], f"metaprogram/{path.stem}").metaprogram
        assert f"| `{path.stem}` | `" in readme and f"` | `{mp.id}` |" in readme, path.stem


def test_trackers_on_an_llm_chain_keep_its_id():
    from engine.compose import load

    plain = load([], "metaprogram/tiny_llama_chain").metaprogram
    tracked = load(["+pipeline.hooks.mlflow={}"], "metaprogram/tiny_llama_chain").metaprogram
    assert tracked.id == plain.id and "mlflow" in tracked.canonical["pipeline"]["hooks"]
