"""Write the example workflows (ComfyUI UI format, version 0.4) and README's example table.

    python3 scripts/build_examples.py            # rewrite example_workflows/*.json and README's table
    python3 scripts/build_examples.py --check    # exit 1 if a file differs from what this script writes

Each example names its nodes, the widget values that differ from the node's defaults, and its links;
the script fills in the rest from the nodes' own INPUT_TYPES (socket order, widget order, the seed's
"control after generate" value, output names), so an example cannot drift from the nodes it uses.
Re-run it after changing a node's inputs, then ``scripts/make_thumbnails.py`` for the pictures.

Names and order.  ComfyUI's template browser (Workflow > Browse Templates > gan-latent-lab) shows a
custom node pack's ``example_workflows/*.json`` with the file name, without its extension, as the
title (the frontend has no other title for them), the ``.jpg`` of the same name as the thumbnail, and
lists them in the order the server's directory listing gives.  So each example has:

- ``key``: a stable identifier (tests, thumbnails, ``docs/<key>.png``, output file prefixes); never
  shown, never changed.
- ``number`` and ``title``: the file is ``"<number, two digits> <title>.json"``, e.g.
  ``01 Faces from seeds.json``.  The number puts the simplest first wherever names are sorted: file
  browsers, this README, and ComfyUI's template browser through web/template_order.js (ComfyUI
  0.3.x itself lists them in the file system's order).  Titles use letters, digits, spaces and
  hyphens only (they travel in URLs and shell commands).
- ``labels``: a caption per saved image on the thumbnail (optional).
- ``needs``: the checkpoint a user must download, or None when the built-in face DCGAN is enough.

To add an example (e.g. ``edit_a_photo``): append an Example with a new key, a number (the next free
one, or renumber the others to place it: the script removes the files of old names; examples that
need a download stay last), a title, the README summary and the note; run this script, then
``scripts/make_thumbnails.py KEY`` and ``benchmarks/bench_examples.py KEY --write`` (then this script
again) if its note states a timing.  tests/test_examples.py runs every example and checks names and
order; give stand-in overrides in tests/model_files.py when it needs a download, and add the key to
the expected set there.  Tests find files by key (``tests/model_files.py: example_path(key)``).

Figures.  A note or summary that states a timing takes it from benchmarks/example_timings.json,
written by ``benchmarks/bench_examples.py --write`` (each example run through the runner); nothing is
typed in by hand.
"""

from __future__ import annotations

import json
import os
import re
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_thumbnails import import_pack  # noqa: E402 - the pack from this checkout, whatever its folder name

FACE = "builtin: face DCGAN 64px (gan-face-generate)"
STYLEGAN2_FILE = "stylegan2-ffhq-1024x1024.pkl"
BIGGAN_FILE = "biggan-deep-128/pytorch_model.bin"
E4E_FILE = "e4e_ffhq_encode.pt"
INPUT_IMAGE = "example.png"  # ships in every ComfyUI's input/ folder
PHOTO = "astronaut.png"  # input/astronaut.png in this repository: copy it into ComfyUI's input/ folder
PHOTO_DIR = os.path.join(ROOT, "input")
NOTE_COLOR, NOTE_BG = "#432", "#653"
EXAMPLES_DIR = os.path.join(ROOT, "example_workflows")
README = os.path.join(ROOT, "README.md")
TABLE_START, TABLE_END = "<!-- examples-table:start -->", "<!-- examples-table:end -->"
TIMINGS = os.path.join(ROOT, "benchmarks", "example_timings.json")
TITLE_RE = re.compile(r"^[A-Z][A-Za-z0-9 -]*[A-Za-z0-9]$")

# Layout (canvas units).  ComfyUI's frontend shows a node's images (saved outputs, or a progress preview
# such as Voynov Train's, Invert Image's and Pivotal Tuning's, or Load Image's picture) below its widgets in an area at least 220 units high and grows the node to fit
# it: with its margins a node grows by up to about 300 (frontend 1.27.10: Save Animated PNG, three widgets,
# from 320 to 438).  Such nodes are laid out that much taller from the start, so nothing grows over the
# node below (tests/test_browser_e2e.py checks it in the real frontend; previews are sent at most 220 px,
# nodes/bridge.py).
COLUMN_WIDTH, NODE_WIDTH, ROW_GAP = 400, 340, 60
PREVIEW_ROOM = 300
PREVIEW_NODES = {"GANLabVoynovTrain", "GANLabInvertImage", "GANLabPivotalTuning", "LoadImage", "SaveImage", "PreviewImage",
                 "SaveAnimatedPNG"}


def _timings() -> dict:
    try:
        with open(TIMINGS, encoding="utf-8") as f:
            return json.load(f)
    except FileNotFoundError:
        return {}


def timing(key: str) -> float | None:
    """Seconds the example took in the last ``benchmarks/bench_examples.py --write`` run (None: not measured)."""
    entry = _timings().get("examples", {}).get(key)
    return None if entry is None else float(entry["seconds"])


def timing_machine() -> str:
    """The machine of the stored timings, in words built from what bench_examples.py recorded about it:
    torch threads, AVX-512, and "a busy machine" when the one-minute load when the run started was over
    half the cores (other work was using them)."""
    info = _timings().get("machine")
    if not info:
        return "(no measurement)"
    words = f"{info['torch_threads']} CPU threads" + (" (AVX-512)" if info.get("avx512") else "")
    if info.get("load_1min_at_start", 0.0) > 0.5 * (info.get("cpu_count") or 1):
        words += " of a busy machine"
    return words


def about(seconds: float | None) -> str:
    """A measured duration the way a note says it: two significant figures, in s or min."""
    if seconds is None:
        return "(not measured: run benchmarks/bench_examples.py --write)"
    if seconds < 1:
        return "under a second"
    if seconds < 90:
        return f"{float(f'{seconds:.2g}'):g} s"
    return f"{float(f'{seconds / 60:.2g}'):g} min"


@dataclass
class N:
    """One node: id, type, the widget values that differ from the defaults, an optional title."""

    id: int
    type: str
    widgets: dict[str, Any] = field(default_factory=dict)
    title: str | None = None


@dataclass
class Example:
    key: str  # stable id: tests, thumbnails (docs/<key>.png), output prefixes
    number: int  # position in the template browser; the file name starts with it
    title: str  # shown after the number as the template's title
    summary: str  # README's "what it shows" (markdown)
    note: str  # the Note node in the workflow
    nodes: list[N]
    links: list[tuple[int, int, int, str]]  # (from node, from output slot, to node, to input name)
    needs: str | None = None  # a checkpoint to download (None: the built-in face DCGAN is enough)
    labels: list[str] | None = None  # thumbnail captions, one per saved image

    @property
    def stem(self) -> str:
        return f"{self.number:02d} {self.title}"

    @property
    def filename(self) -> str:
        return self.stem + ".json"


def _examples() -> list[Example]:
    sefa_s, ganspace_s, voynov_s = (timing("sefa_explorer_grid"), timing("ganspace_vs_sefa"),
                                    timing("voynov_train_save_apply"))
    machine = timing_machine()
    return [
        Example(
            "sample_and_decode", 1, "Faces from seeds",
            "Load → GAN Latent from Seed → GAN Decode → Save: four faces from seeds 42–45 of the built-in face DCGAN",
            "Faces from seeds: the smallest GAN Latent Lab graph.\n\n"
            "1. Load GAN Model picks the built-in face DCGAN (64 px, installed with the gan-face-generate package) "
            "or any checkpoint in models/gan.\n"
            "2. GAN Latent from Seed draws 4 latents from seeds 42..45; a seed gives the same z as NVIDIA's tools "
            "(numpy RandomState). Set control after generate to 'increment' to walk through seeds.\n"
            "3. GAN Decode turns the codes into images on ComfyUI's device.\n"
            "4. Save Image writes them to output/gan_latent_lab/.",
            [N(1, "GANLabLoadModel", {"model_name": FACE}),
             N(2, "GANLabLatentFromSeed", {"seed": 42, "batch_size": 4, "truncation_psi": 1.0}),
             N(3, "GANLabDecode"),
             N(4, "SaveImage", {"filename_prefix": "gan_latent_lab/sample_and_decode"})],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (2, 0, 3, "latent"), (3, 0, 4, "images")],
            labels=["seed 42", "seed 43", "seed 44", "seed 45"]),
        Example(
            "interpolation_animation", 2, "Morph between two faces",
            "slerp between seeds 3 and 8 in 16 frames, saved as an animated PNG (frames shown)",
            "Morph between two faces, saved as an animation.\n\n"
            "Two seeds, 16 frames between them (both ends included). slerp follows the sphere, right for "
            "Gaussian z codes such as this DCGAN's; use lerp for the w codes of a style GAN. Save Animated PNG "
            "writes the frames as one looping animation to output/gan_latent_lab/; the preview shows the frames.",
            [N(1, "GANLabLoadModel", {"model_name": FACE}),
             N(2, "GANLabLatentFromSeed", {"seed": 3, "batch_size": 1, "truncation_psi": 1.0}, title="Start seed"),
             N(3, "GANLabLatentFromSeed", {"seed": 8, "batch_size": 1, "truncation_psi": 1.0}, title="End seed"),
             N(4, "GANLabLatentInterpolate", {"steps": 16, "mode": "slerp"}),
             N(5, "GANLabDecode"),
             N(6, "SaveAnimatedPNG", {"filename_prefix": "gan_latent_lab/interpolation", "fps": 8.0}),
             N(7, "PreviewImage")],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (2, 0, 4, "latent_a"), (3, 0, 4, "latent_b"),
             (1, 0, 5, "model"), (4, 0, 5, "latent"), (5, 0, 6, "images"), (5, 0, 7, "images")]),
        Example(
            "sefa_explorer_grid", 3, "Explore SeFa directions",
            "SeFa on the face DCGAN; rows are the first five directions, columns strengths −4…+4 (the middle "
            "column is the original)",
            "Explore SeFa directions: what do the model's main directions do?\n\n"
            "SeFa (Shen & Zhou, CVPR 2021) finds directions without training or labels: the eigenvectors of "
            "A^T A, where A is the weight that first reads the latent code. This whole graph ran in "
            f"{about(sefa_s)} on {machine} (benchmarks/bench_examples.py).\n\n"
            "Direction Grid shows one row per direction (first_index .. first_index + count - 1) and one column "
            "per strength from -max_strength to +max_strength; the middle column is the unedited image. "
            "Change the seed to see the same directions on another face, raise first_index to page through "
            "weaker directions. To keep a set, connect a Save Directions node (it writes to models/gan_directions).",
            [N(1, "GANLabLoadModel", {"model_name": FACE}),
             N(2, "GANLabSeFaDirections", {"slots": "all", "top_k": 10}),
             N(3, "GANLabLatentFromSeed", {"seed": 42, "batch_size": 1, "truncation_psi": 1.0}),
             N(4, "GANLabDirectionGrid", {"first_index": 0, "count": 5, "max_strength": 4.0, "steps": 5}),
             N(5, "SaveImage", {"filename_prefix": "gan_latent_lab/sefa_explorer_grid"})],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (1, 0, 4, "model"), (3, 0, 4, "latent"),
             (2, 0, 4, "directions"), (4, 0, 5, "images")]),
        Example(
            "ganspace_vs_sefa", 4, "GANSpace versus SeFa",
            "GANSpace and SeFa on the face DCGAN (the file asks for 100,000 samples; its 8,192-wide first layer "
            "caps them at 32,768, as the table says), the \\|cos\\| heatmap of their first ten directions, and "
            "what the first three GANSpace directions do (±2 σ)",
            "GANSpace versus SeFa: do two unsupervised methods find the same directions?\n\n"
            "GANSpace (Härkönen et al., NeurIPS 2020) runs PCA on the codes or activations of many random "
            "samples. This file asks for 100,000; the face DCGAN's first layer is 8,192 wide, so GANSpace caps "
            "them at 32,768 (its table says how many it used), and the whole graph ran in "
            f"{about(ganspace_s)} on {machine} (benchmarks/bench_examples.py). "
            "SeFa factorizes the weights directly. Compare Directions draws the |cosine| between the first "
            "10 directions of each set as a heatmap: a bright diagonal means both methods agree. The grid below "
            "shows what the first GANSpace directions do. Interrupt stops the sampling cleanly.",
            [N(1, "GANLabLoadModel", {"model_name": FACE}),
             N(2, "GANLabGANSpace", {"samples": 100000, "components": 10, "seed": 0}),
             N(3, "GANLabSeFaDirections", {"slots": "all", "top_k": 10}),
             N(4, "GANLabCompareDirections", {"count": 10}),
             N(5, "SaveImage", {"filename_prefix": "gan_latent_lab/ganspace_vs_sefa"}),
             N(6, "GANLabLatentFromSeed", {"seed": 42, "batch_size": 1, "truncation_psi": 1.0}),
             N(7, "GANLabDirectionGrid", {"first_index": 0, "count": 3, "max_strength": 2.0, "steps": 5,
                                          "strength_in_sigma": True}),
             N(8, "PreviewImage")],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (2, 0, 4, "directions_a"), (3, 0, 4, "directions_b"),
             (4, 0, 5, "images"), (1, 0, 6, "model"), (1, 0, 7, "model"), (6, 0, 7, "latent"),
             (2, 0, 7, "directions"), (7, 0, 8, "images")],
            labels=["|cos|, GANSpace (rows) vs SeFa (columns)", "GANSpace directions 1-3, -2 to +2 sd"]),
        Example(
            "voynov_train_save_apply", 5, "Train Voynov directions",
            "Voynov training (resumable), saving the set, applying five directions. The file trains 2,000 "
            "steps; the picture is after those 2,000 steps",
            "Voynov & Babenko (ICML 2020): learn directions that a second network can tell apart.\n\n"
            "Voynov Train trains a direction matrix and a reconstructor that must guess which direction moved "
            "an image, and how far. It shows progress and a preview, saves the run to models/gan_directions "
            "every checkpoint_every steps and when interrupted, and resumes where it stopped when queued "
            f"again with the same run_name. This file's 2000 steps took {about(voynov_s)} on {machine} "
            "(benchmarks/bench_examples.py); other CPUs and busy machines can be many times slower, so try "
            "200 first. Save "
            "Directions writes the learned set as a direction file; the grid applies the first five directions "
            "to one face.",
            [N(1, "GANLabLoadModel", {"model_name": FACE}),
             N(2, "GANLabVoynovTrain", {"directions": 16, "steps": 2000, "batch_size": 8, "deformator": "ortho",
                                        "run_name": "face_voynov", "checkpoint_every": 250}),
             N(3, "GANLabSaveDirections", {"filename": "face_voynov_directions", "overwrite": True}),
             N(4, "GANLabLatentFromSeed", {"seed": 42, "batch_size": 1, "truncation_psi": 1.0}),
             N(5, "GANLabDirectionGrid", {"first_index": 0, "count": 5, "max_strength": 4.0, "steps": 5}),
             N(6, "SaveImage", {"filename_prefix": "gan_latent_lab/voynov_train_save_apply"})],
            [(1, 0, 2, "model"), (2, 0, 3, "directions"), (1, 0, 4, "model"), (1, 0, 5, "model"),
             (4, 0, 5, "latent"), (2, 0, 5, "directions"), (5, 0, 6, "images")]),
        Example(
            "edit_a_photo", 6, "Edit your own photo",
            "Load Image (the astronaut portrait) → Align Face → GAN Invert Image → Pivotal Tuning → Apply Direction → "
            "GAN Decode on the face DCGAN: the aligned photo, the inversion alone, the tuned reconstruction and an "
            "edit (SeFa direction 2, strength +3) of it",
            "Edit your own photo: align, invert, tune, edit.\n\n"
            f"Load Image opens {PHOTO}: copy input/{PHOTO} from this pack's folder into ComfyUI's input/ folder, or "
            "pick your own photo with a face. Align Face crops the face as the FFHQ dataset did (needs MediaPipe: "
            "pip install mediapipe==0.10.14). GAN Invert Image searches the model's codes for the photo (for this DCGAN: "
            "8 random starts in z, the best refined; 240 steps); its summary gives the PSNR. A 64 px DCGAN cannot draw "
            "an arbitrary face, so the inversion is only a likeness. Pivotal Tuning then fine-tunes a copy of the "
            "generator (350 steps) until that latent draws the photo; the original model stays as it was, and SeFa "
            "directions found on it edit the tuned copy. Apply Direction moves the latent along SeFa direction 2; "
            "try other indices and strengths. GAN Latent Batch puts the tuned reconstruction beside the edit.\n\n"
            "For FFHQ StyleGAN2: pick the model in Load GAN Model, set Align Face's size to 1024 and use a GPU; "
            "Invert Image then runs w, then w+ (600 steps). With an e4e encoder, connect Encode Image's latent to "
            "Invert Image's init (a short refinement) or straight to Pivotal Tuning.",
            [N(1, "LoadImage", {"image": PHOTO}),
             N(2, "GANLabAlignFace", {"size": 256}),
             N(3, "GANLabLoadModel", {"model_name": FACE}),
             N(4, "GANLabInvertImage"),
             N(5, "GANLabPivotalTuning"),
             N(6, "GANLabSeFaDirections"),
             N(7, "GANLabApplyDirection", {"index": 2, "strength": 3.0}, title="Apply Direction (SeFa 2)"),
             N(8, "GANLabLatentBatch"),
             N(9, "GANLabDecode"),
             N(10, "PreviewImage", title="Aligned photo"),
             N(11, "PreviewImage", title="Inversion before tuning"),
             N(12, "SaveImage", {"filename_prefix": "gan_latent_lab/edit_a_photo"})],
            [(1, 0, 2, "image"), (2, 0, 4, "image"), (3, 0, 4, "model"), (3, 0, 5, "model"), (4, 0, 5, "latent"),
             (2, 0, 5, "image"), (3, 0, 6, "model"), (5, 0, 7, "model"), (5, 1, 7, "latent"), (6, 0, 7, "directions"),
             (5, 1, 8, "latent_a"), (7, 0, 8, "latent_b"), (5, 0, 9, "model"), (8, 0, 9, "latent"),
             (2, 0, 10, "images"), (4, 1, 11, "images"), (9, 0, 12, "images")],
            labels=["aligned photo", "inversion", "tuned", "SeFa 2, +3"]),
        Example(
            "layerwise_edit", 7, "Layer-wise StyleGAN2 edit",
            "one SeFa direction pushed on coarse (0–3), middle (4–7) and fine (8–17) w+ slots of a StyleGAN2, "
            f"beside the original. Needs NVIDIA's `{STYLEGAN2_FILE}` in `models/gan`; **the picture is the random "
            "32 px test stand-in**, not FFHQ",
            "Layer-wise edit: one direction, pushed on coarse, middle or fine slots only.\n\n"
            f"Needs a StyleGAN2 checkpoint: put NVIDIA's {STYLEGAN2_FILE} (or any StyleGAN / StyleGAN2 / StyleGAN3 "
            "file we load) into models/gan and pick it in Load GAN Model.\n\n"
            "A style GAN feeds one w code per synthesis layer (18 for 1024 px). Following the StyleGAN paper, "
            "slots 0-3 (4-8 px) are coarse: pose, face shape; 4-7 (16-32 px) middle: features, hair style; "
            "8-17 (64-1024 px) fine: colour, texture. The three Apply Direction nodes push the same SeFa "
            "direction with the same strength on those three ranges; GAN Latent Batch puts the original and the "
            "three edits side by side. For another resolution set the slot ranges from the summary that Load "
            "GAN Model prints (it lists every slot and the layer it feeds).",
            [N(1, "GANLabLoadModel", {"model_name": STYLEGAN2_FILE}),
             N(2, "GANLabLatentFromSeed", {"seed": 11, "batch_size": 1, "truncation_psi": 0.7}),
             N(3, "GANLabSeFaDirections", {"slots": "all", "top_k": 10}),
             N(4, "GANLabApplyDirection", {"index": 0, "strength": 6.0, "slot_start": 0, "slot_end": 3},
               title="Apply Direction (coarse 0-3)"),
             N(5, "GANLabApplyDirection", {"index": 0, "strength": 6.0, "slot_start": 4, "slot_end": 7},
               title="Apply Direction (middle 4-7)"),
             N(6, "GANLabApplyDirection", {"index": 0, "strength": 6.0, "slot_start": 8, "slot_end": -1},
               title="Apply Direction (fine 8-last)"),
             N(7, "GANLabLatentBatch"),
             N(8, "GANLabDecode"),
             N(9, "SaveImage", {"filename_prefix": "gan_latent_lab/layerwise_edit"})],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (1, 0, 4, "model"), (1, 0, 5, "model"), (1, 0, 6, "model"),
             (1, 0, 8, "model"), (2, 0, 4, "latent"), (2, 0, 5, "latent"), (2, 0, 6, "latent"),
             (3, 0, 4, "directions"), (3, 0, 5, "directions"), (3, 0, 6, "directions"),
             (2, 0, 7, "latent_a"), (4, 0, 7, "latent_b"), (5, 0, 7, "latent_c"), (6, 0, 7, "latent_d"),
             (7, 0, 8, "latent"), (8, 0, 9, "images")],
            needs=STYLEGAN2_FILE, labels=["original", "coarse", "middle", "fine"]),
        Example(
            "biggan_class_edit", 8, "BigGAN class edit",
            "BigGAN-deep 128: a class by name, a direction on early (0–4) and late (5–12) blocks, and a dog/cat "
            "class mix. Needs `biggan-deep-128/pytorch_model.bin` + `config.json` in `models/gan`; **the picture is "
            "the random 32 px test stand-in**",
            "BigGAN class edit with layer-wise injection.\n\n"
            f"Needs BigGAN-deep 128: put the pytorch-pretrained-biggan files (pytorch_model.bin and config.json) "
            f"into models/gan/biggan-deep-128/ and pick {BIGGAN_FILE} in Load GAN Model.\n\n"
            "The class is a widget: an ImageNet index, a name ('golden retriever'), or a mix "
            "('golden retriever:0.5, tabby cat:0.5'). BigGAN-deep feeds z to its first layer (slot 0) and to "
            "every generator block (slots 1-12), as GANSpace does; a SeFa direction pushed on the early "
            "blocks changes pose and shape, on the late blocks texture and colour. From left to right: "
            "the dog, the edit on slots 0-4, the edit on slots 5-12, and a dog/cat class mix from the same seed.",
            [N(1, "GANLabLoadModel", {"model_name": BIGGAN_FILE}),
             N(2, "GANLabLatentFromSeed", {"seed": 3, "batch_size": 1, "truncation_psi": 0.4,
                                           "class_label": "golden retriever"}),
             N(3, "GANLabSeFaDirections", {"slots": "all", "top_k": 10}),
             N(4, "GANLabApplyDirection", {"index": 0, "strength": 2.0, "slot_start": 0, "slot_end": 4},
               title="Apply Direction (early blocks 0-4)"),
             N(5, "GANLabApplyDirection", {"index": 0, "strength": 2.0, "slot_start": 5, "slot_end": -1},
               title="Apply Direction (late blocks 5-last)"),
             N(6, "GANLabLatentFromSeed", {"seed": 3, "batch_size": 1, "truncation_psi": 0.4,
                                           "class_label": "golden retriever:0.5, tabby cat:0.5"},
               title="Latent from Seed (class mix)"),
             N(7, "GANLabLatentBatch"),
             N(8, "GANLabDecode"),
             N(9, "SaveImage", {"filename_prefix": "gan_latent_lab/biggan_class_edit"})],
            [(1, 0, 2, "model"), (1, 0, 3, "model"), (1, 0, 4, "model"), (1, 0, 5, "model"), (1, 0, 6, "model"),
             (1, 0, 8, "model"), (2, 0, 4, "latent"), (2, 0, 5, "latent"), (3, 0, 4, "directions"),
             (3, 0, 5, "directions"), (2, 0, 7, "latent_a"), (4, 0, 7, "latent_b"), (5, 0, 7, "latent_c"),
             (6, 0, 7, "latent_d"), (7, 0, 8, "latent"), (8, 0, 9, "images")],
            needs=BIGGAN_FILE, labels=["class", "early blocks", "late blocks", "class mix"]),
        Example(
            "encode_and_edit", 9, "Edit a photo with e4e",
            "Load Image → Load Image Encoder → Encode Image → Apply Direction (e4e's `age.pt`, strength −3) → GAN "
            "Decode: the reconstruction beside the edit, and the photo. Needs `e4e_ffhq_encode.pt` in "
            "`models/gan_encoders` and e4e's direction files in `models/gan_directions`; **the picture is a random "
            "stand-in encoder with the 32 px test decoder**",
            "Encode a photo with e4e, then edit it.\n\n"
            f"Needs encoder4editing's FFHQ encoder: put {E4E_FILE} into models/gan_encoders. The file also holds the "
            "FFHQ StyleGAN2 it was trained with; Load Image Encoder gives it as its decoder output, so nothing goes into "
            "models/gan. For the edit, put e4e's direction files into models/gan_directions (from the encoder4editing "
            "repository: editings/interfacegan_directions/age.pt, smile.pt, pose.pt and editings/ganspace_pca/"
            "ffhq_pca.pt).\n\n"
            f"Load Image opens {INPUT_IMAGE} (ComfyUI's sample drawing): pick your own photo, a face cropped and aligned "
            "like FFHQ works best. Encode Image turns it into 18 w codes in one forward pass (resized to 256x256 first). "
            "Apply Direction moves them along age.pt with strength -3, as e4e's notebook does; flip the sign for the "
            "other way. smile.pt and pose.pt work the same way. ffhq_pca.pt holds 80 GANSpace components: e4e's scripts "
            "use component 54 on slot 7 (eyes), 58 on slots 7-8 (beard) and 34 on slot 10 (lipstick); with "
            "strength_in_sigma on, the strength is in standard deviations. GAN Latent Batch puts the reconstruction "
            "beside the edit; the preview shows the photo itself.",
            [N(1, "LoadImage", {"image": INPUT_IMAGE}),
             N(2, "GANLabLoadImageEncoder", {"encoder_name": E4E_FILE}),
             N(3, "GANLabEncodeImage"),
             N(4, "GANLabLoadDirections", {"directions_name": "age.pt"}),
             N(5, "GANLabApplyDirection", {"index": 0, "strength": -3.0, "slot_start": 0, "slot_end": -1},
               title="Apply Direction (age)"),
             N(6, "GANLabLatentBatch"),
             N(7, "GANLabDecode"),
             N(8, "SaveImage", {"filename_prefix": "gan_latent_lab/encode_and_edit"}),
             N(9, "PreviewImage")],
            [(1, 0, 3, "image"), (2, 0, 3, "encoder"), (2, 1, 3, "model"), (2, 1, 4, "model"), (2, 1, 5, "model"),
             (3, 0, 5, "latent"), (4, 0, 5, "directions"), (3, 0, 6, "latent_a"), (5, 0, 6, "latent_b"),
             (2, 1, 7, "model"), (6, 0, 7, "latent"), (7, 0, 8, "images"), (1, 0, 9, "images")],
            needs=E4E_FILE, labels=["reconstruction", "age -3", "photo"]),
    ]


EXAMPLES = _examples()
BY_KEY = {ex.key: ex for ex in EXAMPLES}


def path_of(key: str) -> str:
    """The workflow file of an example, by key."""
    return os.path.join(EXAMPLES_DIR, BY_KEY[key].filename)


def key_of(path: str | os.PathLike) -> str:
    """The key of an example workflow file (by its name)."""
    name = os.path.basename(os.fspath(path))
    for ex in EXAMPLES:
        if ex.filename == name or ex.stem == name:
            return ex.key
    raise KeyError(f"{name} is not one of the examples scripts/build_examples.py writes")


# Core ComfyUI nodes the examples use: (socket inputs, widgets with their defaults[, outputs]).
# LoadImage's second widget is the front end's upload button, saved as the value "image".
CORE = {
    "SaveImage": ([("images", "IMAGE")], [("filename_prefix", "ComfyUI")]),
    "PreviewImage": ([("images", "IMAGE")], []),
    "SaveAnimatedPNG": ([("images", "IMAGE")], [("filename_prefix", "ComfyUI"), ("fps", 6.0), ("compress_level", 4)]),
    "LoadImage": ([], [("image", INPUT_IMAGE), ("upload", "image")], [("IMAGE", "IMAGE"), ("MASK", "MASK")]),
}


def node_shape(type_: str) -> tuple[list[tuple[str, str]], list[tuple[str, Any, bool]], list[tuple[str, str]], str]:
    """(sockets, widgets as (name, default, has seed control), outputs, display name) of a node type."""
    pack = import_pack()
    from gan_latent_lab.workflow import SEED_NAMES, is_widget

    if type_ in CORE:
        sockets, widgets, *outputs = CORE[type_]
        return sockets, [(n, d, False) for n, d in widgets], (outputs[0] if outputs else []), type_
    cls = pack.NODE_CLASS_MAPPINGS[type_]
    spec = cls.INPUT_TYPES()
    sockets, widgets = [], []
    for section in ("required", "optional"):
        for name, entry in (spec.get(section) or {}).items():
            typ, opts = entry[0], (entry[1] if len(entry) > 1 else {})
            if is_widget(typ, opts):
                default = opts.get("default", typ[0] if isinstance(typ, (list, tuple)) else None)
                control = typ == "INT" and (name in SEED_NAMES or bool(opts.get("control_after_generate")))
                widgets.append((name, default, control))
            else:
                sockets.append((name, typ))
    names = getattr(cls, "RETURN_NAMES", None) or cls.RETURN_TYPES
    outputs = list(zip(names, cls.RETURN_TYPES))
    return sockets, widgets, outputs, pack.NODE_DISPLAY_NAME_MAPPINGS.get(type_, type_)


def build(ex: Example) -> dict:
    by_id = {n.id: n for n in ex.nodes}
    shapes = {n.id: node_shape(n.type) for n in ex.nodes}
    # columns by longest path from a source, nodes stacked in each column in order of appearance
    depth = {n.id: 0 for n in ex.nodes}
    for _ in ex.nodes:
        for src, _, dst, _ in ex.links:
            depth[dst] = max(depth[dst], depth[src] + 1)
    heights: dict[int, int] = {}
    ui_links, node_in, node_out = [], {n.id: {} for n in ex.nodes}, {n.id: {} for n in ex.nodes}
    for link_id, (src, slot, dst, name) in enumerate(ex.links, start=1):
        sockets = [s for s, _ in shapes[dst][0]]
        if name not in sockets:
            raise SystemExit(f"{ex.key}: node {dst} ({by_id[dst].type}) has no input socket {name!r}")
        typ = shapes[src][2][slot][1]
        ui_links.append([link_id, src, slot, dst, sockets.index(name), typ])
        node_in[dst][name] = link_id
        node_out[src].setdefault(slot, []).append(link_id)
    nodes = []
    for order, n in enumerate(sorted(ex.nodes, key=lambda n: (depth[n.id], n.id))):
        sockets, widgets, outputs, display = shapes[n.id]
        unknown = set(n.widgets) - {w for w, _, _ in widgets}
        if unknown:
            raise SystemExit(f"{ex.key}: node {n.id} ({n.type}) has no widget(s) {sorted(unknown)}")
        values = []
        for name, default, control in widgets:
            values.append(n.widgets.get(name, default))
            if control:
                values.append("fixed")
        col = depth[n.id]
        height = 46 + 24 * len(values) + 22 * max(len(sockets), len(outputs))
        if n.type in PREVIEW_NODES:
            height += PREVIEW_ROOM
        node = {
            "id": n.id, "type": n.type, "pos": [40 + COLUMN_WIDTH * col, 80 + heights.get(col, 0)],
            "size": [NODE_WIDTH, height], "flags": {}, "order": order, "mode": 0,
            "inputs": [{"name": s, "type": t, "link": node_in[n.id].get(s)} for s, t in sockets],
            "outputs": [{"name": o, "type": t, "links": node_out[n.id].get(i), "slot_index": i}
                        for i, (o, t) in enumerate(outputs)],
            "properties": {"Node name for S&R": n.type},
            "widgets_values": values,
        }
        if n.title and n.title != display:
            node["title"] = n.title
        nodes.append(node)
        heights[col] = heights.get(col, 0) + height + ROW_GAP
    note_id = max(by_id) + 1
    nodes.append({"id": note_id, "type": "Note", "pos": [40, 80 + heights.get(0, 0)], "size": [NODE_WIDTH, 360],
                  "flags": {}, "order": len(nodes), "mode": 0, "inputs": [], "outputs": [], "properties": {},
                  "widgets_values": [ex.note], "color": NOTE_COLOR, "bgcolor": NOTE_BG})
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"gan-latent-lab/example_workflows/{ex.key}")),
        "revision": 0, "last_node_id": note_id, "last_link_id": len(ui_links),
        "nodes": nodes, "links": ui_links, "groups": [], "config": {},
        "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}}, "version": 0.4,
    }


def render(ex: Example) -> str:
    return json.dumps(build(ex), indent=1, ensure_ascii=False) + "\n"


def readme_table() -> str:
    """README's example table: one row per example in template-browser order."""
    rows = ["| example | what it shows | time | output |", "|---|---|---|---|"]
    for ex in sorted(EXAMPLES, key=lambda e: e.number):
        link = "example_workflows/" + ex.filename.replace(" ", "%20")
        alt = ex.title.lower()
        seconds = "–" if ex.needs else about(timing(ex.key))
        rows.append(f"| [{ex.stem}]({link}) | {ex.summary} | {seconds} | ![{alt}](docs/{ex.key}.png) |")
    when = _timings().get("date", "never")
    rows += ["", f"Time: the whole workflow, from file to saved images, on {timing_machine()} ({when}, "
                 "`benchmarks/bench_examples.py`); – for the examples that need a download."]
    return "\n".join(rows)


def readme_with_table(text: str) -> str:
    if text.count(TABLE_START) != 1 or text.count(TABLE_END) != 1:
        raise SystemExit(f"README.md needs one {TABLE_START} and one {TABLE_END}")
    head, rest = text.split(TABLE_START, 1)
    _, tail = rest.split(TABLE_END, 1)
    return f"{head}{TABLE_START}\n{readme_table()}\n{TABLE_END}{tail}"


def check_names() -> None:
    keys, numbers = [ex.key for ex in EXAMPLES], [ex.number for ex in EXAMPLES]
    if len(set(keys)) != len(keys) or len(set(numbers)) != len(numbers):
        raise SystemExit("example keys and numbers must be unique")
    for ex in EXAMPLES:
        if not (1 <= ex.number <= 99 and TITLE_RE.match(ex.title)):
            raise SystemExit(f"{ex.key}: number 1..99 and a title of letters, digits, spaces and hyphens, "
                             f"not {ex.number} {ex.title!r}")


def stale_files() -> list[str]:
    """Files in example_workflows/ that no example writes (old names after a rename)."""
    wanted = {ex.stem for ex in EXAMPLES}
    return sorted(f for f in os.listdir(EXAMPLES_DIR)
                  if f.endswith((".json", ".jpg")) and os.path.splitext(f)[0] not in wanted)


def main(argv: list[str]) -> int:
    check_names()
    check = "--check" in argv
    keys = [a for a in argv if not a.startswith("--")]
    stale = []
    for ex in EXAMPLES:
        if keys and ex.key not in keys:
            continue
        path = os.path.join(EXAMPLES_DIR, ex.filename)
        text = render(ex)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(ex.filename)
            continue
        import_pack()
        from gan_latent_lab.atomic import atomic_write

        with atomic_write(path, overwrite=True) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
        print(f"wrote {os.path.relpath(path, ROOT)}")
    with open(README, encoding="utf-8") as f:
        readme = f.read()
    if check:
        stale += stale_files()
        if readme_with_table(readme) != readme:
            stale.append("README.md (example table)")
    elif not keys:
        for name in stale_files():
            os.remove(os.path.join(EXAMPLES_DIR, name))
            print(f"removed {os.path.join('example_workflows', name)} (no example has that name)")
        if readme_with_table(readme) != readme:
            from gan_latent_lab.atomic import atomic_write

            with atomic_write(README, overwrite=True) as tmp:
                with open(tmp, "w", encoding="utf-8") as f:
                    f.write(readme_with_table(readme))
            print("wrote README.md (example table)")
    if stale:
        print("out of date (run scripts/build_examples.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
