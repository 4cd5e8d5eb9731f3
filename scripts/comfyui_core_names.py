"""List the node ids and display names of a real ComfyUI (no custom nodes) as test data.

    python3 scripts/comfyui_core_names.py COMFYUI_ROOT [--python PY] [--out tests/data/comfyui_core_nodes.json]

Starts the ComfyUI checkout headless with no custom nodes (tests/comfy_harness.py), reads its
``/object_info`` and writes every node it lists (nodes.py, comfy_extras, API nodes) as
``{"nodes": {id: display name}}`` with the ComfyUI commit and version it came from.  Only names are
written, no ComfyUI code.  tests/test_node_names.py checks our display names against this file (and
against the live list when COMFYUI_ROOT is set).  Re-run after updating ComfyUI and commit the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_OUT = os.path.join(ROOT, "tests", "data", "comfyui_core_nodes.json")


def core_nodes(info: dict) -> dict[str, str]:
    """{node id: display name} of the nodes ComfyUI itself defines (custom nodes left out)."""
    out = {}
    for node_id, entry in info.items():
        module = str(entry.get("python_module", ""))
        if module.startswith("custom_nodes"):
            continue
        out[node_id] = str(entry.get("display_name") or node_id)
    return dict(sorted(out.items()))


def comfyui_version(root: str) -> dict:
    commit = subprocess.run(["git", "-C", root, "rev-parse", "HEAD"], capture_output=True, text=True)
    version = None
    path = os.path.join(root, "comfyui_version.py")
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            for line in f:
                if line.startswith("__version__"):
                    version = line.split("=", 1)[1].strip().strip("\"'")
    return {"commit": commit.stdout.strip() or None, "version": version}


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("comfyui_root")
    ap.add_argument("--python", help="ComfyUI's interpreter (default: $COMFYUI_PYTHON or ROOT/../comfy-venv)")
    ap.add_argument("--out", default=DEFAULT_OUT)
    args = ap.parse_args(argv)
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import comfy_harness

    with comfy_harness.ComfyServer(args.comfyui_root, None, python=args.python) as server:
        info = server.get_json("/object_info", timeout=120)
        failed = server.import_failures()
    nodes = core_nodes(info)
    data = {"comfyui": comfyui_version(os.path.abspath(args.comfyui_root)),
            "written_by": "scripts/comfyui_core_names.py (from a running ComfyUI's /object_info)",
            "import_failed": failed, "count": len(nodes), "nodes": nodes}
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, ensure_ascii=False)
        f.write("\n")
    print(f"{len(nodes)} core nodes -> {os.path.relpath(args.out, ROOT)}"
          + (f" ({len(failed)} import failures, listed in the file)" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
