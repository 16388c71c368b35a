"""model.init_from in the gate and the identity, without running anything: the parent's id and the digest of
its weights are part of the child's id; a parent is named by its id (or a prefix), never a path."""

from __future__ import annotations

import json
import time

import pytest

from engine.lineage import UnknownRun, find_id
from engine.metaprogram import MetaprogramError, validate
from engine.paths import Paths

PARENT = "ab12" * 4


def recorded(paths: Paths, run_id: str = PARENT, status: str = "completed", weights: bytes | None = b"w1") -> None:
    run_dir = paths.run_dir(run_id)
    run_dir.mkdir(parents=True, exist_ok=True)
    results = {"status": status, "pipeline": "execution", "metrics": {}, "objective": {}, "timings": {}}
    (run_dir / "results.json").write_text(json.dumps(results))
    if weights is not None:
        (run_dir / "model.pt").write_bytes(weights)


def child(init_from=None, **model):
    return {"model": {"name": "mlp", **({"init_from": init_from} if init_from is not None else {}), **model},
            "dataset": {"name": "iris"}, "pipeline": {"name": "execution"}}  # fmt: skip


def test_the_parent_id_and_its_weights_are_part_of_the_child_id(paths, tmp_path):
    recorded(paths)
    tuned = validate(child("ab12"), trusted=True, paths=paths)
    assert tuned.canonical["model"]["init_from"] == PARENT  # a prefix is written out in full
    assert tuned.computation["model"]["init_from"] == PARENT  # spelt by the id, not the file's path
    assert validate(child(PARENT), trusted=True, paths=paths).id == tuned.id
    plain = validate(child(), trusted=True, paths=paths)
    assert "init_from" not in plain.canonical["model"] and plain.id != tuned.id  # unset: ids recorded before stay

    time.sleep(0.01)
    (paths.run_dir(PARENT) / "model.pt").write_bytes(b"w2")  # the parent's weights changed: another experiment
    assert validate(child(PARENT), trusted=True, paths=paths).id != tuned.id

    elsewhere = Paths(**{**paths.model_dump(), "output_root": str(tmp_path / "elsewhere")})
    recorded(elsewhere, weights=b"w2")  # the same parent in another output root: the same child
    assert validate(child(PARENT), trusted=True, paths=elsewhere).id == validate(child(PARENT), trusted=True,
                                                                                 paths=paths).id  # fmt: skip


def test_untrusted_input_names_a_parent_by_its_id_only(paths):
    recorded(paths)
    assert validate(child(PARENT), trusted=False, paths=paths).canonical["model"]["init_from"] == PARENT
    for value in ("../runs/x/model.pt", "/etc/passwd", "ABCD", "ab1", "${oc.env:HOME}"):
        with pytest.raises(MetaprogramError) as refused:
            validate(child(value), trusted=False, paths=paths)
        assert any(e.startswith("model.init_from") for e in refused.value.errors), refused.value.errors


@pytest.mark.parametrize(
    ("status", "weights", "says"),
    [("failed", b"w", "did not complete (its status is failed)"), ("completed", None, "left no trained weights")],
)
def test_a_parent_that_cannot_be_built_on_is_one_error(paths, status, weights, says):
    recorded(paths, status=status, weights=weights)
    with pytest.raises(MetaprogramError) as refused:
        validate(child(PARENT), trusted=True, paths=paths)
    assert len(refused.value.errors) == 1 and refused.value.errors[0].startswith("model.init_from: ")
    assert says in refused.value.errors[0]


def test_one_prefix_resolution_with_did_you_mean():
    ids = ["ab12ab12ab12ab12", "ab12cd34ab12ab12", "ffff000011112222"]
    assert find_id(ids, "ffff") == "ffff000011112222" and find_id(ids, "ab12c") == "ab12cd34ab12ab12"
    with pytest.raises(UnknownRun, match="is the start of 2 run ids"):
        find_id(ids, "ab12")
    with pytest.raises(UnknownRun, match="did you mean 'ffff000011112222'"):
        find_id(ids, "fffe")


def test_the_python_entry_point_composes_a_mapping_through_the_same_gate(paths, monkeypatch):
    from database.api import runs
    from database.runs import RunsError
    from engine.api import compose, run

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", paths.output_root)
    recorded(paths)
    composed = compose(metaprogram=child(PARENT), overrides=["pipeline.optim.lr=0.01", "seed=3"])
    assert composed.metaprogram.pipeline.optim.lr == 0.01 and composed.metaprogram.seed == 3
    assert composed.metaprogram.id == validate({**child(PARENT), "seed": 3, "pipeline": {
        "name": "execution", "optim": {"lr": 0.01}}}, trusted=True, paths=paths).id  # fmt: skip
    dry = run(metaprogram=child(PARENT), overrides=["dry_run=true"])
    assert dry["dry_run"] is True and dry["metaprogram"]["model"]["init_from"] == PARENT
    with pytest.raises(MetaprogramError) as refused:
        run(metaprogram=child("ffff", hiddn=3))
    assert {e.split(":")[0] for e in refused.value.errors} == {"model.hiddn"}
    assert not (paths.root("output_root") / "runs" / "ffff").exists()
    assert runs(paths.output_root) == [] and runs(str(paths.root("output_root") / "none")) == []
    with pytest.raises(RunsError, match="unknown filter statu"):
        runs(paths.output_root, statu="completed")
