"""The README's fenced shell commands run, each in a small form, from a checkout-like folder.

Every command in a ```bash block of README.md (continuation lines joined, comments dropped) runs here:
- `python -B run_metaprogram.py ...` with `dry_run=true` appended (compose, validate, print; the shipped
  metaprograms' real runs are test_shipped_metaprograms.py), unless SMALL gives another form;
- any other command in the form SMALL gives (tiny limits; `--help` for a synopsis with placeholders or a
  job that needs a trained planner), or not at all where NOT_RUN says why; SLOW ones under `make test-slow`.
A README command with neither fails the test, and so does an entry here that is no longer in the README,
so the README and this list move together.

The commands run with the test's Python first on PATH (the README's `source .venv/bin/activate`), in a
folder that links the repository's files (data/ included) and has its own outputs/, .cache/ and benchmarks/
copy (the benchmarks write their results beside themselves): nothing is written into the repository.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from unit_test.helpers import REPO

README = REPO / "README.md"

# README command -> the command that runs it in small form.
SMALL = {
    "python -B run_metaprogram.py --config-name=metaprogram/example": (
        "python -B run_metaprogram.py --config-name=metaprogram/example pipeline.epochs=1"
    ),
    "python -m engine.validate outputs/runs/*/metaprogram.yaml": "=",  # as written (the workdir holds one run)
    "python -m engine.validate --trusted my_metaprogram.yaml": "=",  # my_metaprogram.yaml: a copy of that run's
    "python -B run_metaprogram.py +metaprogram/component/pipeline=quantize"
    " +metaprogram/component/model=llm/smollm2_135m +metaprogram/component/dataset=llm/hellaswag_local"
    " +path=default pipeline.recipe_file=/abs/my_recipe.yaml": (
        "python -B run_metaprogram.py +metaprogram/component/pipeline=quantize"
        " +metaprogram/component/model=llm/smollm2_135m +metaprogram/component/dataset=llm/hellaswag_local"
        " +path=default pipeline.recipe_file=$PWD/my_recipe.yaml dry_run=true"
    ),
    "python -B benchmarks/data_cache.py": "python -B benchmarks/data_cache.py --rows 400 --warm-runs 1",
    "mlflow ui --backend-store-uri sqlite:///outputs/mlflow.db": "mlflow ui --help",
    "python -B benchmarks/llm.py": (
        "python -B benchmarks/llm.py --schemes fp8_dynamic --limit 4 --calibration-samples 4 --skip-serve"
    ),
    "python -B benchmarks/llm.py --skip-quantize": (
        "python -B benchmarks/llm.py --skip-quantize --serve-requests 2 --generate-repeats 1"
    ),
    "python -B util/sweeper.py example_grid --dry-run": "=",
    "python -B util/sweeper.py example_grid --launch": (
        "python -B util/sweeper.py example_grid --launch 'base.overrides=[pipeline.epochs=1]'"
    ),
    "python -m job_launch outputs/sweeps/<study>/*.yaml [--address HOST:PORT] [--retries 1]": (
        "python -m job_launch --help"
    ),
    "python -m database list | show STUDY | export studies.jsonl [--suite train]": "python -m database list",
    "bash generate_ray_tune_data.sh [train|heldout] [--limit N]": "python -m util.tune_suite --help",
    "python -B benchmarks/sweep_overhead.py": "python -B benchmarks/sweep_overhead.py --trials 2 --seconds 0.2",
    "./train_planner.sh [STUDIES.jsonl] [OUT]": "python -m planner.train --help",
    "python -m planner.propose --checkpoint outputs/planner/ckpt --study study.json -k 16 --acquisition ei": (
        "python -m planner.propose --help"
    ),
    "./generation_loop.sh --iterations 3": "python -m planner.loop --help",
    "python -B benchmarks/planner.py": "python -B benchmarks/planner.py --help",
    # what `make data` runs, unpacking into the folder instead of the repository's data/ (checksums checked)
    "make data": "python3 -B scripts/unpack_data.py --into unpacked && test -s unpacked/hellaswag_val.jsonl",
}

# Small forms too long for the default suite (SmolLM2 quantize and evaluate, again): `make test-slow` runs them.
# The shipped SmolLM2 chains (test_shipped_metaprograms.py) cover those stages in the default suite.
SLOW = {"python -B benchmarks/llm.py"}

# README command -> why this test does not run it.
NOT_RUN = {
    "make demo": "install + `make data` (both run by `make test`) + the example, run below as written",
    "make test": "the suite this test is part of",
    "source .venv/bin/activate": "shell state: the commands here run with the test's Python first on PATH",
    "make lint": "ruff over the repository: CI's lint step, not a run",
    "make test-slow": "the slow suite itself",
    "make bench": "every benchmark at full size; each benchmark's README line runs here in small form",
    "python -B util/sweeper.py example_tune": "Ray Tune sweeps: unit_test/util/test_tune_sweeper.py",
    "python -B util/sweeper.py example_tune tune.resume=true": "Tune resume: unit_test/util/test_tune_resume.py",
}


def readme_commands(text: str) -> list[str]:
    """The commands of the ```bash blocks: continuation lines joined, comments and blank lines dropped."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh|shell)\n(.*?)^```", text, re.M | re.S):
        for line in block.replace("\\\n", " ").splitlines():
            command = " ".join(re.sub(r"(^|\s)#.*$", "", line).split())
            if command:
                commands.append(command)
    return commands


def small_form(command: str) -> str | None:
    """The command that runs `command` in small form; None for one in NOT_RUN."""
    if command in NOT_RUN:
        return None
    if command in SMALL:
        return command if SMALL[command] == "=" else SMALL[command]
    if command.startswith("python -B run_metaprogram.py "):
        return command + " dry_run=true"
    raise AssertionError(
        f"README command without a small form: {command!r}. Add it to SMALL (or NOT_RUN, with the reason) "
        "in unit_test/test_readme_commands.py."
    )


COMMANDS = readme_commands(README.read_text())

RECIPE = """\
quant_stage:
  quant_modifiers:
    QuantizationModifier:
      targets: [Linear]
      scheme: FP8_DYNAMIC
      ignore: [lm_head]
"""


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, session_model_root):
    """A folder that looks like the checkout to the commands, holding one finished run of the example."""
    work = tmp_path_factory.mktemp("readme")
    for entry in REPO.iterdir():
        if entry.name in {"outputs", ".cache", "models", "multirun", "mlruns", "wandb", "benchmarks", ".git"}:
            continue
        (work / entry.name).symlink_to(entry)
    shutil.copytree(REPO / "benchmarks", work / "benchmarks", ignore=shutil.ignore_patterns("results", "__pycache__"))
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "METAPROGRAM_MODEL_ROOT": str(session_model_root),  # SmolLM2 converted once per session
        "OMP_NUM_THREADS": "1",
    }
    for name in ("METAPROGRAM_DATA_ROOT", "METAPROGRAM_CACHE_ROOT", "METAPROGRAM_OUTPUT_ROOT"):
        env.pop(name, None)  # the defaults, relative to the folder, as for a user
    first = run(SMALL["python -B run_metaprogram.py --config-name=metaprogram/example"], work, env)
    assert first.returncode == 0, first.stdout[-3000:]
    runs = sorted(work.glob("outputs/runs/*/metaprogram.yaml"))
    assert runs, "the example wrote no run directory"
    shutil.copy(runs[0], work / "my_metaprogram.yaml")
    (work / "my_recipe.yaml").write_text(RECIPE)
    return work, env


def run(command: str, cwd: Path, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["bash", "-c", command], cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def test_every_readme_command_has_a_small_form_and_every_entry_is_in_the_readme():
    for command in COMMANDS:
        small_form(command)  # raises for one without
    stale = (set(SMALL) | set(NOT_RUN) | SLOW) - set(COMMANDS)
    assert not stale, f"no longer in the README, remove from unit_test/test_readme_commands.py: {sorted(stale)}"


def test_readme_extraction_joins_continuations_and_drops_comments():
    text = "x\n```bash\n# a comment\npython a.py \\\n    --b 1   # why\n\nmake c\n```\n```python\nno\n```\n"
    assert readme_commands(text) == ["python a.py --b 1", "make c"]


@pytest.mark.xdist_group("readme")
@pytest.mark.parametrize(
    "command",
    [
        pytest.param(c, marks=[pytest.mark.slow] if c in SLOW else [])
        for c in dict.fromkeys(COMMANDS)
        if c not in NOT_RUN
    ],
)
def test_readme_command_runs(command, workdir):
    cwd, env = workdir
    small = small_form(command)
    result = run(small, cwd, env)
    assert result.returncode == 0, f"README command {command!r}, run as {small!r}, failed:\n{result.stdout[-4000:]}"
