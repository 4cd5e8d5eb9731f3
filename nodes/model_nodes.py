"""Load a generator, draw latents from seeds, decode latents to images."""

from __future__ import annotations

import importlib.util
import os
import weakref

import torch

from .. import loaders
from ..directions.latent import GANLatent
from ..errors import InputError
from . import bridge
from .common import (CATEGORY, DECODE_CHUNK, LATENT, MAX_BATCH, MAX_IMAGES, MODEL, SEED_MAX, FileCache, batch_size,
                     check_latent, finite, seed, to_image, whole)
from .paths import output_path

# Built-in entries: real DCGANs shipped by PyPI packages, so a fresh install has a model.
BUILTINS = {
    "face DCGAN 64px (gan-face-generate)": ("gan_face_generate", "weights.tar", None),
    "eye DCGAN 128px, 8 classes (omniart-eye-generator)": (
        "omniart_eye_generator", "generator_model_state.pth",
        {"z_dim": 100, "c_dim": 8,
         "class_names": ["amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red"]}),
}


def builtin_path(label: str) -> tuple[str, dict | None] | None:
    """The file of a built-in model if its package is installed (found without importing it)."""
    entry = BUILTINS.get(label)
    if entry is None:
        return None
    module, filename, sidecar = entry
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], filename)
    return (path, sidecar) if os.path.isfile(path) else None


def model_choices() -> list[str]:
    names = bridge.list_files("gan")
    names += [bridge.BUILTIN_PREFIX + k for k in BUILTINS if builtin_path(k)]
    return names or ["(put checkpoints into models/gan)"]


# Models live as long as something (ComfyUI's output cache, a graph) holds them: when ComfyUI frees
# its cache the weak entry disappears with the model, so we never pin memory ComfyUI released.
# Two levels: file identity (path, size, mtime) skips re-reading an unchanged file; the model's
# fingerprint with its facts (arch, widths, classes: a sidecar can change them for the same weights)
# makes a copy of a file under another name share the model already in memory.
_cache = FileCache()
_by_fingerprint: "weakref.WeakValueDictionary[str, loaders.GANGenerator]" = weakref.WeakValueDictionary()


def _content_key(gen: loaders.GANGenerator) -> str:
    return repr(sorted((k, repr(v)) for k, v in gen.info.items()))


def load_model(name: str) -> loaders.GANGenerator:
    """Load by widget name, cached by file identity and by fingerprint, so re-running a graph or loading a copy
    of the same weights reuses the model in memory."""
    sidecar = None
    if name.startswith(bridge.BUILTIN_PREFIX):
        found = builtin_path(name[len(bridge.BUILTIN_PREFIX):])
        if found is None:
            raise InputError(f"built-in model {name!r} is not installed (pip install its package)")
        path, sidecar = found
    else:
        path = bridge.full_path("gan", name)
        if path is None:
            raise InputError(f"no model {name!r} in models/gan")

    def read(p: str) -> loaders.GANGenerator:
        gen = loaders.load_gan(p, sidecar=sidecar)
        return _by_fingerprint.setdefault(_content_key(gen), gen)

    return _cache.load(path, read)


class LoadGANModel:
    DESCRIPTION = ("Load a GAN generator (StyleGAN 1/2/3, BigGAN and BigGAN-deep, PGGAN / ProgGAN, SN-GAN, DCGAN) "
                   "from models/gan. Files are read without running any code they contain.")
    CATEGORY = CATEGORY
    RETURN_TYPES = (MODEL, "STRING")
    RETURN_NAMES = ("model", "summary")
    OUTPUT_TOOLTIPS = ("The generator, ready for latents and directions.",
                       "Architecture, resolution, code width, injection slots and the layer each slot feeds.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"model_name": (model_choices(), {
            "tooltip": "Checkpoint in models/gan (.pkl, .pt, .pth, .safetensors, BigGAN folder, "
                       "an SN-GAN folder's generator.pt) or a built-in model."})}}

    def load(self, model_name):
        gen = load_model(model_name)
        return (gen, gen.summary())


class GANLatentFromSeed:
    DESCRIPTION = ("Draw latent codes from seeds (seed, seed+1, ...). The same seed gives the same z as NVIDIA's "
                   "tools; the codes are the editable w+ (style GANs) or z (other GANs).")
    CATEGORY = CATEGORY
    RETURN_TYPES = (LATENT, "STRING")
    RETURN_NAMES = ("latent", "summary")
    OUTPUT_TOOLTIPS = ("Codes with their seeds, z and class.", "What was drawn.")
    FUNCTION = "sample"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator the codes are for."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX, "control_after_generate": True,
                             "tooltip": "First seed; the batch uses seed, seed+1, ..."}),
            "batch_size": ("INT", {"default": 4, "min": 1, "max": MAX_BATCH, "tooltip": "How many latents."}),
            "truncation_psi": ("FLOAT", {"default": 0.7, "min": -2.0, "max": 2.0, "step": 0.05,
                                         "tooltip": "Pull codes toward the average (1 = none, 0.7 typical)."}),
            "truncation_cutoff": ("INT", {"default": 0, "min": 0, "max": 64,
                                          "tooltip": "Truncate only the first N slots (0 = all slots)."}),
            "class_label": ("STRING", {"default": "0", "tooltip":
                                       "Conditional models: class index, 'a,b' or 'a:0.7,b:0.3' mix, or a class name. "
                                       "Ignored by unconditional models."}),
        }}

    def sample(self, model, seed, batch_size, truncation_psi, truncation_cutoff, class_label):
        latent, note = sample_latent(model, seed, batch_size, truncation_psi, truncation_cutoff, class_label)
        return (latent, note)


def sample_latent(model, first_seed, n, psi, cutoff, class_label="0") -> tuple[GANLatent, str]:
    s0 = seed(first_seed)
    n = batch_size(n)
    if s0 + n - 1 > SEED_MAX:
        raise InputError(f"seeds {s0}..{s0 + n - 1} run past {SEED_MAX}")
    psi = finite("truncation_psi", psi)
    seeds = list(range(s0, s0 + n))
    with torch.no_grad():
        z = model.sample_z(seeds)
        c = model.make_c(class_label, n)
        codes = model.mapping(z, c, truncation_psi=psi, truncation_cutoff=whole("truncation cutoff", cutoff) or None)
    note = f"{n} latents, seeds {s0}..{s0 + n - 1}, psi {psi}" + (f", cutoff {cutoff}" if cutoff else "")
    if model.c_dim:
        note += f", class {class_label}"
    elif str(class_label).strip() not in ("", "0"):
        note += f" (class {class_label!r} ignored: {model.arch} is unconditional)"
    return GANLatent(codes=codes, fingerprint=model.fingerprint, z=z, c=c, seeds=seeds, truncation_psi=psi,
                     space=model.code_space), note


class GANDecode:
    DESCRIPTION = "Decode latent codes into images on ComfyUI's device, in chunks, with progress and interrupt."
    CATEGORY = CATEGORY
    RETURN_TYPES = ("IMAGE",)
    OUTPUT_TOOLTIPS = ("Images [batch, height, width, 3] in 0..1.",)
    FUNCTION = "decode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator that made the latent."}),
            "latent": (LATENT, {"tooltip": "Codes to decode."}),
            "noise_mode": (["const", "random", "none"], {"default": "const", "tooltip":
                           "Style GAN per-pixel noise: const (repeatable), random, or none."}),
        }}

    def decode(self, model, latent, noise_mode):
        return (decode_latent(model, latent, noise_mode),)


def decode_latent(model, latent: GANLatent, noise_mode: str = "const", chunk: int = DECODE_CHUNK) -> torch.Tensor:
    """Codes -> IMAGE on the intermediate device, chunk by chunk."""
    check_latent(model, latent)
    if len(latent) > MAX_IMAGES:
        raise InputError(f"{len(latent)} codes are more than one Decode takes ({MAX_IMAGES}); split the batch")
    device = bridge.load_to_device(model)
    out_device = bridge.intermediate_device()
    bar = bridge.Progress(len(latent))
    parts = []
    with torch.no_grad():
        for start in range(0, len(latent), chunk):
            bridge.check_interrupt()
            codes = latent.codes[start:start + chunk].to(device)
            c = None if latent.c is None or model.c_dim == 0 else latent.c[start:start + chunk].to(device)
            img = model.synthesis(codes, c, truncation_psi=latent.truncation_psi, noise_mode=noise_mode)
            parts.append(to_image(img).to(out_device))
            bar.update(codes.shape[0])
    return torch.cat(parts)


def model_file_path(filename: str, overwrite: bool = False) -> str:
    """Where Save GAN Model writes ``filename``: inside models/gan, ``.safetensors`` added, checked before work."""
    base = str(filename).strip().replace("\\", "/").rsplit("/", 1)[-1]
    if base.startswith(".") and base.strip("."):
        raise InputError(f"file name {base[:40]!r} is hidden (starts with '.')")
    return output_path(bridge.folder("gan"), filename, ".safetensors", overwrite)


class SaveGANModel:
    DESCRIPTION = ("Save a generator (e.g. one made by Pivotal Tuning) to models/gan as safetensors: weights, "
                   "architecture and settings, no code. Load GAN Model lists it and loads it with the same "
                   "fingerprint, still accepting latents and directions made on the model it was tuned from.")
    CATEGORY = CATEGORY
    RETURN_TYPES = ("STRING",)
    RETURN_NAMES = ("path",)
    OUTPUT_TOOLTIPS = ("Where the file was written.",)
    OUTPUT_NODE = True
    FUNCTION = "save"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator to save."}),
            "filename": ("STRING", {"default": "tuned_generator", "tooltip":
                                    "Name inside models/gan; .safetensors is added."}),
            "overwrite": ("BOOLEAN", {"default": False, "tooltip": "Replace an existing file of that name."}),
        }}

    def save(self, model, filename, overwrite):
        path = model_file_path(filename, bool(overwrite))
        if not isinstance(model, loaders.GANGenerator):
            raise InputError(f"Save GAN Model needs a generator (Load GAN Model, Pivotal Tuning), not a {type(model).__name__}")
        return (loaders.save_converted(model, path, overwrite=bool(overwrite)),)


NODES = {
    "GANLabLoadModel": (LoadGANModel, "Load GAN Model"),
    "GANLabSaveModel": (SaveGANModel, "Save GAN Model"),
    "GANLabLatentFromSeed": (GANLatentFromSeed, "GAN Latent from Seed"),
    "GANLabDecode": (GANDecode, "GAN Decode"),
}
