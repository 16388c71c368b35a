#!/usr/bin/env bash
# Train the planner (a small Llama, from scratch) on recorded studies, report held-out loss, save a checkpoint.
# Usage: ./train_planner.sh [STUDIES.jsonl] [OUT_DIR] [extra planner.train flags, e.g. --steps 2000 --device cuda]
#   STUDIES defaults to generate_ray_tune_data.sh's export outputs/studies_train.jsonl when present, else to the development
#   studies (outputs/planner_dev/studies.jsonl), which are built first from real runs if missing (~10 min on 2 CPUs).
# Knobs: --steps, --batch-size, --hidden, --layers, --max-minutes, --val-fraction, --shuffle-p, --device auto|cpu|cuda
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-.venv/bin/python}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
DEV_ROOT=outputs/planner_dev
if [[ $# -ge 1 ]]; then STUDIES="$1"; shift; elif [[ -f outputs/studies_train.jsonl ]]; then STUDIES=outputs/studies_train.jsonl; else STUDIES="$DEV_ROOT/studies.jsonl"; fi
OUT="${1:-outputs/planner/ckpt}"; [[ $# -ge 1 ]] && shift
if [[ "$STUDIES" == "$DEV_ROOT/studies.jsonl" && ! -f "$STUDIES" ]]; then
    echo "no studies yet: building development studies from real runs into $DEV_ROOT" >&2
    "$PYTHON" -B -m planner.dev_data tables --root "$DEV_ROOT" --tasks train
    "$PYTHON" -B -m planner.dev_data studies --root "$DEV_ROOT" --out "$STUDIES"
fi
exec "$PYTHON" -B -m planner.train --studies "$STUDIES" --out "$OUT" "$@"
