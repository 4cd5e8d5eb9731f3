"""Checkpoint files -> generator objects.  ``load_gan`` is the one entry point.

Each family module (``dcgan``, ``stylegan2``, ...) provides ``ARCHS`` (the arch names it builds),
``detect(ckpt) -> bool`` and ``build(ckpt) -> GANGenerator``, plus ``from_native(state, config,
arch)`` to rebuild from our own converted safetensors.

Image encoders (e4e, pSp) are networks of another kind, read by ``load_encoder`` (:mod:`.encoders`).
"""

from __future__ import annotations

import importlib
import json
import os
from types import ModuleType

import torch

from ..errors import CheckpointError, GANLabError
from .base import GANGenerator, fingerprint_state
from .encoders import ImageEncoder, load_encoder
from .files import Checkpoint, read_checkpoint

FAMILY_MODULES = ("stylegan2", "stylegan3", "genforce", "biggan", "pggan_zoo", "dcgan")
NATIVE_FORMAT = "gan-latent-lab"


def families() -> list[ModuleType]:
    """The family modules present in this install, in detection order."""
    out = []
    for name in FAMILY_MODULES:
        try:
            out.append(importlib.import_module(f".{name}", __name__))
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
    return out


def _build_native(ckpt: Checkpoint) -> GANGenerator:
    arch = ckpt.metadata.get("arch", "")
    try:
        config = json.loads(ckpt.metadata.get("config", "{}"))
    except ValueError:
        raise ckpt.fail("the metadata 'config' is not valid JSON") from None
    for fam in families():
        if arch in getattr(fam, "ARCHS", ()):
            return fam.from_native(ckpt.obj, config, arch)
    raise ckpt.fail(f"converted file of architecture {arch!r}, which this version cannot build")


def build_generator(ckpt: Checkpoint) -> GANGenerator:
    """Pick the family that recognises the checkpoint and build its generator."""
    if ckpt.metadata.get("format") == NATIVE_FORMAT:
        return _build_native(ckpt)
    for fam in families():
        if fam.detect(ckpt):
            return fam.build(ckpt)
    raise ckpt.fail(_describe_unknown(ckpt.obj))


def _describe_unknown(obj) -> str:
    from .encoders import is_encoder_checkpoint

    if is_encoder_checkpoint(obj):
        return ("an e4e / pSp image encoder checkpoint, not a generator: put it into models/gan_encoders and load "
                "it with Load Image Encoder (load_encoder), which also gives the StyleGAN2 stored in it")
    if isinstance(obj, dict):
        keys = list(obj)[:8]
        return f"unknown architecture: no loader recognises a checkpoint with keys {keys}"
    return f"unknown architecture: the file holds a {type(obj).__name__}, not a generator state dict"


def load_gan(path: str | os.PathLike, device: str | torch.device | None = None,
             sidecar: dict | None = None) -> GANGenerator:
    """Load any supported checkpoint (file or folder) as an eval-mode generator on ``device``.

    ``sidecar`` supplies the configuration a ``<checkpoint>.json`` beside the file would."""
    ckpt = read_checkpoint(path)
    if sidecar is not None:
        ckpt.sidecar = dict(sidecar)
    try:
        gen = build_generator(ckpt)
    except GANLabError:
        raise
    except (KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError) as e:
        raise ckpt.fail(f"the weights do not fit the detected architecture ({type(e).__name__}: {str(e)[:300]})") from None
    gen.source = ckpt.name
    gen.requires_grad_(False)
    gen.eval()
    if device is not None:
        gen.to(device)
    return gen


def save_converted(gen: GANGenerator, out_path: str | os.PathLike, overwrite: bool = False) -> str:
    """Write a generator as safetensors with arch and config metadata (no code, shareable)."""
    from safetensors.torch import save_file

    from ..atomic import atomic_write

    state = {k: v.detach().to("cpu").contiguous() for k, v in gen.state_dict().items()}
    meta = {"format": NATIVE_FORMAT, "arch": gen.arch, "config": json.dumps(gen.config, sort_keys=True),
            "fingerprint": gen.fingerprint}
    if gen.class_names:
        meta["class_names"] = json.dumps(gen.class_names)
    with atomic_write(out_path, overwrite=overwrite) as tmp:
        save_file(state, tmp, metadata=meta)
    return os.fspath(out_path)


__all__ = ["load_gan", "load_encoder", "ImageEncoder", "read_checkpoint", "build_generator", "save_converted", "GANGenerator", "Checkpoint",
           "CheckpointError", "fingerprint_state", "families"]
