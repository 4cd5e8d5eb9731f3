"""End to end in a real ComfyUI: the pack imports, its nodes are listed, graphs run over HTTP.

Skipped unless COMFYUI_ROOT names a ComfyUI checkout (set up with scripts/setup_comfyui.sh;
COMFYUI_PYTHON names its interpreter, default COMFYUI_ROOT/../comfy-venv/bin/python).
"""

import io
import json
import os
import sys
import time
import urllib.parse
import uuid
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
from model_files import (STANDIN_OVERRIDES, example_key, example_path, write_example_inputs,  # noqa: E402
                         write_example_models)

PACK = Path(gan_latent_lab.__file__).resolve().parent
EXAMPLES = sorted((PACK / "example_workflows").glob("*.json"))
SAMPLE = example_path("sample_and_decode")
BUILTIN_FACE = "builtin: face DCGAN 64px (gan-face-generate)"


@pytest.fixture(scope="module")
def server():
    s = comfy_harness.ComfyServer(ROOT, str(PACK), folder_name="gan-latent-lab")
    write_example_models(Path(s.base) / "models")  # the StyleGAN2 / BigGAN / e4e stand-ins the examples name
    write_example_inputs(Path(s.base) / "input")  # the example.png LoadImage opens
    with s:
        yield s


def example_api(path: Path, extra: dict | None = None) -> dict:
    """An example in API form with the widget overrides the runner tests use (then ``extra``)."""
    api = workflow.to_api(path)
    for overrides in (STANDIN_OVERRIDES.get(example_key(path), {}), extra or {}):
        for node, values in overrides.items():
            api[str(node)]["inputs"].update(values)
    return api


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
def test_every_example_runs_in_comfyui_like_the_runner(server, path, tmp_path):
    entry = run_prompt(server, example_api(path))
    assert entry["outputs"], f"{path.name} produced no output"
    if example_key(path) == "voynov_train_save_apply":
        return  # training on ComfyUI's device is not bit-identical to another process; shape checked above
    theirs = [np.asarray(Image.open(io.BytesIO(server.view(item))).convert("RGB")).astype(np.int16)
              for out in entry["outputs"].values() for item in out.get("images", [])
              if item.get("type") == "output"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_LATENT_LAB_MODELS", str(Path(server.base) / "models"))
        mp.setenv("GAN_LATENT_LAB_INPUT", str(Path(server.base) / "input"))
        ours = workflow.run(path, tmp_path, overrides=STANDIN_OVERRIDES.get(example_key(path)))
    ours = [np.asarray(Image.open(p).convert("RGB")).astype(np.int16) for p in ours.images
            if "preview" not in os.path.basename(p)]
    assert len(theirs) == len(ours) and theirs
    for a, b in zip(ours, theirs):
        assert a.shape == b.shape and np.abs(a - b).max() <= 2, path.name


@pytest.mark.parametrize("kind", ["voynov", "ganspace"])
def test_interrupt_stops_a_long_run_cleanly(server, kind):
    if kind == "voynov":
        path, extra = example_path("voynov_train_save_apply"), {
            2: {"steps": 100000, "run_name": "interrupted_run", "checkpoint_every": 100000}}
    else:
        # the face DCGAN's first layer is 8,192 wide: GANSpace caps the 10,000,000 asked for at 32,768
        # samples, about 7 s on two cores, so the interrupt comes early
        path, extra = example_path("ganspace_vs_sefa"), {
            2: {"samples": 10_000_000, "converge": False}}
    status, answer = server.queue(example_api(path, extra))
    assert status == 200, answer
    started = time.monotonic()
    time.sleep(8 if kind == "voynov" else 2.5)
    code, _ = server.request("/interrupt", {})
    assert code == 200
    entry = server.wait_history(answer["prompt_id"], timeout=60)
    assert time.monotonic() - started < 60
    state = entry["status"]
    assert state.get("status_str") == "error"
    assert any(m[0] == "execution_interrupted" for m in state.get("messages", [])), state
    if kind == "voynov":  # saved on interrupt, so queueing it again resumes
        assert (Path(server.base) / "models" / "gan_directions" / "interrupted_run.voynov").exists()
    # the server is still healthy
    assert len(run_prompt(server, workflow.to_api(SAMPLE))["outputs"]["4"]["images"]) == 4


def test_workflow_templates_list_our_examples(server):
    templates = server.get_json("/workflow_templates")
    assert sorted(templates.get("gan-latent-lab", [])) == sorted(p.stem for p in EXAMPLES)
    quoted = urllib.parse.quote(SAMPLE.stem)
    served = server.get_json(f"/api/workflow_templates/gan-latent-lab/{quoted}.json")
    assert served == json.loads(SAMPLE.read_text(encoding="utf-8"))
    status, thumb = server.request(f"/api/workflow_templates/gan-latent-lab/{quoted}.jpg")
    assert status == 200 and thumb == SAMPLE.with_suffix(".jpg").read_bytes()


def test_pack_imports_under_another_folder_name():
    with comfy_harness.ComfyServer(ROOT, str(PACK), folder_name="GAN_Latent_Lab") as other:
        line = other.pack_import_line()
        assert line is not None and "IMPORT FAILED" not in line, other.log_tail(120)
        info = other.get_json("/object_info")
        assert set(gan_latent_lab.NODE_CLASS_MAPPINGS) <= set(info)
        entry = run_prompt(other, workflow.to_api(SAMPLE))
        assert len(entry["outputs"]["4"]["images"]) == 4


def test_encoder_without_decoder_blocks_only_what_reads_its_decoder(server):
    """ComfyUI's ExecutionBlocker: the branch that reads the missing decoder does not run and reports the
    message; a branch that encodes with a model from Load GAN Model (retarget) runs."""
    from model_files import write_standin_encoder

    write_standin_encoder(Path(server.base) / "models" / "gan_encoders" / "e4e_no_decoder.pt", "e4e", with_decoder=False)
    api = {
        "1": {"class_type": "GANLabLoadImageEncoder", "inputs": {"encoder_name": "e4e_no_decoder.pt"}},
        "2": {"class_type": "GANLabLoadModel", "inputs": {"model_name": "stylegan2-ffhq-1024x1024.pkl"}},
        "3": {"class_type": "LoadImage", "inputs": {"image": "example.png", "upload": "image"}},
        "4": {"class_type": "GANLabEncodeImage", "inputs": {"encoder": ["1", 0], "model": ["2", 0], "image": ["3", 0],
                                                            "retarget": True}},
        "5": {"class_type": "GANLabDecode", "inputs": {"model": ["2", 0], "latent": ["4", 0], "noise_mode": "const"}},
        "6": {"class_type": "SaveImage", "inputs": {"images": ["5", 0], "filename_prefix": "gll_retarget"}},
        "7": {"class_type": "GANLabLatentFromSeed", "inputs": {"model": ["1", 1], "seed": 0, "batch_size": 1,
                                                               "truncation_psi": 1.0, "truncation_cutoff": 0,
                                                               "class_label": "0"}},
        "8": {"class_type": "GANLabDecode", "inputs": {"model": ["1", 1], "latent": ["7", 0], "noise_mode": "const"}},
        "9": {"class_type": "SaveImage", "inputs": {"images": ["8", 0], "filename_prefix": "gll_blocked"}},
    }
    client = uuid.uuid4().hex
    ws = server.listen(client)
    try:
        status, answer = server.queue(api, client_id=client)
        assert status == 200 and not answer.get("node_errors"), answer
        events = ws.until_done(answer["prompt_id"], timeout=300)
    finally:
        ws.close()
    entry = server.wait_history(answer["prompt_id"])
    outputs = entry["outputs"]
    assert len(outputs.get("6", {}).get("images", [])) == 1, json.dumps(entry)[:2000]
    assert not outputs.get("9", {}).get("images")
    errors = [e["data"] for e in events if e.get("type") == "execution_error"]
    assert sorted(e["node_id"] for e in errors) == ["7", "8"], errors  # the two readers of the missing decoder
    assert all("e4e_no_decoder.pt holds only an encoder" in e["exception_message"] for e in errors)
