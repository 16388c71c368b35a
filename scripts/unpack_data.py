"""Unpack the evaluation data that travels with the repository: data/*.jsonl.xz -> *.jsonl.

Run:  make data                                   (make demo and make test run it)
      python3 -B scripts/unpack_data.py [--into DIR]   (DIR: another path.data_root; default data/)
Each unpacked file is checked against data/SHA256SUMS. A file already in place is left alone, so a copy
you changed on purpose is never overwritten (it is reported as differing). Standard library only: it runs
before any environment is installed.
"""

from __future__ import annotations

import argparse
import hashlib
import lzma
import os
import shutil
import sys
import tempfile
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "data"


def expected_sums(data: Path = DATA) -> dict[str, str]:
    """File name -> sha256, from SHA256SUMS (the format `sha256sum` writes)."""
    sums = {}
    for line in (data / "SHA256SUMS").read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*")] = digest
    return sums


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def unpack(into: Path = DATA, data: Path = DATA) -> dict[str, str]:
    """Unpack every shipped archive into `into`; returns name -> 'unpacked' | 'present' | 'differs'."""
    sums, report = expected_sums(data), {}
    into.mkdir(parents=True, exist_ok=True)
    for archive in sorted(data.glob("*.xz")):
        name = archive.name.removesuffix(".xz")
        target = into / name
        if target.exists():
            report[name] = "present" if sha256(target) == sums.get(name) else "differs"
            continue
        # Write beside the target and rename: an interrupted unpack never leaves half a file.
        fd, tmp = tempfile.mkstemp(dir=into, prefix=f".{name}.")
        try:
            with os.fdopen(fd, "wb") as out, lzma.open(archive) as source:
                shutil.copyfileobj(source, out, 1 << 20)
            if sha256(Path(tmp)) != sums.get(name):
                raise RuntimeError(f"{archive}: unpacked content does not match data/SHA256SUMS")
            os.replace(tmp, target)
        finally:
            Path(tmp).unlink(missing_ok=True)
        report[name] = "unpacked"
    return report


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--into", type=Path, default=DATA, help="the data root to unpack into (default: data/)")
    args = parser.parse_args()
    try:
        report = unpack(args.into.expanduser().resolve())
    except (OSError, lzma.LZMAError, RuntimeError) as exc:
        print(f"make data: {exc}", file=sys.stderr)
        return 1
    for name, status in report.items():
        note = " (kept: it differs from the shipped copy)" if status == "differs" else ""
        print(f"{args.into / name}: {status}{note}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
