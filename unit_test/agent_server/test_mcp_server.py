"""`metaprogram mcp` driven by the mcp SDK's own stdio client, as an AI agent would drive it.

An agent goes from nothing to a completed, compared pair of runs with the server's tools only; cancels a run
(recorded as interrupted); and every hostile input is refused with nothing written but the call log.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import pytest

from unit_test.helpers import REPO

pytestmark = [pytest.mark.integration]

TINY = {  # the example metaprogram's components (classic/mlp on digits, execution), made tiny
    "model": {"name": "mlp", "hidden": 16, "layers": 1},
    "dataset": {"name": "iris"},
    "pipeline": {"name": "execution", "epochs": 2, "batch_size": 32, "hooks": {"progress": None}},
}
SLEEP = {"model": {"name": "mlp"}, "dataset": {"name": "iris"}, "pipeline": {"name": "sleep", "seconds": 30}}


def server_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAPROGRAM_")}
    env.update(
        PYTHONPATH=str(REPO),
        METAPROGRAM_OUTPUT_ROOT=str(tmp_path / "out"),
        METAPROGRAM_DATA_ROOT=str(tmp_path / "data"),
        METAPROGRAM_CACHE_ROOT=str(tmp_path / "cache"),
        METAPROGRAM_MODEL_ROOT=str(tmp_path / "models"),
    )
    return env


@asynccontextmanager
async def connect(tmp_path: Path, *args: str):
    """A real client session with `metaprogram mcp` (python -m database mcp) over stdio."""
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-B", "-m", "database", "mcp", *args], env=server_env(tmp_path), cwd=tmp_path
    )
    with open(tmp_path / "server.stderr", "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            yield Agent(session)


class Agent:
    def __init__(self, session):
        self.session = session

    async def call(self, tool: str, **arguments):
        """(ok, answer): the structured answer, or the error text."""
        result = await self.session.call_tool(tool, arguments)
        if result.is_error:
            return False, result.content[0].text
        return True, result.structured_content

    async def ok(self, tool: str, **arguments):
        ok, answer = await self.call(tool, **arguments)
        assert ok, f"{tool} refused: {answer}"
        return answer

    async def until_done(self, run_id: str, timeout: float = 120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = await self.ok("status", id=run_id)
            if status["status"] in ("completed", "failed", "interrupted"):
                return status
            await anyio.sleep(0.2)
        raise AssertionError(f"run {run_id} did not finish in {timeout} s: {status}")


def written(out: Path) -> list[str]:
    """What the server wrote besides its own call log."""
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file() and p.parent.name != "mcp")


def calls(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "mcp" / "calls.jsonl").read_text().splitlines()]


def test_an_agent_goes_from_nothing_to_a_compared_pair_of_runs(tmp_path):
    async def story():
        async with connect(tmp_path) as agent:
            tools = await agent.session.list_tools()
            assert {t.name for t in tools.tools} == {
                "list_components", "describe", "validate", "run", "status", "cancel", "runs", "show", "diff",
                "sweep", "study", "propose",
            }  # fmt: skip
            assert all(t.description for t in tools.tools)
            components = (await agent.ok("list_components"))["components"]
            assert "mlp" in [c["name"] for c in components["model"]]
            assert "execution" in [c["name"] for c in components["pipeline"]]
            mlp = await agent.ok("describe", component="model.mlp")
            assert mlp["settings"]["hidden"]["maximum"] == 16384 and mlp["settings"]["hidden"]["default"] == 128

            ok, errors = await agent.call(
                "validate", metaprogram={**TINY, "model": {"name": "mpl", "hiden": 3}, "seed": -1}
            )
            assert not ok
            assert "model.name: unknown model 'mpl'; did you mean 'mlp'?" in errors
            assert "seed: must be an integer" in errors and "Traceback" not in errors
            checked = await agent.ok("validate", metaprogram="model: {name: mlp, hidden: 16, layers: 1}\n"
                                     "dataset: {name: iris}\npipeline: {name: execution, epochs: 2}\n")  # fmt: skip
            assert checked["valid"] and checked["objective"] == {"metric": "val/accuracy", "mode": "max"}
            assert written(tmp_path / "out") == []  # validating writes nothing

            a = await agent.ok("run", metaprogram=TINY)
            wider = {**TINY, "model": {**TINY["model"], "hidden": 32}}
            b = await agent.ok("run", metaprogram=wider)
            assert a["status"] == b["status"] == "started" and a["id"] != b["id"]
            for run in (a, b):
                done = await agent.until_done(run["id"])
                assert done["status"] == "completed", done
                assert 0 <= done["metrics"]["test/accuracy"] <= 1
            again = await agent.ok("run", metaprogram=json.loads(json.dumps(TINY)))
            assert again["id"] == a["id"] and again["reused"] is True  # the same experiment is not run twice

            table = await agent.ok("runs", filter={"status": "completed", "model": "ml*"}, sort="test/accuracy",
                                   columns=["id", "status", "test/accuracy", "model.hidden"])  # fmt: skip
            assert {row["id"] for row in table["rows"]} == {a["id"], b["id"]}
            assert table["columns"] == ["id", "status", "test/accuracy", "model.hidden"]
            accuracies = [row["test/accuracy"] for row in table["rows"]]
            assert accuracies == sorted(accuracies, reverse=True)  # best first
            shown = await agent.ok("show", id=a["id"][:8])
            assert shown["run"]["id"] == a["id"] and shown["run"]["settings"]["model.hidden"] == 16
            compared = await agent.ok("diff", a=a["id"], b=b["id"])
            assert compared["diff"]["settings"] == [["model.hidden", 16, 32]]
            assert "test/accuracy" in [m[0] for m in compared["diff"]["metrics"]]
            ok, missing = await agent.call("show", id="ffffffffffff")
            assert not ok and "no run 'ffffffffffff'" in missing

    anyio.run(story)
    log = calls(tmp_path / "out")
    tools_called = [line["tool"] for line in log]
    assert tools_called[0] == "start" and tools_called[-1] == "stop"
    assert [line["outcome"] for line in log if line["tool"] == "validate"] == ["refused", "ok"]
    assert log[tools_called.index("run")]["input"]["metaprogram"] == TINY  # the agent's input, as sent


def test_a_cancelled_run_is_recorded_interrupted_and_caps_hold(tmp_path):
    async def story():
        async with connect(tmp_path, "--max-runs", "1") as agent:
            started = await agent.ok("run", metaprogram=SLEEP)
            for _ in range(200):
                status = await agent.ok("status", id=started["id"])
                if status["status"] == "running":
                    break
                await anyio.sleep(0.1)
            assert status["status"] == "running"
            ok, refused = await agent.call("run", metaprogram={**SLEEP, "seed": 1})
            assert not ok and "it may run 1 at once" in refused
            cancelled = await agent.ok("cancel", id=started["id"])
            assert cancelled["status"] == "interrupted"
            record = json.loads((tmp_path / "out" / "runs" / started["id"] / "results.json").read_text())
            assert record["status"] == "interrupted"
            table = await agent.ok("runs", filter={"status": "interrupted"}, columns=["id"])
            assert [row["id"] for row in table["rows"]] == [started["id"]]
            ok, other = await agent.call("cancel", id="0123456789abcdef")
            assert not ok and "started by this session" in other

    anyio.run(story)


def test_a_run_past_the_sessions_cpu_cap_is_stopped_and_no_more_start(tmp_path):
    async def story():
        async with connect(tmp_path, "--cpu-seconds", "0.05") as agent:
            started = await agent.ok("run", metaprogram=SLEEP)  # its start alone (imports) takes more
            done = await agent.until_done(started["id"], timeout=60)
            assert done["status"] == "interrupted" and "CPU-time cap" in done["stopped_for"]
            ok, refused = await agent.call("run", metaprogram={**SLEEP, "seed": 2})
            assert not ok and "no more runs start in it" in refused

    anyio.run(story)
    # stopped while it started, or while it ran (then its record says so too)
    for results in (tmp_path / "out" / "runs").glob("*/results.json"):
        assert json.loads(results.read_text())["status"] == "interrupted"


HOSTILE = [
    ({**TINY, "dataset": {"name": "csv", "file": "/etc/passwd", "target": "y"}}, "dataset"),
    ({**TINY, "model": {"name": "hf", "local_dir": "/etc"}}, "local_dir"),
    ({**TINY, "pipeline": {"name": "quantize", "recipe_file": "/tmp/recipe.yaml"}}, "recipe_file"),
    ({**TINY, "model": {"name": "mlp", "activation": "${oc.env:HOME}"}}, "interpolation"),
    ({**TINY, "pipeline": {**TINY["pipeline"], "objective": {"metric": "${oc.env:HOME}"}}}, "interpolation"),
    ({**TINY, "model": {"_target_": "os.system", "name": "mlp"}}, "_target_"),
    ({**TINY, "path": {"output_root": "/"}}, "path"),
    ({**TINY, "hydra": {"run": {"dir": "/tmp"}}}, "hydra"),
    ({**TINY, "pipeline": {**TINY["pipeline"], "resources": {"cpus": 64}}}, "over the cap"),
    ({**TINY, "pipeline": {**TINY["pipeline"], "resources": {"memory_gb": 4000}}}, "over the cap"),
    ({**TINY, "pipeline": {**TINY["pipeline"], "hooks": {"mlflow": {"tracking_uri": "file:///etc"}}}}, "tracking_uri"),
    ("model: !!python/object/apply:os.system [echo hi]\n", "invalid metaprogram text"),
    ("model: {name: mlp}\nmodel: {name: cnn}\n", "duplicate key"),
    ("a: &a [*a]\n" + "b: [" * 200, "invalid metaprogram text"),
    ("- just\n- a list\n", "mapping"),
]


X = {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}}
SHORT = {**SLEEP, "pipeline": {"name": "sleep", "seconds": 0.1}}
HOSTILE_SWEEPS = [
    ({"base": SHORT, "space": {"dataset.file": {"type": "choice", "values": ["/etc/passwd"]}}}, "space.dataset.file"),
    ({"base": SHORT, "space": {"model.activation": {"type": "choice", "values": ["${oc.env:HOME}"]}}}, "interpolation"),
    ({"base": SHORT, "space": {"pipeline.resources.cpus": {"type": "uniform", "low": 1, "high": 64}}}, "over the cap"),
    ({"base": {**SHORT, "model": {"name": "mlp", "_target_": "os.system"}}, "space": X}, "base.model._target_"),
    ({"base": SHORT, "space": X, "count": 10_000}, "count: must be an integer from 1 to 32"),
    ({"base": SHORT, "space": X, "concurrency": 64}, "concurrency: must be an integer from 1 to 2"),
    ({"base": SHORT, "space": X, "algorithm": "hyperband"}, "'hyperband' is not offered here"),
    ({"base": SHORT, "space": X, "storage_path": "/tmp"}, "storage_path: unknown key"),
]


def hardening_cases() -> list[tuple[str, object]]:
    """Every hostile text and setting of the hardening tests (unit_test/engine/test_hostile_input.py), as an agent
    would send them: text as YAML, settings on the example metaprogram both as YAML and, where JSON can say it, as
    an object."""
    import yaml

    from engine.compose import load
    from unit_test.engine.test_hostile_input import SETTINGS, TEXTS, with_setting

    example = load([], "metaprogram/example").metaprogram.canonical
    cases: list[tuple[str, object]] = [(f"text: {name}", text) for name, text in sorted(TEXTS.items())]
    for name, (key, value) in sorted(SETTINGS.items()):
        tree = with_setting(example, key, value)
        cases.append((f"setting as YAML: {name}", yaml.safe_dump(tree, sort_keys=True)))
        try:
            cases.append((f"setting as JSON: {name}", json.loads(json.dumps(tree, allow_nan=False))))
        except (TypeError, ValueError):
            pass
        if json.dumps(tree, sort_keys=True) != json.dumps(json.loads(json.dumps(tree)), sort_keys=True):
            cases.pop()  # JSON turned a non-string key into a string: the YAML form above keeps it
    return cases


def test_hostile_input_is_refused_and_nothing_is_written(tmp_path):
    async def story():
        async with connect(tmp_path) as agent:
            for name, metaprogram in hardening_cases():
                for tool in ("validate", "run"):
                    ok, answer = await agent.call(tool, metaprogram=metaprogram)
                    assert not ok, f"{tool} accepted {name}"
                    assert "invalid metaprogram" in answer and "Traceback" not in answer, (name, answer)
                    assert len(answer) < 8_000, name
            for metaprogram, reason in HOSTILE:
                for tool in ("validate", "run"):
                    ok, answer = await agent.call(tool, metaprogram=metaprogram)
                    assert not ok, f"{tool} accepted {metaprogram!r}"
                    assert reason in answer and "Traceback" not in answer, answer
            for spec, reason in HOSTILE_SWEEPS:
                ok, answer = await agent.call("sweep", spec=spec)
                assert not ok, f"sweep accepted {spec!r}"
                assert reason in answer and "Traceback" not in answer, answer
            ok, answer = await agent.call("propose", study="agent.anything")
            assert not ok and "no study 'agent.anything'" in answer
            ok, answer = await agent.call("study", id="agent.anything")
            assert not ok and "no study 'agent.anything'" in answer
            ok, answer = await agent.call("runs", filter={"run_dir": "/etc"})
            assert not ok and "unknown" in answer
            ok, answer = await agent.call("describe", component="../../etc/passwd")
            assert not ok and "no component" in answer

    anyio.run(story)
    assert written(tmp_path / "out") == []  # nothing but the call log
    assert not (tmp_path / "out" / "runs").exists()
    refused = [line for line in calls(tmp_path / "out") if line["outcome"] == "refused"]
    assert len(refused) == 2 * len(HOSTILE) + 2 * len(hardening_cases()) + len(HOSTILE_SWEEPS) + 4


def test_starting_the_server_and_listing_its_tools_imports_no_heavy_module(tmp_path):
    code = (
        "import sys, anyio\n"
        "from database.cli import parser\n"
        "from agent_server.server import build\n"
        "from agent_server.session import Session\n"
        "tools = anyio.run(build(Session()).list_tools)\n"
        "heavy = {'torch', 'transformers', 'ray', 'sklearn', 'lm_eval', 'llmcompressor', 'guidellm', "
        "'hydra', 'pandas'} & set(sys.modules)\n"
        "print(len(tools), sorted(heavy))\n"
    )
    done = subprocess.run(
        [sys.executable, "-B", "-c", code], env=server_env(tmp_path), cwd=tmp_path, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["12", "[]"]


@pytest.mark.slow  # Ray Tune (a local Ray instance) and the planner (torch)
def test_a_sweep_runs_as_a_tune_study_and_the_planner_proposes_its_next_trial(tmp_path):
    spec = {"base": SHORT, "space": X, "count": 3, "algorithm": "tpe", "seed": 1}

    async def sweep_story():
        async with connect(tmp_path) as agent:
            started = await agent.ok("sweep", spec=spec)
            assert started["status"] == "started" and started["trials"] == 3
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                study = await agent.ok("study", id=started["study"])
                if study["status"] == "complete":
                    break
                await anyio.sleep(1)
            assert study["status"] == "complete", study
            assert [t["status"] for t in study["trials"]] == ["completed"] * 3
            assert study["best"]["objective"] == min(t["objective"] for t in study["trials"])
            again = await agent.ok("sweep", spec=spec)
            assert again["reused"] is True and again["study"] == started["study"]
            shipped = await agent.ok("propose", study=started["study"])  # no checkpoint given: the shipped planner
            assert set(shipped["params"]) == {"pipeline.x"} and 0.0 <= shipped["params"]["pipeline.x"] <= 1.0
            return started["study"]

    study_id = anyio.run(sweep_story)
    checkpoint = _untrained_planner(tmp_path, study_id)

    async def propose_story():
        async with connect(tmp_path, "--planner-checkpoint", str(checkpoint)) as agent:
            proposal = await agent.ok("propose", study=study_id)
            assert set(proposal["params"]) == {"pipeline.x"} and 0.0 <= proposal["params"]["pipeline.x"] <= 1.0
            assert "mean" in proposal["predicted"]

    anyio.run(propose_story)


def _untrained_planner(tmp_path: Path, study_id: str) -> Path:
    """A planner with random weights whose vocabulary knows the study (decoding stays valid whatever the weights)."""
    from database.export import study_line
    from database.store import Database
    from planner.model import Settings, build_model, save_checkpoint
    from planner.serialize import study_to_text
    from planner.vocab import Vocabulary

    with Database(tmp_path / "out" / "metaprogram.db") as db:
        study = study_line(db.study(study_id))
    settings = Settings(hidden=32, layers=1, heads=2, intermediate=64)
    vocab = Vocabulary.build([study_to_text(study)])
    out = tmp_path / "planner"
    save_checkpoint(out, build_model(settings, vocab), vocab, settings, {})
    return out


def test_a_session_past_its_disk_cap_stops_its_run_and_starts_no_more(tmp_path, paths):
    from agent_server.session import Limits, Refused, Session

    session = Session(paths, limits=Limits(max_disk_mb=0.001))  # about 1 KB: one run's records pass it
    started = session.run(SLEEP)
    deadline = time.monotonic() + 60
    while session.status(started["id"])["status"] not in ("interrupted", "completed") and time.monotonic() < deadline:
        time.sleep(0.2)
    status = session.status(started["id"])
    assert status["status"] == "interrupted" and "disk cap" in status["stopped_for"]
    assert session.disk_mb() > 0.001
    with pytest.raises(Refused, match="run directories take"):
        session.run({**SLEEP, "seed": 4})
    assert [p.name for p in (Path(paths.output_root) / "runs").iterdir()] == [started["id"]]
