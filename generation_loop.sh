#!/usr/bin/env bash
# The self-improving loop: the planner proposes metaprograms, they run, the record grows, the planner retrains.
# Usage: ./generation_loop.sh [planner.loop flags], e.g. --iterations 3 --per-study 3 --tasks wine,breast_cancer
#   Needs a trained planner (./train_planner.sh); the record is outputs/planner_loop/studies.jsonl (study export format).
# Knobs: --iterations, --per-study (proposals per study per iteration), -k (candidates per proposal),
#        --train-steps, --train-lr (retraining per iteration), --checkpoint, --record, --corpus
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PYTHON" -B -m planner.loop "$@"
