#!/usr/bin/env bash
# Generate the planner's training data: run a suite of Ray Tune studies, then export them as JSONL.
# Usage:  bash generate_ray_tune_data.sh [SUITE=train] [extra util/tune_suite.py args, e.g. --limit 8]
#         PYTHON=/path/to/python OUT=studies.jsonl bash generate_ray_tune_data.sh heldout
# Studies land in <output_root>/metaprogram.db (output_root: METAPROGRAM_OUTPUT_ROOT, default ./outputs);
# finished studies are skipped when run again; only complete studies are exported, de-duplicated, with statistics.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-.venv/bin/python}
SUITE=${1:-train}
shift || true
OUT=${OUT:-${METAPROGRAM_OUTPUT_ROOT:-outputs}/studies_${SUITE}.jsonl}
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)
status=0
"$PY" -m planner.suite_data >/dev/null  # the local files that suite tasks read (e.g. the held-out CSV)
"$PY" -B util/tune_suite.py "$SUITE" "$@" || status=$?
"$PY" -m database export "$OUT" --suite "$SUITE"
"$PY" -m planner.corpus dedupe "$OUT" && "$PY" -m planner.corpus stats "$OUT"
echo "suite $SUITE: $(( $(date +%s) - start )) s in all; studies in $OUT"
exit $status
