"""MCP server start-up: from spawning `metaprogram mcp` to the answer of its tools list, as a real client sees it.

    python -B benchmarks/mcp_startup.py [--repeats 7]

Each repeat spawns the server (`python -m database mcp`, what the `metaprogram mcp` console script runs) with a
fresh output root, connects the `mcp` SDK's own stdio client, initialises the session and lists the tools; the
time is from the spawn to the list's answer. Measured side by side in one run: a bare Python interpreter started
the same way (`python -c pass`), the floor no server can go under. Printed last: min / median / max seconds of the
server (target: median under 1 s) and its ratio to the bare interpreter. JSON goes to
benchmarks/results/mcp_startup.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, save, table  # noqa: E402

TARGET_S = 1.0


def server_env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("METAPROGRAM_")}
    env["PYTHONPATH"] = str(REPO)
    for key, sub in (("OUTPUT", "out"), ("DATA", "data"), ("CACHE", "cache"), ("MODEL", "models")):
        env[f"METAPROGRAM_{key}_ROOT"] = str(root / sub)
    return env


async def _list_tools(root: Path) -> int:
    from mcp import ClientSession, StdioServerParameters, stdio_client

    params = StdioServerParameters(
        command=sys.executable, args=["-B", "-m", "database", "mcp"], env=server_env(root), cwd=root
    )
    with open(root / "server.stderr", "a") as errlog:
        async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            return len((await session.list_tools()).tools)


def server_seconds() -> tuple[float, int]:
    import anyio

    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        tools = anyio.run(_list_tools, Path(folder))
        return time.perf_counter() - started, tools


def bare_seconds() -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-B", "-c", "pass"], check=True)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    server_seconds()  # once untimed: the first start reads the files from disk into the page cache
    servers, bares, tools = [], [], 0
    for _ in range(args.repeats):  # interleaved, so a change in the machine's load falls on both alike
        seconds, tools = server_seconds()
        servers.append(seconds)
        bares.append(bare_seconds())
    median, bare = statistics.median(servers), statistics.median(bares)
    figures = {
        "repeats": args.repeats,
        "tools": tools,
        "server_s": {"min": min(servers), "median": median, "max": max(servers)},
        "bare_python_s": bare,
        "ratio_to_bare": median / bare,
        "target_s": TARGET_S,
        "load_average": os.getloadavg(),
    }
    print(f"results: {save('mcp_startup', figures)}")
    rows = [("metaprogram mcp: spawn -> tools listed", f"{min(servers):.3f} / {median:.3f} / {max(servers):.3f}",
             f"{bare:.3f}", f"{median / bare:.1f}", f"< {TARGET_S}")]  # fmt: skip
    print(table(rows, ("what", "seconds min / median / max", "bare python s", "ratio", "target")))
    print(f"{tools} tools listed; load average {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
