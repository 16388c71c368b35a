"""Hostile input, tried as an attacker or a careless user would: every case is refused in one short answer
with exit 2 (or accepted, where it is harmless), never a traceback, in bounded time, and nothing is written.

The cases are grouped by the mechanism that refuses them (see engine/strict_yaml.py, engine/bounds.py and
the untrusted gate in engine/metaprogram.py); unit_test/test_fuzz.py generates more of each kind.
"""

from __future__ import annotations

import base64
import copy
import time

import pytest
import yaml

from engine.compose import load
from engine.metaprogram import MetaprogramError, validate
from engine.validate import main as validate_main
from unit_test.helpers import files_under

BOMB = "".join(
    f"{name}: &{name} [{', '.join([f'*{prev}'] * 9 if prev else ['lol'] * 9)}]\n"
    for prev, name in zip([None, *"abcdefgh"], "abcdefghi", strict=False)
)


@pytest.fixture
def roots(tmp_path, monkeypatch):
    for key, sub in (("DATA", "data"), ("MODEL", "models"), ("CACHE", "cache"), ("OUTPUT", "out")):
        monkeypatch.setenv(f"METAPROGRAM_{key}_ROOT", str(tmp_path / sub))
    return tmp_path


@pytest.fixture(scope="module")
def example() -> dict:
    return load([], "metaprogram/example").metaprogram.canonical


def as_yaml(tree: dict) -> str:
    return yaml.safe_dump(tree, sort_keys=True)


def with_setting(base: dict, dotted: str, value) -> dict:
    tree = copy.deepcopy(base)
    *parents, last = dotted.split(".")
    node = tree
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return tree


def check_refused(text: str | bytes, roots, capsys, *, trusted: bool = False) -> str:
    """Validate `text` as a file; assert the promise; return what was printed."""
    file = roots / "hostile.yaml"
    file.write_bytes(text if isinstance(text, bytes) else text.encode())
    started = time.monotonic()
    status = validate_main([str(file), *(["--trusted"] if trusted else [])])
    elapsed = time.monotonic() - started
    out, err = capsys.readouterr()
    assert status == 2, out + err
    assert "Traceback" not in out + err
    assert len(out) + len(err) < 8_000, f"an answer of {len(out) + len(err):,} characters"
    assert elapsed < 5, f"{elapsed:.1f} s"
    assert files_under(roots / "out") == [] and files_under(roots / "cache") == []
    return out + err


# --------------------------------------------------------------------------- the loader: tags, bounds, encodings
TEXTS = {
    "binary decoding to an interpolation": "seed: !!binary " + base64.b64encode(b"${oc.env:HOME}").decode(),
    "set holding an interpolation": "model: !!set {'${oc.env:HOME}': null}",
    "python object": "model: !!python/object/apply:os.system ['echo pwned']",
    "python name": "model: !!python/name:os.system",
    "verbatim python tag": "model: !<tag:yaml.org,2002:python/object/new:dict> {}",
    "custom tag": "model: !include /etc/passwd",
    "explicit timestamp": "seed: !!timestamp 2001-12-14",
    "ordered map": "model: !!omap [{a: 1}]",
    "pairs": "model: !!pairs [{a: 1}]",
    "alias bomb": BOMB,
    "recursive alias": "model: &a {name: mlp, x: *a}",
    "alias before anchor": "model: *nowhere",
    "merge key": "base: &b {name: mlp}\nmodel:\n  <<: *b",
    "flow nesting 30,000": "model: " + "[" * 30_000 + "]" * 30_000,
    "block nesting 300": "".join("  " * i + f"k{i}:\n" for i in range(300)) + "  " * 300 + "v: 1\n",
    "200,000 items": "model: [" + ",".join(["1"] * 200_000) + "]",
    "100,001 items, under the byte limit": "model: [" + ",".join(["1"] * 100_001) + "]",
    "5 MB file": "seed: 0\n# " + "x" * 5_000_000,
    "300 KB string": "model: {name: '" + "m" * 300_000 + "'}",
    "300 KB key": "'" + "k" * 300_000 + "': 1",
    "duplicate key": "seed: 1\nseed: 2",
    "complex key": "? [a, b]\n: 1",
    "two documents": "seed: 1\n---\nseed: 2",
    "empty": "",
    "a list": "- 1\n- 2",
    "a scalar": "hello",
    "infinity": "seed: .inf",
    "not a number": "seed: .nan",
    "an integer of 5,000 digits": "seed: " + "9" * 5000,
    "an integer over 64 bits": "seed: 99999999999999999999999",
    "tab indentation": "model:\n\tname: mlp",
    "unclosed quote": "model: {name: 'mlp}",
    "control character": "model: \x07",
}
BYTES = {
    "Latin-1 byte in a comment": b"# caf\xe9\nseed: 0\n",
    "Latin-1 byte in a value": b"model: {name: caf\xe9}\n",
    "UTF-16": "seed: 0\n".encode("utf-16"),
    "NUL byte": b"seed: 0\x00\n",
    "lone surrogate": b"model: \xed\xa0\x80\n",
}


@pytest.mark.parametrize("name", sorted(TEXTS))
def test_hostile_text_is_refused_in_one_short_answer(name, roots, capsys):
    answer = check_refused(TEXTS[name], roots, capsys)
    assert "invalid" in answer


@pytest.mark.parametrize("name", sorted(BYTES))
def test_bytes_that_are_not_utf8_are_refused_naming_the_offset(name, roots, capsys):
    answer = check_refused(BYTES[name], roots, capsys)
    if name.startswith("Latin-1"):
        assert "not UTF-8" in answer and "offset" in answer


def test_the_trusted_path_refuses_tags_too(roots, capsys):
    """Read back as trusted, a decoded interpolation would resolve: it never gets that far."""
    answer = check_refused(TEXTS["binary decoding to an interpolation"], roots, capsys, trusted=True)
    assert "!!binary" in answer
    check_refused(TEXTS["set holding an interpolation"], roots, capsys, trusted=True)


def test_an_alias_bomb_costs_milliseconds(roots, capsys):
    import tracemalloc

    tracemalloc.start()
    check_refused(BOMB, roots, capsys)
    assert tracemalloc.get_traced_memory()[1] < 200 * 2**20
    tracemalloc.stop()


def test_one_bad_file_does_not_stop_a_bulk_check(roots, capsys, example):
    good, bad = roots / "good.yaml", roots / "bad.yaml"
    good.write_text(as_yaml(example))
    bad.write_bytes(b"# \xe9\n" + as_yaml(example).encode())
    status = validate_main([str(bad), str(good)])
    out = capsys.readouterr().out
    assert status == 2 and f"invalid {bad}" in out and "ok " in out and str(good) in out


# --------------------------------------------------------------------------- the untrusted gate, after decoding
SETTINGS = {
    "interpolation in a value": ("pipeline.epochs", "${oc.env:HOME}"),
    "interpolation deep in a list": ("model.extra", [["${oc.env:HOME}"]]),
    "interpolation in a key": ("model.${oc.env:HOME}", 1),
    "a resolver": ("model.name", "${oc.decode:'1'}"),
    "code reference": ("model._target_", "os.system"),
    "deep code reference": ("pipeline.optim._target_", "os.system"),
    "a path up and out": ("model.revision", "../../../../tmp/x"),
    "an absolute path": ("dataset.hub_id", "/etc"),
    "a home path": ("dataset.name", "~/x"),
    "a URL": ("model.name", "file:///etc/passwd"),
    "a backslash path": ("model.name", "..\\..\\x"),
    "a newline": ("model.name", "mlp\nrm -rf"),
    "an integer key": ("pipeline.hooks", {1: {}}),
    "a boolean key": ("pipeline.hooks", {True: {}}),
    "a null key": ("pipeline.hooks", {None: {}}),
    "the path section": ("path.output_root", "/"),
    "hydra settings": ("hydra.run.dir", "/tmp"),
    "resources over the caps": ("pipeline.resources.cpus", 10_000),
    "an unknown component": ("model.name", "os"),
    "a component given as a list": ("model", ["mlp"]),
    "a name that is a number": ("model.name", 7),
    "a hook given as a number": ("pipeline.hooks", 5),
    "a seed that is a string": ("seed", "0; rm"),
    "a seed out of range": ("seed", 2**40),
}


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_hostile_settings_are_refused_from_untrusted_text(name, roots, capsys, example):
    key, value = SETTINGS[name]
    tree = with_setting(example, key, value)
    try:
        text = yaml.safe_dump(tree, sort_keys=True)
    except yaml.YAMLError:
        pytest.fail("the case itself is not YAML")
    check_refused(text, roots, capsys)
    with pytest.raises(MetaprogramError) as refused:  # the same gate for values that never were text
        validate(tree, trusted=False)
    assert "Traceback" not in str(refused.value)


def test_a_free_form_model_config_is_sized_before_it_is_built(roots, capsys):
    composed = load(["+metaprogram/component/model=composed/hf_bert", "+metaprogram/component/pipeline=execution",
                     "+metaprogram/component/dataset=classification/digits"]).metaprogram.canonical  # fmt: skip
    for key, value in (("hidden_size", 1_000_000_000), ("num_hidden_layers", 10**9), ("vocab_size", 10**12)):
        answer = check_refused(as_yaml(with_setting(composed, f"model.backbone.config.{key}", value)), roots, capsys)
        assert "over the cap" in answer


def test_every_path_like_setting_is_refused_from_untrusted_text():
    """hub ids, revisions, URLs and local folders: untrusted text may not set any of them."""
    from engine.metaprogram import _paths_set
    from engine.schema.data_dag import CifarParams
    from engine.schema.llm_data import CalibrationConfig
    from engine.schema.llm_models import HFModelConfig
    from engine.schema.llm_pipelines import BenchmarkConfig

    assert set(_paths_set(HFModelConfig(hub_id="org/model", revision="v1"))) == {"hub_id", "revision"}
    assert set(_paths_set(CalibrationConfig(source="hub", hub="org/data", hub_config="x"))) == {"hub", "hub_config"}
    assert _paths_set(CifarParams(hub_id="org/cifar")) == ["hub_id"]
    assert _paths_set(BenchmarkConfig(server="external", target="http://10.0.0.1")) == ["target"]


def test_error_messages_are_bounded(example):
    huge = with_setting(example, "model.hidden", "9" * 200_000)
    many = with_setting(example, "model", {"name": "mlp", **{f"k{i}": i for i in range(5_000)}})
    for tree in (huge, many):
        with pytest.raises(MetaprogramError) as refused:
            validate(tree, trusted=False)
        assert len(str(refused.value)) < 20_000
    assert "more error(s)" in str(refused.value)


# --------------------------------------------------------------------------- run settings
@pytest.mark.parametrize("setting", ["force=no", "force=1", "dry_run=maybe", "dry_run=0", "force=[]"])
def test_run_settings_are_strict_booleans(setting):
    with pytest.raises(MetaprogramError, match="must be true or false"):
        load([setting], "metaprogram/example")


# --------------------------------------------------------------------------- the command line
def run_guarded(argv: list[str], capsys) -> tuple[int, str]:
    from engine.boundary import guarded
    from engine.cli import main

    status = guarded(main, argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err and len(out + err) < 8_000
    return status, out + err


ARGV = {
    "nested 2,000 deep": ["model.hidden=" + "[" * 2000 + "]" * 2000],
    "a 100,000-character value": ["model.name=" + "m" * 100_000],
    "a config name out of the tree": ["--config-name=../../../etc/passwd"],
    "an option out of the tree": ["+metaprogram/component/model=../../../../etc/passwd"],
    "an unknown group": ["+metaprogram/component/modle=classic/mlp"],
    "a number past float": ["pipeline.optim.lr=1e400"],
    "not a number": ["pipeline.optim.lr=nan"],
    "an unclosed bracket": ["model.hidden=[1,2"],
    "an unclosed quote": ["model.name='mlp"],
    "an interpolation to nowhere": ["model.hidden=${nowhere}"],
    "odd unicode": ["model.name=m\u202eosl\u0000p"],
    "a key of dots": ["....=1"],
    "two modes": ["--info", "-m"],
    "cfg and multirun": ["--cfg", "job", "-m"],
    "no key": ["=1"],
}


@pytest.mark.parametrize("name", sorted(ARGV))
def test_hostile_command_lines_are_refused(name, roots, capsys):
    status, answer = run_guarded(["--config-name=metaprogram/example", *ARGV[name], "dry_run=true"], capsys)
    assert status == 2, answer
    assert files_under(roots / "out") == []


def test_an_output_root_that_is_a_file_is_an_answer_not_a_traceback(roots, capsys):
    (roots / "a_file").write_text("x")
    status, answer = run_guarded(["--config-name=metaprogram/example", f"path.output_root={roots / 'a_file'}",
                                  "pipeline.epochs=1"], capsys)  # fmt: skip
    assert status in (1, 2) and ("output_root" in answer or "crash" in answer or "a_file" in answer), answer


# --------------------------------------------------------------------------- identity
def test_negative_zero_is_zero():
    plain = load(["model.dropout=0.0"], "metaprogram/example").metaprogram.id
    assert load(["model.dropout=-0.0"], "metaprogram/example").metaprogram.id == plain


def test_one_file_spelt_three_ways_has_one_id(roots):
    data = roots / "data"
    data.mkdir()
    (data / "t.csv").write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    base = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/model=classic/mlp",
            "+metaprogram/component/dataset=local/csv", "dataset.target=y"]  # fmt: skip
    ids = {load([*base, f"dataset.file={spelling}"]).metaprogram.id for spelling in
           ("t.csv", "./t.csv", str(data / "t.csv"), "./././t.csv", str(data / ".." / "data" / "t.csv"))}  # fmt: skip
    assert len(ids) == 1
    with pytest.raises(MetaprogramError, match="climbs out of"):
        load([*base, "dataset.file=../../../../etc/passwd"])


def test_an_edit_that_restores_size_and_mtime_gets_a_new_id(roots):
    import os

    data = roots / "data"
    data.mkdir()
    table = data / "t.csv"
    table.write_text("a,b,y\n" + "".join(f"{i},{i % 3},{i % 2}\n" for i in range(40)))
    stat = table.stat()
    base = ["+metaprogram/component/pipeline=execution", "+metaprogram/component/model=classic/mlp",
            "+metaprogram/component/dataset=local/csv", "dataset.target=y", "dataset.file=t.csv"]  # fmt: skip
    before = load(base).metaprogram.id
    text = table.read_text()
    table.write_text(text.replace("0,0,0", "0,0,1", 1))  # same size
    os.utime(table, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert table.stat().st_size == stat.st_size and table.stat().st_mtime_ns == stat.st_mtime_ns
    assert load(base).metaprogram.id != before


def test_an_input_replaced_while_the_run_reads_it_fails_the_run_and_is_not_reused(paths, tmp_path):
    import threading

    from engine.context import RunFailed
    from engine.runner import execute

    data = tmp_path / "data"
    data.mkdir()
    table = data / "t.csv"
    table.write_text("a,y\n1,0\n2,1\n")
    raw = {
        "model": {"name": "mlp"},
        "dataset": {"name": "csv", "file": "t.csv", "target": "y"},
        "pipeline": {"name": "sleep", "seconds": 1.0},
        "seed": 0,
    }
    mp = validate(raw, trusted=True, paths=paths)
    swap = threading.Timer(0.3, lambda: table.write_text("a,y\n9,0\n9,1\n"))
    swap.start()
    with pytest.raises(RunFailed, match="changed while the run read it"):
        execute(mp, paths)
    swap.join()
    table.write_text("a,y\n1,0\n2,1\n")  # the old bytes back: the failed run is not reused
    assert validate(raw, trusted=True, paths=paths).id == mp.id
    assert execute(mp, paths).get("reused") is None
    table.write_text("a,y\n5,0\n6,1\n")  # changed between validation and the run
    with pytest.raises(RunFailed, match="changed since the metaprogram was validated"):
        execute(mp, paths, force=True)


def test_a_local_folder_named_by_a_hub_id_is_digested(paths, tmp_path):
    folder = tmp_path / "data" / "my_cifar"
    folder.mkdir(parents=True)
    (folder / "train.csv").write_text("x\n1\n")
    raw = {"model": {"name": "mlp"}, "dataset": {"name": "cifar", "hub_id": "my_cifar"},
           "pipeline": {"name": "sleep"}, "seed": 0}  # fmt: skip
    first = validate(raw, trusted=True, paths=paths)
    assert "dataset.hub_id" in first.inputs
    (folder / "train.csv").write_text("x\n2\n")
    assert validate(raw, trusted=True, paths=paths).id != first.id
    online = validate({**raw, "dataset": {"name": "cifar", "hub_id": "uoft-cs/cifar10"}}, trusted=True, paths=paths)
    assert online.inputs == {}


# --------------------------------------------------------------------------- records read back
def quiet_logger(monkeypatch) -> None:
    """The `metaprogram` logger as a fresh process has it, its records caught by caplog: an earlier test in this
    process may have left a console handler on a since-closed capture stream, or disabled it (Hydra's set-up)."""
    import logging

    log = logging.getLogger("metaprogram")
    for attribute, value in (("handlers", []), ("disabled", False), ("level", logging.NOTSET), ("propagate", True)):
        monkeypatch.setattr(log, attribute, value)


def test_damaged_results_are_recomputed_never_trusted(paths):
    from engine.records import RunRecord

    record = RunRecord(paths.run_dir("abc"))
    record.run_dir.mkdir(parents=True)
    for damaged in ("1", '{"status": "completed"}', "[", '{"status": "done", "metrics": {}, "objective": {},'
                    ' "timings": {}}', "\xff", "!!python/object:os.system {}"):  # fmt: skip
        record.results_path.write_text(damaged)
        assert record.completed() is None


def test_the_runs_table_lists_around_damaged_run_directories(roots, capsys, example, monkeypatch, caplog):

    from database.cli import main as metaprogram

    quiet_logger(monkeypatch)

    out = roots / "out"
    runs = out / "runs"
    for name, results, mp in (
        ("good", {"id": "good", "status": "completed", "metrics": {"test/accuracy": 0.9},
                  "objective": {"metric": "test/accuracy", "value": 0.9}, "timings": {}}, as_yaml(example)),
        ("badresults", 1, as_yaml(example)),
        ("badmeta", {"status": "completed", "metrics": {}, "objective": {}, "timings": {}}, "model: [unclosed"),
        ("halfresults", {"status": "completed"}, as_yaml(example)),
    ):  # fmt: skip
        (runs / name).mkdir(parents=True)
        (runs / name / "results.json").write_text(yaml.safe_dump(results) if not isinstance(results, int) else "1")
        (runs / name / "metaprogram.yaml").write_text(mp)
    (runs / "good" / "stages.json").write_text("{not json")
    assert metaprogram(["--root", str(out), "runs"]) == 0
    listing = capsys.readouterr()
    assert "good" in listing.out and "Traceback" not in listing.out + listing.err
    assert "badresults" not in listing.out
    damaged = [r.getMessage() for r in caplog.records if "damaged, skipped" in r.getMessage()]
    assert any("badresults" in m for m in damaged) and any("halfresults" in m for m in damaged)
    assert metaprogram(["--root", str(out), "runs", "show", "good"]) == 0
    for argv in (["--where", "pipeline.optim.name='adam"], ["--since", "99999999999d"], ["--where", "x=[1"]):
        status = metaprogram(["--root", str(out), "runs", *argv])
        answer = capsys.readouterr()
        assert status in (0, 2) and "Traceback" not in answer.out + answer.err


def test_a_damaged_database_row_is_skipped_with_a_warning(roots, capsys, example, monkeypatch, caplog):
    import sqlite3

    from database.cli import main as metaprogram

    quiet_logger(monkeypatch)
    out = roots / "out"
    for name in ("first", "second"):
        run = out / "runs" / name
        run.mkdir(parents=True)
        results = {"id": name, "status": "completed", "metrics": {}, "timings": {},
                   "objective": {"metric": "test/accuracy", "value": None}}  # fmt: skip
        (run / "results.json").write_text(yaml.safe_dump(results))
        (run / "metaprogram.yaml").write_text(as_yaml(example))
    assert metaprogram(["--root", str(out), "runs", "index"]) == 0
    with sqlite3.connect(out / "metaprogram.db") as db:
        db.execute("UPDATE runs SET metrics='{not json' WHERE id='first'")
    import shutil

    shutil.rmtree(out / "runs" / "first")  # only its database row is left
    capsys.readouterr()
    assert metaprogram(["--root", str(out), "runs"]) == 0
    listing = capsys.readouterr()
    assert "second" in listing.out and "first" not in listing.out
    assert any("damaged" in r.getMessage() and "first" in r.getMessage() for r in caplog.records)


# --------------------------------------------------------------------------- sweep files
SWEEP_BASE = "name: hostile\nsuite: examples\nbase: {config: metaprogram/example, overrides: [pipeline.epochs=1]}\n"
SWEEPS = {
    "second grid point invalid": SWEEP_BASE + "space:\n  pipeline.optim.name: {type: grid, values: [adam, nope]}\n"
    "mode: grid\n",
    "a tag": SWEEP_BASE + "space: !!python/name:os.system\nmode: grid\n",
    "an alias bomb": SWEEP_BASE + BOMB,
    "nested deep": SWEEP_BASE + "space: " + "[" * 5000 + "]" * 5000 + "\n",
    "an infinite bound": SWEEP_BASE + "space:\n  model.hidden: {type: randint, low: 1, high: .inf}\nmode: random\n",
    "a reversed range": SWEEP_BASE
    + "space:\n  pipeline.optim.lr: {type: loguniform, low: 1, high: -1}\nmode: random\n",
    "an absurd count": SWEEP_BASE + "space:\n  seed: {type: randint, low: 0, high: 9}\nmode: random\ncount: 1e30\n",
    "not a mapping": "- 1\n- 2\n",
    "Latin-1": "# caf\xe9\n" + SWEEP_BASE,
}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_hostile_sweep_files_are_refused(name, roots, capsys):
    from engine.boundary import guarded
    from util.sweep_spec import SweepError
    from util.sweeper import main as sweeper

    file = roots / "hostile_sweep.yaml"
    text = SWEEPS[name]
    file.write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    status = guarded(sweeper, [str(file), "--dry-run"], expected=(SweepError,))
    out, err = capsys.readouterr()
    assert status == 2, out + err
    assert "Traceback" not in out + err and len(out + err) < 8_000
    assert files_under(roots / "out") == []


@pytest.mark.parametrize("value", [True, False, "3", "1e-3", "nan"])
def test_a_number_setting_takes_numbers_only(value, example):
    """A boolean is not an integer and a string is not a number: `true` and `1` are never the same setting."""
    with pytest.raises(MetaprogramError, match="model.hidden: expected a number"):
        validate(with_setting(example, "model.hidden", value), trusted=False)
    with pytest.raises(MetaprogramError, match="pipeline.optim.lr: expected a number"):
        validate(with_setting(example, "pipeline.optim.lr", value), trusted=True)


def test_exponent_floats_are_numbers_as_hydra_reads_them():
    from engine.strict_yaml import load as safe_load

    assert safe_load("lr: 1e-3\nbig: -2E+5\n") == {"lr": 0.001, "big": -200000.0}


@pytest.mark.parametrize("value", [1, 0, 1.0, "yes", "true", "on", "False"])
def test_a_switch_takes_true_or_false_only(value, example):
    """`1`, `"yes"` and `"true"` are not booleans: a switch has two spellings, so one setting has one id."""
    with pytest.raises(MetaprogramError, match="restore_best: expected true or false"):
        validate(with_setting(example, "pipeline.restore_best", value), trusted=False)


def test_every_switch_of_every_schema_refuses_what_is_not_a_boolean():
    """Property over the whole schema tree: each bool setting (optional or not) of every settings class."""
    from pydantic import ValidationError

    from engine.schema.base import Schema

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    switches = [(cls, key) for cls in set(subclasses(Schema)) for key, field in cls.model_fields.items()
                if field.annotation in (bool, bool | None)]  # fmt: skip
    assert len(switches) >= 10
    for cls, key in switches:
        for value in (1, "yes"):
            with pytest.raises(ValidationError) as caught:
                cls.model_validate({key: value})
            mine = [e for e in caught.value.errors() if e["loc"] == (key,)]
            assert mine and "expected true or false" in mine[0]["msg"], (cls, key, value)
