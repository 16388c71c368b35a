"""Every YAML in configs/ opens with a comment, composes and validates."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from engine.compose import CONFIG_DIR, load
from engine.metaprogram import MISSING, MetaprogramError, validate_component

ALL_YAML = sorted(CONFIG_DIR.rglob("*.yaml"))
COMPONENT_ROOT = CONFIG_DIR / "metaprogram" / "component"
COMPONENTS = [p for p in ALL_YAML if COMPONENT_ROOT in p.parents]
METAPROGRAMS = sorted((CONFIG_DIR / "metaprogram").glob("*.yaml"))


def rel(path: Path) -> str:
    return str(path.relative_to(CONFIG_DIR))


@pytest.mark.parametrize("path", ALL_YAML, ids=rel)
def test_every_yaml_opens_with_a_comment_saying_what_it_is_and_how_to_run_it(path):
    lines = [line for line in path.read_text().splitlines() if not line.startswith("# @package")]
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 2, f"{rel(path)}: open with a comment (what it is, how to run it, knobs)"
    assert any("run" in line.lower() for line in header), f"{rel(path)}: say how to run it"


@pytest.mark.parametrize("path", COMPONENTS, ids=rel)
def test_every_component_validates_against_its_schema(path):
    kind = path.relative_to(COMPONENT_ROOT).parts[0]
    value = yaml.safe_load(path.read_text())
    errors: list[str] = []
    built = validate_component(kind, value, errors)
    # '???' marks a value the user must give (a file, a target column): allowed, nothing else
    assert all(e.endswith("missing required value") for e in errors), errors
    if not errors:
        assert built is not None and built.name == value["name"]
    else:
        assert MISSING in str(value)


# what a metaprogram may lack on a machine without its data: files outside the repository
_INPUT_ABSENT = re.compile(r"does not exist \(relative paths start at path\.\w+\)$|package \S+ is not installed")


@pytest.mark.parametrize("path", METAPROGRAMS, ids=rel)
def test_every_full_metaprogram_composes_and_validates(path):
    try:
        composed = load([], config_name=str(Path(rel(path)).with_suffix("")))
    except MetaprogramError as exc:  # its schema passed: only input files this machine lacks are refused
        assert all(_INPUT_ABSENT.search(e) for e in exc.errors), exc.errors
        return
    assert len(composed.metaprogram.id) == 16
