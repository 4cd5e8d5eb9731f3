"""GANSpace directions and a side-by-side comparison of two direction sets."""

from __future__ import annotations


import torch

from ..directions.compare import MAX_COMPARE, compare_directions, heatmap
from ..directions.ganspace import component_table, ganspace
from ..directions.ganspace_io import save_ganspace_npz
from ..errors import InputError
from . import bridge
from .common import CATEGORY, DIRECTIONS, MODEL, whole, seed as check_seed
from .paths import output_path

SUBCATEGORY = f"{CATEGORY}/directions"
MAX_SAMPLES = 10_000_000
MAX_COMPONENTS = 512


def export_path(name: str) -> str | None:
    """Widget file name -> ``models/gan_directions/<name>.npz`` (None when empty); refuses existing files."""
    name = str(name or "").strip()
    if not name:
        return None
    return output_path(bridge.folder("gan_directions"), name, ".npz")


def run_ganspace(model, samples: int, components: int, seed: int, layer: str = "auto", converge: bool = True,
                 class_label: str = "0", export_npz: str = ""):
    """Validate widget values, run GANSpace with ComfyUI's progress bar and cancel button, export if asked.

    The file is written only after sampling finished, atomically: an interrupted run leaves nothing."""
    samples, components = whole("samples", samples), whole("components", components)
    if not 2 <= samples <= MAX_SAMPLES:
        raise InputError(f"samples {samples} is outside 2..{MAX_SAMPLES}")
    if not 1 <= components <= MAX_COMPONENTS:
        raise InputError(f"components {components} is outside 1..{MAX_COMPONENTS}")
    s = check_seed(seed)
    path = export_path(export_npz)
    bridge.load_to_device(model)
    bar: dict = {}

    def progress(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = bridge.Progress(total)
        bar["bar"].set(done)

    classes = str(class_label).strip() or "0"
    d, stats = ganspace(model, samples, min(components, model.w_dim), s, layer=layer, converge=bool(converge),
                        progress=progress, classes=classes, interrupt=bridge.check_interrupt)
    table = component_table(d, stats)
    if path is not None:
        save_ganspace_npz(d, path)
        table += f"\nexported: {path}"
    return d, table


class GANSpaceDirections:
    DESCRIPTION = (
        "GANSpace (Härkönen et al., NeurIPS 2020): principal components of the model's own samples. Style GANs: "
        "PCA of w = mapping(z), streamed in float64, stopping early once the top components stop moving "
        "(converge). DCGAN / PGGAN / BigGAN: PCA of a layer's activations, regressed back to unit directions "
        "in z. Each direction's value is its standard deviation, so strengths can be given in sigmas.\n"
        "Layer-wise edits as in the paper: an edit (component i, first slot, last slot, sigma), written E(v_i, "
        "j-k) in the paper, is Apply Direction with index i, slot_start j, slot_end k (inclusive), strength "
        "sigma and strength_in_sigma on. GANSpace's notebooks give the end slot exclusively (range(start, "
        "end)): their (i, 0, 3, 2.0) is slot_start 0, slot_end 2. Early slots move pose and shape, late ones "
        "colour and lighting.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "components")
    OUTPUT_TOOLTIPS = ("Unit directions in code space (w or z), strongest first, with their standard deviations.",
                       "Table of component, standard deviation and explained variance, and how many samples "
                       "were used.")
    FUNCTION = "find"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator to sample."}),
            "samples": ("INT", {"default": 100_000, "min": 1000, "max": MAX_SAMPLES, "step": 1000, "tooltip":
                                "Most samples to draw. With converge on, sampling stops earlier once the "
                                "components are stable; the table says how many were used."}),
            "components": ("INT", {"default": 20, "min": 1, "max": MAX_COMPONENTS,
                                   "tooltip": "How many principal components to keep (capped at the code width)."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": 0xFFFFFFFF,
                             "tooltip": "Seed of the sampled z: the same seed gives the same directions."}),
            "layer": ("STRING", {"default": "auto", "tooltip":
                                 "'auto': w for style GANs, the first hookable layer otherwise. 'w' forces w-space "
                                 "PCA; a layer name (Load GAN Model's summary lists them, e.g. main.2 for a DCGAN) "
                                 "forces activation PCA + regression to z."}),
            "converge": ("BOOLEAN", {"default": True, "tooltip":
                                     "Stop sampling once the top components' subspace moves less than 0.02 rad (about 1 degree) "
                                     "between estimates; off: always use all samples."}),
        }, "optional": {
            "class_label": ("STRING", {"default": "0", "tooltip":
                                       "Conditional models: the class sampled (index, 'a:0.7,b:0.3' mix, name) or "
                                       "'random'. Ignored by unconditional models."}),
            "export_npz": ("STRING", {"default": "", "tooltip":
                                      "Optional file name: also write a GANSpace-format .npz (lat_comp, lat_mean, "
                                      "lat_stdev) into models/gan_directions. Empty: no file."}),
        }}

    def find(self, model, samples, components, seed, layer, converge, class_label="0", export_npz=""):
        return run_ganspace(model, samples, components, seed, layer, converge, class_label, export_npz)


class CompareDirections:
    DESCRIPTION = ("Compare two direction sets of the same model (SeFa vs GANSpace, two seeds, two sample counts): "
                   "a heatmap of |cosine| between their first N vectors with the numbers written in, each vector's "
                   "best match in the other set, and the principal angles between the two subspaces (0 deg: same "
                   "subspace, 90 deg: orthogonal). Sets of different widths, spaces or models are refused.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("heatmap", "report")
    OUTPUT_TOOLTIPS = ("|cos| heatmap, rows A0.., columns B0.. (yellow: same direction up to sign).",
                       "Best matches both ways and the principal angles in degrees.")
    FUNCTION = "compare"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "directions_a": (DIRECTIONS, {"tooltip": "First set (rows of the heatmap)."}),
            "directions_b": (DIRECTIONS, {"tooltip": "Second set (columns of the heatmap)."}),
            "count": ("INT", {"default": 10, "min": 1, "max": MAX_COMPARE,
                              "tooltip": "Compare the first N vectors of each set (fewer if a set is smaller)."}),
        }}

    def compare(self, directions_a, directions_b, count):
        abs_cos, _, report = compare_directions(directions_a, directions_b, int(count))
        title = f"|cos|  A: {directions_a.method}   B: {directions_b.method}"
        img = torch.from_numpy(heatmap(abs_cos, title)).to(torch.float32).div(255).unsqueeze(0)
        return (img.to(bridge.intermediate_device()), report)


NODES = {
    "GANLabGANSpace": (GANSpaceDirections, "GANSpace Directions"),
    "GANLabCompareDirections": (CompareDirections, "Compare Directions"),
}
