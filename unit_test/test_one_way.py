"""One way to do each thing: one compose per job, one did-you-mean, one atomic write, pipelines that
do not import the runner, and tests that start processes or Ray marked as the integration tier."""

from __future__ import annotations

import ast
import re

import pytest

from unit_test.helpers import REPO

SOURCES = [
    p
    for p in REPO.rglob("*.py")
    # scripts/ run with the standard library only, before the environment (and engine/atomic.py) is installed
    if not {".venv", "outputs", ".cache", "unit_test", "build", "scripts"} & set(p.relative_to(REPO).parts)
]


def _where(pattern: str) -> list[str]:
    found = re.compile(pattern)
    return sorted(str(p.relative_to(REPO)) for p in SOURCES if found.search(p.read_text()))


def test_one_atomic_write_and_one_did_you_mean():
    assert _where(r"\bos\.replace\(|\.rename\(") == ["engine/atomic.py"]
    assert _where(r"get_close_matches") == ["engine/errors.py"]


def test_pipelines_and_hooks_do_not_import_the_runner():
    importers = []
    for path in [*(REPO / "engine" / "pipelines").glob("*.py"), *(REPO / "engine" / "hooks").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            names += [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if any(n == "engine.runner" for n in names):
                importers.append(path.name)
    assert importers == []


def test_a_multirun_composes_and_validates_each_job_once(monkeypatch, tmp_path, capsys):
    import hydra

    import engine.compose
    from engine.cli import main

    monkeypatch.setenv("METAPROGRAM_OUTPUT_ROOT", str(tmp_path))
    composed, validated = [], []
    real_compose, real_validate = hydra.compose, engine.compose.validate
    monkeypatch.setattr(hydra, "compose", lambda *a, **k: composed.append(k) or real_compose(*a, **k))
    monkeypatch.setattr(engine.compose, "validate", lambda *a, **k: validated.append(a) or real_validate(*a, **k))
    status = main(["--config-name=metaprogram/example", "-m", "dry_run=true", "seed=1,2,3"])
    assert status == 0
    assert len(composed) == 3 and len(validated) == 3
    assert capsys.readouterr().out.count("\nid: ") == 3
    assert not any(tmp_path.iterdir())  # a dry run writes nothing


# ----------------------------------------------------------------------------- test tiers

STARTS_A_PROCESS = {"run_cli", "subprocess.run", "subprocess.Popen", "subprocess.check_call", "ray.init"}


def _marks(decorators: list[ast.expr]) -> set[str]:
    return {m for d in decorators for m in re.findall(r"mark\.(\w+)", ast.unparse(d))}


def test_tests_that_start_processes_or_ray_are_marked_integration_or_slow():
    unmarked = []
    for path in sorted((REPO / "unit_test").rglob("test_*.py")):
        tree = ast.parse(path.read_text())
        module_marks = {
            m
            for node in tree.body
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets)
            for m in re.findall(r"mark\.(\w+)", ast.unparse(node.value))
        }
        for node in tree.body:
            if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test_")):
                continue
            if {"integration", "slow"} & (module_marks | _marks(node.decorator_list)):
                continue
            calls = {ast.unparse(c.func) for c in ast.walk(node) if isinstance(c, ast.Call)}
            if calls & STARTS_A_PROCESS:
                unmarked.append(f"{path.relative_to(REPO)}::{node.name}")
    assert unmarked == [], "mark these @pytest.mark.integration (make test-fast leaves them out)"


@pytest.mark.parametrize("tier", ["integration", "slow"])
def test_the_tiers_are_registered_markers(tier):
    assert f'"{tier}:' in (REPO / "pyproject.toml").read_text()
    assert "not integration" in (REPO / "Makefile").read_text()


# ----------------------------------------------------------------------------- layers

# Each top-level package may import its own modules and those of the layers below it, never one above: the engine
# runs one metaprogram; the database stores runs and studies; job_launch runs many on Ray; util is the search
# subsystem (sweeps, studies, searchers); the planner learns from studies and searches with them; agent_server
# serves all of it to AI agents over MCP. What sits above registers with what is below (engine/launchers.py,
# engine/observe.py, util/search/__init__.py, database/cli.py's ELSEWHERE). docs/ARCHITECTURE.md
LAYERS = ("engine", "database", "job_launch", "util", "planner", "agent_server")


def imports_of(path) -> list[tuple[int, str]]:
    """Every import of a file, with its line: at the top, and inside functions and classes too."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
    return out


def test_packages_import_only_the_layers_below_them_even_inside_functions():
    upward = []
    for layer, package in enumerate(LAYERS):
        for path in sorted((REPO / package).rglob("*.py")):
            for line, module in imports_of(path):
                top = module.split(".")[0]
                if top in LAYERS and LAYERS.index(top) > layer:
                    upward.append(f"{path.relative_to(REPO)}:{line} imports {module} ({package} is below {top})")
    assert upward == []


def test_the_layer_check_sees_an_import_hidden_in_a_function(tmp_path):
    hidden = tmp_path / "hidden.py"
    hidden.write_text("def later():\n    from planner.propose import Planner\n    return Planner\n")
    assert imports_of(hidden) == [(2, "planner.propose")]


def test_the_engine_runs_with_launchers_and_recorders_registered_from_above():
    from engine.launchers import LAUNCHERS
    from engine.observe import RUN_RECORDERS, _recorders

    assert "ray" in LAUNCHERS and LAUNCHERS["ray"].__module__ == "job_launch.hydra_launcher"
    assert any(r.__module__ == "database.index" for r in _recorders()) and RUN_RECORDERS


# The search subsystem and the storage it writes to import at the top; an import inside a function is for a heavy
# or optional library (ray, optuna, torch, sklearn, matplotlib, ...) and says so in a comment on its line.
REASONED = [
    *sorted((REPO / "util").rglob("*.py")),
    *(REPO / "database" / name for name in ("store.py", "index.py", "reports.py", "export.py", "trials.py")),
]


def _in_function_imports(path) -> list[int]:
    lines = []
    for function in ast.walk(ast.parse(path.read_text())):
        if isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            lines += [n.lineno for n in ast.walk(function) if isinstance(n, ast.Import | ast.ImportFrom)]
    return sorted(set(lines))


def test_imports_inside_functions_of_the_search_subsystem_say_why():
    unexplained = []
    for path in REASONED:
        text = path.read_text().splitlines()
        for line in _in_function_imports(path):
            if "#" not in text[line - 1] and "#" not in text[line - 2]:
                unexplained.append(f"{path.relative_to(REPO)}:{line}: {text[line - 1].strip()}")
    assert unexplained == [], "import it at the top, or say on its line why it waits (a heavy library)"
