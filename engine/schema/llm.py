"""What the LLM schemas share: where standards and local lm-eval tasks are, and how their names are checked.

The schemas themselves: engine/schema/llm_models.py, llm_data.py and llm_pipelines.py.

Standards (named presets under configs/standards/) are referred to by name: a
compression scheme, an evaluation suite, a benchmarking load. Their names are
checked here by listing that folder (no heavy import); their content is read
at run time and passed to llm-compressor, lm-eval and guidellm unchanged.
"""

from __future__ import annotations

from pathlib import Path

from engine.errors import did_you_mean

CONFIG_DIR = Path(__file__).resolve().parent.parent.parent / "configs"
STANDARDS_DIR = CONFIG_DIR / "standards"
TASKS_DIR = CONFIG_DIR / "lm_eval_tasks"
LANGUAGE_MODELING = "language_modeling"


def standard_names(kind: str) -> list[str]:
    """Names of the standards of one kind: compression, evaluation or benchmarking."""
    return sorted(p.stem for p in (STANDARDS_DIR / kind).glob("*.yaml"))


def local_task_names() -> list[str]:
    """lm-eval tasks shipped as YAML under configs/lm_eval_tasks (offline, data via path.data_root)."""
    return sorted(p.stem for p in TASKS_DIR.glob("*.yaml"))


def check_standard(kind: str, name: str | None) -> str | None:
    if name is not None and name not in standard_names(kind):
        raise ValueError(f"unknown {kind} standard {name!r}; {did_you_mean(name, standard_names(kind))}")
    return name
