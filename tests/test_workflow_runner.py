"""The workflow runner: UI-format example workflows run without ComfyUI, and convert to API format."""

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gan_latent_lab
from gan_latent_lab import workflow
from gan_latent_lab.cli import main as cli_main
from gan_latent_lab.errors import GANLabError
from model_files import example_path

REPO = Path(gan_latent_lab.__file__).resolve().parent
EXAMPLES = REPO / "example_workflows"
SAMPLE = example_path("sample_and_decode")


def sample() -> dict:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


def node(wf: dict, node_id: int) -> dict:
    return next(n for n in wf["nodes"] if n["id"] == node_id)


def pixels(paths) -> list[np.ndarray]:
    return [np.asarray(Image.open(p).convert("RGB")) for p in paths]


def test_example_runs_and_saves_pngs_of_the_model_size(tmp_path):
    result = workflow.run(SAMPLE, tmp_path)
    assert len(result.images) == 4  # the example's batch_size widget
    for path in result.images:
        assert path.startswith(str(tmp_path)) and path.endswith(".png")
        with Image.open(path) as im:
            assert im.format == "PNG" and im.size == (64, 64) and im.mode == "RGB"
    assert [Path(p).name for p in result.images] == [f"sample_and_decode_{i:05}_.png" for i in range(1, 5)]
    # images are not blank: a trained DCGAN draws faces with contrast
    assert all(a.std() > 10 for a in pixels(result.images))


def test_seed_widget_reaches_the_node_and_control_value_is_skipped(tmp_path):
    result = workflow.run(SAMPLE, tmp_path)
    latent = result.output(2)
    assert latent.seeds == [42, 43, 44, 45]
    expected = np.random.RandomState(42).randn(100)  # NVlabs seed convention
    np.testing.assert_allclose(latent.z[0].numpy(), expected, rtol=0, atol=1e-6)
    assert latent.truncation_psi == 1.0


def test_same_seed_gives_the_same_images_twice(tmp_path):
    first = pixels(workflow.run(SAMPLE, tmp_path / "a").images)
    second = pixels(workflow.run(SAMPLE, tmp_path / "b").images)
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], first[1])  # seeds 42 and 43 differ


def test_saving_twice_into_one_folder_never_overwrites(tmp_path):
    a = workflow.run(SAMPLE, tmp_path).images
    b = workflow.run(SAMPLE, tmp_path).images
    assert not set(a) & set(b)
    assert Path(b[0]).name == "sample_and_decode_00005_.png"


def test_unknown_node_type_is_a_clear_error(tmp_path):
    wf = sample()
    node(wf, 3)["type"] = "GANLabNoSuchNode"
    with pytest.raises(GANLabError, match=r"node 3 \(GANLabNoSuchNode\).*unknown node type"):
        workflow.run(wf, tmp_path)
    with pytest.raises(GANLabError, match="GANLabNoSuchNode"):
        workflow.to_api(wf)


def test_wrong_widget_count_names_the_node_and_the_widgets(tmp_path):
    wf = sample()
    node(wf, 2)["widgets_values"] = [42, 4, 1.0, 0, "0"]  # the seed's control value is missing
    with pytest.raises(GANLabError) as info:
        workflow.run(wf, tmp_path)
    msg = str(info.value)
    assert "node 2 (GANLabLatentFromSeed)" in msg
    assert "expected 6" in msg and "got 5" in msg and "seed" in msg and "batch_size" in msg
    assert not list(tmp_path.iterdir())  # nothing ran


def test_combo_value_outside_the_choices_is_rejected(tmp_path):
    wf = sample()
    node(wf, 3)["widgets_values"] = ["loud"]
    with pytest.raises(GANLabError, match=r"node 3 \(GANLabDecode\).*noise_mode='loud'"):
        workflow.run(wf, tmp_path)


def test_api_format_input_is_refused_with_a_hint(tmp_path):
    api = workflow.to_api(SAMPLE)
    with pytest.raises(GANLabError, match="API format"):
        workflow.run(api, tmp_path)


def test_ui_to_api_conversion_shape():
    api = workflow.to_api(SAMPLE)
    assert set(api) == {"1", "2", "3", "4"}  # the Note is not a node to execute
    assert {k: v["class_type"] for k, v in api.items()} == {
        "1": "GANLabLoadModel", "2": "GANLabLatentFromSeed", "3": "GANLabDecode", "4": "SaveImage"}
    assert api["1"]["inputs"] == {"model_name": "builtin: face DCGAN 64px (gan-face-generate)"}
    assert api["2"]["inputs"] == {"model": ["1", 0], "seed": 42, "batch_size": 4, "truncation_psi": 1.0,
                                  "truncation_cutoff": 0, "class_label": "0"}
    assert api["3"]["inputs"] == {"model": ["1", 0], "latent": ["2", 0], "noise_mode": "const"}
    assert api["4"]["inputs"] == {"images": ["3", 0], "filename_prefix": "gan_latent_lab/sample_and_decode"}
    json.dumps(api)  # plain JSON, postable to /prompt


def test_converted_widget_takes_the_link_but_keeps_its_widget_slot(tmp_path):
    wf = sample()
    latent_node = node(wf, 2)
    latent_node["inputs"].append({"name": "seed", "type": "INT", "widget": {"name": "seed"}, "link": 9})
    wf["nodes"].append({"id": 9, "type": "PrimitiveNode", "mode": 0, "inputs": [],
                        "outputs": [{"name": "INT", "type": "INT", "links": [9], "widget": {"name": "seed"}}],
                        "widgets_values": [7, "fixed"]})
    wf["links"].append([9, 9, 0, 2, 1, "INT"])
    assert latent_node["widgets_values"][0] == 42  # still there, occupying the seed slot
    api = workflow.to_api(wf)
    assert api["2"]["inputs"]["seed"] == 7 and api["2"]["inputs"]["batch_size"] == 4
    assert "9" not in api
    latent = workflow.run(wf, tmp_path).output(2)
    assert latent.seeds == [7, 8, 9, 10]


def test_reroute_passes_through_and_muted_save_is_skipped(tmp_path):
    wf = sample()
    save = node(wf, 4)
    save["inputs"][0]["link"] = 11
    wf["links"] = [l for l in wf["links"] if l[0] != 4] + [[10, 3, 0, 6, 0, "IMAGE"], [11, 6, 0, 4, 0, "IMAGE"]]
    wf["nodes"].append({"id": 6, "type": "Reroute", "mode": 0,
                        "inputs": [{"name": "", "type": "*", "link": 10}],
                        "outputs": [{"name": "", "type": "IMAGE", "links": [11]}]})
    assert workflow.to_api(wf)["4"]["inputs"]["images"] == ["3", 0]
    assert len(workflow.run(wf, tmp_path / "r").images) == 4
    muted = copy.deepcopy(wf)
    node(muted, 4)["mode"] = 2
    assert workflow.run(muted, tmp_path / "m").images == []


def test_link_to_missing_node_and_bad_file_are_errors(tmp_path):
    wf = sample()
    wf["links"][2][1] = 99
    with pytest.raises(GANLabError, match="node 99"):
        workflow.run(wf, tmp_path)
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(GANLabError, match="bad.json.*not valid JSON"):
        workflow.run(bad, tmp_path)


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.json")), ids=lambda p: p.name)
def test_every_example_converts_and_names_only_known_nodes(path):
    api = workflow.to_api(path)
    core = {"SaveImage", "PreviewImage", "SaveAnimatedPNG", "LoadImage"}  # ComfyUI's own nodes the runner handles
    assert core <= set(workflow.node_defs())
    known = set(gan_latent_lab.NODE_CLASS_MAPPINGS) | core
    assert api and {v["class_type"] for v in api.values()} <= known
    wf = json.loads(path.read_text(encoding="utf-8"))
    assert wf.get("version") == 0.4
    assert any(n["type"] in ("Note", "MarkdownNote") for n in wf["nodes"]), "each example explains itself"
    assert path.with_suffix(".jpg").is_file(), "each example has a thumbnail"


def test_cli_run_demo_and_convert(tmp_path, capsys):
    assert cli_main(["run", str(SAMPLE), "--out", str(tmp_path / "run")]) == 0
    assert len(list((tmp_path / "run").rglob("*.png"))) == 4
    assert cli_main(["run", str(SAMPLE), "--out", str(tmp_path / "one"), "--set", "2.batch_size=1"]) == 0
    assert len(list((tmp_path / "one").rglob("*.png"))) == 1
    assert cli_main(["run", str(SAMPLE), "--set", "2.nonsense=1", "--out", str(tmp_path / "x")]) == 2
    assert "unknown inputs ['nonsense']" in capsys.readouterr().err
    assert cli_main(["run", str(SAMPLE), "--set", "batch_size=1", "--out", str(tmp_path / "x")]) == 2
    assert "NODE_ID.INPUT=VALUE" in capsys.readouterr().err
    demo = tmp_path / "demo.png"
    assert cli_main(["demo", "--out", str(demo)]) == 0
    with Image.open(demo) as im:
        assert im.size == (4 * 64, 2 * 64)
    from gan_latent_lab.loaders import load_gan
    from gan_latent_lab.nodes.model_nodes import builtin_path

    src, _ = builtin_path("face DCGAN 64px (gan-face-generate)")
    out = tmp_path / "face.safetensors"
    assert cli_main(["convert", src, str(out)]) == 0
    assert load_gan(out).fingerprint == load_gan(src).fingerprint
    assert cli_main(["convert", src, str(out)]) == 2  # exists, no --overwrite
    assert "already exists" in capsys.readouterr().err
    assert cli_main(["convert", src, str(out), "--overwrite"]) == 0


def test_load_image_gives_comfyui_image_and_mask(tmp_path):
    """LoadImage as ComfyUI's: RGB in 0..1 ``[1, H, W, 3]``, MASK = 1 - alpha, EXIF orientation applied,
    files only from the input folder."""
    rgba = np.zeros((4, 5, 4), dtype=np.uint8)
    rgba[..., 0] = np.arange(20).reshape(4, 5) * 10
    rgba[..., 3] = 255
    rgba[1, 2, 3] = 0
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90 degrees to show
    Image.fromarray(np.zeros((4, 6, 3), dtype=np.uint8)).save(tmp_path / "turned.jpg", exif=exif)
    defs = workflow.node_defs(str(tmp_path), [], str(tmp_path))
    image, mask = defs["LoadImage"].call(image="a.png", upload="image")
    assert image.shape == (1, 4, 5, 3) and mask.shape == (1, 4, 5)
    assert torch.allclose(image[0, ..., 0], torch.from_numpy(rgba[..., 0] / 255.0).float())
    assert mask[0, 1, 2] == 1 and mask.sum() == 1
    turned, plain_mask = defs["LoadImage"].call(image="turned.jpg")
    assert turned.shape == (1, 6, 4, 3) and plain_mask.shape == (1, 64, 64) and not plain_mask.any()
    with pytest.raises(GANLabError, match="no image 'missing.png'"):
        defs["LoadImage"].call(image="missing.png")
    with pytest.raises(GANLabError, match="may not contain '..'"):
        defs["LoadImage"].call(image="../a.png")
