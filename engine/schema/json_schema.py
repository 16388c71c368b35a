"""The JSON Schema (draft 2020-12) of an untrusted metaprogram, derived from the schemas and registries the gate uses.

    python -m engine.schema --json            # the whole schema, for structured outputs and constrained decoding
    metaprogram_schema()                      # the same, as a dict

What `engine.metaprogram.validate(raw, trusted=False)` accepts is what this schema describes:
- every registered model, dataset and pipeline is one branch of a union on `name` (plugins included: they join
  the registries), with every setting's type, range, default and description, taken from its pydantic schema;
- nested registered parts (composed models' backbone / neck / head, DAG nodes' transforms, execution hooks and
  metrics) are unions on their own names;
- path settings (files, hub ids, URLs, revisions) are absent (untrusted input may not set them), so is a component
  that needs one (e.g. `csv`), and so are `_target_`-like keys and, in any free text, what the gate refuses:
  `${...}` interpolations, control characters, backslashes, URLs and paths (`/x`, `~`, `..`);
- resources are capped by `engine.metaprogram.Caps`;
- the pipelines that read an lm_tasks dataset (quantize, evaluate) take no other;
- the cross-field rules the schemas check in Python (a width divisible by the heads, exactly one of two settings,
  `fold < k`, ...) are `if`/`then` and `oneOf` clauses.

Four rules compare values that JSON Schema cannot relate, and are only described (`CROSS_FIELD_RULES`, also in the
schema's `$comment`): a synthetic dataset's `n_informative <= n_features` when both are given, the wiring of a
DAG dataset's nodes, the size of a free-form transformers config against the caps, and a metric's task against the
dataset's. The gate also checks that the files a metaprogram reads (by default, e.g. CIFAR's folder) exist on this
machine and bounds the size of what it reads (engine/bounds.py); a number setting takes JSON numbers only, as the
schema says. unit_test/engine/test_json_schema.py checks the agreement both ways with Hypothesis.
"""

from __future__ import annotations

import copy
import functools
from typing import Any, get_args, get_origin

from pydantic import BaseModel

from engine.schema import REGISTRIES
from engine.schema.base import COMPONENT_KINDS, is_path_field

DRAFT = "https://json-schema.org/draft/2020-12/schema"
MAX_SEED = 2**31 - 1
SAFE_VALUE = "safe_value"  # free-form settings (a transformers config): plain JSON without code or interpolations
# what the gate refuses in any string from untrusted input (engine.metaprogram._unsafe_text): an interpolation, a
# control character, a backslash, a URL, or a path (absolute, home, file: or example:, a `..` segment)
UNSAFE_TEXT = (
    r"\$\{|[\u0000-\u001f\u007f]|\\|://|^\s*(/|~|[Ff][Ii][Ll][Ee]:|[Ee][Xx][Aa][Mm][Pp][Ll][Ee]:)|(^\s*|/)\.\.(/|\s*$)"
)
NO_INTERPOLATION = {"not": {"pattern": UNSAFE_TEXT}}
# `_target_` and the like (a key that starts and ends with _), and keys the gate refuses as text
NO_CODE_KEY = {"not": {"anyOf": [{"pattern": "^_(.*_)?$"}, {"pattern": UNSAFE_TEXT}]}}

CROSS_FIELD_RULES = (
    "a synthetic dataset (or DAG loader) that sets both n_informative and n_features needs n_informative <= n_features",
    "a dag dataset's nodes have unique names, each input names a node declared before it, output names a node, and "
    "a split or kfold node lies upstream of the output",
    "a free-form transformers config (backbone hf) is sized from its settings: over the caps' parameters or memory "
    "it is refused",
    "a metric registered for one task (pipeline.metrics) is refused on a dataset of the other task",
)


class _Builder:
    def __init__(self, caps: Any):
        self.caps = caps
        self.defs: dict[str, Any] = {SAFE_VALUE: _safe_value()}
        self.classes: dict[str, type] = {}

    # ---- registered names: unions on `name` (or on a DAG node's `transform`)
    def union(self, registry: Any, prefix: str) -> dict[str, Any]:
        branches = []
        for name in registry.names():
            schema = registry.schema(name)
            if _needs_a_path(schema):
                continue  # a required path setting: nothing untrusted can set it
            key = f"{prefix}.{name}"
            if key not in self.defs:
                self.defs[key] = {}  # reserved first: a part may refer to its own kind
                body = self.object_schema(schema)
                body["properties"]["name"] = {"const": name, "description": f"registered {registry.kind}"}
                body["required"] = sorted({"name", *body.get("required", [])})
                self.defs[key] = body
            branches.append({"$ref": f"#/$defs/{key}"})
        return {"oneOf": branches}

    def ref(self, cls: type[BaseModel]) -> dict[str, Any]:
        key = cls.__name__
        if self.classes.get(key, cls) is not cls:
            key = f"{cls.__module__}.{cls.__qualname__}"
        if key not in self.defs:
            self.classes[key] = cls
            self.defs[key] = {}
            self.defs[key] = self.object_schema(cls)
        return {"$ref": f"#/$defs/{key}"}

    def node(self) -> dict[str, Any]:
        """A DAG node: one branch per registered transform, its params and its number of inputs."""
        from engine.schema.data_dag import TRANSFORMS, Node

        if "Node" not in self.defs:
            self.defs["Node"] = {}
            base = self.object_schema(Node)
            branches = []
            for name in TRANSFORMS.names():
                schema = TRANSFORMS.schema(name)
                if _needs_a_path(schema):
                    continue
                branch = copy.deepcopy(base)
                low, high = schema.arity
                branch["properties"]["transform"] = {"const": name}
                branch["properties"]["inputs"] = {**branch["properties"]["inputs"], "minItems": low, "maxItems": high}
                if low > 0:
                    branch["required"] = sorted({*branch["required"], "inputs"})
                params = self.ref(schema)
                branch["properties"]["params"] = {**params, "description": f"the parameters of {name}"}
                if not _defaults_valid(schema):  # a required setting, or defaults a rule refuses (subsample)
                    branch["required"] = sorted({*branch["required"], "params"})
                branches.append(branch)
            self.defs["Node"] = {"description": base.get("description", ""), "oneOf": branches}
        return {"$ref": "#/$defs/Node"}

    # ---- one pydantic schema
    def object_schema(self, cls: type[BaseModel]) -> dict[str, Any]:
        generated = cls.model_json_schema(mode="validation")
        nested = _models_by_name(cls)
        properties, required = {}, []
        for field, info in cls.model_fields.items():
            if is_path_field(cls, field):
                continue
            special = _special(cls, field)
            if special is not None:
                prop = special(self, info)
            else:
                prop = self.convert(generated["properties"][field], nested)
            prop = {k: v for k, v in prop.items() if k not in ("title", "observer", "path")}
            if info.description and "description" not in prop:
                prop["description"] = info.description
            default = _default(info)
            if default is not _NO_DEFAULT:
                prop["default"] = default
            properties[field] = prop
            if info.is_required():
                required.append(field)
        schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
        if required:
            schema["required"] = required
        doc = (cls.__doc__ or "").strip()
        if doc and not doc.startswith(("Usage docs", "A base class")):
            schema["description"] = " ".join(doc.split())
        rules = [clause for base, rule in _rules() if issubclass(cls, base) for clause in rule(self, cls)]
        if rules:
            schema["allOf"] = rules
        return schema

    def convert(self, schema: Any, nested: dict[str, type]) -> Any:
        """pydantic's JSON Schema of a setting, with its models replaced by ours and free text made safe."""
        if isinstance(schema, list):
            return [self.convert(s, nested) for s in schema]
        if not isinstance(schema, dict):
            return schema
        if "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            return {**self.ref(nested[name]), **extra}
        out = {k: self.convert(v, nested) for k, v in schema.items() if k != "title"}
        if not any(k in out for k in ("type", "anyOf", "oneOf", "enum", "const", "allOf", "not")):
            return {**out, "$ref": f"#/$defs/{SAFE_VALUE}"}  # Any
        if out.get("type") == "string" and "enum" not in out and "const" not in out:
            out.update(NO_INTERPOLATION)
        if out.get("type") == "object":
            extra = out.get("additionalProperties", True)
            out["additionalProperties"] = {"$ref": f"#/$defs/{SAFE_VALUE}"} if extra in (True, {}) else extra
            out["propertyNames"] = NO_CODE_KEY
        if out.get("type") == "array" and "items" not in out:
            out["items"] = {"$ref": f"#/$defs/{SAFE_VALUE}"}
        return out


_NO_DEFAULT = object()


def _default(info: Any) -> Any:
    if info.is_required():
        return _NO_DEFAULT
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {k: v.model_dump(mode="json") if isinstance(v, BaseModel) else v for k, v in value.items()}
    return copy.deepcopy(value)


def _safe_value() -> dict[str, Any]:
    ref = {"$ref": f"#/$defs/{SAFE_VALUE}"}
    return {
        "description": "plain JSON: no key like _target_, no ${...} interpolation",
        "anyOf": [
            {"type": ["null", "boolean", "number"]},
            {"type": "string", **NO_INTERPOLATION},
            {"type": "array", "items": ref},
            {"type": "object", "propertyNames": NO_CODE_KEY, "additionalProperties": ref},
        ],
    }


def _models_by_name(cls: type[BaseModel]) -> dict[str, type]:
    found: dict[str, type] = {}

    def walk(annotation: Any) -> None:
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            if annotation.__name__ not in found:
                found[annotation.__name__] = annotation
                for info in annotation.model_fields.values():
                    walk(info.annotation)
        for arg in get_args(annotation) if get_origin(annotation) is not None else ():
            walk(arg)

    for info in cls.model_fields.values():
        walk(info.annotation)
    return found


def _defaults_valid(cls: type[BaseModel]) -> bool:
    """Whether `cls` with every setting left out is valid (what the gate builds for params left out)."""
    from pydantic import ValidationError

    try:
        cls.model_validate({})
    except ValidationError:
        return False
    return True


def _needs_a_path(cls: type[BaseModel]) -> bool:
    """Whether untrusted input cannot use `cls`: a required path setting, or one of two path settings required."""
    from engine.schema.llm_models import HFModelConfig

    if issubclass(cls, HFModelConfig):  # exactly one of hub_id or local_dir: both name what it reads
        return True
    return any(info.is_required() and is_path_field(cls, name) for name, info in cls.model_fields.items())


# ----------------------------------------------------------------------------- settings checked in Python


def _special(cls: type, field: str) -> Any:
    for base, name, handler in _special_fields():
        if issubclass(cls, base) and field == name:
            return handler
    return None


@functools.cache
def _special_fields() -> list[tuple[type, str, Any]]:
    from engine.schema import llm, llm_data, llm_pipelines, model_parts, pipelines
    from engine.schema.base import HOOKS, METRICS
    from engine.schema.data_dag import DagDatasetConfig, Node
    from engine.schema.pipelines import PipelineConfig

    def part(registry: Any, prefix: str) -> Any:
        return lambda b, info: b.union(registry, prefix)

    def standard(kind: str, nullable: bool) -> Any:
        def handler(b: _Builder, info: Any) -> dict[str, Any]:
            names = llm.standard_names(kind)
            return {"enum": [*names, None] if nullable else names, "description": f"a {kind} standard"}

        return handler

    def hooks(b: _Builder, info: Any) -> dict[str, Any]:
        properties = {name: {"anyOf": [b.ref(HOOKS.schema(name)), {"type": "null"}]} for name in HOOKS.names()}
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def metrics(b: _Builder, info: Any) -> dict[str, Any]:
        names = METRICS.names()
        by_name = {name: {"anyOf": [b.ref(METRICS.schema(name)), {"type": "null"}]} for name in names}
        return {
            "anyOf": [
                {"type": "array", "items": {"enum": names}, "uniqueItems": True},
                {"type": "object", "properties": by_name, "additionalProperties": False},
            ],
            "description": info.description,
        }

    def pipeline_hooks(b: _Builder, info: Any) -> dict[str, Any]:
        return b.convert(PipelineConfig.model_json_schema()["properties"]["hooks"], {})

    def nodes(b: _Builder, info: Any) -> dict[str, Any]:
        node = b.node()
        body = {"allOf": [node], "description": "the node's name is its key"}
        return {
            "anyOf": [
                {"type": "array", "items": node, "minItems": 1, "maxItems": 64},
                {
                    "type": "object",
                    "description": "nodes by name, in order",
                    "propertyNames": {"pattern": "^[A-Za-z0-9_.-]+$", "minLength": 1, "maxLength": 64},
                    "additionalProperties": body,
                    "minProperties": 1,
                    "maxProperties": 64,
                },
            ]
        }

    return [
        (model_parts.ComposedConfig, "backbone", part(model_parts.BACKBONES, "backbone")),
        (model_parts.ComposedConfig, "neck", part(model_parts.NECKS, "neck")),
        (model_parts.ComposedConfig, "head", part(model_parts.HEADS, "head")),
        (pipelines.ExecutionConfig, "hooks", hooks),
        (pipelines.ExecutionConfig, "metrics", metrics),
        (PipelineConfig, "hooks", pipeline_hooks),
        (llm_data.LMTasksConfig, "suite", standard("evaluation", True)),
        (llm_pipelines.QuantizeConfig, "scheme", standard("compression", False)),
        (llm_pipelines.BenchmarkConfig, "standard", standard("benchmarking", True)),
        (DagDatasetConfig, "nodes", nodes),
        (Node, "params", lambda b, info: {}),  # replaced per transform in _Builder.node
    ]


def _divisible(a: str, b: str, b_range: range) -> Any:
    """`a` is a multiple of `b` (both integers with defaults), as one if/then per value of `b`."""

    def rule(builder: _Builder, cls: type[BaseModel]) -> list[dict[str, Any]]:
        a_default, b_default = cls.model_fields[a].default, cls.model_fields[b].default
        clauses = [
            {"if": {"not": {"required": [b]}}, "then": {"properties": {a: {"multipleOf": b_default}}}},
        ]
        for value in b_range:
            if value == 1:
                continue
            then: dict[str, Any] = {"properties": {a: {"multipleOf": value}}}
            if a_default % value:
                then["required"] = [a]
            clauses.append({"if": {"properties": {b: {"const": value}}, "required": [b]}, "then": then})
        return clauses

    return rule


@functools.cache
def _rules() -> list[tuple[type, Any]]:
    from engine.schema import data_dag, llm_data, llm_models, llm_pipelines, model_parts, models

    def heads_range(cls: type[BaseModel], field: str) -> range:
        low = high = None
        for meta in cls.model_fields[field].metadata:
            low = getattr(meta, "ge", low)
            high = getattr(meta, "le", high)
        return range(low, high + 1)

    def divisible(a: str, b: str) -> Any:
        def rule(builder: _Builder, cls: type[BaseModel]) -> list[dict[str, Any]]:
            return _divisible(a, b, heads_range(cls, b))(builder, cls)

        return rule

    def channels(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [{"properties": {"channels": {"items": {"type": "integer", "minimum": 1, "maximum": 1024}}}}]

    def informative(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        fields = cls.model_fields
        clauses = [
            {
                "if": {"not": {"required": ["n_features"]}},
                "then": {"properties": {"n_informative": {"maximum": fields["n_features"].default}}},
            },
            {
                "if": {"not": {"required": ["n_informative"]}},
                "then": {"properties": {"n_features": {"minimum": fields["n_informative"].default}}},
            },
        ]
        if "n_classes" in fields:
            for k in range(1, 7):  # from 7 informative features on, 2**k exceeds the largest n_classes
                clauses.append(
                    {
                        "if": {"properties": {"n_informative": {"const": k}}, "required": ["n_informative"]},
                        "then": {"properties": {"n_classes": {"maximum": 2**k}}},
                    }
                )
        return clauses

    def fold(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        clauses = [{"if": {"not": {"required": ["k"]}}, "then": {"properties": {"fold": {"maximum": 4}}}}]
        for k in heads_range(cls, "k"):
            clauses.append(
                {
                    "if": {"properties": {"k": {"const": k}}, "required": ["k"]},
                    "then": {"properties": {"fold": {"maximum": k - 1}}},
                }
            )
        return clauses

    def one_size(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [
            {
                "oneOf": [
                    {"properties": {"fraction": {"type": "number"}}, "required": ["fraction"]},
                    {"properties": {"n": {"type": "integer"}}, "required": ["n"]},
                ]
            }
        ]

    def calibration(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [{"properties": {"source": {"enum": ["generated"]}}}]  # file, disk and hub name what is read

    def suite_or_tasks(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [
            {
                "oneOf": [
                    {"properties": {"suite": {"type": "string"}, "tasks": {"type": "null"}}},
                    {
                        "properties": {"suite": {"type": "null"}, "tasks": {"type": "array"}},
                        "required": ["suite", "tasks"],
                    },
                ]
            }
        ]

    def external(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [{"properties": {"server": {"enum": ["builtin", "vllm", "mock"]}}}]  # external needs a target URL

    def clip(builder: _Builder, cls: type) -> list[dict[str, Any]]:
        return [
            # pretrained is a path: without it, CLIP trains from scratch
            {"properties": {"mode": {"enum": ["auto", "contrastive"]}}},
            {"properties": {"templates": {"anyOf": [{"type": "null"}, {"items": {"pattern": r"\{\}"}}]}}},
        ]

    return [
        (models.TransformerConfig, divisible("d_model", "heads")),
        (models.ConvLayers, channels),
        (llm_models.TinyLlamaConfig, divisible("hidden_size", "heads")),
        (llm_models.TinyLlamaConfig, divisible("heads", "kv_heads")),
        (model_parts.CLIPConfig, divisible("width", "heads")),
        (model_parts.CLIPConfig, clip),
        (data_dag.SyntheticClassificationParams, informative),
        (data_dag.SyntheticRegressionParams, informative),
        (data_dag.KFoldParams, fold),
        (data_dag.SubsampleParams, one_size),
        (llm_data.CalibrationConfig, calibration),
        (llm_data.LMTasksConfig, suite_or_tasks),
        (llm_pipelines.BenchmarkConfig, external),
    ]


# ----------------------------------------------------------------------------- resources within the caps


def _capped_resources(builder: _Builder) -> None:
    """The caps on untrusted resources, as maxima of the Resources schema."""
    from engine.schema.pipelines import Resources

    key = builder.ref(Resources)["$ref"].rsplit("/", 1)[-1]
    properties = builder.defs[key]["properties"]
    for name in ("cpus", "gpus", "memory_gb", "time_limit_s"):
        cap = getattr(builder.caps, name)
        prop = properties[name]
        for number in [prop, *prop.get("anyOf", [])]:
            if number.get("type") in ("number", "integer"):
                number["maximum"] = min(number.get("maximum", cap), cap)
        prop["description"] = (prop.get("description", "") + f" (at most {cap:g} for untrusted input)").strip()


def _capped_workers(builder: _Builder) -> None:
    """Data-parallel workers: their CPUs and GPUs in all within the caps (one if/then per worker count), and no
    cluster address from untrusted input."""
    from engine.schema.pipelines import Distributed

    key = builder.ref(Distributed)["$ref"].rsplit("/", 1)[-1]
    body = builder.defs[key]
    body["properties"]["address"] = {"type": "null", "default": None, "description": "not from untrusted input"}
    fields = Distributed.model_fields
    clauses = []
    low, high = 1, 256
    for meta in fields["workers"].metadata:
        low, high = getattr(meta, "ge", low), getattr(meta, "le", high)
    for workers in range(low, high + 1):
        then: dict[str, Any] = {"properties": {}}
        for kind, cap in (("cpus", builder.caps.cpus), ("gpus", builder.caps.gpus)):
            name = f"{kind}_per_worker"
            then["properties"][name] = {"maximum": cap / workers}
            if fields[name].default * workers > cap:
                then.setdefault("required", []).append(name)
        condition = {"properties": {"workers": {"const": workers}}, "required": ["workers"]}
        if workers == fields["workers"].default:  # left out, workers is its default
            condition = {"anyOf": [condition, {"not": {"required": ["workers"]}}]}
        clauses.append({"if": condition, "then": then})
    body["allOf"] = [*body.get("allOf", []), *clauses]


def metaprogram_schema(caps: Any = None) -> dict[str, Any]:
    """The JSON Schema of an untrusted metaprogram within `caps` (default: engine.metaprogram.Caps())."""
    from engine.metaprogram import Caps

    builder = _Builder(caps or Caps())
    _capped_resources(builder)
    _capped_workers(builder)
    properties: dict[str, Any] = {}
    for kind in COMPONENT_KINDS:
        properties[kind] = {**builder.union(REGISTRIES[kind], kind), "description": f"the {kind}: one registered name"}
    properties["seed"] = {"type": "integer", "minimum": 0, "maximum": MAX_SEED, "default": 0}
    return {
        "$schema": DRAFT,
        "$id": "urn:metaprogram-runner:metaprogram",
        "title": "metaprogram",
        "description": "An untrusted metaprogram: a model, a dataset and a pipeline, each a registered component "
        "chosen by name, and a seed. Settings left out take their defaults.",
        "$comment": "Also checked, but not expressible here: " + "; ".join(CROSS_FIELD_RULES) + ".",
        "type": "object",
        "properties": properties,
        "required": list(COMPONENT_KINDS),
        "additionalProperties": False,
        "allOf": [_reads_lm_tasks()],
        "$defs": builder.defs,
    }


def _reads_lm_tasks() -> dict[str, Any]:
    """The pipelines that read an lm_tasks dataset's files take no other dataset."""
    from engine.schema.llm_pipelines import READS_LM_TASKS

    return {
        "if": {
            "properties": {"pipeline": {"properties": {"name": {"enum": list(READS_LM_TASKS)}}, "required": ["name"]}},
            "required": ["pipeline"],
        },
        "then": {"properties": {"dataset": {"properties": {"name": {"const": "lm_tasks"}}}}},
    }


def component_schema(kind: str, name: str, caps: Any = None) -> dict[str, Any]:
    """One registered component's schema (its $defs entry), with the definitions it refers to."""
    whole = metaprogram_schema(caps)
    key = f"{kind}.{name}"
    if key not in whole["$defs"]:
        raise KeyError(key)
    return {"$schema": DRAFT, **whole["$defs"][key], "$defs": whole["$defs"]}
