"""Start a server in its own process group, wait until it is healthy, and always stop the whole group.

Servers (vllm serve, guidellm's mock server, ours) and guidellm itself spawn
worker processes; signalling the process group reaches all of them, so a
benchmark never leaves a process behind or a port taken, whatever failed.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent.parent


class ServerError(RuntimeError):
    pass


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def child_env() -> dict[str, str]:
    """The environment for children: this repo importable, one thread per process unless told otherwise."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


class GroupProcess:
    """A command in a new session (its own process group), output appended to a log file."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.cmd = cmd
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = self.log_path.open("ab")
        self._log.write(("$ " + " ".join(cmd) + "\n").encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=env or child_env(), start_new_session=True,
        )  # fmt: skip
        self.pgid = self.proc.pid  # a new session's leader: its pid is the group id

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM the group, SIGKILL what is left after `grace_s`; reap the leader."""
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            if not _group_exists(self.pgid):
                break
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline:
                self.proc.poll()
                if not _group_exists(self.pgid):
                    break
                time.sleep(0.05)
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self._log.close()

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def __enter__(self) -> GroupProcess:
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def _group_exists(pgid: int) -> bool:
    """Whether any live (non-zombie) process is left in the group."""
    if Path("/proc").is_dir():
        return bool(group_members(pgid))
    try:  # not Linux: killpg(0) also counts zombies, which is the safe side
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def group_members(pgid: int) -> list[int]:
    """Live pids in a process group (from Linux /proc)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                pids.append(int(entry.name))
    return pids


class Server(GroupProcess):
    """A server process with a health URL."""

    def __init__(self, cmd: list[str], port: int, log_path: Path, health_path: str = "/health", host="127.0.0.1"):
        self.port, self.host = port, host
        self.url = f"http://{host}:{port}"
        self.health_url = self.url + health_path
        super().__init__(cmd, log_path)

    def wait_healthy(self, timeout_s: float) -> float:
        """Seconds until /health answered 200; ServerError if it died or timed out."""
        started = time.monotonic()
        while time.monotonic() - started < timeout_s:
            if not self.alive():
                raise ServerError(
                    f"the server exited with code {self.proc.returncode} before it was healthy; "
                    f"last lines of {self.log_path.name}:\n{self.log_tail()}"
                )
            if healthy(self.health_url):
                return time.monotonic() - started
            time.sleep(0.25)
        raise ServerError(f"the server was not healthy at {self.health_url} within {timeout_s:.0f} s")


def healthy(url: str, timeout_s: float = 2.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, OSError, ValueError):
        return False


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
