"""A metaprogram: model + dataset + pipeline + seed, validated, with a stable identity.

`validate(raw, trusted=...)` is the single gate every metaprogram passes through,
whoever wrote it: Hydra composition, a sweep, a file, or the planner. It reports
every error at once, each with its key path, and never imports torch. Its id is
a hash of what determines the results (engine/identity.py): the settings without
observers, and the contents of every file the metaprogram refers to.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from engine.bounds import InputError, bounded_lines, check_plain, shorten, shown
from engine.errors import did_you_mean
from engine.identity import canonical_values, digest, identity, split_observers
from engine.lineage import ParentProblem, run_of
from engine.plugins import PROBLEMS, load_plugins, plugin_inputs
from engine.schema import REGISTRIES
from engine.schema.base import COMPONENT_KINDS, is_path_field, nested_schemas

if TYPE_CHECKING:
    from engine.paths import Paths

TOP_LEVEL_KEYS = (*COMPONENT_KINDS, "seed")
MISSING = "???"


class MetaprogramError(ValueError):
    """Everything wrong with one metaprogram, one line per problem."""

    def __init__(self, errors: list[str], source: str | None = None):
        # bounded: a huge value is shown cut, and a flood of errors is shown as its first lines and a count
        self.errors = bounded_lines(errors, "error(s)")
        self.source = shorten(str(source), 300) if source is not None else None
        super().__init__(self.render())

    def __reduce__(self) -> tuple:
        # rebuilt from its errors, not its message: it crosses processes whole (a Ray trial, a job_launch job)
        return type(self), (self.errors, self.source)

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
    parameters: float = 2e9  # a model built from a free-form config (a transformers `config` mapping)


@dataclass
class Metaprogram:
    model: BaseModel
    dataset: BaseModel
    pipeline: BaseModel
    seed: int = 0
    # every file or folder it refers to: dotted setting -> {"path": absolute path, "sha256": contents}
    inputs: dict[str, dict[str, str]] = field(default_factory=dict)
    from_run: str | None = None  # the recorded run it was composed from (+from_run): lineage, not identity
    _canonical: dict[str, Any] = field(default_factory=dict, repr=False)
    _split: tuple[dict[str, Any], dict[str, Any]] | None = field(default=None, repr=False)

    @property
    def canonical(self) -> dict[str, Any]:
        """The resolved form, every default filled in, observers included: what metaprogram.yaml records."""
        if not self._canonical:
            self._canonical = {
                "model": self.model.model_dump(mode="json"),
                "dataset": self.dataset.model_dump(mode="json"),
                "pipeline": self.pipeline.model_dump(mode="json"),
                "seed": self.seed,
            }
        return self._canonical

    @property
    def computation(self) -> dict[str, Any]:
        """The canonical form without observers: what the id hashes (with the inputs' digests).

        Values are canonical (-0.0 is 0.0), and a file setting is the path it names relative to its root,
        however it was written (`t.csv`, `./t.csv`, the absolute path)."""
        computation = canonical_values(self._split_observers()[0])
        for key, entry in self.inputs.items():
            _set_dotted(computation, key, entry.get("canonical"))
        return computation

    @property
    def observers(self) -> dict[str, Any]:
        """What watches the run without changing its results, by dotted key: recorded beside the id."""
        return self._split_observers()[1]

    def _split_observers(self) -> tuple[dict[str, Any], dict[str, Any]]:
        if self._split is None:
            computation, observers = copy.deepcopy(self.canonical), {}
            for kind in COMPONENT_KINDS:
                removed = split_observers(getattr(self, kind), computation[kind])
                observers.update({f"{kind}.{key}": value for key, value in removed.items()})
            self._split = (computation, observers)
        return self._split

    @property
    def id(self) -> str:
        return identity(self.computation, {key: entry["sha256"] for key, entry in self.inputs.items()})

    @property
    def task(self) -> str:
        return self.dataset.task()

    def objective(self) -> tuple[str, str]:
        """(metric, mode) that a sweep optimises, 'auto' resolved for this task."""
        return self.pipeline.resolve_objective(self.task)


def _set_dotted(tree: Any, dotted: str, value: str | None) -> None:
    """Replace the string at `dotted` (list items by index) with `value`, when both are there."""
    if value is None:
        return
    *parents, last = dotted.split(".")
    for part in parents:
        if isinstance(tree, list) and part.isdigit() and int(part) < len(tree):
            tree = tree[int(part)]
        else:
            tree = tree.get(part) if isinstance(tree, dict) else None
        if tree is None:
            return
    if isinstance(tree, dict) and isinstance(tree.get(last), str):
        tree[last] = value
    elif isinstance(tree, list) and last.isdigit() and int(last) < len(tree) and isinstance(tree[int(last)], str):
        tree[int(last)] = value


def assemble(model: BaseModel, dataset: BaseModel, pipeline: BaseModel, seed: int, paths: Paths) -> Metaprogram:
    """A metaprogram from validated components, its input files found and digested.

    Raises MetaprogramError naming every input file that does not exist.
    """
    errors: list[str] = []
    inputs = input_digests(model, dataset, pipeline, paths, errors)
    if errors:
        raise MetaprogramError(errors)
    return Metaprogram(model, dataset, pipeline, seed, inputs)


def input_digests(model, dataset, pipeline, paths: Paths, errors: list[str]) -> dict[str, dict[str, str]]:
    """{setting: {path, sha256}} for every file the run reads; a missing one is appended to `errors`."""
    files = {}
    for kind, found in (
        ("model", lambda: model.input_files(paths)),
        ("dataset", lambda: pipeline.dataset_files(dataset, paths)),
        ("pipeline", lambda: pipeline.input_files(paths)),
    ):
        try:
            files.update({f"{kind}.{key}": path for key, path in found().items()})
        except ParentProblem as exc:  # a run to build on that is missing, unfinished or left no weights
            errors.append(f"{kind}.{exc.key}: {exc}")
        except (OSError, ValueError) as exc:  # a package that should hold the file is missing; a wrong dataset
            errors.append(f"{kind}: {exc}")
    for kind, component in (("model", model), ("dataset", dataset), ("pipeline", pipeline)):
        files.update(plugin_inputs(component, kind))  # a plugin's source code is an input like a data file
    inputs = {}
    for key, path in sorted(files.items()):
        root = "model_root" if key.startswith("model.") else "data_root"
        if not path.exists():
            errors.append(f"{key}: {shorten(str(path), 300)} does not exist (relative paths start at path.{root})")
            continue
        try:
            sha = digest(path, paths.root("cache_root"))
        except OSError as exc:
            errors.append(f"{key}: cannot read {shorten(str(path), 300)}: {exc.strerror or exc}")
            continue
        # a recorded run's file is spelt by the run's id: the same parent gives the same id wherever outputs live
        canonical = run_of(path, paths) or paths.canonical(path, root)
        inputs[key] = {"path": str(path), "sha256": sha, "canonical": canonical}
    return inputs


def validate(
    raw: Any,
    *,
    trusted: bool,
    caps: Caps = Caps(),
    source: str | None = None,
    paths: Paths | None = None,
) -> Metaprogram:
    """Check `raw` (plain dicts, interpolations already resolved for trusted input).

    Files the metaprogram refers to are found under `paths` (default: the environment's roots,
    as configs/path/default.yaml sets them); the plugins `paths` names are loaded first, so a process
    that is handed the paths (a Ray Train worker, a Tune trial, a job) finds them too.
    """
    # at once, even before a lookup: a plugin that failed to load is every validation's error
    load_plugins(paths.plugins if paths is not None else ())
    errors: list[str] = [f"plugins: {problem}" for problem in PROBLEMS]
    if not isinstance(raw, dict):
        expected = f"expected a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, got {shown(raw)}"
        raise MetaprogramError([*errors, expected], source)
    try:
        check_plain(raw)
    except InputError as exc:
        raise MetaprogramError([str(exc)], source) from None
    pathlike: dict[str, str] = {}
    if not trusted:
        raw = _sanitize(raw, errors, pathlike)
    for key in raw:
        if key not in TOP_LEVEL_KEYS and (trusted or key not in ("path", "hydra", "defaults")):
            errors.append(f"{shorten(key, 60)}: unknown key; {did_you_mean(key, list(TOP_LEVEL_KEYS))}")

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
        path_keys = [f"{kind}.{p}" for kind, built in components.items() for p in _paths_set(built)]
        errors += [f"{key}: path keys are not accepted from untrusted input" for key in path_keys]
        errors += [message for key, message in pathlike.items() if key not in path_keys]
        if pipeline is not None:
            errors += _over_caps(pipeline, caps)
    if pipeline is not None and "model" in components and "dataset" in components:
        errors += pipeline.problems_with(components["model"], components["dataset"])
    for kind, built in components.items():  # trusted too: the default caps keep a typo from filling memory
        errors += [f"{kind}.{p}" for p in _cap_problems(built, caps)]
    if errors:
        raise MetaprogramError(errors, source)
    if paths is None:
        from engine.paths import default_paths

        paths = default_paths()
    inputs = input_digests(components["model"], components["dataset"], pipeline, paths, errors)
    if errors:
        raise MetaprogramError(errors, source)
    return Metaprogram(components["model"], components["dataset"], pipeline, seed, inputs)


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
    if not isinstance(name, str):
        errors.append(f"{kind}.name: expected a name, got {shown(name)}; registered: {', '.join(registry.names())}")
        return None
    value, missing = _strip_missing(value)
    errors += [f"{kind}.{path}: missing required value" for path in missing]
    try:
        return registry.build(name, value)
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(shorten(str(p), 60) for p in error["loc"])
            if where not in missing:
                errors.append(f"{kind}.{where}: {error['msg']}" if where else f"{kind}: {error['msg']}")
        return None


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


def _sanitize(raw: Any, errors: list[str], pathlike: dict[str, str], prefix: str = "") -> Any:
    """Drop code references and interpolations from untrusted input, saying where; note path-like strings.

    Checked on the decoded values, keys included, at any depth: whatever a YAML tag or escape
    spelt, what reaches this point is plain data, and nothing in it may name the environment or code.
    A path-like string (`pathlike`: key -> error) is kept for the schema, and refused after it unless
    the schema already said that its key is a path key."""
    if isinstance(raw, dict):
        clean = {}
        for key, value in raw.items():
            path = f"{prefix}{shorten(key, 60)}"
            if key.startswith("_") and key.endswith("_"):
                errors.append(f"{path}: {shorten(key, 60)} is not accepted from untrusted input")
            elif not prefix and key in ("path", "hydra", "defaults"):
                errors.append(f"{path}: not accepted from untrusted input")
            elif problem := _unsafe_text(key):
                errors.append(f"{path}: a key with {problem} is not accepted from untrusted input")
            elif isinstance(value, str) and _unsafe_text(value) == "an interpolation":  # dropped: reported once
                errors.append(f"{path}: interpolation {shown(value)} is not accepted from untrusted input")
            else:
                clean[key] = _sanitize(value, errors, pathlike, path + ".")
        return clean
    if isinstance(raw, list):
        return [_sanitize(v, errors, pathlike, f"{prefix}{i}.") for i, v in enumerate(raw)]
    if isinstance(raw, str) and (problem := _unsafe_text(raw)):
        message = f"{prefix[:-1]}: {problem.removeprefix('an ')} {shown(raw)} is not accepted from untrusted input"
        if problem == "a path":
            pathlike[prefix[:-1]] = message
        else:
            errors.append(message)
    return raw


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# absolute, home, file: or example: at the start; a `..` path segment, a backslash or a URL anywhere
_PATH_LIKE = re.compile(r"^\s*(?:/|~|file:|example:)|(?:^|[/\\])\.\.(?:$|[/\\])|\\|://", re.IGNORECASE)


_ANY_UNSAFE = re.compile(rf"\$\{{|{_CONTROL.pattern}|{_PATH_LIKE.pattern}", re.IGNORECASE)


def _unsafe_text(text: str) -> str | None:
    """What makes a string unsafe from untrusted input, or None: an interpolation (it could read the
    environment or a file), a control character, or a path (absolute, home, parent folder, backslash, a URL
    or `example:`)."""
    if not _ANY_UNSAFE.search(text):  # the common case: one search
        return None
    if "${" in text:
        return "an interpolation"
    if _CONTROL.search(text):
        return "a control character"
    if _PATH_LIKE.search(text):
        return "a path"
    return None


def _paths_set(model: BaseModel, prefix: str = "") -> list[str]:
    found = []
    for key in model.model_fields_set:
        value = getattr(model, key)
        if is_path_field(type(model), key):
            if value is not None:  # an optional path left unset (null) names no file
                found.append(prefix + key)
            continue
        for where, part in nested_schemas(key, value):  # nested settings, DAG nodes, hooks
            found += _paths_set(part, f"{prefix}{where}.")
    return found


def _cap_problems(model: BaseModel, caps: Caps) -> list[str]:
    """What a schema finds over the caps in its own settings (a free-form config, sized), by key."""
    found = list(model.cap_problems(caps)) if hasattr(model, "cap_problems") else []
    for key in model.model_fields_set:  # a default is within the caps by construction: only what was set
        for where, part in nested_schemas(key, getattr(model, key)):
            found += [f"{where}.{p}" for p in _cap_problems(part, caps)]
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
    distributed = getattr(pipeline, "distributed", None)  # data-parallel workers: their total is capped too
    if distributed is not None:
        for key, cap in (("cpus", caps.cpus), ("gpus", caps.gpus)):
            total = distributed.workers * getattr(distributed, f"{key}_per_worker")
            if total > cap:
                problems.append(
                    f"pipeline.distributed: {total:g} {key} in all is over the cap of {cap} for untrusted input"
                )
    return problems
