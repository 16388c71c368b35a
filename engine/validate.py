"""Validate metaprogram YAML files in bulk, untrusted by default, without importing torch.

    python -m engine.validate FILE... [--trusted] [--max-cpus N] [--max-gpus N] [--max-memory-gb N]

One line per file: `ok <id> FILE`, or `invalid FILE` followed by its errors.
Exit status 0 when every file is valid, 2 otherwise.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from engine import strict_yaml
from engine.metaprogram import Caps, Metaprogram, MetaprogramError, validate

EXIT_INVALID = 2


def validate_file(path: Path, *, trusted: bool, caps: Caps = Caps()) -> Metaprogram:
    """Read one YAML file and validate it; raise MetaprogramError naming the file."""
    try:
        raw: Any = strict_yaml.load_file(path)
    except OSError as exc:
        raise MetaprogramError([f"cannot read: {exc.strerror or exc}"], str(path)) from None
    except strict_yaml.UnsafeYAML as exc:  # the message without the file name, which the report names
        raise MetaprogramError([str(exc).removeprefix(f"{path}: ")], str(path)) from None
    if trusted and isinstance(raw, dict) and "defaults" in raw:
        return _compose_config_file(path)
    if trusted and isinstance(raw, dict):
        raw = _resolve(raw, str(path))
    return validate(raw, trusted=trusted, caps=caps, source=str(path))


def _compose_config_file(path: Path) -> Metaprogram:
    """A hand-written metaprogram with a defaults list, composed by Hydra from configs/."""
    from engine.compose import CONFIG_DIR, load

    try:
        name = path.resolve().relative_to(CONFIG_DIR).with_suffix("")
    except ValueError:
        raise MetaprogramError(
            [f"a defaults list is composed by Hydra: keep the file under {CONFIG_DIR}"], str(path)
        ) from None
    try:
        return load([], config_name=str(name)).metaprogram
    except MetaprogramError as exc:
        raise MetaprogramError(exc.errors, str(path)) from None


def _resolve(raw: dict, source: str) -> dict:
    """Trusted files may use interpolations; resolve them as Hydra would."""
    from omegaconf import OmegaConf

    try:
        return OmegaConf.to_container(OmegaConf.create(raw), resolve=True)
    except Exception as exc:
        raise MetaprogramError([str(exc).splitlines()[0]], source) from None


def main(argv: list[str] | None = None) -> int:
    from engine.boundary import guarded

    return guarded(_main, sys.argv[1:] if argv is None else argv)


def _main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m engine.validate", description=__doc__.split("\n\n")[0])
    parser.add_argument("files", nargs="+", type=Path, help="metaprogram YAML files")
    parser.add_argument("--trusted", action="store_true", help="hand-written files: allow interpolations and paths")
    parser.add_argument("--max-cpus", type=float, default=Caps.cpus)
    parser.add_argument("--max-gpus", type=float, default=Caps.gpus)
    parser.add_argument("--max-memory-gb", type=float, default=Caps.memory_gb)
    args = parser.parse_args(argv)
    caps = Caps(cpus=args.max_cpus, gpus=args.max_gpus, memory_gb=args.max_memory_gb)

    invalid = 0
    lines = []
    for path in args.files:  # one bad file never stops the others from being checked
        try:
            mp = validate_file(path, trusted=args.trusted, caps=caps)
            lines.append(f"ok {mp.id} {path}")
        except (MetaprogramError, RecursionError) as exc:
            exc = exc if isinstance(exc, MetaprogramError) else MetaprogramError(["nested too deeply to read"])
            invalid += 1
            lines.append(f"invalid {path}")
            lines.extend(f"  - {error}" for error in exc.errors)
    print("\n".join(lines))
    if invalid:
        print(f"{invalid} of {len(args.files)} file(s) invalid", file=sys.stderr)
    return EXIT_INVALID if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
