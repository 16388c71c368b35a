"""Every full metaprogram in configs/metaprogram/ runs end to end with the tiny overrides it declares.

A shipped metaprogram declares them in its header: `# Smoke test: key=value ...`, or
`# Smoke test (slow): ...` for one that needs a real model (run by `make test-slow`).
`$SHARED_DATA` in them stands for the public evaluation data in ../shared/data beside the repository.
"""

from __future__ import annotations

import re

import pytest

from engine.compose import CONFIG_DIR, load
from engine.runner import execute
from unit_test.helpers import REPO

pytestmark = pytest.mark.integration  # every shipped metaprogram end to end, the tiny LLM chain included

SHARED_DATA = REPO.parent / "shared" / "data"

METAPROGRAMS = sorted((CONFIG_DIR / "metaprogram").glob("*.yaml"))
_SMOKE = re.compile(r"^# Smoke test( \(slow\))?:(.*)$", re.M)


def cases():
    for path in METAPROGRAMS:
        match = _SMOKE.search(path.read_text())
        name = str(path.relative_to(CONFIG_DIR).with_suffix(""))
        if match is None:
            yield pytest.param(name, None, id=name)
        else:
            marks = [pytest.mark.slow] if match.group(1) else []
            overrides = match.group(2).replace("$SHARED_DATA", str(SHARED_DATA)).split()
            yield pytest.param(name, overrides, id=name, marks=marks)


@pytest.mark.parametrize("config_name, overrides", list(cases()))
def test_shipped_metaprogram_runs(config_name, overrides, paths):
    assert overrides is not None, f"{config_name}: declare '# Smoke test: <tiny overrides>' in its header"
    composed = load(overrides, config_name=config_name)
    results = execute(composed.metaprogram, paths)
    assert results["status"] == "completed"
    metric, _ = composed.metaprogram.objective()
    assert results["objective"]["value"] is not None, f"objective {metric} missing from {results['metrics']}"
