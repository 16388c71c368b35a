"""A run's identity: a hash of what determines its results, and nothing else.

    id = sha256({model, dataset, pipeline, seed} with defaults expanded and observers left out,
                + {setting: sha256 of contents} for every file or folder the metaprogram refers to})

Observers (schemas or settings marked in engine/schema/base.py: progress, plot, lr_logger, mlflow,
wandb, checkpoint, resources) are left out of the hash and recorded beside the id. Values are made
canonical first (`canonical_values`: -0.0 is 0.0, a boolean stays a boolean). File contents are
hashed once per (absolute path, size, mtime, inode, ctime): the digests are kept under
<cache_root>/digests. An edit that restores size and mtime still changes ctime, and a file replaced
by another has another inode. `still_matches` re-reads the files when a run ends, so a run never
records one file's digest while it read another's bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from engine.atomic import atomic_write
from engine.schema.base import Schema, is_observer_field

ID_LENGTH = 16
_CACHE_VERSION = 2  # 2: entries keyed by inode and ctime too


def canonical_values(value: Any) -> Any:
    """One spelling per value before hashing: -0.0 is 0.0; booleans, integers and strings are kept apart
    (json writes True as `true` and 1 as `1`, so they never collide)."""
    if isinstance(value, dict):
        return {key: canonical_values(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [canonical_values(item) for item in value]
    if isinstance(value, float) and value == 0.0:
        return 0.0
    return value


def identity(computation: dict[str, Any], inputs: dict[str, str] | None = None) -> str:
    """The id of a computation (a canonical dict) over inputs ({setting: content digest})."""
    computation = canonical_values(computation)
    hashed = {**computation, "inputs": dict(sorted(inputs.items()))} if inputs else computation
    text = json.dumps(hashed, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()[:ID_LENGTH]


def split_observers(component: Schema, dump: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Remove the observers from `dump` (the component's model_dump) in place; return them by dotted key."""
    removed: dict[str, Any] = {}
    for name in type(component).model_fields:
        if name not in dump:
            continue
        value = getattr(component, name)
        if is_observer_field(type(component), name) or (isinstance(value, Schema) and value.is_observer):
            removed[prefix + name] = dump.pop(name)
        elif isinstance(value, Schema):
            removed.update(split_observers(value, dump[name], f"{prefix}{name}."))
        elif isinstance(value, dict):  # e.g. hooks: {name: settings}
            for key, item in value.items():
                if isinstance(item, Schema) and item.is_observer:
                    removed[f"{prefix}{name}.{key}"] = dump[name].pop(key)
                elif isinstance(item, Schema):
                    removed.update(split_observers(item, dump[name][key], f"{prefix}{name}.{key}."))
        elif isinstance(value, list | tuple):  # e.g. the nodes of a data DAG
            for i, item in enumerate(value):
                if isinstance(item, Schema):
                    removed.update(split_observers(item, dump[name][i], f"{prefix}{name}.{i}."))
    return removed


# ----------------------------------------------------------------------------- content digests

_memo: dict[tuple[str, int, int, int, int], str] = {}  # (path, size, mtime, inode, ctime) -> sha256, this process
_RACY_NS = 2_000_000_000  # a file changed this recently may change again within one mtime tick: not cached


def digest(path: Path, cache_root: Path, *, reread: bool = False) -> str:
    """sha256 of a file's contents, or of a folder's files (relative names and contents).

    Each file is read once per (path, size, mtime, inode, ctime): the digests of one input are kept in
    one small JSON file under <cache_root>/digests, so a large model folder costs a stat per file next
    time. A file modified in the last two seconds is read again next time (as git does with racy
    entries). `reread` ignores every cache: the bytes as they are now.
    """
    path = Path(path).resolve()
    files = [path] if path.is_file() else sorted(_files_under(path))
    cache_file = cache_root / "digests" / (hashlib.sha256(str(path).encode()).hexdigest()[:32] + ".json")
    cached = _read_cache(cache_file, path)
    entries, shas, changed = {}, {}, False
    now = time.time_ns()
    for file in files:
        rel = "" if file == path else file.relative_to(path).as_posix()
        stat = file.stat()
        stamp = [stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns]
        key = (str(file), *stamp)
        known = cached.get(rel)
        if key in _memo and not reread:
            sha = _memo[key]
        elif known and known[:4] == stamp and not reread:
            sha = known[4]
        else:
            with open(file, "rb") as handle:
                sha = hashlib.file_digest(handle, "sha256").hexdigest()
        shas[rel] = sha
        if now - max(stat.st_mtime_ns, stat.st_ctime_ns) > _RACY_NS:
            _memo[key] = sha
            entries[rel] = [*stamp, sha]
        changed |= known != entries.get(rel)
    if changed or entries.keys() != cached.keys():
        try:
            atomic_write(cache_file, json.dumps({"version": _CACHE_VERSION, "path": str(path), "files": entries}))
        except OSError:  # a read-only cache root costs speed, not correctness
            pass
    if path.is_file():
        return shas[""]
    listing = "".join(f"{rel}\0{sha}\n" for rel, sha in sorted(shas.items()))
    return hashlib.sha256(listing.encode()).hexdigest()


def still_matches(inputs: dict[str, dict[str, str]], cache_root: Path) -> list[str]:
    """The settings whose file or folder no longer has the digest recorded when the run began (re-read)."""
    changed = []
    for key, entry in inputs.items():
        try:
            if digest(Path(entry["path"]), cache_root, reread=True) != entry["sha256"]:
                changed.append(key)
        except OSError:
            changed.append(key)
    return changed


def _files_under(folder: Path) -> list[Path]:
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")  # bytecode is rebuilt from the sources hashed
        found += [Path(root) / n for n in names if (Path(root) / n).is_file() and not n.endswith(".pyc")]
    return found


def _read_cache(cache_file: Path, path: Path) -> dict[str, list]:
    try:
        data = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        return {}
    if data.get("version") != _CACHE_VERSION or data.get("path") != str(path):
        return {}
    return data.get("files", {})
