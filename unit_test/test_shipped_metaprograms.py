"""Every full metaprogram in configs/metaprogram/ runs end to end with the tiny overrides it declares.

A shipped metaprogram declares them in its header: `# Smoke test: key=value ...`, or
`# Smoke test (slow): ...` for one too long for the default suite (run by `make test-slow`).
The runs read the repository's own data root (data/, unpacked by `make data`, which `make test` runs) and
the installed packages, as a user's runs do: a missing install step or data file fails here. Models are
built once per session (SmolLM2's GGUF converted once); the SmolLM2 chains share one output root, so their
baseline stages run once and the other chains reuse them, and they stay on one pytest-xdist worker.
"""

from __future__ import annotations

import re

import pytest

from engine.compose import CONFIG_DIR, load
from engine.runner import execute
from unit_test.helpers import REPO

pytestmark = pytest.mark.integration  # every shipped metaprogram end to end, the tiny LLM chain included

METAPROGRAMS = sorted((CONFIG_DIR / "metaprogram").glob("*.yaml"))
_SMOKE = re.compile(r"^# Smoke test( \(slow\))?:(.*)$", re.M)


def cases():
    for path in METAPROGRAMS:
        match = _SMOKE.search(path.read_text())
        name = str(path.relative_to(CONFIG_DIR).with_suffix(""))
        marks = [pytest.mark.xdist_group("smollm2")] if "smollm2" in name else []
        if match is None:
            yield pytest.param(name, None, id=name)
        else:
            marks += [pytest.mark.slow] if match.group(1) else []
            yield pytest.param(name, match.group(2).split(), id=name, marks=marks)


@pytest.fixture(scope="module")
def shared_output_root(tmp_path_factory):
    return tmp_path_factory.mktemp("shipped_out")


@pytest.mark.parametrize("config_name, overrides", list(cases()))
def test_shipped_metaprogram_runs(config_name, overrides, tmp_path, session_model_root, shared_output_root):
    from engine.paths import Paths

    assert overrides is not None, f"{config_name}: declare '# Smoke test: <tiny overrides>' in its header"
    output_root = shared_output_root if "smollm2" in config_name else tmp_path / "out"
    paths = Paths(
        data_root=str(REPO / "data"),
        model_root=str(session_model_root),
        cache_root=str(tmp_path / "cache"),
        output_root=str(output_root),
    )
    composed = load(overrides, config_name=config_name)
    results = execute(composed.metaprogram, paths)
    assert results["status"] == "completed"
    metric, _ = composed.metaprogram.objective()
    assert results["objective"]["value"] is not None, f"objective {metric} missing from {results['metrics']}"
