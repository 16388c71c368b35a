"""The chain's quality/speed plot from run directories (fabricated chain runs: the plot's own logic), and
`metaprogram report` on a chain run, a study and a name that is neither."""

from __future__ import annotations

import json

import pytest
import yaml

from database.cli import main
from database.store import Database
from engine.chain_report import chain_point, quality_speed_plot, sibling_points
from unit_test.helpers import a_study

PNG = b"\x89PNG\r\n\x1a\n"


def fake_chain(root, run_id: str, scheme: str, baseline: str, recovery: float, speed: float, size: float) -> None:
    """A completed quantize_eval_bench run directory, as the chain leaves it (for the plot's own logic)."""
    run_dir = root / "runs" / run_id
    run_dir.mkdir(parents=True)
    (run_dir / "stages.json").write_text(json.dumps({"evaluate_baseline": {"id": baseline}}))
    mp = {
        "model": {"name": "tiny_llama"},
        "dataset": {"name": "lm_tasks"},
        "pipeline": {"name": "quantize_eval_bench", "quantize": {"scheme": scheme}, "benchmark": {"server": "hf"}},
    }
    (run_dir / "metaprogram.yaml").write_text(yaml.safe_dump(mp))
    metrics = {
        "recovery/group": recovery,
        "quantized/bench/output_tokens_per_s": speed,
        "baseline/bench/output_tokens_per_s": 50.0,
        "quantize/size_after_mb": size,
        "quantize/size_before_mb": 2.0,
        "baseline/group/score": 0.4,
        "quantized/group/score": 0.4 * recovery,
    }
    results = {
        "id": run_id,
        "status": "completed",
        "metrics": metrics,
        "objective": {"metric": "recovery/group", "mode": "max", "value": recovery},
        "timings": {"started": "2025-03-01T10:00:00+00:00", "wall_s": 1.0},
    }
    (run_dir / "results.json").write_text(json.dumps(results))


def test_chains_that_share_a_baseline_go_on_one_plot(tmp_path):
    fake_chain(tmp_path, "a" * 16, "W4A16", "base1", 0.95, 70.0, 0.8)
    fake_chain(tmp_path, "b" * 16, "W8A8", "base1", 0.99, 60.0, 1.1)
    fake_chain(tmp_path, "c" * 16, "W4A16", "base2", 0.50, 90.0, 0.8)  # another model or evaluation: not drawn
    me = chain_point(tmp_path / "runs" / ("a" * 16))
    assert (me["label"], me["speed"], me["baseline_speed"], me["size"]) == ("W4A16", 70.0, 50.0, 0.8)
    assert [p["label"] for p in sibling_points(tmp_path, "base1", "a" * 16)] == ["W8A8"]
    png = quality_speed_plot(tmp_path / "runs" / ("a" * 16), tmp_path)
    assert png.name == "quality_speed.png" and png.read_bytes()[:8] == PNG and png.stat().st_size > 20_000


def test_report_redraws_a_chain_and_refuses_what_is_neither_a_study_nor_a_chain(tmp_path, capsys):
    fake_chain(tmp_path, "a" * 16, "W4A16", "base1", 0.95, 70.0, 0.8)
    with Database(tmp_path / "metaprogram.db") as db:
        db.begin_study(a_study("examples.tune-1", metric="val/loss", mode="min"))
    assert main(["--root", str(tmp_path), "report", "aaaa"]) == 0
    assert "quality_speed.png" in capsys.readouterr().out
    assert main(["--root", str(tmp_path), "report", "examples.tune-2"]) == 2
    assert "did you mean the study 'examples.tune-1'" in capsys.readouterr().err
    assert main(["--root", str(tmp_path), "report", "zzzz"]) == 2
    assert "no run 'zzzz'" in capsys.readouterr().err


@pytest.mark.parametrize("missing", ["stages.json", "results.json"])
def test_a_run_that_is_not_a_finished_chain_has_no_point(tmp_path, missing):
    fake_chain(tmp_path, "a" * 16, "W4A16", "base1", 0.95, 70.0, 0.8)
    (tmp_path / "runs" / ("a" * 16) / missing).unlink()
    assert chain_point(tmp_path / "runs" / ("a" * 16)) is None
