"""Atomic writes: a reader (another run, a resumed run, a sweep reading results) never sees half a file.

Every result file, cache entry, checkpoint and built model folder is written through here:
`atomic_write` for text or bytes, `atomic_path` for writers that want a path (torch.save,
savefig, a folder built in place).
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def atomic_path(path: Path, *, folder: bool = False) -> Iterator[Path]:
    """A temporary path beside `path`, renamed onto it when the block succeeds, removed otherwise.

    With `folder=True` the temporary path is an empty folder; renaming it onto an existing,
    non-empty folder raises OSError (another process finished first), and the temporary one is removed.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # unique per process and call, so concurrent writers never share one; the suffix keeps the
    # extension that savefig and friends read the format from
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp{path.suffix}")
    if folder:
        tmp.mkdir()
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if folder:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            tmp.unlink(missing_ok=True)


def atomic_write(path: Path, data: str | bytes) -> None:
    """Write `data` to a temporary file beside `path`, flush it to disk, and rename it into place."""
    with atomic_path(path) as tmp, open(tmp, "xb") as handle:
        handle.write(data.encode() if isinstance(data, str) else data)
        handle.flush()
        os.fsync(handle.fileno())
