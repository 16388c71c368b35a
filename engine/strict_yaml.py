"""YAML that refuses a key written twice in one mapping (plain YAML keeps the last one silently).

    load(text, source="my.yaml")   # raises DuplicateKey: "my.yaml: duplicate key 'seed' at lines 16 and 17"

DuplicateKey is a yaml.YAMLError, so code that already reports bad YAML reports this too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

_Base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when present: bulk validation reads many files


class DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, first: int, second: int, source: str | None = None):
        self.key, self.lines, self.source = key, (first, second), source
        where = f"{source}: " if source else ""
        super().__init__(f"{where}duplicate key {key!r} at lines {first} and {second}")


class _StrictLoader(_Base):
    source: str | None = None

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: dict[str, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                raise DuplicateKey(key_node.value, seen[key_node.value], line, self.source)
            seen[key_node.value] = line
        return super().construct_mapping(node, deep=deep)


def load(text: str, source: str | None = None) -> Any:
    """Parse YAML text; a duplicated key raises DuplicateKey naming it, both lines and `source`."""
    loader = _StrictLoader(text)
    loader.source = source
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def load_file(path: Path) -> Any:
    return load(Path(path).read_text(), str(path))
