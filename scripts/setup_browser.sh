#!/usr/bin/env bash
# Prepare the real-browser test (tests/test_browser_e2e.py) on top of scripts/setup_comfyui.sh.
#
#   scripts/setup_browser.sh COMFYUI_ROOT [COMFY_VENV]
#
# 1. ComfyUI's real frontend: comfyui-frontend-package and comfyui-workflow-templates at the versions
#    COMFYUI_ROOT/requirements.txt pins, into ComfyUI's venv (COMFY_VENV, default
#    COMFYUI_ROOT/../comfy-venv; setup_comfyui.sh leaves them out because the HTTP-only tests serve no
#    UI).  Neither has dependencies.  The templates package is needed even though the test opens only
#    this pack's templates: the frontend's template browser loads nothing until it has read the core
#    templates' index.json, which that package serves.
# 2. A browser: Debian's Chromium (apt-get install -y chromium, as root), unless $CHROMIUM or
#    /usr/bin/chromium is already there.
# 3. Playwright from PyPI into the Python that runs the tests ($PYTHON, default python3), pinned.
#    Playwright drives the Chromium above by its path; its own browser download (`playwright install`)
#    is never run and not needed.
#
# Afterwards:
#   COMFYUI_ROOT=... COMFYUI_PYTHON=COMFY_VENV/bin/python python3 -m pytest -q tests/test_browser_e2e.py
set -euo pipefail

ROOT=${1:?usage: setup_browser.sh COMFYUI_ROOT [COMFY_VENV]}
ROOT=$(cd "$ROOT" && pwd)
VENV=${2:-$(dirname "$ROOT")/comfy-venv}
PY=${PYTHON:-python3}
PLAYWRIGHT_VERSION=${PLAYWRIGHT_VERSION:-1.65.2}

[ -f "$ROOT/requirements.txt" ] || { echo "no requirements.txt in $ROOT: not a ComfyUI checkout" >&2; exit 2; }
[ -x "$VENV/bin/python" ] || { echo "no venv at $VENV: run scripts/setup_comfyui.sh first" >&2; exit 2; }

for package in comfyui-frontend-package comfyui-workflow-templates; do
    pin=$(grep -E "^$package==" "$ROOT/requirements.txt" | head -n 1 | sed 's/\s*$//')
    [ -n "$pin" ] || { echo "$ROOT/requirements.txt pins no $package" >&2; exit 2; }
    "$VENV/bin/python" -m pip install -q --no-deps "$pin"
done

BROWSER=${CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$BROWSER" ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        apt-get update && apt-get install -y chromium
    else
        echo "no Chromium at $BROWSER: install Debian's (sudo apt-get install -y chromium) or set CHROMIUM" >&2
        exit 2
    fi
fi

"$PY" -m pip install -q "playwright==$PLAYWRIGHT_VERSION"

echo "frontend:   $("$VENV/bin/python" -c 'from importlib.metadata import version as v; print(v("comfyui-frontend-package"), "templates", v("comfyui-workflow-templates"))')"
echo "chromium:   $("$BROWSER" --version 2>/dev/null || echo "$BROWSER")"
echo "playwright: $("$PY" -c 'from importlib.metadata import version; print(version("playwright"))')"
