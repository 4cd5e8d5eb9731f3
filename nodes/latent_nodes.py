"""Blend, mix, save and load latents."""

from __future__ import annotations

import os

from ..directions import io as dio
from ..directions.edit import concat, interpolate, style_mix
from ..errors import InputError
from . import bridge
from .common import CATEGORY, LATENT, MAX_BATCH, MAX_IMAGES, MODEL, check_latent, whole
from .paths import output_path, safe_join

SUBCATEGORY = f"{CATEGORY}/latent"


def latent_choices() -> list[str]:
    return bridge.list_files("gan_latents") or ["(save a latent first)"]


class LatentInterpolate:
    DESCRIPTION = ("Codes from A to B in N steps (both ends included): lerp is a straight line (right for w codes), "
                   "slerp follows the sphere per slot (keeps Gaussian z codes at a typical length).")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("steps latents per pair, pair-major.",)
    FUNCTION = "run"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latent_a": (LATENT, {"tooltip": "Start codes."}),
            "latent_b": (LATENT, {"tooltip": "End codes (same model; equal count or one)."}),
            "steps": ("INT", {"default": 8, "min": 2, "max": 256, "tooltip": "Frames per pair, ends included."}),
            "mode": (["lerp", "slerp"], {"default": "lerp", "tooltip": "Straight line or great circle."}),
        }}

    def run(self, latent_a, latent_b, steps, mode):
        pairs = max(len(latent_a), len(latent_b))
        steps = whole("steps", steps)
        if pairs * int(steps) > MAX_IMAGES:
            raise InputError(f"{pairs} pairs x {steps} steps is {pairs * int(steps)} latents, more than {MAX_IMAGES}")
        return (interpolate(latent_a, latent_b, steps, mode),)


class LatentBatch:
    DESCRIPTION = ("Join latents of one model into one batch, in order, so one Decode shows them side by side "
                   "(an original beside its edits, or several seeds).")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("The codes of A, then B, then C and D when connected.",)
    FUNCTION = "join"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latent_a": (LATENT, {"tooltip": "First codes of the batch."}),
            "latent_b": (LATENT, {"tooltip": "Codes after A (same model and truncation)."}),
        }, "optional": {
            "latent_c": (LATENT, {"tooltip": "Codes after B (optional)."}),
            "latent_d": (LATENT, {"tooltip": "Codes after C (optional)."}),
        }}

    def join(self, latent_a, latent_b, latent_c=None, latent_d=None):
        out = concat([latent_a, latent_b, latent_c, latent_d])
        if len(out) > MAX_BATCH:
            raise InputError(f"the joined batch has {len(out)} codes, more than {MAX_BATCH}")
        return (out,)


class StyleMix:
    DESCRIPTION = ("Style mixing: the codes of A with slots start..end taken from B. Coarse slots carry pose and shape, "
                   "fine slots colour and texture.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("A with B's slots.",)
    FUNCTION = "mix"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator of both latents."}),
            "latent_a": (LATENT, {"tooltip": "Base codes."}),
            "latent_b": (LATENT, {"tooltip": "Codes whose slots are copied in (same model)."}),
            "slot_start": ("INT", {"default": 0, "min": 0, "max": 64, "tooltip": "First slot taken from B."}),
            "slot_end": ("INT", {"default": 3, "min": -1, "max": 64, "tooltip": "Last slot from B, inclusive; -1 = last."}),
        }}

    def mix(self, model, latent_a, latent_b, slot_start, slot_end):
        check_latent(model, latent_a)
        check_latent(model, latent_b)
        return (style_mix(latent_a, latent_b, slot_start, slot_end),)


class SaveLatent:
    DESCRIPTION = ("Save latent codes (with z, class, seeds and the model's fingerprint) to models/gan_latents. A name "
                   "ending in .npz writes NVIDIA's projector layout (projected_w.npz: 'w' [n, slots, width]), which "
                   "StyleGAN2-ADA / StyleGAN3 generate.py --projected-w reads.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file was written.",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latent": (LATENT, {"tooltip": "Codes to save."}),
            "filename": ("STRING", {"default": "latent", "tooltip": "Name inside models/gan_latents; .safetensors is "
                                                                     "added unless it ends in .npz (NVIDIA's layout)."}),
            "overwrite": ("BOOLEAN", {"default": False, "tooltip": "Replace an existing file of that name."}),
        }}

    def save(self, latent, filename, overwrite):
        path = output_path(bridge.folder("gan_latents"), filename, (".safetensors", ".npz"), bool(overwrite))
        return (dio.save_latent(latent, path, overwrite=bool(overwrite)),)


class LoadLatent:
    DESCRIPTION = ("Load latent codes: files written by Save GAN Latent (checked against the model, so codes never meet "
                   "another model), and other tools' latents: NVIDIA's projected_w.npz, TF StyleGAN dlatents.npz, "
                   ".npy arrays, rosinality projector .pt files and e4e / PTI latent tensors. Those name no model: "
                   "connect the model they were made with, which binds them (widths and slots checked).")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT, "STRING")
    RETURN_NAMES = ("latent", "summary")
    OUTPUT_TOOLTIPS = ("The saved codes.", "Count, shape, seeds and model fingerprint.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "latent_name": (latent_choices(), {"tooltip": "File in models/gan_latents (.safetensors, .npz, .npy, .pt)."}),
        }, "optional": {
            "model": (MODEL, {"tooltip": "The generator the codes belong to: checks files of ours, binds other tools' "
                                         "files (required for those)."}),
        }}

    def load(self, latent_name, model=None):
        path = bridge.full_path("gan_latents", latent_name) or safe_join(bridge.folder("gan_latents"), latent_name)
        if not os.path.isfile(path):
            raise InputError(f"no latent file {latent_name!r} in models/gan_latents")
        latent = dio.load_latent(path, model)
        seeds = f", seeds {latent.seeds[0]}..{latent.seeds[-1]}" if latent.seeds else ""
        return (latent, f"{len(latent)} latents [{latent.num_ws} slots x {latent.dim}]{seeds}, "
                        f"model {latent.fingerprint}")


NODES = {
    "GANLabLatentInterpolate": (LatentInterpolate, "GAN Latent Interpolate"),
    "GANLabLatentBatch": (LatentBatch, "GAN Latent Batch"),
    "GANLabStyleMix": (StyleMix, "Style Mix"),
    "GANLabSaveLatent": (SaveLatent, "Save GAN Latent"),
    "GANLabLoadLatent": (LoadLatent, "Load GAN Latent"),
}
