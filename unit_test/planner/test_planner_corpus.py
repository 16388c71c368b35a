"""planner.corpus: the ceiling share and de-duplication that the corpus statistics report."""

from __future__ import annotations

import json

from planner.corpus import main, stats


def study(task: str, values: list[float | None], mode: str = "max", space: str = "a") -> dict:
    return {
        "task": {"name": task, "objective": {"metric": "val/m", "mode": mode}},
        "search_space": {space: {"type": "uniform", "low": 0, "high": 1}},
        "algorithm": "random",
        "trials": [{"params": {space: i}, "objective": v} for i, v in enumerate(values)],
    }


def test_stats_count_the_ceiling_only_for_maximised_metrics_and_find_duplicates():
    studies = [
        study("iris", [0.9, 1.0]),  # at the ceiling
        study("iris", [0.9, 1.0]),  # its duplicate
        study("hard", [0.7, None]),
        study("reg", [1.0, 2.0], mode="min", space="b"),  # an MSE of 1.0 is no ceiling
    ]
    figures = stats(studies)
    assert figures == {**figures, "studies": 4, "duplicates": 1, "trials": 8, "tasks": 3, "spaces": 2}
    assert figures["share_at_ceiling"] == 0.5


def test_dedupe_rewrites_the_file_keeping_the_first(tmp_path, capsys):
    path = tmp_path / "s.jsonl"
    rows = [study("iris", [0.5]), study("iris", [0.5]), study("iris", [0.6])]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["dedupe", str(path)]) == 0
    assert len(path.read_text().splitlines()) == 2
    assert main(["stats", str(tmp_path / "missing.jsonl")]) == 2
    assert "cannot read the corpus" in capsys.readouterr().err
