"""The one loader for every text that enters: plain YAML only, bounded, and strict about keys.

    load(text, source="my.yaml")      # str or bytes; raises a yaml.YAMLError subclass with one short line
    load_file(path)                   # the same for a file, read once, at most LIMITS.max_bytes

Metaprogram, sweep, suite, recipe and job files, planner and agent output, and the records read
back all come through here (JSON is YAML, so a JSON text loads too). What it refuses, each with the
source and line:
- any tag but the core ones (`!!binary`, `!!set`, `!!python/...`, `!custom`): only strings,
  numbers, booleans, null, lists and mappings come out; a timestamp stays the string it was written as;
- a key written twice in one mapping (plain YAML keeps the last one silently), a key that is not
  a scalar, and merge keys (`<<`);
- text past the bounds of engine/bounds.py: bytes, nesting depth, nodes (an alias counts as
  everything it expands to, so a bomb of a few hundred bytes is refused at once), string length;
- bytes that are not UTF-8 (the error names the byte offset), and infinite or NaN numbers.

It reads the parser's events (libyaml's, when present) and builds the values itself, so the limits
hold while reading: nothing is expanded, nested or copied past them. A text that plainly has none of
what could break a limit (no tag, anchor, alias, merge or complex key, no non-finite number, shallow
and small) is read by libyaml's own loader instead, about 10x faster for bulk validation; anything
that loader cannot read is read again the careful way, for the precise answer.
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import yaml

from engine.bounds import LIMITS, Limits, shorten

_Parser = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when present: bulk validation reads many files
_CORE = "tag:yaml.org,2002:"
_SCALAR_TAGS = {f"{_CORE}{t}" for t in ("str", "int", "float", "bool", "null")}
_ALLOWED_TAGS = _SCALAR_TAGS | {f"{_CORE}map", f"{_CORE}seq", "!"}
_construct = yaml.constructor.SafeConstructor()
# `1e-3` is a number, as OmegaConf (and so Hydra, and YAML 1.2) reads it; PyYAML's YAML 1.1 wants `1.0e-3`
_EXPONENT_FLOAT = re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)$")


class _Resolver(yaml.resolver.Resolver):
    pass


_Resolver.add_implicit_resolver(f"{_CORE}float", _EXPONENT_FLOAT, list("-+0123456789"))
_resolver = _Resolver()


class UnsafeYAML(yaml.YAMLError):
    """Refused text: one line naming the source and, where known, the line."""

    def __init__(self, message: str, source: str | None = None, line: int | None = None):
        self.source, self.line = source, line
        where = f"{source}: " if source else ""
        at = f"line {line}: " if line else ""
        super().__init__(f"{where}{at}{message}")


class DuplicateKey(UnsafeYAML):
    def __init__(self, key: str, first: int, second: int, source: str | None = None):
        self.key, self.lines = key, (first, second)
        super().__init__(f"duplicate key {shorten(key, 60)!r} at lines {first} and {second}", source)


def load(text: str | bytes, source: str | None = None, limits: Limits = LIMITS) -> Any:
    """Parse one YAML (or JSON) document into plain data; raise UnsafeYAML (a yaml.YAMLError) when refused."""
    if len(text) > limits.max_bytes:
        raise UnsafeYAML(f"{len(text):,} bytes is over the limit of {limits.max_bytes:,}", source)
    if isinstance(text, bytes):
        text = _decode(text, source)
    if _plainly_safe(text, limits):
        try:
            return _fast_load(text)
        except Exception:  # whatever it is, the careful reader below gives the precise answer
            pass
    try:
        return _Builder(source, limits).build(yaml.parse(text, Loader=_Parser))
    except UnsafeYAML:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        line = mark.line + 1 if mark else None
        raise UnsafeYAML(f"not valid YAML: {shorten(str(problem), 200)}", source, line) from None


def load_file(path: Path, limits: Limits = LIMITS) -> Any:
    path = Path(path)
    with open(path, "rb") as handle:
        data = handle.read(limits.max_bytes + 1)
    return load(data, str(path), limits)


_RISKY = re.compile(r"[!&*?]|<<|\.(?:inf|nan|Inf|INF|NaN|NAN)\b|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_DEPTH = re.compile(r"^[ \t]*(?:- +)*", re.M)


def _plainly_safe(text: str, limits: Limits) -> bool:
    """True when `text` cannot reach a limit or a refused feature: libyaml's own loader may read it."""
    if len(text) > min(limits.max_string, limits.max_nodes) or _RISKY.search(text):
        return False
    flows = text.count("[") + text.count("{")
    deepest = max((len(m) for m in _LINE_DEPTH.findall(text)), default=0)  # indentation and compact "- - "
    return flows + deepest < limits.max_depth


class _FastLoader(_Parser):
    yaml_implicit_resolvers = _Resolver.yaml_implicit_resolvers

    """libyaml's loader with the careful reader's answers: a repeated key refused, timestamps kept as text."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.value in seen:
                raise DuplicateKey(str(key_node.value), 0, 0)  # the careful reader names the lines
            seen.add(key_node.value)
        return super().construct_mapping(node, deep=deep)


_FastLoader.add_constructor(f"{_CORE}timestamp", lambda loader, node: node.value)
_FastLoader.add_constructor(f"{_CORE}value", lambda loader, node: node.value)


def _fast_load(text: str) -> Any:
    loader = _FastLoader(text)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _decode(data: bytes, source: str | None) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise UnsafeYAML(f"not UTF-8 text: byte 0x{data[exc.start]:02x} at offset {exc.start}", source, line) from None


class _Builder:
    """Plain values from parser events, within the limits."""

    def __init__(self, source: str | None, limits: Limits):
        self.source, self.limits = source, limits
        self.nodes = 0
        self.anchors: dict[str, tuple[Any, int]] = {}  # anchor -> (value, expanded size)
        self.open_anchors: set[str] = set()

    def fail(self, message: str, event: Any) -> UnsafeYAML:
        mark = getattr(event, "start_mark", None)
        return UnsafeYAML(message, self.source, mark.line + 1 if mark else None)

    def build(self, events: Any) -> Any:
        # stack of open collections: [container, size, anchor, pending key (mappings), key lines, start event]
        stack: list[list[Any]] = []
        documents, result = 0, None
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.fail("more than one YAML document", event)
                continue
            if isinstance(event, yaml.StreamStartEvent | yaml.StreamEndEvent | yaml.DocumentEndEvent):
                continue
            if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
                self._check_tag(event.tag, event)
                if len(stack) >= self.limits.max_depth:
                    raise self.fail(f"nested more than {self.limits.max_depth} deep (the limit)", event)
                if event.anchor:
                    self.open_anchors.add(event.anchor)
                container = {} if isinstance(event, yaml.MappingStartEvent) else []
                stack.append([container, 1, event.anchor, _NO_KEY, {}, event])
                self._count(1, event)
                continue
            if isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
                container, size, anchor, key, _, start = stack.pop()
                if key is not _NO_KEY:
                    raise self.fail("a mapping ends with a key and no value", start)
                if anchor:
                    self.open_anchors.discard(anchor)
                    self.anchors[anchor] = (container, size)
                value, size_added = container, size
            elif isinstance(event, yaml.AliasEvent):
                if event.anchor in self.open_anchors:
                    raise self.fail(f"alias *{shorten(event.anchor, 40)} refers to a collection that holds it", event)
                if event.anchor not in self.anchors:
                    raise self.fail(f"alias *{shorten(event.anchor, 40)} has no anchor before it", event)
                anchored, size_added = self.anchors[event.anchor]
                self._count(size_added, event)
                value = copy.deepcopy(anchored)  # a tree, not a graph: later edits of one copy leave the others
            elif isinstance(event, yaml.ScalarEvent):
                value = self._scalar(event)
                size_added = 1
                self._count(1, event)
                if event.anchor:
                    self.anchors[event.anchor] = (value, 1)
            else:  # pragma: no cover - PyYAML has no other events
                raise self.fail(f"unexpected {type(event).__name__}", event)
            if not stack:
                result = value
                continue
            parent = stack[-1]
            parent[1] += size_added
            if isinstance(parent[0], list):
                parent[0].append(value)
            elif parent[3] is _NO_KEY:
                parent[3] = self._key(value, event, parent)
            else:
                parent[0][parent[3]] = value
                parent[3] = _NO_KEY
        return result

    def _key(self, key: Any, event: Any, parent: list[Any]) -> Any:
        if isinstance(key, dict | list):
            raise self.fail("a key is a mapping or a list; keys must be scalars", event)
        if key == "<<" and isinstance(event, yaml.ScalarEvent) and event.implicit[0]:
            raise self.fail("merge keys (<<) are not accepted: write the keys out", event)
        line = event.start_mark.line + 1 if getattr(event, "start_mark", None) else 0
        seen = parent[4]
        if key in seen:
            raise DuplicateKey(str(key), seen[key], line, self.source)
        seen[key] = line
        return key

    def _count(self, nodes: int, event: Any) -> None:
        self.nodes += nodes
        if self.nodes > self.limits.max_nodes:
            raise self.fail(
                f"more than {self.limits.max_nodes:,} values, aliases expanded (the limit): an alias bomb?", event
            )

    def _check_tag(self, tag: str | None, event: Any) -> None:
        if tag is not None and tag not in _ALLOWED_TAGS:
            raise self.fail(
                f"tag {shorten(tag.replace(_CORE, '!!'), 60)} is not accepted: plain YAML only "
                "(strings, numbers, booleans, null, lists and mappings)",
                event,
            )

    def _scalar(self, event: yaml.ScalarEvent) -> Any:
        self._check_tag(event.tag, event)
        text = event.value
        if len(text) > self.limits.max_string:
            raise self.fail(f"a string of {len(text):,} characters (the limit is {self.limits.max_string:,})", event)
        if event.tag is None or event.tag == "!":
            plain = event.implicit[0] and event.tag is None
            tag = _resolver.resolve(yaml.ScalarNode, text, (plain, False)) if plain else f"{_CORE}str"
        else:
            tag = event.tag
        if tag not in _SCALAR_TAGS:  # implicit timestamps, `=`, merge keys: kept as the text written
            return text
        node = yaml.ScalarNode(tag, text, event.start_mark, event.end_mark)
        try:
            value = _construct.yaml_constructors[tag](_construct, node)
        except Exception as exc:  # e.g. an integer of more than 4,300 digits, or `!!int ""` (an IndexError)
            problem = f"{tag.replace(_CORE, '!!')} {shorten(text, 60)!r}: {shorten(str(exc), 120)}"
            raise self.fail(problem, event) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.fail(f"{text!r} is not a finite number", event)
        return value


class _NoKey:
    pass


_NO_KEY = _NoKey()
