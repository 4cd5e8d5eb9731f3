"""Load Perceptual Distance: the image distance GAN Invert Image and Pivotal Tuning minimise, from models/gan_aux."""

from __future__ import annotations

import os

from ..directions.perceptual import ImageDistance, image_distance
from ..errors import InputError
from ..loaders.vgg import LPIPS_NAME, NVIDIA_NAME, TORCHVISION_NAME, VGG16Weights, read_vgg16
from . import bridge
from .common import CATEGORY, PERCEPTUAL, FileCache

SUBCATEGORY = f"{CATEGORY}/photo"
KIND = "gan_aux"
NO_VGG = "none (pixel + MS-SSIM)"
AUTO_LIN = f"auto ({LPIPS_NAME} in models/gan_aux, else the VGG16 file's own)"
UNIFORM_LIN = "none (uniform layer weights)"


def _is_lpips_name(name: str) -> bool:
    return os.path.basename(name).lower() == LPIPS_NAME


def vgg_choices() -> list[str]:
    """Files in models/gan_aux, the known VGG16 names first, then no network at all."""
    files = [n for n in bridge.list_files(KIND) if not _is_lpips_name(n)]
    files.sort(key=lambda n: (os.path.basename(n) not in (NVIDIA_NAME, TORCHVISION_NAME), n))
    return files + [NO_VGG]


def lpips_choices() -> list[str]:
    files = sorted(bridge.list_files(KIND), key=lambda n: (not _is_lpips_name(n), n))
    return [AUTO_LIN, UNIFORM_LIN] + files


def aux_path(name: str) -> str:
    """A widget name -> a file inside models/gan_aux (never outside it)."""
    path = bridge.full_path(KIND, name)
    if path is None or not os.path.isfile(path):
        raise InputError(f"no file {name!r} in models/gan_aux")
    return path


# VGG16 weights stay in memory while a distance built on them is alive (ComfyUI's output cache holds
# it); re-running a graph with the same unchanged file reuses them instead of reading 500 MB again.
_vgg_cache = FileCache()


def load_vgg(path: str) -> VGG16Weights:
    return _vgg_cache.load(path, read_vgg16)


def _auto_lin() -> str | None:
    """The lpips package's vgg.pth in models/gan_aux (the shallowest one), if there is one."""
    found = sorted((n for n in bridge.list_files(KIND) if _is_lpips_name(n)), key=lambda n: (n.count("/"), n))
    return aux_path(found[0]) if found else None


def build_distance(vgg_file: str, lpips_weights: str = AUTO_LIN) -> ImageDistance:
    """The distance the node's choices name: LPIPS on a VGG16 file, or pixel + MS-SSIM for none."""
    if vgg_file == NO_VGG:
        return image_distance()
    vgg = load_vgg(aux_path(vgg_file))
    if lpips_weights == UNIFORM_LIN:
        return image_distance(vgg, False)
    lin = _auto_lin() if lpips_weights == AUTO_LIN else aux_path(lpips_weights)
    return image_distance(vgg, lin)


def describe(distance: ImageDistance, vgg_file: str, lpips_weights: str) -> str:
    lines = [f"{distance.name}: {distance.summary}"]
    if vgg_file == NO_VGG and lpips_weights not in (AUTO_LIN, UNIFORM_LIN):
        lines.append(f"{lpips_weights} is not used: LPIPS weights need a VGG16 network")
    if distance.hint:
        lines.append("To improve: " + distance.hint)
    return "\n".join(lines)


class LoadPerceptualDistance:
    DESCRIPTION = ("The image distance that GAN Invert Image and Pivotal Tuning minimise. With a VGG16 file in "
                   f"models/gan_aux (torchvision's {TORCHVISION_NAME} or NVIDIA's {NVIDIA_NAME}): LPIPS on VGG16, "
                   f"calibrated by NVIDIA's built-in weights or the lpips package's {LPIPS_NAME}. Without one: "
                   "pixel L1 + MS-SSIM, and the summary names the file that improves the result. Nothing is "
                   "downloaded and no code in the files is run.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (PERCEPTUAL, "STRING")
    RETURN_NAMES = ("distance", "summary")
    OUTPUT_TOOLTIPS = ("The distance, for the perceptual input of GAN Invert Image and Pivotal Tuning.",
                       "Which distance this is, what it is built from, and which file would improve it.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "vgg_file": (vgg_choices(), {"tooltip":
                         f"VGG16 weights in models/gan_aux: torchvision's {TORCHVISION_NAME} or NVIDIA's {NVIDIA_NAME}. "
                         f"'{NO_VGG}' needs no file."}),
        }, "optional": {
            "lpips_weights": (lpips_choices(), {"default": AUTO_LIN, "tooltip":
                              f"LPIPS calibration: the lpips package's weights/v0.1/{LPIPS_NAME} in models/gan_aux. "
                              "auto: that file if present, else the weights inside NVIDIA's vgg16.pt, else uniform."}),
        }}

    def load(self, vgg_file, lpips_weights=AUTO_LIN):
        distance = build_distance(vgg_file, lpips_weights)
        return (distance, describe(distance, vgg_file, lpips_weights))


NODES = {"GANLabLoadPerceptualDistance": (LoadPerceptualDistance, "Load Perceptual Distance")}
