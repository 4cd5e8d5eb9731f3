"""Pivotal tuning of a generator on photos, inside ComfyUI (progress with preview, interrupt)."""

from __future__ import annotations

import statistics

from ..directions import pivotal
from . import bridge
from .common import CATEGORY, LATENT, MODEL, PERCEPTUAL, SEED_MAX, finite, photos, seed, whole

SUBCATEGORY = f"{CATEGORY}/photo"
def describe(stats: dict) -> str:
    """``PSNR before -> after`` (median and per image), steps, time and what else changed."""
    before, after = stats["psnr_before"], stats["psnr_after"]
    text = (f"PSNR {statistics.median(before):.2f} -> {statistics.median(after):.2f} dB (median of {len(before)}); "
            f"per image: " + ", ".join(f"{b:.1f}->{a:.1f}" for b, a in zip(before, after)))
    text += f"; {stats['steps']} steps in {stats['seconds']:.1f} s, {stats['distance']}"
    text += (f"; locality regulariser on (last loss {stats['locality']:.4f})" if stats["locality_on"]
             else "; locality regulariser off")
    return text + f"; random images of the tuned model vs its parent: {stats['drift_psnr']:.1f} dB PSNR"


class PivotalTuning:
    DESCRIPTION = ("Pivotal tuning (Roich et al., 2021): fine-tune a copy of the generator so the pivot latent (e.g. "
                   "from GAN Invert Image) reproduces the photo exactly; the latent space stays the parent's, so "
                   "directions found on the parent edit the photo. The original model is untouched; the copy has "
                   "its own fingerprint and accepts the parent's latents and direction sets. Shows progress with a "
                   "preview (photos over reconstructions) and stops on interrupt. Defaults from the paper's code: "
                   "350 steps, learning rate 3e-4.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (MODEL, LATENT, "STRING")
    RETURN_NAMES = ("model", "latent", "psnr")
    OUTPUT_TOOLTIPS = ("The tuned copy of the generator (save it with Save GAN Model).",
                       "The pivot codes, bound to the tuned model.",
                       "PSNR before -> after (dB), steps, time, and how much random images changed.")
    FUNCTION = "tune"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator the pivot latent belongs to (it is not changed)."}),
            "latent": (LATENT, {"tooltip": "The pivot: one code per image, e.g. the output of GAN Invert Image."}),
            "image": ("IMAGE", {"tooltip": "The photos, one per pivot code (centre-cropped and resized to the "
                                           "model's resolution)."}),
            "steps": ("INT", {"default": 0, "min": 0, "max": pivotal.MAX_STEPS,
                              "tooltip": f"Optimiser steps; 0 = the paper's {pivotal.DEFAULT_STEPS}."}),
            "learning_rate": ("FLOAT", {"default": pivotal.DEFAULT_LR, "min": pivotal.LR_RANGE[0],
                                        "max": pivotal.LR_RANGE[1], "step": 1e-5, "round": False,
                                        "tooltip": "Adam learning rate for the synthesis weights (paper: 3e-4)."}),
            "locality": ("BOOLEAN", {"default": False, "tooltip":
                                     "Locality regulariser: keep images of codes around the pivot as the parent draws "
                                     "them, so the rest of the space changes less (about twice the time per step)."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX,
                             "tooltip": "Seeds the locality regulariser's random codes."}),
        }, "optional": {
            "perceptual": (PERCEPTUAL, {"tooltip": "Image distance for the loss (LPIPS from a VGG16 file); "
                                                    "without it pixel + MS-SSIM, no weights needed."}),
            "preview_every": ("INT", {"default": 25, "min": 0, "max": 10_000,
                                      "tooltip": "Show photos over reconstructions every N steps (0 = never)."}),
        }}

    def tune(self, model, latent, image, steps, learning_rate, locality, seed, perceptual=None, preview_every=25):
        tuned, pivot, stats = tune_node(model, latent, image, steps, learning_rate, locality, seed, perceptual,
                                        preview_every)
        return (tuned, pivot, describe(stats))


def tune_node(model, latent, image, steps, lr, locality, seed_value, perceptual=None, preview_every=25):
    """Widget values checked and the images converted before the model is moved or copied; then tune."""
    lr = finite("learning rate", lr)
    seed_value = seed(seed_value)
    steps = whole("steps", steps) or pivotal.DEFAULT_STEPS
    every = max(whole("preview every", preview_every), 0)
    images = photos(image, "Pivotal Tuning", pivotal.MAX_IMAGES, min_side=pivotal.MIN_SIDE)
    pivotal.check_settings(model, latent, images, steps, lr, seed_value, perceptual)
    bridge.load_to_device(model)
    bar = bridge.Progress(steps)

    def on_step(step: int, total: int, info: dict) -> None:
        shown = info["preview"]() if every and (step % every == 0 or step == total) else None
        bar.set(step, shown)

    return pivotal.pivotal_tune(model, latent, images, steps=steps, lr=lr, locality=bool(locality), seed=seed_value,
                                perceptual=perceptual, progress=on_step, interrupt=bridge.check_interrupt)


NODES = {
    "GANLabPivotalTuning": (PivotalTuning, "Pivotal Tuning"),
}
