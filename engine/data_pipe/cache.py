"""The node cache: one self-checking file per cache key, written atomically.

A file is `MAGIC`, an 8-byte header length, a JSON header (payload length and
sha256, the node's metadata) and the payload (an uncompressed .npz, read back
with allow_pickle=False). Writes go to a temporary file in the same folder,
are flushed to disk and renamed over the target, so a reader sees either no
file or a whole one; two runs writing the same key both leave a whole file.
A truncated or corrupt file fails its length or checksum and counts as a miss.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
from pathlib import Path

import numpy as np

from engine.atomic import atomic_write
from engine.data_pipe.frame import Data

MAGIC = b"MPCACHE1"
_LEN = struct.Struct("<Q")


class CorruptCache(ValueError):
    pass


class NodeCache:
    def __init__(self, root: Path):
        self.root = Path(root)

    def path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.mpc"

    def exists(self, key: str) -> bool:
        """Cheap check without reading the payload: the header's length matches the file's."""
        try:
            header, start = _read_header(self.path(key))
            return self.path(key).stat().st_size == start + header["length"]
        except (OSError, CorruptCache):
            return False

    def load(self, key: str) -> Data | None:
        """The cached data, or None when missing; raises CorruptCache when the file is damaged."""
        path = self.path(key)
        if not path.exists():
            return None
        header, start = _read_header(path)
        with path.open("rb") as handle:
            handle.seek(start)
            payload = handle.read()
        if len(payload) != header["length"]:
            raise CorruptCache(f"{path}: truncated ({len(payload)} of {header['length']} bytes)")
        if hashlib.sha256(payload).hexdigest() != header["sha256"]:
            raise CorruptCache(f"{path}: checksum mismatch")
        with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
            arrays = {name: npz[member] for member, name in zip(header["arrays"], header["names"], strict=True)}
        return Data(arrays, header["meta"])

    def store(self, key: str, data: Data) -> Path:
        buffer = io.BytesIO()
        names = list(data.arrays)
        # npz member names cannot hold '/': store under positional names, keep the real names in the header
        np.savez(buffer, **{f"a{i}": data.arrays[n] for i, n in enumerate(names)})
        payload = buffer.getvalue()
        header = json.dumps(
            {
                "length": len(payload),
                "sha256": hashlib.sha256(payload).hexdigest(),
                "arrays": [f"a{i}" for i in range(len(names))],
                "names": names,
                "meta": data.meta,
            }
        ).encode()
        path = self.path(key)
        atomic_write(path, MAGIC + _LEN.pack(len(header)) + header + payload)  # readers never see a partial file
        return path


def _read_header(path: Path) -> tuple[dict, int]:
    with path.open("rb") as handle:
        head = handle.read(len(MAGIC) + _LEN.size)
        if len(head) < len(MAGIC) + _LEN.size or not head.startswith(MAGIC):
            raise CorruptCache(f"{path}: not a cache file")
        (size,) = _LEN.unpack(head[len(MAGIC) :])
        raw = handle.read(size)
    if len(raw) != size:
        raise CorruptCache(f"{path}: truncated header")
    try:
        header = json.loads(raw)
    except ValueError:
        raise CorruptCache(f"{path}: unreadable header") from None
    return header, len(MAGIC) + _LEN.size + size
