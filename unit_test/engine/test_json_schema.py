"""The JSON Schema of an untrusted metaprogram (engine/schema/json_schema.py) and the gate agree, both ways.

Metaprograms are generated from the schema itself (a small generator over the keywords it uses), then mutated
(values out of range or of another type, keys added, removed or misspelt, code keys, interpolations, path keys,
resources over the caps): the schema's verdict and `engine.metaprogram.validate(raw, trusted=False)`'s must be
the same. The only differences allowed are the ones the module documents: the two cross-field rules JSON Schema
cannot state, and files that are missing on this machine.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from engine.metaprogram import MetaprogramError, validate
from engine.schema.json_schema import CROSS_FIELD_RULES, metaprogram_schema
from unit_test.helpers import REPO

SCHEMA = metaprogram_schema()
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)
KEY = st.from_regex(r"[a-z][a-z0-9_]{0,6}", fullmatch=True)
TEXT = st.text(st.characters(codec="ascii", categories=("L", "N", "P", "Zs")), max_size=12).filter(
    lambda s: "${" not in s and s != "???"
)

# the gate's messages for what the schema documents but cannot state, and for files missing on this machine
UNSTATED = re.compile(
    r"must not exceed n_features|is declared twice|must be nodes declared before it|is not a node; nodes are|"
    r"has no split or kfold node upstream|parameters, over the cap of|GB of float32 weights, over the cap|"
    r"metric, and dataset '[^']+' is a \w+ task"
)
MISSING_FILE = re.compile(r"does not exist|not found|No such file|no run .* among the")


def _resolve(ref: str) -> dict:
    return SCHEMA["$defs"][ref.rsplit("/", 1)[-1]]


def from_schema(schema: dict, depth: int = 0) -> st.SearchStrategy:
    """Values of a schema, from the keywords engine/schema/json_schema.py writes; cross-field clauses are left to
    a filter (the caller's), so that what is drawn is judged by the whole schema."""
    if "$ref" in schema:
        return st.deferred(lambda: from_schema(_resolve(schema["$ref"]), depth + 1))
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    for key in ("oneOf", "anyOf"):
        if key in schema and "type" not in schema:
            return st.one_of([from_schema(s, depth) for s in schema[key]])
    if "allOf" in schema and "type" not in schema:
        return from_schema(schema["allOf"][0], depth)
    kind = schema.get("type")
    if isinstance(kind, list):
        return st.one_of([from_schema({**schema, "type": k}, depth) for k in kind])
    if kind == "null":
        return st.none()
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        low, high = schema.get("minimum", -(2**20)), schema.get("maximum", 2**20)
        near = [v for v in (schema.get("default"), low, high, low + 1) if isinstance(v, int) and low <= v <= high]
        return st.one_of(st.sampled_from(near), st.integers(low, min(high, low + 64)), st.integers(low, high))
    if kind == "number":
        low = schema.get("minimum", schema.get("exclusiveMinimum", -1e6))
        high = schema.get("maximum", schema.get("exclusiveMaximum", 1e6))
        numbers = st.floats(low, high, allow_nan=False, exclude_min="exclusiveMinimum" in schema)
        default = schema.get("default")
        return st.one_of(st.just(default), numbers) if isinstance(default, int | float) else numbers
    if kind == "string":
        if "pattern" in schema:
            text = st.from_regex(schema["pattern"], fullmatch=True)
        else:
            text = TEXT
        return text.filter(lambda s: schema.get("minLength", 0) <= len(s) <= schema.get("maxLength", 10**6))
    if kind == "array":
        if depth > 6:
            return st.just([])
        items = from_schema(schema.get("items", {}), depth + 1)
        low = schema.get("minItems", 0)
        return st.lists(items, min_size=low, max_size=min(schema.get("maxItems", 3), low + 3))
    if kind == "object":
        return _objects(schema, depth)
    return st.deferred(lambda: from_schema(_resolve("#/$defs/safe_value"), depth + 1)) if depth < 4 else st.none()


def _objects(schema: dict, depth: int) -> st.SearchStrategy:
    properties, required = schema.get("properties", {}), set(schema.get("required", []))
    extra = schema.get("additionalProperties", True)
    fixed = {k: from_schema(v, depth + 1) for k, v in properties.items() if k in required}
    optional = {k: from_schema(v, depth + 1) for k, v in properties.items() if k not in required}
    strategy = st.fixed_dictionaries(fixed, optional=optional)
    if isinstance(extra, dict) and depth < 5:
        free = st.dictionaries(KEY, from_schema(extra, depth + 1), max_size=2)
        return st.tuples(strategy, free).map(lambda pair: {**pair[1], **pair[0]})
    return strategy


VALID = from_schema(SCHEMA).filter(VALIDATOR.is_valid)


def gate(raw: dict, paths) -> list[str]:
    """The gate's errors ([] when it accepts)."""
    try:
        validate(json.loads(json.dumps(raw)), trusted=False, paths=paths)
    except MetaprogramError as exc:
        return exc.errors
    return []


def schema_errors(raw: dict) -> list[str]:
    return [f"{e.json_path}: {e.message[:200]}" for e in VALIDATOR.iter_errors(raw)]


@pytest.fixture(scope="module")
def gate_paths(tmp_path_factory):
    from engine.paths import Paths

    root = tmp_path_factory.mktemp("gate")
    return Paths(data_root=str(root / "data"), model_root=str(root / "models"), cache_root=str(root / "cache"),
                 output_root=str(root / "out"))  # fmt: skip


FAST = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)


@FAST
@given(raw=VALID)
def test_what_the_schema_accepts_the_gate_accepts(raw, gate_paths):
    errors = gate(raw, gate_paths)
    # a refusal may only be one of the documented rules the schema cannot state, or a file this machine lacks
    unexplained = [e for e in errors if not UNSTATED.search(e) and not MISSING_FILE.search(e)]
    assert not unexplained, f"valid against the schema, refused by the gate: {unexplained}\n{json.dumps(raw)}"


# ----------------------------------------------------------------------------- mutations: both verdicts agree

# a replacement keeps to JSON's own types: the gate (pydantic, lax) also reads "3" or true as a number, which the
# schema, written for structured outputs, does not offer
REPLACEMENTS = [-1, 0, 1, 7, 0.5, -2.5, 1e12, 2**31, "abc", "${oc.env:HOME}", "x${y}", None, [], {}, [1, "a"]]
NEW_KEYS = ["colour", "_target_", "file", "folder", "tracking_uri", "pretrained", "local_dir", "recipe_file", "path"]
NEW_VALUES = ["/etc/passwd", "os.system", 1, {"name": "mlp"}]


def _locations(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _locations(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _locations(v, (*prefix, i))


def _at(value, where):
    for part in where:
        value = value[part]
    return value


@st.composite
def mutated(draw):
    raw = draw(VALID)
    for _ in range(draw(st.integers(1, 2))):
        where = draw(st.sampled_from([w for w in _locations(raw) if w]))
        parent, key, old = _at(raw, where[:-1]), where[-1], _at(raw, where)
        action = draw(st.sampled_from(["replace", "nudge", "delete", "add", "rename"]))
        if action == "replace":
            new = draw(st.sampled_from(REPLACEMENTS))
            if isinstance(old, bool) and isinstance(new, int | float):
                new = "abc"  # a bool reads 0 and 1 (lax); the schema wants true or false
            parent[key] = new
        elif action == "nudge" and isinstance(old, int | float) and not isinstance(old, bool):
            parent[key] = draw(st.sampled_from([old + 1, old - 1, old * 2 + 1, -old - 1, old + 0.5]))
        elif action == "delete" and isinstance(parent, dict):
            del parent[key]
        elif action == "add":
            holder = old if isinstance(old, dict) else parent if isinstance(parent, dict) else raw
            holder[draw(st.sampled_from(NEW_KEYS))] = draw(st.sampled_from(NEW_VALUES))
        elif action == "rename" and isinstance(parent, dict) and isinstance(key, str):
            parent[key[:-1] + "x" if len(key) > 1 else "x"] = parent.pop(key)
        if isinstance(old, str) and action == "replace" and draw(st.booleans()):
            parent[key] = old + draw(st.sampled_from(["z", "_", "${oc.env:HOME}"]))
    return raw


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
@given(raw=mutated())
def test_the_schema_and_the_gate_give_the_same_verdict(raw, gate_paths):
    errors = gate(raw, gate_paths)
    # the documented exceptions: a rule the schema cannot state, or a file missing here
    assume(not any(UNSTATED.search(e) or MISSING_FILE.search(e) for e in errors))
    by_schema = schema_errors(raw)
    assert bool(errors) == bool(by_schema), (
        f"gate: {errors or 'accepted'}\nschema: {by_schema or 'accepted'}\n{json.dumps(raw)}"
    )


# ----------------------------------------------------------------------------- examples


def test_the_schema_is_draft_2020_12_and_lists_every_registered_component():
    from engine.schema import REGISTRIES

    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    for kind in ("model", "dataset", "pipeline"):
        listed = {b["$ref"].rsplit(".", 1)[-1] for b in SCHEMA["properties"][kind]["oneOf"]}
        # a required file, or (hf) a hub id or a local folder: untrusted input can name neither
        needs_a_path = {"csv", "jsonl", "image_folder"} | ({"hf"} if kind == "model" else set())
        assert listed == set(REGISTRIES[kind].names()) - needs_a_path
    mlp = SCHEMA["$defs"]["model.mlp"]["properties"]
    assert mlp["hidden"] == {"type": "integer", "minimum": 1, "maximum": 16384, "default": 128,
                             "description": "width of each hidden layer"}  # fmt: skip
    assert all(c in SCHEMA["$comment"] for c in CROSS_FIELD_RULES)


def test_paths_code_and_resources_over_the_caps_are_outside_the_schema():
    base = {"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": {"name": "sleep"}}
    assert VALIDATOR.is_valid(base)
    hostile = [
        {**base, "dataset": {"name": "csv", "file": "/etc/passwd", "target": "y"}},
        {**base, "model": {"name": "hf", "local_dir": "/etc"}},
        {**base, "model": {"name": "mlp", "_target_": "os.system"}},
        {**base, "model": {"name": "mlp", "activation": "${oc.env:HOME}"}},
        {**base, "pipeline": {"name": "sleep", "objective": {"metric": "${oc.env:HOME}"}}},
        {**base, "pipeline": {"name": "sleep", "resources": {"cpus": 17}}},
        {**base, "pipeline": {"name": "execution", "hooks": {"mlflow": {"tracking_uri": "file:///tmp/x"}}}},
        {**base, "path": {"output_root": "/"}},
        {**base, "model": {"name": "transformer", "d_model": 66, "heads": 4}},
        {**base, "pipeline": {"name": "sleep", "objective": {"metric": "../../etc/passwd"}}},
        {**base, "model": {"name": "composed", "backbone": {"name": "hf", "config": {"url": "http://x"}}}},
        {**base, "model": {"name": "composed", "backbone": {"name": "hf", "config": {"/abs": 1}}}},
        {**base, "pipeline": {"name": "benchmark", "server": "external"}},
    ]
    for raw in hostile:
        assert not VALIDATOR.is_valid(raw), raw
        with pytest.raises(MetaprogramError):
            validate(raw, trusted=False)


@pytest.mark.integration
def test_printing_the_schema_imports_no_heavy_library():
    code = (
        "import sys, json, io, contextlib\n"
        "from engine.schema.__main__ import main\n"
        "out = io.StringIO()\n"
        "with contextlib.redirect_stdout(out): main(['--json'])\n"
        "assert json.loads(out.getvalue())['title'] == 'metaprogram'\n"
        "heavy = {'torch', 'transformers', 'ray', 'lm_eval', 'llmcompressor', 'guidellm'} & set(sys.modules)\n"
        "print(sorted(heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_a_component_registered_later_joins_the_schema_as_the_gate_sees_it():
    """A plugin's component (registered with its schema, as every component is) is one more branch."""
    from typing import Literal

    from pydantic import Field

    from engine.schema.base import MODELS, Component

    class Ridge(Component):
        """A plugin's model."""

        name: Literal["ridge_plugin"] = "ridge_plugin"
        alpha: float = Field(1.0, gt=0.0, le=100.0, description="L2 strength")

    MODELS.register("ridge_plugin", Ridge, "my_plugin.models:Ridge")
    try:
        schema = metaprogram_schema()
        validator = jsonschema.Draft202012Validator(schema)
        assert schema["$defs"]["model.ridge_plugin"]["properties"]["alpha"] == {
            "type": "number", "exclusiveMinimum": 0.0, "maximum": 100.0, "default": 1.0, "description": "L2 strength"
        }  # fmt: skip
        for alpha, accepted in ((0.5, True), (0.0, False), (101, False)):
            raw = {"model": {"name": "ridge_plugin", "alpha": alpha}, "dataset": {"name": "iris"},
                   "pipeline": {"name": "sleep"}}  # fmt: skip
            assert validator.is_valid(raw) is accepted
            assert (gate(raw, None) == []) is accepted
    finally:
        MODELS._entries.pop("ridge_plugin")
