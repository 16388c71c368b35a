"""The README's fenced shell commands run, each in a small form, from a checkout-like folder.

Every command in a ```bash block of README.md (continuation lines joined, comments dropped) runs here:
- `python -B run_metaprogram.py ...` with `dry_run=true` appended (compose, validate, print; the shipped
  metaprograms' real runs are test_shipped_metaprograms.py), unless SMALL gives another form;
- any other command in the form SMALL gives (tiny limits; `--help` for a synopsis with placeholders or a
  job that needs a trained planner), or not at all where NOT_RUN says why; SLOW ones under `make test-slow`.
A README command with neither fails the test, and so does an entry here that is no longer in the README,
so the README and this list move together.

The commands run with the test's Python first on PATH (the README's `source .venv/bin/activate`), in a
folder that links the repository's files (data/'s files too, beside a tiny CIFAR-10 where the README's download
unpacks it) and has its own outputs/, .cache/ and benchmarks/ copy (the benchmarks write their results beside
themselves): nothing is written into the repository.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from unit_test.helpers import REPO
from unit_test.vision_fixtures import write_cifar10

pytestmark = pytest.mark.integration  # the README's commands, run in subprocesses

README = REPO / "README.md"

# README command -> the command that runs it in small form.
SMALL = {
    "python -B run_metaprogram.py --config-name=metaprogram/example": (
        "python -B run_metaprogram.py --config-name=metaprogram/example pipeline.epochs=1"
    ),
    # the runs table of the workdir (its example run), as written
    "metaprogram runs": "=",
    "metaprogram runs --model 'mlp*' --status completed --since 2d --sort val/accuracy"
    " --columns id,pipeline.optim.lr,model.hidden,val/accuracy,test/accuracy": "=",
    "metaprogram runs --study 'examples.*' --where pipeline.optim.name=adam --format csv": "=",
    "metaprogram runs show 3f2a": "metaprogram runs show $(cat run_id | cut -c1-6)",  # a prefix of the example's id
    # a second run (the README's first variant, one epoch) against the example
    "metaprogram runs diff 3f2a 9c41": (
        "python -B run_metaprogram.py --config-name=metaprogram/example model.hidden=256 pipeline.optim.name=sgd"
        " pipeline.epochs=1 > second.log && metaprogram runs diff $(cat run_id)"
        " $(sed -n 's|^run directory: .*/||p' second.log)"
    ),
    "metaprogram runs index": "=",
    # building on the example's run (a prefix of its id): composed and validated; the test-mode run really runs
    "python -B run_metaprogram.py +from_run=3f2a pipeline.optim.lr=1e-2": (
        "python -B run_metaprogram.py +from_run=$(cat run_id | cut -c1-6) pipeline.optim.lr=1e-2 dry_run=true"
    ),
    "python -B run_metaprogram.py +from_run=3f2a +metaprogram/component/dataset=classification/wine dry_run=true": (
        "python -B run_metaprogram.py +from_run=$(cat run_id | cut -c1-6)"
        " +metaprogram/component/dataset=classification/wine dry_run=true"
    ),
    "python -B run_metaprogram.py +from_run=3f2a model.init_from=3f2a pipeline.optim.lr=1e-4": (
        "python -B run_metaprogram.py +from_run=$(cat run_id | cut -c1-6) model.init_from=$(cat run_id | cut -c1-6)"
        " pipeline.optim.lr=1e-4 dry_run=true"
    ),
    "python -B run_metaprogram.py +from_run=3f2a model.init_from=3f2a pipeline.mode=test"
    " +metaprogram/component/dataset=synthetic/classification dataset.n_features=64 dataset.n_classes=10": (
        "python -B run_metaprogram.py +from_run=$(cat run_id | cut -c1-6) model.init_from=$(cat run_id | cut -c1-6)"
        " pipeline.mode=test +metaprogram/component/dataset=synthetic/classification dataset.n_features=64"
        " dataset.n_classes=10 dataset.n_samples=200 && ls outputs/runs/*/predictions.csv"
    ),
    "python -m engine.validate outputs/runs/*/metaprogram.yaml": "=",  # as written (the workdir holds one run)
    "python -m engine.validate --trusted my_metaprogram.yaml": "=",
    "python -m engine.schema": "=",
    "python -m engine.schema --json > metaprogram.schema.json": "=",
    "python -m engine.schema --json --component model.mlp": "=",  # my_metaprogram.yaml: a copy of that run's
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
    # synopses: list, and export of the (empty) train suite, as written; show's arguments
    "metaprogram list | show STUDY | export studies.jsonl [--suite train]": (
        "metaprogram list && metaprogram export studies.jsonl --suite train && metaprogram show --help"
    ),
    "metaprogram report STUDY [STUDY ...]": "metaprogram report --help",
    # Ray Tune studies of a suite (unit_test/util/test_tune_suite*.py); what follows them runs below
    "bash generate_ray_tune_data.sh [train|heldout|corpus] [--stride N]": "python -m util.tune_suite --help",
    "python -m planner.corpus stats outputs/studies_corpus.jsonl": "=",  # the fixture writes two studies there
    "python -B benchmarks/sweep_overhead.py": "python -B benchmarks/sweep_overhead.py --trials 2 --seconds 0.2",
    "python -B benchmarks/mcp_startup.py": "python -B benchmarks/mcp_startup.py --repeats 1",
    "python -B benchmarks/data_generation.py --sequential": (
        "python -B benchmarks/data_generation.py --studies 1 --count 2 --sequential"
    ),
    # the multi-node example's sweeper line, as written (writes the metaprograms, starts nothing)
    "python -B util/sweeper.py example_grid --out outputs/sweeps/demo": "=",
    "python -B util/sweeper.py quant_recipe --dry-run": "=",
    # the SmolLM2 chains' sweep composed and validated with the README's overrides; its real run in tiny form
    # (tiny-Llama chains): unit_test/engine/llm/test_llm_recipe_sweep.py
    "python -B util/sweeper.py quant_recipe count=4 tune.concurrency=1": (
        "python -B util/sweeper.py quant_recipe count=4 tune.concurrency=1 --dry-run"
    ),
    "python -m database list --suite llm": "=",
    "./train_planner.sh [STUDIES.jsonl] [OUT]": "python -m planner.train --help",
    "python -m planner.propose --checkpoint outputs/planner/ckpt --study study.json -k 64 --local-model gp": (
        "python -m planner.propose --help"
    ),
    "./generation_loop.sh --iterations 3": "python -m planner.loop --help",
    "python -B benchmarks/planner.py": "python -B benchmarks/planner.py --help",
    "python -B benchmarks/planner.py --real": "python -B benchmarks/planner.py --help",
    # the shipped planner in a real Tune sweep, as a fresh clone runs it: 2 trials of 1 epoch
    "python -B util/sweeper.py example_tune tune.algorithm=planner": (
        "python -B util/sweeper.py example_tune tune.algorithm=planner count=2 tune.concurrency=1"
        " 'base.overrides=[pipeline.epochs=1,pipeline.device=cpu]'"
    ),
    "./generation_loop.sh --evaluate --eval-models mlp_opt": "python -m planner.loop --help",
    # the plugin module of util/how_tos/own_model_plugin.py written where the README's command expects it
    "METAPROGRAM_PLUGINS=my_models.py python -B run_metaprogram.py +metaprogram/component/pipeline=execution"
    ' "++model={name: wide_mlp, width: 16}" +metaprogram/component/dataset=classification/iris': (
        "python -c \"import sys; sys.path.insert(0, 'util/how_tos'); from own_model_plugin import PLUGIN;"
        " open('my_models.py', 'w').write(PLUGIN)\" && METAPROGRAM_PLUGINS=my_models.py python -B run_metaprogram.py"
        ' +metaprogram/component/pipeline=execution "++model={name: wide_mlp, width: 16}"'
        " +metaprogram/component/dataset=classification/iris dry_run=true"  # a run here would leave a run of a
    ),  # model that `engine.validate outputs/runs/*` (no plugin named) cannot know
    # what `make data` runs, unpacking into the folder instead of the repository's data/ (checksums checked)
    "make data": "python3 -B scripts/unpack_data.py --into unpacked && test -s unpacked/hellaswag_val.jsonl",
}

# Small forms too long for the default suite (over 20 s on 2 loaded cores): `make test-slow` runs them. What they
# run, the default suite covers:
SLOW = {
    # SmolLM2 quantize and evaluate: the shipped SmolLM2 chains, test_shipped_metaprograms.py
    "python -B benchmarks/llm.py",
    # SmolLM2 served and timed (about 60 s): our server under guidellm, unit_test/engine/llm/test_llm_benchmark.py
    # and test_llm_serving.py
    "python -B benchmarks/llm.py --skip-quantize",
    # two Ray instances and a suite each (about 50 s): batched, unit_test/util/test_tune_suite.py; one Tune
    # experiment per study, unit_test/util/test_tune_sweeper.py
    "python -B benchmarks/data_generation.py --sequential",
    # a Tune sweep and a job_launch batch of sleeping trials (about 35 s): unit_test/util/test_tune_sweeper.py,
    # unit_test/job_launch/test_job_launch.py
    "python -B benchmarks/sweep_overhead.py",
}

# README command -> why this test does not run it.
NOT_RUN = {
    "make demo": "install + `make data` (both run by `make test`) + the example, run below as written",
    "make test": "the suite this test is part of",
    "make planner": (
        "the corpus and the training (about 20 min on 2 CPUs); each step runs small: the corpus suite in"
        " unit_test/util/test_tune_suite.py, training in unit_test/planner/test_planner_train.py, planner.ship in"
        " unit_test/planner/test_planner_ship.py"
    ),
    "make test-fast": "the unit tier of the suite this test is part of",
    "source .venv/bin/activate": "shell state: the commands here run with the test's Python first on PATH",
    "make lint": "ruff over the repository: CI's lint step, not a run",
    "make test-slow": "the slow suite itself",
    "make fuzz": "unit_test/test_fuzz.py at length; the suite runs the same tests with a fixed example budget",
    "make bench": "every benchmark at full size; each benchmark's README line runs here in small form",
    "make gpu-check": "installs first; without CUDA it exits 0 at once: unit_test/test_gpu_check.py runs it so",
    "python -B util/sweeper.py example_tune": "Ray Tune sweeps: unit_test/util/test_tune_sweeper.py",
    "python -B util/sweeper.py example_tune tune.resume=true": "Tune resume: unit_test/util/test_tune_resume.py",
    "mkdir -p data && curl -L https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz | tar xz -C data": (
        "a download (no internet in CI): CIFAR in that layout, unit_test/engine/vision/test_cifar_command_line.py"
    ),
    "python -c \"from transformers import CLIPModel, CLIPProcessor as P; n='openai/clip-vit-base-patch32'; "
    "CLIPModel.from_pretrained(n).save_pretrained('models/'+n); P.from_pretrained(n).save_pretrained('models/'+n)\"": (
        "a download from the hub (no internet in CI): weights saved so, unit_test/engine/vision/test_pretrained_clip.py"
    ),
    # the multi-node example: unit_test/job_launch/test_multi_node.py starts such a cluster (a head and far nodes)
    # and runs job_launch with --resource far=1 and a Tune sweep with tune.resources.far on it
    "export RAY_AUTH_MODE=disabled": "shell state for the cluster below: unit_test/job_launch/test_multi_node.py",
    "ray start --head --node-ip-address=127.0.0.1 --port=6390 --num-cpus=1 --include-dashboard=false": (
        "a Ray head on a fixed port: unit_test/job_launch/test_multi_node.py"
    ),
    "ray start --node-ip-address=127.0.0.1 --address=127.0.0.1:6390 --num-cpus=2 --resources='{\"far\": 2}'": (
        "a node offering `far`: unit_test/job_launch/test_multi_node.py"
    ),
    "python -m job_launch outputs/sweeps/demo/*.yaml --address 127.0.0.1:6390 --resource far=1": (
        "needs the cluster above: unit_test/job_launch/test_multi_node.py"
    ),
    "python -B util/sweeper.py example_tune --address 127.0.0.1:6390 tune.resources.far=1 count=4": (
        "needs the cluster above: unit_test/job_launch/test_multi_node.py"
    ),
    "ray stop": (
        "stops every Ray instance of the machine: unit_test/job_launch/test_multi_node.py stops the nodes it started"
    ),
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

# two studies in the export format (the fields planner.corpus reads), one at the ceiling
STUDIES = "".join(
    json.dumps(
        {
            "study_id": f"train.readme{i}",
            "task": {"name": "readme", "objective": {"metric": "val/accuracy", "mode": "max"}},
            "search_space": {"pipeline.optim.lr": {"type": "loguniform", "low": 1e-4, "high": 1e-1}},
            "algorithm": "random",
            "trials": [{"order": 0, "params": {"pipeline.optim.lr": 1e-3}, "objective": best, "status": "completed"}],
        }
    )
    + "\n"
    for i, best in enumerate((0.8, 1.0))
)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, session_model_root):
    """A folder that looks like the checkout to the commands, holding one finished run of the example (its id in
    run_id), a copy of its metaprogram, a recipe file, a small corpus of studies and a tiny CIFAR-10 in data/."""
    work = tmp_path_factory.mktemp("readme")
    for entry in REPO.iterdir():
        if entry.name in {"outputs", ".cache", "models", "multirun", "mlruns", "wandb", "benchmarks", ".git", "data"}:
            continue
        (work / entry.name).symlink_to(entry)
    (work / "data").mkdir()  # the repository's data files, and a tiny CIFAR-10 where the README's curl unpacks it
    for entry in (REPO / "data").iterdir():
        (work / "data" / entry.name).symlink_to(entry)
    if not (work / "data" / "cifar-10-batches-py").exists():
        write_cifar10(work / "data")
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
    (work / "run_id").write_text(runs[0].parent.name)
    (work / "my_recipe.yaml").write_text(RECIPE)
    (work / "outputs" / "studies_corpus.jsonl").write_text(STUDIES)
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
