"""Every example workflow runs through the runner on CPU, is what scripts/build_examples.py writes,
and ships its note and thumbnails.  Examples that need a checkpoint a fresh install lacks run on
stand-ins written under the file names they use (tests/model_files.py), shrunk only through widgets."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gan_latent_lab import workflow
from gan_latent_lab.nodes import bridge
from model_files import (STANDIN_OVERRIDES, example_key, example_path, examples_builder, write_example_inputs,
                         write_example_models)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "example_workflows").glob("*.json"))
KEYS = [example_key(p) for p in EXAMPLES]


@pytest.fixture(scope="module")
def models_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    write_example_models(root)
    write_example_inputs(root / "input")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GAN_LATENT_LAB_MODELS", str(root))
        mp.setenv("GAN_LATENT_LAB_INPUT", str(root / "input"))
        yield root


def run_example(key: str, out: Path):
    return workflow.run(example_path(key), out, overrides=STANDIN_OVERRIDES.get(key))


def pixels(path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int16)


def test_the_examples_exist_and_match_the_build_script():
    assert {"sample_and_decode", "sefa_explorer_grid", "layerwise_edit", "ganspace_vs_sefa",
            "voynov_train_save_apply", "biggan_class_edit", "interpolation_animation",
            "encode_and_edit", "edit_a_photo"} <= set(KEYS)
    builder = examples_builder()
    assert sorted(ex.key for ex in builder.EXAMPLES) == sorted(KEYS)
    assert builder.main(["--check"]) == 0, "example_workflows/ or README is stale: run scripts/build_examples.py"


def test_file_names_read_as_titles_and_sort_simplest_first():
    """The template browser shows the file name as the title: "NN Title words", numbered in the order
    of the examples (the built-in model ones first, the ones that need a download last)."""
    builder = examples_builder()
    stems = [p.stem for p in EXAMPLES]  # sorted by name, as file browsers and sorted listings show them
    assert all(re.fullmatch(r"\d\d [A-Z][A-Za-z0-9 -]*[A-Za-z0-9]", s) for s in stems), stems
    ordered = sorted(builder.EXAMPLES, key=lambda e: e.number)
    assert stems == [e.stem for e in ordered]
    assert stems[0] == "01 Faces from seeds"
    needs = [e.needs is not None for e in ordered]
    assert needs == sorted(needs), "examples that need a download come after the built-in-model ones"
    sizes = [len(e.nodes) for e in ordered]
    assert sizes[0] == min(sizes), "the first example is the smallest graph"
    assert {p.suffix for p in (ROOT / "example_workflows").iterdir()} <= {".json", ".jpg"}


@pytest.mark.parametrize("key", KEYS)
def test_example_has_note_thumbnail_and_readme_picture(key):
    path = example_path(key)
    wf = json.loads(path.read_text(encoding="utf-8"))
    assert wf["version"] == 0.4 and wf["links"] and wf["nodes"]
    notes = [n for n in wf["nodes"] if n["type"] == "Note"]
    assert len(notes) == 1 and len(notes[0]["widgets_values"][0]) > 80
    assert "not measured" not in notes[0]["widgets_values"][0]
    with Image.open(path.with_suffix(".jpg")) as im:
        # the template browser shows a 256 x 256 card: a square thumbnail fills it
        assert im.format == "JPEG" and im.size == (512, 512)
    with Image.open(ROOT / "docs" / f"{key}.png") as im:
        assert im.format == "PNG" and im.width <= 512


@pytest.mark.parametrize("key", KEYS)
def test_nodes_do_not_overlap_even_with_their_preview(key):
    """Laid out with room: no two node boxes overlap, and a node that shows a live preview (Voynov) has
    the frontend's 220-unit preview area below its widgets from the start."""
    builder = examples_builder()
    wf = json.loads(example_path(key).read_text(encoding="utf-8"))
    boxes = [(n["id"], n["pos"][0], n["pos"][1], n["pos"][0] + n["size"][0], n["pos"][1] + n["size"][1])
             for n in wf["nodes"]]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a[3] <= b[1] or b[3] <= a[1] or a[4] <= b[2] or b[4] <= a[2]
            assert apart, f"{key}: nodes {a[0]} and {b[0]} overlap"
    for n in wf["nodes"]:
        if n["type"] in builder.PREVIEW_NODES:
            widgets_height = 46 + 24 * len(n["widgets_values"]) + 22 * max(len(n["inputs"]), len(n["outputs"]))
            assert n["size"][1] >= widgets_height + 220


@pytest.mark.parametrize("key", KEYS)
def test_example_runs_through_the_runner(key, models_root, tmp_path):
    result = run_example(key, tmp_path)
    assert result.images, f"{key} saved nothing"
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


def test_edit_a_photo_aligns_inverts_tunes_and_edits(models_root, tmp_path):
    """The photo example on the real astronaut portrait (steps lowered through the widgets): the aligned
    photo is the library's alignment, the tuned model draws it at least 3 dB more closely than the inversion
    alone, and the SeFa direction visibly moves the tuned face."""
    pytest.importorskip("mediapipe")
    from gan_latent_lab.directions import align_face

    result = run_example("edit_a_photo", tmp_path)
    previews = [p for p in result.images if "preview" in Path(p).name]
    saved = [p for p in result.images if "preview" not in Path(p).name]
    assert len(previews) == 2 and len(saved) == 2
    aligned, inverted = (pixels(p) for p in previews)
    expected, _ = align_face(np.array(Image.open(ROOT / "input" / "astronaut.png").convert("RGB")), size=256)
    assert np.abs(aligned - expected.astype(np.int16)).max() <= 1
    photo = np.asarray(Image.fromarray(expected).resize((64, 64), Image.BICUBIC)).astype(np.float64)

    def psnr(img):
        return 10 * np.log10(255.0 ** 2 / np.mean((img.astype(np.float64) - photo) ** 2))

    tuned, edit = (pixels(p) for p in saved)
    assert inverted.shape == tuned.shape == (64, 64, 3)
    assert psnr(tuned) > psnr(inverted) + 3, (psnr(inverted), psnr(tuned))
    assert np.abs(edit - tuned).mean() > 2  # the direction moves the tuned face


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
    ends = workflow.run(example_path("sample_and_decode"), tmp_path / "ends",
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
        workflow.run(example_path("layerwise_edit"), tmp_path / "out")
