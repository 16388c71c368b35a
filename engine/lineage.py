"""Building on recorded runs: find a run by its id or a unique prefix, and the trained weights it left.

    find_id(ids, ref) -> the one id `ref` names, or UnknownRun with the nearest ids
    recorded_run(output_root, ref) -> (id, run directory) of a recorded run
    parent_weights(paths, ref) -> (id, weights file) of a completed run that left trained weights

`+from_run=<ref>` composes from a recorded run's metaprogram (engine/compose.py); `model.init_from=<ref>`
starts from a completed run's weights (engine/schema/models.py, engine/pipelines/execution.py). The runs
table (database/runs.py) finds runs the same way. Nothing here imports torch.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import nearest

if TYPE_CHECKING:
    from engine.paths import Paths

RUN_REF_PATTERN = r"^[0-9a-f]{4,16}$"  # a run id (16 hex digits) or a prefix of one: never a path
WEIGHTS = "model.pt"  # what an execution run leaves in its run directory: the state dict it tested with


class UnknownRun(LookupError):
    """A reference that names no run, or more than one: one clear paragraph."""


class ParentProblem(OSError):
    """A parent run that cannot be built on; `key` is the setting that names it (reported as model.<key>)."""

    def __init__(self, key: str, message: str):
        self.key = key
        super().__init__(message)


def find_id(ids: list[str], ref: str, where: str = "this output root") -> str:
    """The id `ref` names: itself, or the one id it starts. Otherwise UnknownRun, with did-you-mean."""
    if ref in ids:
        return ref
    matches = sorted(i for i in ids if i.startswith(ref))
    if len(matches) == 1:
        return matches[0]
    if matches:
        shown = ", ".join(matches[:6])
        raise UnknownRun(f"{ref!r} is the start of {len(matches)} run ids ({shown}...): give more characters")
    close = nearest(ref, ids)
    if not close and len(ref) < 16:  # a mistyped prefix: compare it with the ids' starts of the same length
        starts: dict[str, list[str]] = {}
        for run_id in ids:
            starts.setdefault(run_id[: len(ref)], []).append(run_id)
        close = [run_id for start in nearest(ref, list(starts)) for run_id in starts[start]][:3]
    hint = "did you mean " + " or ".join(repr(c) for c in close) + "?" if close else "list them with `metaprogram runs`"
    raise UnknownRun(f"no run {ref!r} among the {len(ids)} runs of {where}; {hint}")


def run_ids(output_root: Path) -> list[str]:
    """The ids of the run directories under <output_root>/runs."""
    folder = Path(output_root) / "runs"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def recorded_run(output_root: Path, ref: str) -> tuple[str, Path]:
    """(id, run directory) of the run `ref` names under `output_root`; UnknownRun when none or several."""
    if not isinstance(ref, str) or not re.fullmatch(RUN_REF_PATTERN, ref):
        raise UnknownRun(f"{ref!r} is not a run id: give the id (16 hex digits) or its first 4 or more")
    run_id = find_id(run_ids(output_root), ref, str(Path(output_root) / "runs"))
    return run_id, Path(output_root) / "runs" / run_id


def parent_weights(paths: Paths, ref: str, key: str = "init_from") -> tuple[str, Path]:
    """(id, weights file) of the completed run `ref` names; ParentProblem (naming `key`) when there is none."""
    from engine.records import read_results

    root = paths.root("output_root")
    try:
        run_id, run_dir = recorded_run(root, ref)
    except UnknownRun as exc:
        raise ParentProblem(key, str(exc)) from None
    results = read_results(run_dir / "results.json")
    status = results.get("status") if results else "unreadable (no valid results.json)"
    if status != "completed":
        raise ParentProblem(key, f"run {run_id} did not complete (its status is {status}): only a completed run's "
                            "weights can be built on")  # fmt: skip
    weights = run_dir / WEIGHTS
    if not weights.is_file():
        pipeline = results.get("pipeline", "?")
        raise ParentProblem(key, f"run {run_id} ({pipeline} pipeline) left no trained weights ({WEIGHTS}): "
                            "start from a run of the execution pipeline")  # fmt: skip
    return run_id, weights


def run_of(path: Path, paths: Paths) -> str | None:
    """The id of the recorded run whose file `path` is (its weights), else None: such an input is spelt by the
    run's id in the identity, wherever the output root lies."""
    try:
        rel = Path(path).resolve().relative_to(paths.root("output_root") / "runs")
    except ValueError:
        return None
    return rel.parts[0] if len(rel.parts) == 2 and rel.parts[1] == WEIGHTS else None
