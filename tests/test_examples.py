"""Every example workflow runs through the runner on CPU, is what scripts/build_examples.py writes,
and ships its note and thumbnails.  Examples that need a checkpoint a fresh install lacks run on
stand-ins written under the file names they use (tests/model_files.py), shrunk only through widgets."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_latent_lab import workflow
from gan_latent_lab.nodes import bridge
from model_files import STANDIN_OVERRIDES, write_example_inputs, write_example_models

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "example_workflows").glob("*.json"))
NAMES = [p.stem for p in EXAMPLES]


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(f"_script_{name}", ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_example_models(root)
    write_example_inputs(root / "input")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_LATENT_LAB_MODELS", str(root))
        mp.setenv("GAN_LATENT_LAB_INPUT", str(root / "input"))
        yield root


def run_example(name: str, out: Path):
    return workflow.run(ROOT / "example_workflows" / f"{name}.json", out, overrides=STANDIN_OVERRIDES.get(name))


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def test_the_examples_exist_and_match_the_build_script():
    assert {"sample_and_decode", "sefa_explorer_grid", "layerwise_edit", "ganspace_vs_sefa",
            "voynov_train_save_apply", "biggan_class_edit", "interpolation_animation", "encode_and_edit"} <= set(NAMES)
    builder = load_script("build_examples")
    assert sorted(ex.name for ex in builder.EXAMPLES) == sorted(NAMES)
    assert builder.main(["--check"]) == 0, "example_workflows/ is stale: run scripts/build_examples.py"


@pytest.mark.parametrize("name", NAMES)
def test_example_has_note_thumbnail_and_readme_picture(name):
    wf = json.loads((ROOT / "example_workflows" / f"{name}.json").read_text(encoding="utf-8"))
    assert wf["version"] == 0.4 and wf["links"] and wf["nodes"]
    notes = [n for n in wf["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1 and len(notes[0]["widgets_values"][0]) > 80
    with Image.open(ROOT / "example_workflows" / f"{name}.jpg") as im:
        assert im.format == "JPEG" and im.width >= 64
    with Image.open(ROOT / "docs" / f"{name}.png") as im:
        assert im.format == "PNG" and im.width <= 512


@pytest.mark.parametrize("name", NAMES)
def test_example_runs_through_the_runner(name, models_root, tmp_path):
    result = run_example(name, tmp_path)
    assert result.images, f"{name} saved nothing"
    for path in result.images:
        arr = pixels(path)
        assert arr.std() > 0, f"{path} is a flat image"


def test_layerwise_edit_changes_only_where_pushed(models_root, tmp_path):
    imgs = [pixels(p) for p in run_example("layerwise_edit", tmp_path).images]
    assert len(imgs) == 4 and imgs[0].shape == (32, 32, 3)
    original, coarse, middle, fine = imgs
    for edit in (coarse, middle, fine):
        assert np.abs(edit - original).max() > 8
    assert np.abs(coarse - fine).max() > 8 and np.abs(coarse - middle).max() > 8


def test_layerwise_edit_equals_the_library_edit(models_root, tmp_path):
    """The graph's third image is the library's edit on slots 2..5 (the middle third of the stand-in)."""
    from gan_latent_lab.directions import apply_direction, sefa
    from gan_latent_lab.nodes.model_nodes import load_model, sample_latent
    from gan_latent_lab.nodes.common import to_image

    result = run_example("layerwise_edit", tmp_path)
    gen = load_model("stylegan2-ffhq-1024x1024.pkl")
    latent, _ = sample_latent(gen, 11, 1, 0.7, 0)
    edited = apply_direction(latent, sefa(gen, "all", 10), 0, 6.0, 4, 5, model=gen)
    with torch.no_grad():
        img = to_image(gen.synthesis(edited.codes.to(gen.device)))[0]
    assert np.abs(workflow.image_to_uint8(img).astype(np.int16) - pixels(result.images[2])).max() <= 1


def test_encode_and_edit_equals_the_library(models_root, tmp_path):
    """Reconstruction and age edit are the library's encode + edit of the photo; the preview is the photo."""
    from gan_latent_lab.directions import apply_direction, load_directions
    from gan_latent_lab.directions.encode import encode_images
    from gan_latent_lab.nodes.common import to_image
    from gan_latent_lab.nodes.encoder_nodes import load_encoder_file

    result = run_example("encode_and_edit", tmp_path)
    saved = [p for p in result.images if "preview" not in Path(p).name]
    [preview] = [p for p in result.images if "preview" in Path(p).name]
    assert len(saved) == 2
    assert np.array_equal(pixels(preview), pixels(models_root / "input" / "example.png"))
    enc = load_encoder_file("e4e_ffhq_encode.pt")
    photo = torch.from_numpy(pixels(models_root / "input" / "example.png").astype(np.float32) / 255)
    latent, _ = encode_images(enc, enc.decoder, photo.permute(2, 0, 1)[None] * 2 - 1)
    edited = apply_direction(latent, load_directions(models_root / "gan_directions" / "age.pt"), 0, -3.0, 0, -1,
                             model=enc.decoder)
    for path, codes in zip(saved, (latent.codes, edited.codes)):
        with torch.no_grad():
            img = to_image(enc.decoder.synthesis(codes))[0]
        assert np.abs(workflow.image_to_uint8(img).astype(np.int16) - pixels(path)).max() <= 1
    assert np.abs(pixels(saved[0]) - pixels(saved[1])).max() > 8


def test_biggan_example_mixes_classes_and_edits(models_root, tmp_path):
    imgs = [pixels(p) for p in run_example("biggan_class_edit", tmp_path).images]
    assert len(imgs) == 4 and imgs[0].shape == (32, 32, 3)
    assert all(np.abs(x - imgs[0]).max() >= 2 for x in imgs[1:])  # the tiny random stand-in reacts weakly


def test_interpolation_writes_a_16_frame_animation_from_seed_3_to_8(models_root, tmp_path):
    result = run_example("interpolation_animation", tmp_path)
    [apng] = [p for p in result.images if Image.open(p).n_frames > 1]
    frames = [p for p in result.images if p != apng]
    assert len(frames) == 16
    with Image.open(apng) as im:
        assert im.n_frames == 16 and im.info.get("loop") == 0
        im.seek(0)
        assert np.abs(np.asarray(im.convert("RGB")).astype(np.int16) - pixels(frames[0])).max() == 0
    ends = workflow.run(ROOT / "example_workflows" / "sample_and_decode.json", tmp_path / "ends",
                        overrides={2: {"seed": 3, "batch_size": 1}})
    assert np.abs(pixels(ends.images[0]) - pixels(frames[0])).max() <= 1
    steps = [np.abs(pixels(a) - pixels(b)).mean() for a, b in zip(frames, frames[1:])]
    assert max(steps) < 0.5 * np.abs(pixels(frames[0]) - pixels(frames[-1])).mean()


def test_voynov_example_saves_its_run_and_direction_file(models_root, tmp_path):
    run_example("voynov_train_save_apply", tmp_path)
    folder = Path(bridge.folder("gan_directions"))
    saved = {p.name for p in folder.rglob("*") if p.is_file()}
    assert any(n.startswith("face_voynov_directions") for n in saved), saved
    assert any("face_voynov" in n and not n.startswith("face_voynov_directions") for n in saved), saved


def test_missing_model_file_is_a_clear_error_naming_the_node(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path / "empty"))
    with pytest.raises(Exception, match=r"node 1 \(GANLabLoadModel\).*stylegan2-ffhq-1024x1024\.pkl"):
        workflow.run(ROOT / "example_workflows" / "layerwise_edit.json", tmp_path / "out")
