"""End to end in a real ComfyUI: the pack imports, its nodes are listed, graphs run over HTTP.

Skipped unless COMFYUI_ROOT names a ComfyUI checkout (set up with scripts/setup_comfyui.sh;
COMFYUI_PYTHON names its interpreter, default COMFYUI_ROOT/../comfy-venv/bin/python).
"""

import io
import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import gan_latent_lab
from gan_latent_lab import workflow

ROOT = os.environ.get("COMFYUI_ROOT")
pytestmark = [
    pytest.mark.comfyui,
    pytest.mark.skipif(not ROOT, reason="set COMFYUI_ROOT to a ComfyUI checkout to run the real-ComfyUI tests"),
]

sys.path.insert(0, str(Path(__file__).resolve().parent))
import comfy_harness  # noqa: E402

PACK = Path(gan_latent_lab.__file__).resolve().parent
EXAMPLES = sorted((PACK / "example_workflows").glob("*.json"))
SAMPLE = PACK / "example_workflows" / "sample_and_decode.json"
BUILTIN_FACE = "builtin: face DCGAN 64px (gan-face-generate)"


@pytest.fixture(scope="module")
def server():
    with comfy_harness.ComfyServer(ROOT, str(PACK), folder_name="gan-latent-lab") as s:
        yield s


def run_prompt(server, api: dict) -> dict:
    status, answer = server.queue(api)
    assert status == 200 and not answer.get("node_errors"), f"ComfyUI refused the prompt: {json.dumps(answer)[:2000]}"
    entry = server.wait_history(answer["prompt_id"])
    state = entry["status"]
    assert state.get("status_str") == "success", (
        f"prompt failed: {json.dumps(state.get('messages'))[:3000]}\n{server.log_tail()}")
    return entry


def test_pack_imports_without_failure(server):
    line = server.pack_import_line()
    assert line is not None, f"no import line for our folder:\n{server.log_tail()}"
    assert "IMPORT FAILED" not in line, server.log_tail(120)
    assert not [f for f in server.import_failures() if "gan-latent-lab" in f or "gan_latent_lab" in f]


def test_object_info_lists_every_node_with_tooltips(server):
    info = server.get_json("/object_info")
    missing = set(gan_latent_lab.NODE_CLASS_MAPPINGS) - set(info)
    assert not missing, f"ComfyUI does not list {sorted(missing)}"
    for node_id in gan_latent_lab.NODE_CLASS_MAPPINGS:
        entry = info[node_id]
        assert entry["description"], node_id
        assert entry["category"].startswith("GAN Latent Lab"), node_id
        for section in ("required", "optional"):
            for name, spec in (entry["input"].get(section) or {}).items():
                opts = spec[1] if len(spec) > 1 else {}
                assert opts.get("tooltip"), f"{node_id}.{name} has no tooltip in ComfyUI"
    assert BUILTIN_FACE in info["GANLabLoadModel"]["input"]["required"]["model_name"][0]


def test_comfyui_images_equal_the_runner_images(server, tmp_path):
    api = workflow.to_api(SAMPLE)
    entry = run_prompt(server, api)
    listed = entry["outputs"]["4"]["images"]
    assert len(listed) == 4
    theirs = []
    for item in listed:
        raw = server.view(item)
        with Image.open(io.BytesIO(raw)) as im:
            assert im.format == "PNG" and im.size == (64, 64)
            theirs.append(np.asarray(im.convert("RGB")).astype(np.int16))
    ours = [np.asarray(Image.open(p).convert("RGB")).astype(np.int16)
            for p in workflow.run(SAMPLE, tmp_path).images]
    for a, b in zip(ours, theirs):
        assert np.abs(a - b).max() <= 1
    assert not np.array_equal(theirs[0], theirs[1])
    # the generator went through ComfyUI's model manager, not the fallback in nodes/bridge.py
    assert "Requested to load" in server.log()
    assert "model manager could not load" not in server.log(), server.log_tail()


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_runs_in_comfyui(server, path):
    entry = run_prompt(server, workflow.to_api(path))
    assert entry["outputs"], f"{path.name} produced no output"


def test_workflow_templates_list_our_examples(server):
    templates = server.get_json("/workflow_templates")
    assert sorted(templates.get("gan-latent-lab", [])) == sorted(p.stem for p in EXAMPLES)
    served = server.get_json("/api/workflow_templates/gan-latent-lab/sample_and_decode.json")
    assert served == json.loads(SAMPLE.read_text(encoding="utf-8"))


def test_pack_imports_under_another_folder_name():
    with comfy_harness.ComfyServer(ROOT, str(PACK), folder_name="GAN_Latent_Lab") as other:
        line = other.pack_import_line()
        assert line is not None and "IMPORT FAILED" not in line, other.log_tail(120)
        info = other.get_json("/object_info")
        assert set(gan_latent_lab.NODE_CLASS_MAPPINGS) <= set(info)
        entry = run_prompt(other, workflow.to_api(SAMPLE))
        assert len(entry["outputs"]["4"]["images"]) == 4
