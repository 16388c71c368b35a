"""Where data, models, caches and outputs live on this machine (not part of a metaprogram)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import Field

from engine.schema.base import Schema

ENV_VARS = {
    "data_root": "METAPROGRAM_DATA_ROOT",
    "model_root": "METAPROGRAM_MODEL_ROOT",
    "cache_root": "METAPROGRAM_CACHE_ROOT",
    "output_root": "METAPROGRAM_OUTPUT_ROOT",
}
DEFAULTS = {"data_root": "data", "model_root": "models", "cache_root": ".cache", "output_root": "outputs"}
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "data" / "examples"  # `example:<name>`: shipped sample data


class OutsideRoot(OSError):
    """A relative path that leaves the root it is relative to."""


class Paths(Schema):
    data_root: str = Field(description="local data files; relative dataset paths start here")
    model_root: str = Field(description="converted and downloaded model weights")
    cache_root: str = Field(description="cached data transforms and conversions")
    output_root: str = Field(description="run directories, sweep storage, the database")
    plugins: list[str] = Field(
        default_factory=list, description="modules (or .py files) of your own components, loaded before validation"
    )

    def root(self, key: str) -> Path:
        return Path(getattr(self, key)).expanduser().resolve()

    def absolute(self) -> Paths:
        """The same roots, and plugin files, made absolute: what another process (a Ray worker, a job) is handed."""
        plugins = [str(Path(p).expanduser().resolve()) if p.endswith(".py") else p for p in self.plugins]
        return self.model_copy(update={**{key: str(self.root(key)) for key in ENV_VARS}, "plugins": plugins})

    def run_dir(self, run_id: str) -> Path:
        return self.root("output_root") / "runs" / run_id

    def resolve(self, name: str, root: str = "data_root") -> Path:
        """A file or folder a setting names: `example:<name>` is shipped sample data (EXAMPLES_DIR),
        an absolute path is taken as given (~ expanded), anything else is under `root`.

        A relative name that climbs out of its root (`../../etc/passwd`) raises OutsideRoot: write
        the absolute path to mean a file elsewhere."""
        if name.startswith("example:"):
            base, rel = EXAMPLES_DIR, name.removeprefix("example:")
        else:
            path = Path(name).expanduser()
            if path.is_absolute():
                return path
            base, rel = self.root(root), name
        joined = base / rel
        if ".." in Path(rel).parts and not joined.resolve().is_relative_to(base.resolve()):
            raise OutsideRoot(f"{name!r} climbs out of {base} (write an absolute path for a file elsewhere)")
        return joined

    def canonical(self, path: Path, root: str = "data_root") -> str:
        """One spelling of a file a setting names: relative to its root when inside it, else absolute, or
        `example:<name>` for shipped sample data. `.` and `..` are folded as written, and links are not
        followed, so a data root of links into a shared store spells its files as the same relative names on
        every machine; the file's digest stands for what the link points to."""
        written = Path(os.path.normpath(Path(path).expanduser().absolute()))
        for base, prefix in ((EXAMPLES_DIR, "example:"), (Path(getattr(self, root)), "")):
            for folder, target in ((Path(os.path.normpath(base.expanduser().absolute())), written),
                                   (base.expanduser().resolve(), Path(path).resolve())):  # fmt: skip
                if target.is_relative_to(folder):
                    return prefix + target.relative_to(folder).as_posix()
        return written.as_posix()

    def data_file(self, name: str) -> Path:
        """A dataset file: absolute as given, else under data_root."""
        return self.resolve(name, "data_root")


def default_paths() -> Paths:
    """The same roots as configs/path/default.yaml, for runs composed without +path."""
    return Paths(**{k: os.environ.get(ENV_VARS[k], DEFAULTS[k]) for k in ENV_VARS})


def paths_from(section: dict[str, Any] | None) -> Paths:
    """The `path` section of a composed config over the defaults; raises MetaprogramError when it is wrong."""
    from pydantic import ValidationError

    from engine.errors import check
    from engine.metaprogram import MetaprogramError

    if not section:
        return default_paths()
    if not isinstance(section, dict):
        raise MetaprogramError([f"path: expected a mapping of {', '.join(ENV_VARS)}"])
    try:
        return check(Paths, {**default_paths().model_dump(), **section})
    except ValidationError as exc:
        raise MetaprogramError([f"path.{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]) from None
