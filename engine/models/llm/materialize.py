"""`materialize(model_cfg, paths) -> local folder`: what every LLM pipeline loads, serves or compresses.

Built models are cached under path.model_root, keyed by the settings that
shape their weights, and written to a temporary folder that is renamed into
place when complete, so a crashed build never leaves a half model behind.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from engine.atomic import atomic_path
from engine.paths import Paths
from engine.schema.base import hub_location

# Bump when a builder changes what it writes, so old caches are not reused.
BUILD_VERSION = 1
_NOT_WEIGHTS = {"dtype"}  # settings that change how a model is loaded, not what is built


def materialize(model_cfg, paths: Paths) -> Path:
    """A local transformers folder (config.json, weights, tokenizer) for the model component."""
    name = model_cfg.name
    if name == "tiny_llama":
        from engine.models.llm import tiny_llama

        return _cached(paths, "tiny_llama", _key(model_cfg), lambda out: tiny_llama.build(model_cfg, out))
    if name == "smollm2_135m":
        from engine.models.llm import smollm2

        gguf = paths.data_file(model_cfg.gguf_file) if model_cfg.gguf_file else smollm2.packaged_gguf()
        if not gguf.is_file():
            raise FileNotFoundError(f"model.gguf_file: {gguf} does not exist")
        key = hashlib.sha256(f"{gguf.name}:{gguf.stat().st_size}:{BUILD_VERSION}".encode()).hexdigest()[:16]
        return _cached(paths, "smollm2_135m", key, lambda out: smollm2.build(gguf, out))
    if name == "hf":
        return _hf_folder(model_cfg, paths)
    raise ValueError(f"model {name!r} is not an LLM component (llm/tiny_llama, llm/smollm2_135m, llm/hf)")


def _key(model_cfg) -> str:
    settings = {k: v for k, v in model_cfg.model_dump(mode="json").items() if k not in _NOT_WEIGHTS}
    text = json.dumps({"settings": settings, "version": BUILD_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _cached(paths: Paths, family: str, key: str, build) -> Path:
    target = paths.root("model_root") / family / key
    if (target / "config.json").is_file():
        return target
    try:
        with atomic_path(target, folder=True) as tmp:
            build(tmp)
    except OSError:  # another process finished first: keep theirs
        if not (target / "config.json").is_file():
            raise
    return target


def _hf_folder(model_cfg, paths: Paths) -> Path:
    if model_cfg.local_dir is not None:
        folder = Path(model_cfg.local_dir).expanduser()
        folder = folder if folder.is_absolute() else paths.root("model_root") / folder
        if not (folder / "config.json").is_file():
            raise FileNotFoundError(f"model.local_dir: {folder} is not a transformers model folder (no config.json)")
        return folder
    local = hub_location(model_cfg.hub_id, paths, "model_root")
    if local != model_cfg.hub_id:  # a local folder, whose contents the run id digested
        return Path(local)
    from huggingface_hub import snapshot_download

    target = paths.root("model_root") / "hf" / model_cfg.hub_id.replace("/", "--") / model_cfg.revision
    try:
        snapshot_download(model_cfg.hub_id, revision=model_cfg.revision, local_dir=str(target))
    except Exception as exc:  # offline, unknown id, no access: one clear line
        raise RuntimeError(f"model.hub_id: cannot download {model_cfg.hub_id!r}: {type(exc).__name__}: {exc}") from exc
    return target


def folder_size_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 2**20
