"""Write the example workflows (ComfyUI UI format, version 0.4) from the short descriptions below.

    python3 scripts/build_examples.py            # rewrite example_workflows/*.json
    python3 scripts/build_examples.py --check    # exit 1 if a file differs from what this script writes

Each example names its nodes, the widget values that differ from the node's defaults, and its links;
the script fills in the rest from the nodes' own INPUT_TYPES (socket order, widget order, the seed's
"control after generate" value, output names), so an example cannot drift from the nodes it uses.
Re-run it after changing a node's inputs, then ``scripts/make_thumbnails.py`` for the pictures.
"""

from __future__ import annotations

import json
import os
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
NOTE_COLOR, NOTE_BG = "#432", "#653"


@dataclass
class N:
    """One node: id, type, the widget values that differ from the defaults, an optional title."""

    id: int
    type: str
    widgets: dict[str, Any] = field(default_factory=dict)
    title: str | None = None


@dataclass
class Example:
    name: str
    note: str
    nodes: list[N]
    links: list[tuple[int, int, int, str]]  # (from node, from output slot, to node, to input name)


EXAMPLES = [
    Example(
        "sample_and_decode",
        "Sample and decode: the smallest GAN Latent Lab graph.\n\n"
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
        [(1, 0, 2, "model"), (1, 0, 3, "model"), (2, 0, 3, "latent"), (3, 0, 4, "images")]),
    Example(
        "sefa_explorer_grid",
        "SeFa explorer: what do the model's main directions do?\n\n"
        "SeFa (Shen & Zhou, CVPR 2021) finds directions without training or labels: the eigenvectors of "
        "A^T A, where A is the weight that first reads the latent code. It takes well under a second.\n\n"
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
        "layerwise_edit",
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
         (7, 0, 8, "latent"), (8, 0, 9, "images")]),
    Example(
        "ganspace_vs_sefa",
        "GANSpace versus SeFa: do two unsupervised methods find the same directions?\n\n"
        "GANSpace (Härkönen et al., NeurIPS 2020) runs PCA on the codes or activations of many random "
        "samples (100 000 here: about a minute on a CPU for this DCGAN; lower 'samples' for a quick look). "
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
         (2, 0, 7, "directions"), (7, 0, 8, "images")]),
    Example(
        "voynov_train_save_apply",
        "Voynov & Babenko (ICML 2020): learn directions that a second network can tell apart.\n\n"
        "Voynov Train trains a direction matrix and a reconstructor that must guess which direction moved "
        "an image, and how far. It shows progress and a preview, saves the run to models/gan_directions "
        "every checkpoint_every steps and when interrupted, and resumes where it stopped when queued "
        "again with the same run_name. 2000 steps take one to twelve minutes on two CPU cores, depending on the CPU; "
        "try 200 first. Save Directions writes the learned set as a direction file; the grid applies the "
        "first five directions to one face.",
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
        "biggan_class_edit",
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
         (6, 0, 7, "latent_d"), (7, 0, 8, "latent"), (8, 0, 9, "images")]),
    Example(
        "interpolation_animation",
        "Interpolation as an animation.\n\n"
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
]

# Core ComfyUI nodes the examples use: (socket inputs, widgets with their defaults).
CORE = {
    "SaveImage": ([("images", "IMAGE")], [("filename_prefix", "ComfyUI")]),
    "PreviewImage": ([("images", "IMAGE")], []),
    "SaveAnimatedPNG": ([("images", "IMAGE")], [("filename_prefix", "ComfyUI"), ("fps", 6.0), ("compress_level", 4)]),
}


def node_shape(type_: str) -> tuple[list[tuple[str, str]], list[tuple[str, Any, bool]], list[tuple[str, str]], str]:
    """(sockets, widgets as (name, default, has seed control), outputs, display name) of a node type."""
    pack = import_pack()
    from gan_latent_lab.workflow import SEED_NAMES, is_widget

    if type_ in CORE:
        sockets, widgets = CORE[type_]
        return sockets, [(n, d, False) for n, d in widgets], [], type_
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
    # columns by longest path from a source, rows in order of appearance
    depth = {n.id: 0 for n in ex.nodes}
    for _ in ex.nodes:
        for src, _, dst, _ in ex.links:
            depth[dst] = max(depth[dst], depth[src] + 1)
    rows: dict[int, int] = {}
    heights: dict[int, int] = {}
    ui_links, node_in, node_out = [], {n.id: {} for n in ex.nodes}, {n.id: {} for n in ex.nodes}
    for link_id, (src, slot, dst, name) in enumerate(ex.links, start=1):
        sockets = [s for s, _ in shapes[dst][0]]
        if name not in sockets:
            raise SystemExit(f"{ex.name}: node {dst} ({by_id[dst].type}) has no input socket {name!r}")
        typ = shapes[src][2][slot][1]
        ui_links.append([link_id, src, slot, dst, sockets.index(name), typ])
        node_in[dst][name] = link_id
        node_out[src].setdefault(slot, []).append(link_id)
    nodes = []
    for order, n in enumerate(sorted(ex.nodes, key=lambda n: (depth[n.id], n.id))):
        sockets, widgets, outputs, display = shapes[n.id]
        unknown = set(n.widgets) - {w for w, _, _ in widgets}
        if unknown:
            raise SystemExit(f"{ex.name}: node {n.id} ({n.type}) has no widget(s) {sorted(unknown)}")
        values = []
        for name, default, control in widgets:
            values.append(n.widgets.get(name, default))
            if control:
                values.append("fixed")
        col = depth[n.id]
        row = rows.get(col, 0)
        height = 46 + 24 * len(values) + 22 * max(len(sockets), len(outputs))
        if n.type in ("SaveImage", "PreviewImage", "SaveAnimatedPNG"):
            height = 300
        node = {
            "id": n.id, "type": n.type, "pos": [40 + 380 * col, 80 + heights.get(col, 0)],
            "size": [340, height], "flags": {}, "order": order, "mode": 0,
            "inputs": [{"name": s, "type": t, "link": node_in[n.id].get(s)} for s, t in sockets],
            "outputs": [{"name": o, "type": t, "links": node_out[n.id].get(i), "slot_index": i}
                        for i, (o, t) in enumerate(outputs)],
            "properties": {"Node name for S&R": n.type},
            "widgets_values": values,
        }
        if n.title and n.title != display:
            node["title"] = n.title
        nodes.append(node)
        rows[col] = row + 1
        heights[col] = heights.get(col, 0) + height + 60
    note_id = max(by_id) + 1
    nodes.append({"id": note_id, "type": "Note", "pos": [40, 80 + heights.get(0, 0)], "size": [340, 320],
                  "flags": {}, "order": len(nodes), "mode": 0, "inputs": [], "outputs": [], "properties": {},
                  "widgets_values": [ex.note], "color": NOTE_COLOR, "bgcolor": NOTE_BG})
    return {
        "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"gan-latent-lab/example_workflows/{ex.name}")),
        "revision": 0, "last_node_id": note_id, "last_link_id": len(ui_links),
        "nodes": nodes, "links": ui_links, "groups": [], "config": {},
        "extra": {"ds": {"scale": 1.0, "offset": [0, 0]}}, "version": 0.4,
    }


def render(ex: Example) -> str:
    return json.dumps(build(ex), indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    names = [a for a in argv if not a.startswith("--")]
    stale = []
    for ex in EXAMPLES:
        if names and ex.name not in names:
            continue
        path = os.path.join(ROOT, "example_workflows", ex.name + ".json")
        text = render(ex)
        if check:
            try:
                with open(path, encoding="utf-8") as f:
                    same = f.read() == text
            except FileNotFoundError:
                same = False
            if not same:
                stale.append(ex.name)
            continue
        import_pack()
        from gan_latent_lab.atomic import atomic_write

        with atomic_write(path, overwrite=True) as tmp:
            with open(tmp, "w", encoding="utf-8") as f:
                f.write(text)
        print(f"wrote {os.path.relpath(path, ROOT)}")
    if stale:
        print("out of date (run scripts/build_examples.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
