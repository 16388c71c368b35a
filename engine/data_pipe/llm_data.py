"""Data of the `lm_tasks` dataset component: calibration text for llm-compressor, task specs for lm-eval.

Calibration text comes from one source (a local JSONL or text file, a `datasets`
folder saved to disk, a hub set, or generated sentences). Evaluation tasks
come from an evaluation standard or an explicit list; local tasks are copied
from configs/lm_eval_tasks into the run directory with their data file
replaced by its resolved path, so lm-eval reads them unchanged.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.atomic import atomic_write
from engine.paths import Paths
from engine.schema.base import hub_location
from engine.schema.llm import STANDARDS_DIR, TASKS_DIR, local_task_names


class DataFileMissing(FileNotFoundError):
    pass


# ----------------------------------------------------------------------------- calibration


def calibration_texts(ds_cfg, paths: Paths, n: int, seed: int = 0) -> list[str]:
    """Up to `n` non-empty calibration texts from the configured source."""
    cal = ds_cfg.calibration
    if cal.source == "generated":
        from engine.models.llm.tiny_llama import corpus

        sentences = corpus(n * 8, seed)
        return [" ".join(sentences[i : i + 8]) for i in range(0, len(sentences), 8)][:n]
    if cal.source == "file":
        path = _existing(paths.data_file(cal.file), "dataset.calibration.file")
        texts = _file_texts(path, cal.text_field)
    else:
        texts = _datasets_texts(cal, paths)
    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise ValueError(f"dataset.calibration: no text found (text_field={cal.text_field!r})")
    return texts[:n]


def calibration_dataset(ds_cfg, paths: Paths, n: int, seed: int = 0):
    """The calibration texts as an in-memory `datasets.Dataset` with a `text` column (what oneshot takes)."""
    from datasets import Dataset

    return Dataset.from_dict({"text": calibration_texts(ds_cfg, paths, n, seed)})


def _file_texts(path: Path, field: str) -> list[str]:
    if path.suffix in (".jsonl", ".json"):
        texts = []
        with path.open() as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                record = json.loads(line)
                if field not in record:
                    raise ValueError(
                        f"dataset.calibration.text_field: {field!r} is not in {path.name} line {number} "
                        f"(keys: {', '.join(record)})"
                    )
                texts.append(str(record[field]))
        return texts
    return [line.strip() for line in path.read_text().splitlines()]


def _datasets_texts(cal, paths: Paths) -> list[str]:
    import datasets

    if cal.source == "disk":
        folder = _existing(paths.data_file(cal.disk), "dataset.calibration.disk")
        data = datasets.load_from_disk(str(folder))
        if isinstance(data, datasets.DatasetDict):
            if cal.split not in data:
                raise ValueError(f"dataset.calibration.split: {cal.split!r} not in {list(data)}")
            data = data[cal.split]
    else:
        try:
            data = datasets.load_dataset(hub_location(cal.hub, paths), cal.hub_config, split=cal.split)
        except Exception as exc:
            raise RuntimeError(
                f"dataset.calibration.hub: cannot load {cal.hub!r}: {type(exc).__name__}: {exc}"
            ) from exc
    if cal.text_field not in data.column_names:
        raise ValueError(f"dataset.calibration.text_field: {cal.text_field!r} not in columns {data.column_names}")
    return [str(t) for t in data[cal.text_field]]


def _existing(path: Path, setting: str) -> Path:
    if not path.exists():
        raise DataFileMissing(f"{setting}: data file {path} does not exist (relative paths start at path.data_root)")
    return path


# ----------------------------------------------------------------------------- evaluation tasks


@dataclass(frozen=True)
class TaskSpec:
    name: str
    metric: str | None = None  # "acc_norm" or "exact_match,flexible-extract"; None: the task's first metric
    num_fewshot: int | None = None
    random_baseline: float = 0.0

    @property
    def local(self) -> bool:
        return self.name in local_task_names()


def task_specs(ds_cfg) -> list[TaskSpec]:
    if ds_cfg.suite is not None:
        suite = yaml.safe_load((STANDARDS_DIR / "evaluation" / f"{ds_cfg.suite}.yaml").read_text())
        return [TaskSpec(**entry) for entry in suite["tasks"]]
    return [TaskSpec(name) for name in ds_cfg.tasks]


_DATA_FILES = re.compile(r"^(\s*)data_files:\s*\n((?:\1\s+\w+:.*\n)+)", re.MULTILINE)
_ENTRY = re.compile(r"^(\s+)(\w+):\s*(\S+)\s*$")


def local_task_files(ds_cfg, paths: Paths) -> dict[tuple[str, str], Path]:
    """(task, split) -> the data file a local task reads: dataset.data_files.<task>, else its own, under data_root."""
    overrides = ds_cfg.data_files or {}
    found = {}
    for spec in task_specs(ds_cfg):
        if not spec.local:
            continue
        for block in _DATA_FILES.finditer((TASKS_DIR / f"{spec.name}.yaml").read_text()):
            for line in block.group(2).splitlines():
                _, split, name = _ENTRY.match(line).groups()
                found[(spec.name, split)] = paths.data_file(overrides.get(spec.name) or name)
    return found


def prepare_local_tasks(specs: list[TaskSpec], ds_cfg, paths: Paths, dest: Path) -> Path | None:
    """Copy the local tasks in `specs` to `dest` with data files resolved; the folder for lm-eval's include_path."""
    local = [s for s in specs if s.local]
    if not local:
        return None
    dest.mkdir(parents=True, exist_ok=True)
    for helper in TASKS_DIR.glob("*.py"):
        shutil.copy(helper, dest / helper.name)
    overrides = ds_cfg.data_files or {}
    for spec in local:
        text = (TASKS_DIR / f"{spec.name}.yaml").read_text()
        name, override = spec.name, overrides.get(spec.name)
        text = _DATA_FILES.sub(lambda m, name=name, override=override: _resolve_block(m, name, override, paths), text)
        atomic_write(dest / f"{spec.name}.yaml", text)
    return dest


def _resolve_block(match: re.Match, task: str, override: str | None, paths: Paths) -> str:
    lines = []
    for line in match.group(2).splitlines():
        indent, split, name = _ENTRY.match(line).groups()
        path = paths.data_file(override or name)
        if not path.is_file():
            raise DataFileMissing(
                f"task {task}: data file {path} does not exist; put {name} under path.data_root "
                f"or set dataset.data_files.{task}"
            )
        lines.append(f"{indent}{split}: {json.dumps(str(path))}")
    return f"{match.group(1)}data_files:\n" + "\n".join(lines) + "\n"
