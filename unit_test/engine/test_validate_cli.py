"""python -m engine.validate: bulk, untrusted by default, fast, without torch."""

import subprocess
import sys

import pytest
import yaml

from engine.validate import main

pytestmark = pytest.mark.integration  # python -m engine.validate in subprocesses

GOOD = {"model": {"name": "mlp", "hidden": 32}, "dataset": {"name": "iris"}, "pipeline": {"name": "execution"}}


def test_one_line_per_file_and_exit_2_when_any_is_invalid(tmp_path, capsys):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(GOOD))
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**GOOD, "model": {"name": "mlp", "_target_": "os.system"}}))
    broken = tmp_path / "broken.yaml"
    broken.write_text("model: [unclosed")
    assert main([str(good)]) == 0
    assert main([str(good), str(bad), str(broken), str(tmp_path / "absent.yaml")]) == 2
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("ok ") and out[0].endswith("good.yaml")
    assert f"invalid {bad}" in out and any("_target_ is not accepted" in line for line in out)
    assert f"invalid {broken}" in out and any("not valid YAML" in line for line in out)
    assert any("cannot read" in line for line in out)


def test_trusted_mode_composes_hand_written_metaprograms(capsys):
    from engine.compose import CONFIG_DIR

    assert main(["--trusted", str(CONFIG_DIR / "metaprogram" / "example.yaml")]) == 0
    assert main([str(CONFIG_DIR / "metaprogram" / "example.yaml")]) == 2  # defaults lists are not untrusted input


def test_the_command_imports_no_torch(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(yaml.safe_dump(GOOD))
    code = "import sys, runpy; sys.argv=['v', sys.argv[1]]; "
    code += "exec(\"try:\\n runpy.run_module('engine.validate', run_name='__main__')\\nexcept SystemExit: pass\"); "
    code += "assert 'torch' not in sys.modules, 'torch was imported'"
    result = subprocess.run([sys.executable, "-c", code, str(good)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok ")
