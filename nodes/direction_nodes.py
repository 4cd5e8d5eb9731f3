"""Find, save and load direction sets: SeFa, and files in models/gan_directions (ours and imported)."""

from __future__ import annotations

import os

from ..directions import io as dio
from ..directions.sefa import eigen_table, sefa
from ..errors import InputError
from . import bridge
from .common import CATEGORY, DIRECTIONS, MODEL, whole
from .paths import output_path, safe_join

SUBCATEGORY = f"{CATEGORY}/directions"
READABLE = (".safetensors", ".npy", ".npz", ".pt")


def direction_choices() -> list[str]:
    names = [n for n in bridge.list_files("gan_directions") if n.lower().endswith(READABLE)]
    return names or ["(put direction files into models/gan_directions)"]


def directions_path(name: str, must_exist: bool = True) -> str:
    """A widget name -> a path inside models/gan_directions (never outside it)."""
    path = bridge.full_path("gan_directions", name) if must_exist else None
    if path is None:
        path = safe_join(bridge.folder("gan_directions"), name)
        if must_exist and not os.path.isfile(path):
            raise InputError(f"no direction file {name!r} in models/gan_directions")
    return path


def output_name(name: str, ext: str = ".safetensors") -> str:
    name = str(name).strip()
    if not name:
        raise InputError("file name is empty")
    return name if name.lower().endswith(ext) else name + ext


def save_path(name: str, overwrite: bool) -> str:
    """Where Save Directions writes ``name`` (checked before anything is written)."""
    return output_path(bridge.folder("gan_directions"), name, ".safetensors", overwrite)


class SeFaDirections:
    DESCRIPTION = ("SeFa (Shen & Zhou, CVPR 2021): closed-form semantic directions from the generator's own weights, "
                   "no sampling or training. Directions are ranked by eigenvalue: how strongly the chosen layers "
                   "respond to a move along them.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "eigenvalues")
    OUTPUT_TOOLTIPS = ("Unit directions in code space, strongest first.",
                       "A table of each direction's eigenvalue and share of the total.")
    FUNCTION = "find"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator whose weights are factorized."}),
            "slots": ("STRING", {"default": "all", "tooltip":
                                 "Slots whose weights are factorized: 'all', inclusive ranges and lists like '0-1,4', "
                                 "or coarse / middle / fine (thirds of the slots). Coarse slots give pose and shape."}),
            "top_k": ("INT", {"default": 20, "min": 1, "max": 4096,
                              "tooltip": "How many directions to keep (capped at the code width)."}),
        }}

    def find(self, model, slots, top_k):
        d = sefa(model, slots, min(whole("top k", top_k), model.w_dim))
        return (d, eigen_table(d))


class SaveDirections:
    DESCRIPTION = "Save a direction set to models/gan_directions as safetensors (vectors, values and provenance)."
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file was written.",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "directions": (DIRECTIONS, {"tooltip": "The set to save."}),
            "filename": ("STRING", {"default": "sefa_directions", "tooltip":
                                    "Name inside models/gan_directions; .safetensors is added."}),
            "overwrite": ("BOOLEAN", {"default": False, "tooltip": "Replace an existing file of that name."}),
        }}

    def save(self, directions, filename, overwrite):
        path = save_path(filename, bool(overwrite))
        return (dio.save_directions(directions, path, overwrite=bool(overwrite)),)


class LoadDirections:
    DESCRIPTION = ("Load a direction set from models/gan_directions: sets saved here, InterFaceGAN boundaries (.npy), "
                   "GANSpace component files (.npz), ComfyUI-StyleGan direction files and e4e's direction files (.pt: "
                   "age, smile, pose, ffhq_pca). A set made for a model of another width is refused.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "summary")
    OUTPUT_TOOLTIPS = ("The direction set.", "Method, space, count, width and values.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"directions_name": (direction_choices(), {"tooltip": "File in models/gan_directions."})},
                "optional": {"model": (MODEL, {"tooltip": "If given, the set is checked against this model."})}}

    def load(self, directions_name, model=None):
        d = dio.load_for_model(directions_path(directions_name), model)
        return (d, eigen_table(d, limit=16) + f"\n{d.space} space, {d.dim} wide, labels: {', '.join(d.labels) or '-'}")


NODES = {
    "GANLabSeFaDirections": (SeFaDirections, "SeFa Directions"),
    "GANLabSaveDirections": (SaveDirections, "Save Directions"),
    "GANLabLoadDirections": (LoadDirections, "Load Directions"),
}
