"""A bad recipe file is refused at validation: one clear paragraph, exit 2, nothing run or written."""

from __future__ import annotations

import shutil

import pytest

from unit_test.helpers import files_under, run_cli

pytestmark = pytest.mark.integration  # the command line in subprocesses

CHAIN = ["--config-name=metaprogram/tiny_llama_chain"]
GOOD_STAGE = "quant_stage:\n  quant_modifiers:\n"

BAD_RECIPES = [
    pytest.param(None, [], "recipe_file: {data}/recipe.yaml does not exist", id="missing"),
    pytest.param(GOOD_STAGE + "    GPTQModifier: {targets: [Linear]\n", [], "line 4: not valid YAML", id="bad-yaml"),
    pytest.param("# caf\xe9\n" + GOOD_STAGE, [], "line 1: not UTF-8 text: byte 0xe9 at offset 5", id="latin-1"),
    pytest.param("a: " + "[" * 3000 + "]" * 3000 + "\n", [], "nested more than 64 deep", id="nested-3000"),
    pytest.param("a: !!python/name:os.system\n", [], "tag !!python/name:os.system is not accepted", id="tag"),
    pytest.param("- GPTQModifier\n", [], "is not a YAML mapping of stages and modifiers", id="not-a-mapping"),
    pytest.param(
        GOOD_STAGE + "    GPTQModifer: {targets: [Linear], scheme: W4A16}\n",
        [],
        "unknown modifier 'GPTQModifer'; did you mean 'GPTQModifier'",
        id="unknown-modifier",
    ),
    pytest.param(
        GOOD_STAGE + "    GPTQModifier: {targets: [Linear], scheme: W4A16}\n",
        ["pipeline.quantize.recipe_args.group_size=64"],
        "recipe_args ['group_size'] apply to a standard (scheme) only",
        id="recipe-args-with-a-file",
    ),
]


@pytest.mark.parametrize("text, extra, message", BAD_RECIPES)
def test_a_bad_recipe_file_exits_2_before_anything_runs(text, extra, message, cli_env, tmp_path, llm_data_root):
    data = tmp_path / "data"
    shutil.copytree(llm_data_root, data)  # the chain's evaluation data: the recipe file is the only problem
    if text is not None:
        (data / "recipe.yaml").write_bytes(text.encode("latin-1") if "\xe9" in text else text.encode())
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli([*CHAIN, "pipeline.quantize.recipe_file=recipe.yaml", *extra], cli_env, work)
    assert result.returncode == 2, result.stdout + result.stderr
    (line,) = [line for line in result.stderr.splitlines() if line.startswith("  - ")]  # one problem, one line
    assert line.startswith("  - pipeline.quantize") and message.format(data=data) in line
    assert "Traceback" not in result.stderr + result.stdout
    assert "Nothing was run or written." in result.stderr
    assert files_under(work) == [] and not (tmp_path / "out").exists()


def test_a_good_recipe_file_passes_validation(cli_env, tmp_path, llm_data_root):
    data = tmp_path / "data"
    shutil.copytree(llm_data_root, data)
    (data / "recipe.yaml").write_text(GOOD_STAGE + "    GPTQModifier: {targets: [Linear], scheme: W4A16}\n")
    result = run_cli([*CHAIN, "pipeline.quantize.recipe_file=recipe.yaml", "dry_run=true"], cli_env, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "recipe_file: recipe.yaml" in result.stdout


def test_checking_a_recipe_file_imports_neither_torch_nor_llm_compressor(tmp_path):
    import subprocess
    import sys

    from unit_test.helpers import REPO

    (tmp_path / "recipe.yaml").write_text(GOOD_STAGE + "    GPTQModifer: {targets: [Linear], scheme: W4A16}\n")
    code = (
        "import sys\n"
        "from engine.compose import load\n"
        "from engine.metaprogram import MetaprogramError\n"
        f"args = ['pipeline.quantize.recipe_file={tmp_path / 'recipe.yaml'}']\n"
        "try:\n"
        "    load(args, 'metaprogram/tiny_llama_chain')\n"
        "except MetaprogramError as exc:\n"
        "    print(exc.errors[0])\n"
        "print(sorted(m for m in ('torch', 'transformers', 'llmcompressor', 'ray') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    error, imported = out.stdout.strip().splitlines()[-2:]
    assert "unknown modifier 'GPTQModifer'" in error
    assert imported == "[]"
