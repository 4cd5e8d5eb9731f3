"""Our node names never collide with ComfyUI's own: no display name (or id) of ours equals a core
node's id or display name, compared without case, spaces or punctuation ("Latent Interpolate" is
core's "LatentInterpolate").  Checked against tests/data/comfyui_core_nodes.json (written by
scripts/comfyui_core_names.py from a running ComfyUI) and, when COMFYUI_ROOT is set, against the
live list of that ComfyUI."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

import gan_latent_lab

HERE = Path(__file__).resolve().parent
CORE_FILE = HERE / "data" / "comfyui_core_nodes.json"


def key(name: str) -> str:
    return re.sub(r"[^0-9a-z]", "", name.lower())


def collisions(core: dict[str, str]) -> list[str]:
    taken = {}
    for node_id, display in core.items():
        taken.setdefault(key(node_id), f"core {node_id!r}")
        taken.setdefault(key(display), f"core {node_id!r} (shown as {display!r})")
    out = []
    for node_id, display in gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS.items():
        for name in (display, node_id):
            if key(name) in taken:
                out.append(f"{node_id}: {name!r} is {taken[key(name)]}")
    return out


def test_the_committed_core_list_is_a_real_comfyui_list():
    data = json.loads(CORE_FILE.read_text(encoding="utf-8"))
    core = data["nodes"]
    assert data["count"] == len(core) > 300
    # a few nodes every ComfyUI of this era has, with the display names it gives them
    assert core["CheckpointLoaderSimple"] == "Load Checkpoint" and core["KSampler"] == "KSampler"
    assert {"LatentInterpolate", "LatentBatch", "SaveLatent", "LoadLatent"} <= set(core)
    assert not any(k.startswith("GANLab") for k in core), "the list must come from ComfyUI without this pack"


def test_no_display_name_equals_a_core_node_name():
    core = json.loads(CORE_FILE.read_text(encoding="utf-8"))["nodes"]
    assert not collisions(core), "\n".join(collisions(core))


def test_the_check_catches_the_old_names():
    """The names this pack used before (Latent Interpolate, Save Latent, ...) are caught."""
    core = json.loads(CORE_FILE.read_text(encoding="utf-8"))["nodes"]
    saved = dict(gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS)
    try:
        gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS.update({
            "GANLabLatentInterpolate": "Latent Interpolate", "GANLabSaveLatent": "Save Latent"})
        found = collisions(core)
    finally:
        gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS.clear()
        gan_latent_lab.NODE_DISPLAY_NAME_MAPPINGS.update(saved)
    assert len(found) == 2 and "LatentInterpolate" in found[0] and "SaveLatent" in found[1]


@pytest.mark.comfyui
@pytest.mark.skipif(not os.environ.get("COMFYUI_ROOT"),
                    reason="set COMFYUI_ROOT to check against a live ComfyUI's node list")
def test_no_display_name_equals_a_live_comfyui_node_name():
    sys.path.insert(0, str(HERE.parent / "scripts"))
    sys.path.insert(0, str(HERE))
    import comfy_harness
    from comfyui_core_names import core_nodes

    with comfy_harness.ComfyServer(os.environ["COMFYUI_ROOT"], None) as server:
        core = core_nodes(server.get_json("/object_info", timeout=120))
    assert len(core) > 300
    assert not collisions(core), "\n".join(collisions(core))
