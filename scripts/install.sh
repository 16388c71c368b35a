#!/usr/bin/env bash
# Create a virtual environment and install the project into it.
#   scripts/install.sh VENV EXTRAS      e.g. scripts/install.sh .venv dev
# torch comes first and is then held fixed: CUDA torch from PyPI where `nvidia-smi` sees a GPU;
# otherwise a CPU wheel, taken from local wheels when pip is configured with them, else from
# PyTorch's CPU index (a plain `pip install torch` would pull a multi-GB CUDA build).
set -euo pipefail
venv=${1:-.venv}
extras=${2:-}
torch_version=${TORCH_VERSION:-2.13.0}
python=${PYTHON:-python3}

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

if ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "GPU found: installing CUDA torch==$torch_version"
    "${pip[@]}" install "torch==$torch_version"
  elif "${pip[@]}" download -q --no-index --no-deps -d "$(mktemp -d)" "torch==$torch_version" 2>/dev/null; then
    echo "no GPU: installing the local CPU wheel of torch==$torch_version"
    "${pip[@]}" install "torch==$torch_version"  # pip prefers the local +cpu build; deps from PyPI
  else
    echo "no GPU: installing the CPU build of torch==$torch_version from PyTorch's CPU index"
    "${pip[@]}" install "torch==$torch_version" --index-url https://download.pytorch.org/whl/cpu \
      --extra-index-url https://pypi.org/simple
  fi
fi

installed=$("$venv/bin/python" -c "import torch; print(torch.__version__.split('+')[0])")
constraints=$(mktemp)
echo "torch==$installed" >"$constraints"
target="."
[ -n "$extras" ] && target=".[$extras]"
PIP_CONSTRAINT="$constraints" "${pip[@]}" install -e "$target"
rm -f "$constraints"
