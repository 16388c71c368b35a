"""`ray start --block` nodes for the tests that need a Ray head or a cluster of their own.

Each node runs in its own process group with its own short temp dir and writes its output to a file.
A node is up when its `ray start` prints "Ray runtime started" (after its raylet registered with the
GCS): reading that file costs nothing, where polling `ray status` starts a Python that imports Ray
every second, on the very CPUs the starting node needs. On a busy machine a node's `ray start` can
give up (Ray waits a fixed 30 s for its raylet to register); the caller then starts it again.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

RAY = str(Path(sys.executable).with_name("ray"))
STARTED = "Ray runtime started"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RayNode:
    """One `ray start --block ARGS` process; `log` keeps what it printed, for a failure message.
    A head (`port` given) listens on `address`."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path, temp: Path, log: Path, port: int | None = None):
        self.args, self.env, self.cwd, self.temp, self.log, self.port = args, env, cwd, temp, log, port
        self.address = f"127.0.0.1:{port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        shutil.rmtree(self.temp, ignore_errors=True)  # a restarted node starts clean
        head = ["--head", f"--port={self.port}"] if self.port else []
        command = [RAY, "start", "--block", "--node-ip-address=127.0.0.1", f"--temp-dir={self.temp}", *head, *self.args]
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen(
                command, env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def started(self) -> bool:
        return self.log.exists() and STARTED in self.log.read_text(errors="replace")

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""

    def stop(self) -> None:
        """End the node as a machine's death would: `ray start`, its GCS and raylet, and every worker.

        Ray gives each worker a process group of its own, so killing the node's group alone would leave
        its workers running jobs (and writing records) on a node that is gone."""
        if self.proc is not None:
            try:
                root = psutil.Process(self.proc.pid)
                tree = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                tree = []
            for process in tree:
                try:
                    process.kill()
                except psutil.NoSuchProcess:
                    pass
            psutil.wait_procs(tree, timeout=30)
            self.proc.wait(timeout=30)
        shutil.rmtree(self.temp, ignore_errors=True)


def wait_started(nodes: dict[str, RayNode], timeout: float, restart: bool) -> str | None:
    """Wait until every node has started; None when they have, else why not.

    With `restart`, a node whose `ray start` exited is started again (a worker node whose head is up);
    without, its exit ends the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        waiting = [name for name, node in nodes.items() if not node.started()]
        if not waiting:
            return None
        for name in waiting:
            if nodes[name].exited():
                if not restart:
                    return f"node {name}'s `ray start` exited"
                nodes[name].start()
        time.sleep(0.5)
    return f"node(s) {', '.join(waiting)} did not start in {timeout:.0f} s"


def failure_report(what: str, nodes: dict[str, RayNode]) -> str:
    return "\n".join([what, *(f"--- node {name}:\n{node.output()}" for name, node in nodes.items())])


def start_in_tries(start: Callable[[], tuple[Any, str | None]], tries: int = 3) -> Any:
    """`start()` makes a fresh node or cluster (new ports) and returns it with None, or with a failure report.
    A failed try is stopped and made again: on a busy machine `ray start` can give up."""
    for attempt in range(1, tries + 1):
        started, failure = start()
        if failure is None:
            return started
        started.stop()
        print(f"try {attempt} of {tries} failed:\n{failure}", file=sys.stderr)
    pytest.fail(failure)
