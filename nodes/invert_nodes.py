"""GAN Invert Image: a photo (ComfyUI IMAGE) -> the latent whose image is closest to it."""

from __future__ import annotations

import statistics

import numpy as np
import torch

from ..directions.invert import MAX_IMAGES, MAX_STEPS, MIN_SIDE, SPACES, check_inputs, invert
from . import bridge
from .common import CATEGORY, LATENT, MODEL, PERCEPTUAL, SEED_MAX, photos, seed as check_seed, to_image, whole

SUBCATEGORY = f"{CATEGORY}/photo"
PREVIEW_IMAGES = 4


def preview_image(preview: torch.Tensor):
    """``[n, 3, R, 2R]`` in [-1, 1] (target | current) -> a PIL image, the first few stacked vertically."""
    from PIL import Image

    rows = preview[:PREVIEW_IMAGES].clamp(-1, 1)
    sheet = torch.cat(list(rows), dim=1)  # [3, k*R, 2R]
    pixels = ((sheet + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    return Image.fromarray(np.ascontiguousarray(pixels))


def describe(model, stats: dict, n: int) -> str:
    values = stats["psnr"]
    text = (f"Inverted {n} image{'s' if n > 1 else ''} into {stats['space']} of {model.arch} "
            f"({' -> '.join(p['name'] for p in stats['phases'])}, {stats['steps']} steps, {stats['seconds']:.1f} s, "
            f"distance {stats['distance']} + MSE). PSNR per image: "
            + ", ".join(f"{v:.1f}" for v in values) + f" dB (median {statistics.median(values):.1f} dB).")
    if stats.get("noise"):
        text += (" Noise maps were optimised with the codes; the latent decodes with the model's stored noise, "
                 "as the PSNR above does.")
    return text


class InvertImage:
    DESCRIPTION = ("Find the latent whose image is closest to a photo (projection by optimisation), so the photo "
                   "can be edited with directions. Style GANs: w then w+ (one w per layer); DCGAN / PGGAN: z from "
                   "several random starts; BigGAN: z then one z per block. Crop the face first for face models "
                   "(Align Face). Shows target | current while it runs; stops on interrupt.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT, "IMAGE", "STRING")
    RETURN_NAMES = ("latent", "reconstruction", "summary")
    OUTPUT_TOOLTIPS = ("The codes that reproduce the photo (edit them, decode them, tune the model on them).",
                       "The latent decoded by the model, at the model's resolution.",
                       "Spaces, steps, time and the PSNR of each image.")
    FUNCTION = "invert"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator to invert into (it stays unchanged)."}),
            "image": ("IMAGE", {"tooltip": "Up to 16 photos; centre-cropped to a square and resized to the "
                                           "model's resolution."}),
            "space": (["auto", *SPACES], {"default": "auto", "tooltip":
                      "auto: w+ for style GANs, z for DCGAN / PGGAN, z+ for BigGAN. w: one w for every layer; "
                      "w+: one per layer (closer, less editable); z / z+: z shared or per BigGAN block."}),
            "steps": ("INT", {"default": 0, "min": 0, "max": MAX_STEPS, "tooltip":
                      "Optimisation steps in all (0 = the default: 600 for style GANs, 240 for DCGAN / PGGAN, "
                      "480 for BigGAN, 150-200 when refining an init latent)."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX,
                             "tooltip": "Seeds the random starts and the search noise; same seed, same result."}),
        }, "optional": {
            "init": (LATENT, {"tooltip": "Start here instead (an encoder's output or an earlier inversion of this "
                                         "model): a short refinement."}),
            "perceptual": (PERCEPTUAL, {"tooltip": "An image distance (LPIPS with a VGG16 file); without it pixel "
                                                   "L1 + MS-SSIM, no download."}),
            "class_label": ("STRING", {"default": "", "tooltip":
                            "Conditional models: the class (index, name or 'a:0.7,b:0.3'). Empty: the init latent's "
                            "class, else optimised as a soft class (BigGAN, conditional DCGAN)."}),
        }}

    def invert(self, model, image, space, steps, seed, init=None, perceptual=None, class_label=""):
        latent, recon, text = invert_node(model, image, space, steps, seed, init, perceptual, class_label)
        return (latent, recon, text)


def invert_node(model, image, space="auto", steps=0, seed_value=0, init=None, perceptual=None, class_label=""):
    """Validate everything, then invert on ComfyUI's device with progress, preview and interrupt."""
    images = photos(image, "GAN Invert Image", MAX_IMAGES, min_side=MIN_SIDE)
    steps = whole("steps", steps)
    steps = None if steps == 0 else steps
    seed_value = check_seed(seed_value)
    classes = str(class_label).strip() or None
    if classes is not None and not model.c_dim:
        classes = None
    # every input is checked before the model is moved or copied: a bad image costs nothing
    check_inputs(model, images, space, steps, seed_value, init, perceptual, classes)
    bridge.load_to_device(model)
    bar = None

    def on_step(step: int, total: int, preview) -> None:
        nonlocal bar
        if bar is None:
            bar = bridge.Progress(total)
        bar.set(step, None if preview is None else preview_image(preview))

    # ComfyUI runs nodes under torch.inference_mode(): the search needs autograd, and a model loaded there
    # holds inference tensors, so it runs on an ordinary copy then (same weights, same fingerprint).
    with torch.inference_mode(False), torch.enable_grad():
        gen = bridge.autograd_ready(model)
        latent, stats = invert(gen, images, space=space, steps=steps, seed=seed_value, init=init,
                               perceptual=perceptual, progress=on_step, interrupt=bridge.check_interrupt,
                               classes=classes)
    recon = to_image(stats["reconstruction"]).to(bridge.intermediate_device())
    return latent, recon, describe(model, stats, len(latent))


NODES = {
    "GANLabInvertImage": (InvertImage, "GAN Invert Image"),
}
