"""A metaprogram: model + dataset + pipeline + seed, validated, with a stable identity.

`validate(raw, trusted=...)` is the single gate every metaprogram passes through,
whoever wrote it: Hydra composition, a sweep, a file, or the planner. It reports
every error at once, each with its key path, and never imports torch.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from engine.registry import UnknownComponent, did_you_mean
from engine.schema import REGISTRIES
from engine.schema.base import COMPONENT_KINDS, HOOKS, is_path_field

TOP_LEVEL_KEYS = (*COMPONENT_KINDS, "seed")
MISSING = "???"
_ID_LENGTH = 16


class MetaprogramError(ValueError):
    """Everything wrong with one metaprogram, one line per problem."""

    def __init__(self, errors: list[str], source: str | None = None):
        self.errors = errors
        self.source = source
        super().__init__(self.render())

    def render(self) -> str:
        where = f" {self.source}" if self.source else ""
        lines = [f"invalid metaprogram{where}: {len(self.errors)} error(s)"]
        lines += [f"  - {e}" for e in self.errors]
        return "\n".join(lines)


@dataclass(frozen=True)
class Caps:
    """Largest resources an untrusted (machine-written) metaprogram may ask for."""

    cpus: float = 16
    gpus: float = 8
    memory_gb: float = 64
    time_limit_s: float = 24 * 3600


@dataclass
class Metaprogram:
    model: BaseModel
    dataset: BaseModel
    pipeline: BaseModel
    seed: int = 0
    _canonical: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def canonical(self) -> dict[str, Any]:
        """The resolved form, every default filled in: what the id hashes."""
        if not self._canonical:
            self._canonical = {
                "model": self.model.model_dump(mode="json"),
                "dataset": self.dataset.model_dump(mode="json"),
                "pipeline": self.pipeline.model_dump(mode="json"),
                "seed": self.seed,
            }
        return self._canonical

    @property
    def id(self) -> str:
        return identity(self.canonical)

    @property
    def task(self) -> str:
        return self.dataset.task()

    def objective(self) -> tuple[str, str]:
        """(metric, mode) that a sweep optimises, 'auto' resolved for this task."""
        return self.pipeline.resolve_objective(self.task)


def identity(canonical: dict[str, Any]) -> str:
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:_ID_LENGTH]


def validate(raw: Any, *, trusted: bool, caps: Caps = Caps(), source: str | None = None) -> Metaprogram:
    """Check `raw` (plain dicts, interpolations already resolved for trusted input)."""
    errors: list[str] = []
    if not isinstance(raw, dict):
        raise MetaprogramError([f"expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}"], source)
    if not trusted:
        raw = _sanitize(raw, errors)
    for key in raw:
        if key not in TOP_LEVEL_KEYS and (trusted or key not in ("path", "hydra", "defaults")):
            errors.append(f"{key}: unknown key; {did_you_mean(str(key), list(TOP_LEVEL_KEYS))}")

    components: dict[str, BaseModel] = {}
    for kind in COMPONENT_KINDS:
        value = raw.get(kind)
        if value is None or value == MISSING:
            errors.append(f"{kind}: missing (choose one with +metaprogram/component/{kind}=...)")
            continue
        built = validate_component(kind, value, errors)
        if built is not None:
            components[kind] = built

    seed = raw.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
        errors.append(f"seed: must be an integer in [0, 2**31), got {seed!r}")

    pipeline = components.get("pipeline")
    if not trusted:
        for kind, built in components.items():
            errors += [f"{kind}.{p}: path keys are not accepted from untrusted input" for p in _paths_set(built)]
        for name, settings in (getattr(pipeline, "hooks", None) or {}).items():  # hooks are kept as dicts
            schema = HOOKS.schema(name)
            errors += [
                f"pipeline.hooks.{name}.{k}: path keys are not accepted from untrusted input"
                for k, v in (settings or {}).items()
                if v is not None and is_path_field(schema, k)
            ]
        if pipeline is not None:
            errors += _over_caps(pipeline, caps)
    if errors:
        raise MetaprogramError(errors, source)
    return Metaprogram(components["model"], components["dataset"], components["pipeline"], seed)


def validate_component(kind: str, value: Any, errors: list[str]) -> BaseModel | None:
    """Validate one model, dataset or pipeline; append its problems to `errors`."""
    if not isinstance(value, dict):
        errors.append(f"{kind}: expected a mapping, got {type(value).__name__}")
        return None
    registry = REGISTRIES[kind]
    name = value.get("name")
    if name is None or name == MISSING:
        errors.append(f"{kind}.name: missing; registered {kind}s: {', '.join(registry.names())}")
        return None
    try:
        schema = registry.schema(name)
    except UnknownComponent as exc:
        errors.append(f"{kind}.name: {exc}")
        return None
    value, missing = _strip_missing(value)
    errors += [f"{kind}.{path}: missing required value" for path in missing]
    hooks = value.pop("hooks", None) if "hooks" in schema.model_fields else None
    checked_hooks = _validate_hooks(hooks, errors) if isinstance(hooks, dict) else None
    if hooks is not None and not isinstance(hooks, dict):
        errors.append(f"{kind}.hooks: expected a mapping of hook name to settings")
    try:
        built = schema.model_validate(value)
    except ValidationError as exc:
        errors += format_errors(exc, schema, kind, skip=set(missing))
        return None
    if checked_hooks is not None:
        built.hooks = checked_hooks
    return built


def _validate_hooks(hooks: dict[str, Any], errors: list[str]) -> dict[str, Any]:
    checked = {}
    for name, settings in sorted(hooks.items()):
        where = f"pipeline.hooks.{name}"
        try:
            schema = HOOKS.schema(name)
        except UnknownComponent as exc:
            errors.append(f"{where}: {exc}")
            continue
        try:
            checked[name] = schema.model_validate(settings or {}).model_dump(mode="json")
        except ValidationError as exc:
            errors += format_errors(exc, schema, where)
    return checked


def _strip_missing(value: Any, prefix: str = "") -> tuple[Any, list[str]]:
    """Drop '???' (OmegaConf's mandatory marker) and say where they were."""
    if isinstance(value, dict):
        out, missing = {}, []
        for k, v in value.items():
            path = f"{prefix}{k}"
            if v == MISSING:
                missing.append(path)
                continue
            out[k], inner = _strip_missing(v, path + ".")
            missing += inner
        return out, missing
    return value, []


def format_errors(
    exc: ValidationError, schema: type[BaseModel], prefix: str, skip: set[str] = frozenset()
) -> list[str]:
    """One line per pydantic error: key path, what is wrong, and the nearest valid names."""
    lines = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        path = ".".join([prefix, *loc])
        if ".".join(loc) in skip:
            continue
        kind = err["type"]
        if kind == "extra_forbidden":
            valid = list(_schema_at(schema, loc[:-1]).model_fields)
            lines.append(f"{path}: unknown key; {did_you_mean(loc[-1], valid)}")
        elif kind == "missing":
            lines.append(f"{path}: missing required value")
        elif kind == "literal_error":
            options = re.findall(r"'([^']*)'", err["ctx"]["expected"])
            lines.append(f"{path}: {err['input']!r} is not allowed; {did_you_mean(str(err['input']), options)}")
        else:
            message = err["msg"].removeprefix("Value error, ")
            got = f" (got {err['input']!r})" if "input" in err and not isinstance(err["input"], dict) else ""
            lines.append(f"{path}: {message}{got}")
    return lines


def _schema_at(schema: type[BaseModel], loc: list[str]) -> type[BaseModel]:
    """The nested schema that holds the key at `loc` (for did-you-mean)."""
    for part in loc:
        field_info = schema.model_fields.get(part)
        if field_info is None:
            continue
        nested = _model_in(field_info.annotation)
        if nested is not None:
            schema = nested
    return schema


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if get_origin(annotation) is not None:
        for arg in get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


def _sanitize(raw: Any, errors: list[str], prefix: str = "") -> Any:
    """Drop code references and interpolations from untrusted input, saying where."""
    if isinstance(raw, dict):
        clean = {}
        for key, value in raw.items():
            path = f"{prefix}{key}"
            if isinstance(key, str) and key.startswith("_") and key.endswith("_"):
                errors.append(f"{path}: {key} is not accepted from untrusted input")
            elif not prefix and key in ("path", "hydra", "defaults"):
                errors.append(f"{path}: not accepted from untrusted input")
            elif _is_interpolation(value):  # dropped so the schema does not report it again
                errors.append(f"{path}: interpolation {value!r} is not accepted from untrusted input")
            else:
                clean[key] = _sanitize(value, errors, path + ".")
        return clean
    if isinstance(raw, list):
        return [_sanitize(v, errors, f"{prefix}{i}.") for i, v in enumerate(raw)]
    if _is_interpolation(raw):
        errors.append(f"{prefix[:-1]}: interpolation {raw!r} is not accepted from untrusted input")
    return raw


def _is_interpolation(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _paths_set(model: BaseModel, prefix: str = "") -> list[str]:
    found = []
    for key in model.model_fields_set:
        value = getattr(model, key)
        if is_path_field(type(model), key):
            if value is not None:  # an optional path left unset (null) names no file
                found.append(prefix + key)
        elif isinstance(value, BaseModel):
            found += _paths_set(value, f"{prefix}{key}.")
        elif isinstance(value, list):  # e.g. the nodes of a data DAG
            for i, item in enumerate(value):
                if isinstance(item, BaseModel):
                    found += _paths_set(item, f"{prefix}{key}.{i}.")
    return found


def _over_caps(pipeline: BaseModel, caps: Caps) -> list[str]:
    resources = getattr(pipeline, "resources", None)
    if resources is None:
        return []
    problems = []
    for key in ("cpus", "gpus", "memory_gb", "time_limit_s"):
        asked, cap = getattr(resources, key, None), getattr(caps, key)
        if asked is not None and asked > cap:
            problems.append(f"pipeline.resources.{key}: {asked} is over the cap of {cap} for untrusted input")
    return problems
