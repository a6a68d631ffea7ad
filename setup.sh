#!/usr/bin/env bash
# Set up napari-c2w in ./.venv and run the main job on the bundled sample data.
#   ./setup.sh            install (if needed) and run the main job
#   ./setup.sh --no-run   install only
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}

# Xvfb lets napari draw without a screen (tests and screenshots); Qt's xcb needs the two libs.
if ! command -v xvfb-run >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get install -y --no-install-recommends xvfb libxcb-icccm4 libxcb-keysyms1 >/dev/null 2>&1 \
      || { apt-get update >/dev/null && apt-get install -y --no-install-recommends xvfb libxcb-icccm4 libxcb-keysyms1 >/dev/null; }
  else
    echo "note: install xvfb, libxcb-icccm4 and libxcb-keysyms1 to run the GUI tests without a screen" >&2
  fi
fi

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
# The CPU build of torch first: PyPI's torch for Linux is a CUDA build (about 3 GB of packages);
# PyTorch's CPU index has a ~200 MB one. GPU users: install the torch build for your CUDA first
# (https://pytorch.org/get-started/locally/), then run this script; a torch already there is kept.
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
TORCH_CPU_INDEX=${TORCH_CPU_INDEX:-https://download.pytorch.org/whl/cpu}
if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  if [ "$(uname -s)" = Darwin ]; then
    .venv/bin/python -m pip install -q "torch==${TORCH_VERSION}"  # macOS wheels are CPU/MPS builds
  # a CPU wheel pip can already see (a local wheel folder or mirror) first: no download when present
  elif ! .venv/bin/python -m pip install -q "torch==${TORCH_VERSION}+cpu" >/dev/null 2>&1; then
    .venv/bin/python -m pip install -q "torch==${TORCH_VERSION}+cpu" \
      --index-url "$TORCH_CPU_INDEX" --extra-index-url https://pypi.org/simple
  fi
fi
.venv/bin/python -m pip install -q -e ".[all,test,train,bench]"

if [ "${1:-}" != "--no-run" ]; then
  exec .venv/bin/python scripts/main_job.py
fi
