"""What one MCP client connection may do: the tools' logic, without the protocol (agent_server.server wires it).

Everything the agent sends is untrusted. A metaprogram (a JSON object, or YAML text read by engine.strict_yaml)
goes through `engine.metaprogram.validate(raw, trusted=False)` with this session's caps; nothing here takes a
path, a module or a root from the agent. Runs start in the background, one process each (agent_server.worker),
and write only under the configured roots. The session caps how many run at once, the CPU time they use in
all, and the disk their run directories take; a run that would pass a cap is refused, and a running one that
passes it is stopped (recorded as interrupted).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from util.search import BUILTIN

TERMINAL = ("completed", "failed", "interrupted", "invalid")
MAX_LOGGED_INPUT = 64 * 1024  # characters of one call's input written to the call log


class Refused(ValueError):
    """A request this session will not carry out: one clear paragraph for the agent."""


@dataclass(frozen=True)
class Limits:
    """Per client connection: runs at once, CPU seconds of all its runs, megabytes of its run directories."""

    max_concurrent_runs: int = 2
    max_cpu_seconds: float = 3600.0
    max_disk_mb: float = 2048.0
    max_sweep_trials: int = 32


SWEEP_KEYS = ("base", "space", "algorithm", "scheduler", "count", "seed", "concurrency", "time_budget_s", "objective")
# the built-in search algorithms (a plugin's is the machine's code, not offered to agents); `planner` is the server's
# own planner (--planner-checkpoint, else the shipped one), as in propose
ALGORITHMS = tuple(BUILTIN)


@dataclass
class Job:
    id: str
    process: subprocess.Popen | None
    progress: Path
    log: Path
    started: float = field(default_factory=time.time)
    cpu_seconds: float = 0.0
    stopped_for: str | None = None
    slots: int = 1  # runs it may have going at once (a sweep: its concurrency)
    study: str | None = None  # a sweep's study id


class Session:
    def __init__(self, paths: Any = None, caps: Any = None, limits: Limits = Limits(), planner: str | None = None):
        from engine.metaprogram import Caps
        from engine.paths import default_paths

        paths = paths or default_paths()
        # absolute, so that the runs' processes (started in the repository) write where this server reads
        self.paths = paths.absolute()
        self.caps = caps or Caps()
        self.limits = limits
        self.planner = planner  # a planner checkpoint folder, configured by whoever started the server
        self.name = time.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.folder = self.paths.root("output_root") / "mcp"
        self.jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._log_lock = threading.Lock()
        self._schema: dict[str, Any] | None = None

    # ---- the call log
    def log_call(self, tool: str, arguments: dict[str, Any], outcome: str, answer: Any) -> None:
        """One JSON line per call in <output_root>/mcp/calls.jsonl: the agent's input, and what it got."""
        self.folder.mkdir(parents=True, exist_ok=True)
        text = json.dumps(arguments, default=str, sort_keys=True)
        if len(text) > MAX_LOGGED_INPUT:  # a huge input is logged by its start, length and digest
            digest = hashlib.sha256(text.encode()).hexdigest()
            arguments = {"start": text[:MAX_LOGGED_INPUT], "characters": len(text), "sha256": digest}
        line = {"time": time.time(), "session": self.name, "tool": tool, "input": arguments, "outcome": outcome}
        long = outcome == "ok" and len(json.dumps(answer, default=str)) > 4000
        line["answer"] = "(long; not logged)" if long else answer
        with self._log_lock, open(self.folder / "calls.jsonl", "a") as out:
            out.write(json.dumps(line, default=str, sort_keys=True) + "\n")

    # ---- components
    def plugins(self) -> list[str]:
        """Load the machine's plugins (entry points, METAPROGRAM_PLUGINS, path.plugins: configuration, never the
        agent's) on first use, so their components are in the schema and pass the gate; their problems, if any."""
        from engine.plugins import load_plugins

        return load_plugins(self.paths.plugins)

    def schema(self) -> dict[str, Any]:
        if self._schema is None:
            from engine.schema.json_schema import metaprogram_schema

            self.plugins()

            self._schema = metaprogram_schema(self.caps)
        return self._schema

    def list_components(self) -> dict[str, Any]:
        schema = self.schema()
        out: dict[str, Any] = {}
        for kind in ("model", "dataset", "pipeline"):
            out[kind] = []
            for branch in schema["properties"][kind]["oneOf"]:
                key = branch["$ref"].rsplit("/", 1)[-1]
                out[kind].append({"name": key.split(".", 1)[1], "description": schema["$defs"][key].get("description")})
        return {
            "components": out,
            "seed": schema["properties"]["seed"],
            "hint": "describe('model.mlp') gives a component's settings; a metaprogram is "
            "{model: {name, ...}, dataset: {name, ...}, pipeline: {name, ...}, seed}, settings left out take "
            "their defaults",
        }

    def describe(self, component: str) -> dict[str, Any]:
        from engine.errors import did_you_mean

        schema = self.schema()
        names = [k for k in schema["$defs"] if k.split(".", 1)[0] in ("model", "dataset", "pipeline")]
        key = component if "." in component else None
        if key is None:  # a bare name: fine when one kind has it
            matches = [k for k in names if k.split(".", 1)[1] == component]
            key = matches[0] if len(matches) == 1 else None
            if len(matches) > 1:
                raise Refused(f"{component!r} names a {' and a '.join(m.split('.')[0] for m in matches)}: "
                              f"say which, e.g. {matches[0]!r}")  # fmt: skip
        if key not in names:
            raise Refused(f"no component {component!r}; {did_you_mean(component, names)} (list_components lists them)")
        body = schema["$defs"][key]
        return {
            "component": key,
            "description": body.get("description"),
            "settings": {k: v for k, v in body["properties"].items()},
            "required": body.get("required", []),
            "rules": body.get("allOf", []),
            "$defs": _referenced(body, schema["$defs"]),
        }

    # ---- validation
    def parse(self, metaprogram: Any) -> Any:
        """The agent's metaprogram as plain data: a JSON object as it is, YAML text through the one safe loader."""
        if isinstance(metaprogram, str):  # bounded (bytes, depth, nodes, strings) by the loader itself
            import yaml

            from engine.strict_yaml import load

            try:
                return load(metaprogram, "agent input")
            except yaml.YAMLError as exc:
                raise Refused(
                    f"invalid metaprogram text: {' '.join(str(exc).split())}\nNothing was run or written."
                ) from None
        return metaprogram

    def check(self, metaprogram: Any) -> Any:
        """The validated Metaprogram; Refused with every error, as the command line prints them."""
        from engine.metaprogram import MetaprogramError, validate

        raw = self.parse(metaprogram)
        problems = self.plugins()
        if problems:
            raise Refused("the server's plugins did not load: " + "; ".join(problems))
        try:
            return validate(raw, trusted=False, caps=self.caps, source="(agent input)", paths=self.paths)
        except MetaprogramError as exc:
            raise Refused(exc.render() + "\nNothing was run or written.") from None

    def validate(self, metaprogram: Any) -> dict[str, Any]:
        mp = self.check(metaprogram)
        return {
            "valid": True,
            "id": mp.id,
            "objective": dict(zip(("metric", "mode"), mp.objective(), strict=True)),
            "resolved": mp.canonical,
        }

    # ---- runs
    def run(self, metaprogram: Any) -> dict[str, Any]:
        from engine.records import RunRecord

        mp = self.check(metaprogram)
        with self._lock:
            self._enforce()
            done = RunRecord(self.paths.run_dir(mp.id)).completed()
            if done is not None:
                return {"id": mp.id, "status": "completed", "reused": True, "objective": done.get("objective"),
                        "note": "this metaprogram already ran: its results are reused (same id)"}  # fmt: skip
            job = self.jobs.get(mp.id)
            if job is not None and job.process is not None and job.process.poll() is None:
                return {"id": mp.id, "status": "running", "reused": False, "note": "already running in this session"}
            self._within_limits()
            self.jobs[mp.id] = self._start(mp)
        return {"id": mp.id, "status": "started", "reused": False, "note": "status(id) follows it; cancel(id) stops it"}

    def _within_limits(self, slots: int = 1) -> None:
        running = [j for j in self.jobs.values() if j.process is not None and j.process.poll() is None]
        busy = sum(j.slots for j in running)
        if busy + slots > self.limits.max_concurrent_runs:
            raise Refused(
                f"{busy} runs are already running in this session ({', '.join(j.id for j in running)}), and it "
                f"may run {self.limits.max_concurrent_runs} at once: wait for one (status) or cancel one"
            )
        used = self.cpu_seconds()
        if used >= self.limits.max_cpu_seconds:
            raise Refused(f"this session's runs have used {used:.0f} CPU seconds, its cap of "
                          f"{self.limits.max_cpu_seconds:g}: no more runs start in it")  # fmt: skip
        disk = self.disk_mb()
        if disk >= self.limits.max_disk_mb:
            raise Refused(f"this session's run directories take {disk:.0f} MB, its cap of "
                          f"{self.limits.max_disk_mb:g} MB: no more runs start in it")  # fmt: skip

    def _start(self, mp: Any) -> Job:
        return self._spawn(mp.id, {"metaprogram": mp.canonical})

    def _spawn(self, key: str, work: dict[str, Any], slots: int = 1) -> Job:
        """agent_server.worker in its own process group, given `work` (already validated) on stdin."""
        jobs = self.folder / "jobs"
        jobs.mkdir(parents=True, exist_ok=True)
        progress, log = jobs / f"{key}.json", jobs / f"{key}.log"
        atomic_write(progress, json.dumps({"status": "starting", "metrics": {}, "updated": time.time()}))
        payload = {**work, "caps": asdict(self.caps), "paths": self.paths.model_dump(), "progress": str(progress)}
        with open(log, "ab") as out:
            process = subprocess.Popen(
                [sys.executable, "-B", "-m", "agent_server.worker"],
                stdin=subprocess.PIPE,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=str(Path(__file__).resolve().parent.parent),
                start_new_session=True,  # its own process group: cancel stops the run and what it started
            )
        assert process.stdin is not None
        process.stdin.write(json.dumps(payload).encode())
        process.stdin.close()
        return Job(key, process, progress, log, slots=slots)

    def _job(self, run_id: str) -> Job | None:
        if run_id in self.jobs:
            return self.jobs[run_id]
        matches = [j for k, j in self.jobs.items() if k.startswith(run_id)] if run_id else []
        return matches[0] if len(matches) == 1 else None

    def status(self, run_id: str) -> dict[str, Any]:
        from engine.records import RunRecord

        with self._lock:
            self._enforce()
        job = self._job(run_id)
        if job is not None:
            progress = _read_json(job.progress) or {}
            alive = job.process is not None and job.process.poll() is None
            status = progress.get("status", "starting")
            if not alive and status not in TERMINAL:  # it ended before it could say how: its record says
                record = RunRecord(self.paths.run_dir(job.id)).results() or {}
                status = record.get("status", "interrupted" if job.stopped_for else "failed")
            answer = {
                "id": job.id,
                "status": status,
                "metrics": progress.get("metrics", {}),
                "elapsed_s": round(time.time() - job.started, 1),
                "cpu_s": round(self._job_cpu(job), 2),
            }
            for key in ("error", "reused"):
                if progress.get(key) is not None:
                    answer[key] = progress[key]
            if job.stopped_for:
                answer["stopped_for"] = job.stopped_for
            return answer
        run = self.find_run(run_id)
        return {"id": run["id"], "status": run["status"], "metrics": run["metrics"], "error": run["error"],
                "note": "not started by this session: read from the runs table"}  # fmt: skip

    def cancel(self, run_id: str) -> dict[str, Any]:
        job = self._job(run_id)
        if job is None:
            raise Refused(f"no run {run_id!r} was started by this session; a session cancels only its own runs")
        if job.process is None or job.process.poll() is not None:
            return {"id": job.id, "status": self.status(job.id)["status"], "note": "it had already ended"}
        self._stop(job, "cancelled by the agent")
        return {"id": job.id, "status": self.status(job.id)["status"]}

    def _stop(self, job: Job, reason: str, wait: float = 30.0) -> None:
        """SIGTERM to the run's process group: the engine records the run as interrupted."""
        job.stopped_for = reason
        assert job.process is not None
        try:
            os.killpg(job.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        try:
            job.process.wait(wait)
        except subprocess.TimeoutExpired:
            os.killpg(job.process.pid, signal.SIGKILL)
            job.process.wait()
        self._collect(job)

    # ---- the caps
    def _job_cpu(self, job: Job) -> float:
        """CPU seconds of one run: sampled while it runs, the last sample once it has ended."""
        if job.process is not None and job.process.poll() is None:
            job.cpu_seconds = max(job.cpu_seconds, _process_tree_cpu(job.process.pid))
        return job.cpu_seconds

    def _collect(self, job: Job) -> None:
        job.process = None  # reaped: the kernel counts its CPU time among this process's children

    def cpu_seconds(self) -> float:
        """CPU seconds of every run this session started: the ended ones as the kernel counted them (this server
        starts no other process), the running ones sampled."""
        import resource

        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        live = sum(self._job_cpu(j) for j in self.jobs.values() if j.process is not None and j.process.poll() is None)
        return usage.ru_utime + usage.ru_stime + live

    def disk_mb(self) -> float:
        total = 0
        for run_id in self.jobs:
            folder = self.paths.run_dir(run_id)
            total += sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else 0
        return total / 2**20

    def _enforce(self) -> None:
        """Collect ended runs; stop running ones once the session is over its CPU or disk cap."""
        for job in self.jobs.values():
            if job.process is not None and job.process.poll() is not None:
                self._collect(job)
        over = None
        if self.cpu_seconds() > self.limits.max_cpu_seconds:
            over = f"the session's CPU-time cap ({self.limits.max_cpu_seconds:g} s)"
        elif self.disk_mb() > self.limits.max_disk_mb:
            over = f"the session's disk cap ({self.limits.max_disk_mb:g} MB)"
        if over:
            for job in self.jobs.values():
                if job.process is not None and job.process.poll() is None:
                    self._stop(job, f"over {over}")

    def watch(self, every: float = 1.0) -> threading.Thread:
        """A thread that enforces the caps while runs go on, between the agent's calls."""

        def loop() -> None:
            while True:
                time.sleep(every)
                with self._lock:
                    self._enforce()

        thread = threading.Thread(target=loop, name="mcp-caps", daemon=True)
        thread.start()
        return thread

    def close(self) -> None:
        """The client has gone: stop what it started (recorded as interrupted)."""
        with self._lock:
            for job in self.jobs.values():
                if job.process is not None and job.process.poll() is None:
                    self._stop(job, "the client disconnected", wait=10)

    # ---- sweeps, studies, the planner
    def sweep(self, spec: Any) -> dict[str, Any]:
        """Check a sweep spec as untrusted input, then start its Ray Tune study in the background."""
        from pydantic import ValidationError

        from util.sweep_spec import Sweep, TuneSettings

        if not isinstance(spec, dict):
            raise Refused(f"a sweep spec is a mapping with {', '.join(SWEEP_KEYS)}")
        errors = [f"{k}: unknown key; {_near(k, SWEEP_KEYS)}" for k in spec if k not in SWEEP_KEYS]
        if "base" not in spec or "space" not in spec:
            errors.append("base (a metaprogram) and space (dotted key -> {type, values | low, high}) are required")
        algorithm = spec.get("algorithm", "random")
        if algorithm not in ALGORITHMS:
            errors.append(f"algorithm: {algorithm!r} is not offered here; {_near(str(algorithm), ALGORITHMS)}")
        count, concurrency = spec.get("count", 8), spec.get("concurrency", 1)
        for key, value, high in (("count", count, self.limits.max_sweep_trials),
                                 ("concurrency", concurrency, self.limits.max_concurrent_runs)):  # fmt: skip
            if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
                errors.append(f"{key}: must be an integer from 1 to {high} (this session's cap), got {value!r}")
        mp = None
        if "base" in spec:
            from engine.metaprogram import MetaprogramError, validate

            try:
                mp = validate(self.parse(spec["base"]), trusted=False, caps=self.caps, paths=self.paths)
            except MetaprogramError as exc:
                errors += [f"base.{e}" for e in exc.errors]
        space = spec.get("space")
        if mp is not None and space is not None:
            errors += self._space_errors(mp, space)
        settings = {"algorithm": algorithm if algorithm in ALGORITHMS else "random"}
        if settings["algorithm"] == "planner" and self.planner:  # the server's planner, configured, never the agent's
            settings["planner_checkpoint"] = self.planner
        settings["concurrency"] = concurrency if not any(e.startswith("concurrency") for e in errors) else 1
        for key in ("scheduler", "time_budget_s"):
            if spec.get(key) is not None:
                settings[key] = spec[key]
        try:
            tune = TuneSettings.model_validate(settings)
        except ValidationError as exc:
            errors += [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        objective = spec.get("objective")
        if objective is not None:
            from util.sweep_objective import objective_errors

            errors += [f"objective: {e}" for e in objective_errors(objective)]
        seed = spec.get("seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**31:
            errors.append(f"seed: must be an integer in [0, 2**31), got {seed!r}")
        if errors:
            raise Refused(_render("sweep", errors))
        from util.sweep_objective import from_dict

        sweep = Sweep("agent", None, {}, [], space, mode="tune", count=count, seed=seed, suite="agent", tune=tune,
                      objective=from_dict(objective) if objective is not None else None)  # fmt: skip
        sweep._base = (mp, self.paths)
        study_id = sweep.study_id
        with self._lock:
            self._enforce()
            existing = self._study_row(study_id)
            if existing is not None and existing["status"] == "complete":
                return {"study": study_id, "status": "complete", "reused": True,
                        "note": "this sweep already ran to the end: study(id) reads it"}  # fmt: skip
            job = self.jobs.get(study_id)
            if job is not None and job.process is not None and job.process.poll() is None:
                return {"study": study_id, "status": "running", "reused": False, "note": "already running"}
            self._within_limits(slots=concurrency)
            work = {"sweep": {"base": mp.canonical, "space": space, "count": count, "seed": seed,
                              "tune": tune.model_dump(), "objective": objective}}  # fmt: skip
            job = self._spawn(study_id, work, slots=concurrency)
            job.study = study_id
            self.jobs[study_id] = job
        return {"study": study_id, "status": "started", "trials": count, "reused": False,
                "note": "study(id) follows it; cancel(id) stops it"}  # fmt: skip

    def _space_errors(self, mp: Any, space: Any) -> list[str]:
        """Every value a trial may take is checked as untrusted input: each choice, each end of each range."""
        from engine.metaprogram import MetaprogramError, validate
        from util.search_space import CATEGORICAL, apply_params, space_errors

        errors = space_errors(space)
        if errors:
            return errors
        for key, spec in sorted(space.items()):
            if spec["type"] in CATEGORICAL:
                values = spec["values"]
            elif spec["type"] == "randint":
                values = [int(spec["low"]), int(spec["high"]) - 1]
            else:
                values = [spec["low"], spec["high"]]
            for value in values:
                try:
                    validate(apply_params(mp.canonical, {key: value}), trusted=False, caps=self.caps, paths=self.paths)
                except MetaprogramError as exc:
                    errors += [f"space.{key} = {value!r}: {e}" for e in exc.errors]
        return errors

    def _study_row(self, study_id: str) -> dict[str, Any] | None:
        from database.store import DB_NAME, Database

        db_file = self.paths.root("output_root") / DB_NAME
        if not db_file.is_file():
            return None
        with Database(str(db_file)) as db:
            return db.study(study_id)

    def study(self, study_id: str) -> dict[str, Any]:
        from database.export import study_line

        row = self._study_row(study_id)
        job = self.jobs.get(study_id)
        if row is None:
            if job is not None:
                return {"study": study_id, "status": (_read_json(job.progress) or {}).get("status", "starting"),
                        "trials": []}  # fmt: skip
            from database.store import DB_NAME, Database

            db_file = self.paths.root("output_root") / DB_NAME
            names = []
            if db_file.is_file():
                with Database(str(db_file)) as db:
                    names = [s["id"] for s in db.studies()]
            raise Refused(f"no study {study_id!r}; {_near(study_id, names) if names else 'no study has run here yet'}")
        line = study_line(row)
        answer = {"study": study_id, "status": row["status"], **{k: v for k, v in line.items() if k != "base"}}
        scored = [t for t in row["trials"] if t["objective"] is not None and t["status"] != "failed"]
        if scored:
            best = (min if row["mode"] == "min" else max)(scored, key=lambda t: t["objective"])
            answer["best"] = {"objective": best["objective"], "params": best["params"], "run_id": best["run_id"]}
        if job is not None:
            progress = _read_json(job.progress) or {}
            alive = job.process is not None and job.process.poll() is None
            answer["sweep"] = "running" if alive else progress.get("status", "ended")
            if progress.get("error"):
                answer["error"] = progress["error"]
        return answer

    def propose(self, study_id: str) -> dict[str, Any]:
        """The planner's next trial for a study: its parameters and predicted objective (nothing is run)."""
        from database.export import study_line

        row = self._study_row(study_id)
        if row is None:
            self.study(study_id)  # raises with the studies there are
        folder = self.folder / "propose"
        folder.mkdir(parents=True, exist_ok=True)
        study_file = folder / f"{hashlib.sha256(study_id.encode()).hexdigest()[:16]}.json"  # a name of our own
        atomic_write(study_file, json.dumps(study_line(row)))
        done = subprocess.run(
            [sys.executable, "-B", "-m", "planner.propose", "--study", str(study_file),
             *(["--checkpoint", self.planner] if self.planner else [])],  # none: the shipped planner
            capture_output=True, text=True, timeout=600, cwd=str(Path(__file__).resolve().parent.parent),
        )  # fmt: skip
        if done.returncode != 0:
            raise Refused(" ".join((done.stderr.strip().splitlines() or ["the planner failed"])[-1:]))
        return {"study": study_id, **json.loads(done.stdout)}

    # ---- the runs table
    def _table(self) -> tuple[list[dict[str, Any]], Any]:
        from database import runs as table
        from database.store import DB_NAME, Database

        root = self.paths.root("output_root")
        if not (root / DB_NAME).is_file():  # reading creates nothing: the run directories, if any
            found = [table.from_run_dir(folder) for folder in table._run_dirs(root)]
            return [run for run in found if run is not None], table
        with Database(str(root / DB_NAME)) as db:
            return table.load_runs(db, root), table

    def find_run(self, run_id: str) -> dict[str, Any]:
        from database.runs import RunsError

        everything, table = self._table()
        try:
            return table.find(everything, run_id)
        except RunsError as exc:
            raise Refused(str(exc)) from None

    def runs(
        self,
        filter: dict[str, Any] | None = None,
        sort: str | None = None,
        descending: bool | None = None,
        columns: list[str] | None = None,
        limit: int | None = 50,
    ) -> dict[str, Any]:
        from database.runs import RunsError

        everything, table = self._table()
        filters = dict(filter or {})
        known = ("pipeline", "model", "dataset", "status", "study", "since", "until", "where")
        unknown = [k for k in filters if k not in known]
        if unknown:
            from engine.errors import did_you_mean

            raise Refused(f"filter {unknown[0]!r}: unknown; {did_you_mean(str(unknown[0]), list(known))}")
        where = filters.pop("where", None) or {}
        if not isinstance(where, dict):
            raise Refused("filter.where: expected a mapping of setting or metric to the value it equals")
        try:
            chosen, shown = table.query(
                everything,
                columns=columns,
                sort=sort,
                descending=descending,
                limit=limit,
                where=where,
                **{k: None if v is None else str(v) for k, v in filters.items()},
            )
        except RunsError as exc:
            raise Refused(str(exc)) from None
        rows = [{c: table.value_of(run, c) for c in shown} for run in chosen]
        return {"columns": shown, "rows": rows, "total": len(everything), "shown": len(rows)}

    def show(self, run_id: str) -> dict[str, Any]:
        from database.runs import render_show

        run = self.find_run(run_id)
        return {"run": _without_paths(run), "text": render_show(run)}

    def diff(self, a: str, b: str) -> dict[str, Any]:
        from database.runs import diff, render_diff

        d = diff(self.find_run(a), self.find_run(b))
        shown = {**d, "a": _without_paths(d["a"]), "b": _without_paths(d["b"])}
        return {"diff": shown, "text": render_diff(d)}


def _near(name: str, options: Any) -> str:
    from engine.errors import did_you_mean

    return did_you_mean(name, list(options))


def _render(what: str, errors: list[str]) -> str:
    return "\n".join([f"invalid {what}: {len(errors)} error(s)", *[f"  - {e}" for e in errors], "Nothing was run."])


def _without_paths(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k not in ("run_dir",)}


def _referenced(body: Any, defs: dict[str, Any], found: dict[str, Any] | None = None) -> dict[str, Any]:
    """The $defs a schema refers to, transitively."""
    found = {} if found is None else found
    if isinstance(body, dict):
        ref = body.get("$ref")
        if isinstance(ref, str):
            key = ref.rsplit("/", 1)[-1]
            if key not in found:
                found[key] = defs[key]
                _referenced(defs[key], defs, found)
        for value in body.values():
            _referenced(value, defs, found)
    elif isinstance(body, list):
        for value in body:
            _referenced(value, defs, found)
    return found


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _process_tree_cpu(pid: int) -> float:
    """CPU seconds of a running process and its children (psutil), 0 when it has gone."""
    import psutil

    try:
        root = psutil.Process(pid)
        total = 0.0
        for process in [root, *root.children(recursive=True)]:
            try:
                times = process.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.Error:
                continue
        return total
    except psutil.Error:
        return 0.0
