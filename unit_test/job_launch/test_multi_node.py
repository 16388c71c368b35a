"""A real two-node Ray cluster on one machine: code travels to the second node, records come back.

The head and two more nodes run as separate `ray start` processes on loopback, each with its
own temp dir; the far nodes start from other working directories, without this repository on
their PYTHONPATH, and only they have the resource `far` that every job and trial asks for. A
`sitecustomize` on the far nodes' PYTHONPATH installs an audit hook in each of their Python
processes that logs every file opened or listed under the repository (its .venv and the example
plugin aside: the installed packages every node has) or the driver's output root: the tests assert that log
stays empty while the hook saw the shipped copy of the code being read. The second far node
is there for the last test, which kills the first one in the middle of a batch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from database.store import Database
from unit_test.helpers import write_sleep_jobs
from unit_test.ray_nodes import RayNode, failure_report, free_port, start_in_tries, wait_started

# a Ray cluster of several nodes, started once for the module: its tests stay on one pytest-xdist worker
pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("multi_node")]

REPO = Path(__file__).resolve().parents[2]
BASE_ENV = {
    "OMP_NUM_THREADS": "1",
    "RAY_USAGE_STATS_ENABLED": "0",
    "RAY_AUTH_MODE": "disabled",  # a throwaway cluster on loopback: no token to share
}
# The GCS declares a killed node dead after ~1.5 s instead of ~15 s.
HEAD_ENV = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "3"}
FAR = ("w", "v")  # the far nodes' names
AUDIT = """
import os, sys
_watch = tuple(p for p in os.environ.get("MP_AUDIT_WATCH", "").split(os.pathsep) if p)
_ignore = tuple(p for p in os.environ.get("MP_AUDIT_IGNORE", "").split(os.pathsep) if p)
_copy = os.environ.get("MP_AUDIT_COPY", "")
_log = os.environ.get("MP_AUDIT_LOG")
if _watch and _log:
    def _hook(event, args):
        if event not in ("open", "os.listdir", "os.scandir") or not args or args[0] is None:
            return
        if isinstance(args[0], int):
            return
        path = os.path.abspath(os.fsdecode(args[0]))
        if path.startswith(_watch) and not path.startswith(_ignore):
            with open(_log, "a") as f:
                f.write(f"{os.getpid()} {event} {path}\\n")
        elif _copy and path.startswith(_copy) and path.endswith("engine/runner.py"):
            with open(_log + ".copy", "a") as f:
                f.write(f"{os.getpid()} {path}\\n")
    sys.addaudithook(_hook)
"""


class Cluster:
    """The head and far nodes this module started (unit_test.ray_nodes)."""

    def __init__(self, root: Path, driver_root: Path):
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.root, self.driver_root = root, driver_root
        self.audit_log = root / "audit.log"
        self.nodes: dict[str, RayNode] = {}

    def _node(self, name: str, args: list[str], env: dict[str, str], cwd: Path, port: int | None = None) -> RayNode:
        temp = Path(f"/tmp/rmn{self.port}{name}")  # short: Ray's socket paths have a length limit
        args = ["--object-store-memory=100000000", *args]
        node = RayNode(args, env, cwd, temp, self.root / f"{name}.out", port=port)
        self.nodes[name] = node
        node.start()
        return node

    def start_head(self) -> dict[str, RayNode]:
        env = {**os.environ, **BASE_ENV, **HEAD_ENV}
        env.pop("PYTHONPATH", None)
        args = ["--num-cpus=1", "--num-gpus=0", "--include-dashboard=false"]
        return {"h": self._node("h", args, env, REPO, port=self.port)}

    def start_far_node(self, name: str) -> RayNode:
        """A node that cannot see our files: another cwd, no repository on PYTHONPATH, its own scratch."""
        home = self.root / name
        (home / "site").mkdir(parents=True)
        (home / "site" / "sitecustomize.py").write_text(AUDIT)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("METAPROGRAM_")}
        env.update(BASE_ENV)
        env.update(
            PYTHONPATH=str(home / "site"),
            TMPDIR=str(home),
            METAPROGRAM_SCRATCH=str(home / "scratch"),
            MP_AUDIT_WATCH=os.pathsep.join([str(REPO), str(self.driver_root)]),
            # installed packages every node has: the venv, and the example plugin installed from examples/ (editable)
            MP_AUDIT_IGNORE=os.pathsep.join([str(REPO / ".venv"), str(REPO / "examples" / "plugin_example")]),
            MP_AUDIT_COPY=f"/tmp/rmn{self.port}{name}",
            MP_AUDIT_LOG=str(self.audit_log),
        )
        args = [f"--address={self.address}", "--num-cpus=2", "--num-gpus=0", '--resources={"far": 2}']
        return self._node(name, args, env, home)

    def start(self, timeout: float = 150) -> tuple[Cluster, str | None]:
        """Head first (far nodes would wait on it, using the CPUs it needs), then the far nodes; with None
        once all have started, else what went wrong with the nodes' output."""
        why = wait_started(self.start_head(), timeout, restart=False)
        if why is None:
            why = wait_started({name: self.start_far_node(name) for name in FAR}, timeout, restart=True)
        return self, why and failure_report(why, self.nodes)

    def scratch(self, name: str) -> Path:
        return self.root / name / "scratch"

    def kill(self, name: str) -> None:
        self.nodes[name].stop()

    def stop(self) -> None:
        for node in self.nodes.values():
            node.stop()

    def driver_reads(self) -> list[str]:
        return self.audit_log.read_text().splitlines() if self.audit_log.exists() else []

    def copy_reads(self) -> list[str]:
        path = Path(str(self.audit_log) + ".copy")
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    def start() -> tuple[Cluster, str | None]:
        return Cluster(tmp_path_factory.mktemp("nodes"), tmp_path_factory.mktemp("driver")).start()

    cluster = start_in_tries(start)
    try:
        yield cluster
    finally:
        cluster.stop()


def _driver_env(output_root: Path) -> dict[str, str]:
    return {**os.environ, **BASE_ENV, "METAPROGRAM_OUTPUT_ROOT": str(output_root)}


def _launch_cmd(files: list[Path], cluster: Cluster, *args: str) -> list[str]:
    return [sys.executable, "-m", "job_launch", *map(str, files), "--no-progress", "--address", cluster.address,
            "--resource", "far=1", *args]  # fmt: skip


def _summary(stdout: str) -> dict:
    """The JSON summary job_launch prints (Ray may print around it)."""
    start = stdout.rindex("\n{\n") + 1 if "\n{\n" in stdout else stdout.index("{")
    return json.JSONDecoder().raw_decode(stdout[start:])[0]


def _ran_far(cluster: Cluster, record: dict, names: tuple[str, ...] = FAR) -> bool:
    return any(record["worker"]["run_dir"].startswith(str(cluster.scratch(n))) for n in names)


def _results(output_root: Path) -> dict[str, dict]:
    return {p.parent.name: json.loads(p.read_text()) for p in (output_root / "runs").glob("*/results.json")}


def test_a_batch_on_the_far_node_returns_every_record_to_the_driver(cluster, tmp_path):
    out = cluster.driver_root / "batch"
    files = write_sleep_jobs(tmp_path / "jobs", [[], [], ["pipeline.fail=true"]])
    done = subprocess.run(
        _launch_cmd(files, cluster, "--retries", "0"), env=_driver_env(out), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 1, done.stderr[-3000:]
    summary = _summary(done.stdout)
    assert summary["completed"] == 2 and summary["failed"] == 1

    results = _results(out)
    assert len(results) == 3
    for run_id, record in results.items():
        run_dir = out / "runs" / run_id
        assert _ran_far(cluster, record), "it ran on a far node, in its scratch"
        assert (run_dir / "metaprogram.yaml").is_file() and (run_dir / "id").read_text().strip() == run_id
        assert "sleep on iris with mlp" in (run_dir / "run.log").read_text()
    (failed,) = [r for r in results.values() if r["status"] == "failed"]
    assert "asked to fail" in failed["error"]
    assert "asked to fail" in (out / "runs" / failed["id"] / "run.log").read_text()  # the failure's log came back
    with Database(out / "metaprogram.db") as db:
        assert sorted(r["status"] for r in db.runs()) == ["completed", "completed", "failed"]
        assert {r["id"] for r in db.runs()} == set(results)

    assert cluster.driver_reads() == [], "the far node read the driver's files"
    assert cluster.copy_reads(), "the far node ran the shipped copy of the code"


def test_a_tune_sweep_on_the_far_node_leaves_a_complete_study_at_the_driver(cluster, tmp_path):
    out = cluster.driver_root / "sweep"
    sweep = tmp_path / "far_sweep.yaml"
    sweep.write_text(
        yaml.safe_dump(
            {
                "name": "far_sweep",
                "base": {
                    "components": {"model": "classic/mlp", "dataset": "classification/iris", "pipeline": "sleep"},
                    "overrides": ["pipeline.seconds=0.05", "pipeline.epochs=2"],
                },
                "space": {"pipeline.x": {"type": "uniform", "low": 0.0, "high": 1.0}},
                "mode": "tune",
                "count": 2,
                "tune": {"algorithm": "random", "scheduler": "fifo", "concurrency": 2, "resources": {"far": 1}},
            }
        )
    )
    done = subprocess.run(
        [sys.executable, "-B", str(REPO / "util" / "sweeper.py"), str(sweep), "--address", cluster.address],
        env=_driver_env(out),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with Database(out / "metaprogram.db") as db:
        (study,) = db.studies()
        assert study["status"] == "complete" and study["trials"] == 2
        trials = db.trials(study["id"])
        assert [t["status"] for t in trials] == ["completed"] * 2
    results = _results(out)
    for trial in trials:
        record = results[trial["run_id"]]
        assert record["status"] == "completed" and record["objective"]["value"] == pytest.approx(trial["objective"])
        assert _ran_far(cluster, record)
        assert (out / "runs" / trial["run_id"] / "run.log").is_file()
    assert cluster.driver_reads() == [], "the far node read the driver's files"


def test_killing_the_far_node_mid_batch_retries_its_jobs_on_another_node(cluster, tmp_path, monkeypatch):
    from job_launch.shipping import SCRATCH_ENV, scratch_root

    out = cluster.driver_root / "killed"
    long_jobs = [["pipeline.seconds=1.5", "pipeline.epochs=2", f"pipeline.x={0.4 + i / 10}"] for i in range(4)]
    files = write_sleep_jobs(tmp_path / "jobs", long_jobs)
    proc = subprocess.Popen(
        _launch_cmd(files, cluster, "--retries", "2"),
        env=_driver_env(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    busy = None
    while busy is None and time.monotonic() < deadline:
        for name in FAR:  # this batch's runs on each far node
            monkeypatch.setenv(SCRATCH_ENV, str(cluster.scratch(name)))
            if list((scratch_root(str(out.resolve())) / "outputs" / "runs").glob("*/results.json")):
                busy = name
        time.sleep(0.1)
    assert busy, "no job started on a far node"
    cluster.kill(busy)  # mid-batch: jobs are running there
    stdout, stderr = proc.communicate(timeout=240)
    assert proc.returncode == 0, (stdout + stderr)[-3000:]
    summary = _summary(stdout)
    assert summary["completed"] == 4 and summary["failed"] == 0
    results = _results(out)
    assert len(results) == 4 and all(r["status"] == "completed" for r in results.values())
    (survivor,) = set(FAR) - {busy}
    assert any(_ran_far(cluster, r, (survivor,)) for r in results.values()), "the lost jobs ran again elsewhere"
    with Database(out / "metaprogram.db") as db:
        assert [r["status"] for r in db.runs()] == ["completed"] * 4
    assert cluster.driver_reads() == [], "a far node read the driver's files"
