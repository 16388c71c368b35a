"""`metaprogram mcp`: the MCP server (stdio) through which an AI research agent designs, runs and compares
experiments, within caps, and does nothing else.

    metaprogram mcp [--max-runs 2] [--cpu-seconds 3600] [--disk-mb 2048] [--max-trials 32]
                    [--planner-checkpoint DIR]      (propose's planner; default: the shipped one, planner/shipped)
    metaprogram --root OUTPUTS mcp          the output root (default: $METAPROGRAM_OUTPUT_ROOT, else ./outputs)

The roots (data, models, cache, outputs) are the machine's configuration (configs/path/default.yaml, the
METAPROGRAM_*_ROOT variables), never the agent's: no tool takes a path, a module or code. Every call is appended
to <output_root>/mcp/calls.jsonl with the agent's input and the answer's outcome. Starting the server imports
no torch (tools import what they need when called).
"""

from __future__ import annotations

import functools
import sys
import time
from pathlib import Path
from traceback import format_exc
from typing import Any

INSTRUCTIONS = (
    "Design, validate, run and compare machine-learning experiments. A metaprogram is a model, a dataset and a "
    "pipeline, each a registered component chosen by name, with settings (defaults where left out), and a seed. "
    "Call list_components, then describe(component) for its settings; validate(metaprogram) reports every "
    "error at once; run(metaprogram) starts it in the background and returns its id (the same experiment always "
    "has the same id, and a completed one is reused); status(id), cancel(id); runs(...), show(id), diff(a, b) "
    "read the runs table; sweep(spec) starts a Ray Tune study, study(id) reads it, propose(study) asks the "
    "trained planner for the next trial. Untrusted input: no paths, no code, no interpolations, resources within caps."
)


def build(session: Any) -> Any:
    """The MCPServer with every tool bound to `session` (one per client connection: stdio serves one)."""
    from mcp.server.mcpserver import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError

    from agent_server.session import Refused

    app = MCPServer("metaprogram", instructions=INSTRUCTIONS, log_level="WARNING")

    def tool(fn: Any) -> Any:
        @functools.wraps(fn)
        def call(**arguments: Any) -> dict[str, Any]:
            try:
                answer = fn(**arguments)
            except Refused as exc:
                session.log_call(fn.__name__, arguments, "refused", str(exc))
                raise ToolError(str(exc)) from None
            except Exception as exc:  # a bug: one line for the agent, the traceback in the call log
                message = f"{fn.__name__} failed inside the server: {type(exc).__name__}: {exc}"
                session.log_call(fn.__name__, arguments, "error", {"message": message, "traceback": format_exc()})
                raise ToolError(message) from None
            session.log_call(fn.__name__, arguments, "ok", answer)
            return answer

        app.add_tool(call, name=fn.__name__, description=" ".join((fn.__doc__ or "").split()))
        return fn

    @tool
    def list_components() -> dict[str, Any]:
        """The registered models, datasets and pipelines a metaprogram may name, with what each is for."""
        return session.list_components()

    @tool
    def describe(component: str) -> dict[str, Any]:
        """One component's settings (JSON Schema: type, range, default, description) and the rules between them.
        component: 'kind.name' such as 'model.mlp', 'dataset.iris', 'pipeline.execution' (or a name one kind has)."""
        return session.describe(component)

    @tool
    def validate(metaprogram: dict[str, Any] | str) -> dict[str, Any]:
        """Check a metaprogram (a JSON object, or YAML text) as untrusted input: every error at once with its key
        path and did-you-mean, or its id, objective and resolved settings. Runs nothing, writes nothing."""
        return session.validate(metaprogram)

    @tool
    def run(metaprogram: dict[str, Any] | str) -> dict[str, Any]:
        """Validate a metaprogram and start it in the background; returns its id at once. A completed run of the
        same experiment (same id) is reused, not run again. Refused beyond this session's caps."""
        return session.run(metaprogram)

    @tool
    def status(id: str) -> dict[str, Any]:
        """A run's status (starting, running, completed, failed, interrupted) and the metrics reported so far."""
        return session.status(id)

    @tool
    def cancel(id: str) -> dict[str, Any]:
        """Stop a run this session started; it is recorded as interrupted."""
        return session.cancel(id)

    @tool
    def runs(
        filter: dict[str, Any] | None = None,
        sort: str | None = None,
        descending: bool | None = None,
        columns: list[str] | None = None,
        limit: int | None = 50,
    ) -> dict[str, Any]:
        """The runs table. filter: {pipeline, model, dataset (shell patterns), status ('completed,failed'),
        study, since, until ('2d', '2025-01-31'), where: {setting or metric: value}}; sort: a column, metric
        ('val/accuracy', best first) or setting ('model.hidden'); columns: fields, metrics and settings."""
        return session.runs(filter, sort, descending, columns, limit)

    @tool
    def show(id: str) -> dict[str, Any]:
        """One run: status, settings, metrics, timings (an id or a unique prefix of one)."""
        return session.show(id)

    @tool
    def diff(a: str, b: str) -> dict[str, Any]:
        """Two runs side by side: the settings that differ and every metric of either."""
        return session.diff(a, b)

    @tool
    def sweep(spec: dict[str, Any]) -> dict[str, Any]:
        """Start a Ray Tune study in the background; returns its study id at once. spec: {base: a metaprogram,
        space: {dotted setting: {type: choice|grid, values: [...]} or {type: uniform|loguniform|randint, low, high}},
        algorithm: random|grid|tpe|tpe_multivariate|gp|portfolio|planner, scheduler: fifo|asha, count, concurrency,
        seed, time_budget_s, objective}. Every value of the space is checked as untrusted input; count and
        concurrency are capped."""
        return session.sweep(spec)

    @tool
    def study(id: str) -> dict[str, Any]:
        """A study: its search space, objective, trials in order (params, objective, run id) and the best so far."""
        return session.study(id)

    @tool
    def propose(study: str) -> dict[str, Any]:
        """The trained planner's next trial for a study: its parameters and predicted objective (runs nothing;
        run it with run). The shipped planner, unless the server was started with another."""
        return session.propose(study)

    return app


def serve(args: Any) -> int:
    """Serve one client over stdio until it closes the connection; its runs stop with it."""
    from agent_server.session import Limits, Session
    from engine.metaprogram import Caps
    from engine.paths import default_paths

    paths = default_paths()
    if getattr(args, "root", None):
        paths = paths.model_copy(update={"output_root": str(Path(args.root).expanduser().resolve())})
    limits = Limits(
        max_concurrent_runs=args.max_runs,
        max_cpu_seconds=args.cpu_seconds,
        max_disk_mb=args.disk_mb,
        max_sweep_trials=args.max_trials,
    )
    planner = getattr(args, "planner_checkpoint", None)
    if planner is not None and not Path(planner).is_dir():
        print(f"--planner-checkpoint {planner}: no such folder (train_planner.sh writes one)", file=sys.stderr)
        return 2
    session = Session(paths, Caps(), limits, planner=str(Path(planner).resolve()) if planner else None)
    session.log_call("start", {"limits": limits.__dict__}, "ok", {"output_root": str(paths.root("output_root"))})
    session.watch()
    try:
        build(session).run("stdio")
    except KeyboardInterrupt:
        pass
    finally:
        session.close()
        session.log_call("stop", {}, "ok", {"at": time.time()})
    return 0


if __name__ == "__main__":  # python -m agent_server.server: the same as `metaprogram mcp`
    import argparse

    parser = argparse.ArgumentParser(prog="python -m agent_server.server")
    parser.add_argument("--root")
    parser.add_argument("--max-runs", type=int, default=2)
    parser.add_argument("--cpu-seconds", type=float, default=3600.0)
    parser.add_argument("--disk-mb", type=float, default=2048.0)
    parser.add_argument("--max-trials", type=int, default=32)
    parser.add_argument("--planner-checkpoint")
    sys.exit(serve(parser.parse_args()))
