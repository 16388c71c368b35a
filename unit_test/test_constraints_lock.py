"""scripts/constraints.txt, the versions scripts/install.sh installs, admits every dependency pyproject.toml asks for.

A dependency added or changed in pyproject.toml without `bash scripts/lock.sh` fails here, before an install would.
"""

from __future__ import annotations

import tomllib

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from unit_test.helpers import REPO


def pins() -> dict[str, str]:
    out = {}
    for line in (REPO / "scripts" / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            out[canonicalize_name(name)] = version
    return out


def test_every_dependency_is_pinned_at_a_version_it_accepts():
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    wanted = project["dependencies"] + project["optional-dependencies"]["dev"]
    locked = pins()
    problems = []
    for text in wanted:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        if name == "torch":  # scripts/install.sh picks torch's build (CPU or CUDA) itself
            continue
        if name not in locked:
            problems.append(f"{requirement.name} is not in scripts/constraints.txt")
        elif not requirement.specifier.contains(locked[name], prereleases=True):
            problems.append(f"{requirement.name}=={locked[name]} does not satisfy {text}")
    assert not problems, "; ".join(problems) + " (run: bash scripts/lock.sh)"


def test_the_lock_leaves_torch_to_the_installer():
    assert "torch" not in pins()
