"""LLM components validate like every other component, without importing any heavy library."""

from __future__ import annotations

import subprocess
import sys

import pytest

from engine.metaprogram import MetaprogramError, validate
from unit_test.engine.llm.llm_helpers import REPO

HEAVY = ("torch", "transformers", "llmcompressor", "lm_eval", "guidellm", "ray")


def _mp(**pipeline):
    return {"model": {"name": "tiny_llama"}, "dataset": {"name": "lm_tasks"}, "pipeline": pipeline}


@pytest.mark.integration  # a fresh interpreter
def test_composing_and_validating_llm_metaprograms_imports_no_heavy_library():
    code = (
        "import sys\n"
        "from engine.compose import load\n"
        "for name in ('tiny_llama_chain', 'smollm2_w4a16', 'smollm2_w8a8', 'smollm2_fp8_dynamic'):\n"
        "    load([], config_name='metaprogram/' + name)\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_unknown_scheme_is_refused_with_the_nearest_name():
    with pytest.raises(MetaprogramError) as err:
        validate(_mp(name="quantize", scheme="w4a61"), trusted=True)
    assert "unknown compression standard 'w4a61'" in str(err.value) and "'w4a16'" in str(err.value)


def test_unknown_suite_and_load_standard_are_refused():
    raw = _mp(name="benchmark", standard="chatt")
    raw["dataset"]["suite"] = "ofline"
    with pytest.raises(MetaprogramError) as err:
        validate(raw, trusted=True)
    text = str(err.value)
    assert "dataset.suite" in text and "'offline'" in text
    assert "pipeline.standard" in text and "'chat'" in text


def test_tiny_llama_must_stay_wide_enough_for_group_size_128():
    raw = _mp(name="evaluate")
    raw["model"]["hidden_size"] = 64
    with pytest.raises(MetaprogramError) as err:
        validate(raw, trusted=True)
    assert "model.hidden_size" in str(err.value)


def test_untrusted_input_may_not_name_files():
    raw = _mp(name="quantize", recipe_file="/etc/passwd")
    raw["dataset"]["data_files"] = {"hellaswag_local": "/etc/shadow"}
    with pytest.raises(MetaprogramError) as err:
        validate(raw, trusted=False)
    text = str(err.value)
    assert "pipeline.recipe_file: path keys are not accepted" in text
    assert "dataset.data_files: path keys are not accepted" in text


def test_external_server_needs_a_target_and_only_then():
    with pytest.raises(MetaprogramError) as err:
        validate(_mp(name="benchmark", server="external"), trusted=True)
    assert "target" in str(err.value)
    mp = validate(_mp(name="benchmark", server="external", target="http://127.0.0.1:9"), trusted=True)
    assert mp.objective() == ("bench/output_tokens_per_s", "max")


def test_chain_objective_is_the_group_recovery(llm_paths):
    mp = validate(_mp(name="quantize_eval_bench"), trusted=True, paths=llm_paths)
    assert mp.task == "language_modeling"
    assert mp.objective() == ("recovery/group", "max")
