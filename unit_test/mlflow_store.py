"""An empty MLflow store for tracking tests (import as `from unit_test.mlflow_store import ...`).

Creating an MLflow SQLite store runs its schema migrations, which take many seconds; the tests make one
per session and copy it where a run's default store goes (<output_root>/mlflow.db).
"""

from __future__ import annotations

import functools
import shutil
import tempfile
from pathlib import Path


@functools.cache
def _template() -> Path:
    import mlflow

    folder = Path(tempfile.mkdtemp(prefix="mlflow-template-"))
    mlflow.MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()  # creates the tables
    return folder / "mlflow.db"


def empty_store(output_root: Path) -> str:
    """Put an empty store at <output_root>/mlflow.db; return its URI."""
    output_root = Path(output_root)
    output_root.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template(), output_root / "mlflow.db")
    return f"sqlite:///{output_root / 'mlflow.db'}"


def client(output_root: Path):
    import mlflow

    return mlflow.MlflowClient(f"sqlite:///{Path(output_root) / 'mlflow.db'}")
