"""Checkpoint files -> generator objects.  ``load_gan`` is the one entry point.

Each family module (``dcgan``, ``stylegan2``, ...) provides ``ARCHS`` (the arch names it builds),
``detect(ckpt) -> bool`` and ``build(ckpt) -> GANGenerator``, plus ``from_native(state, config,
arch)`` to rebuild from our own converted safetensors.

Image encoders (e4e, pSp) are networks of another kind, read by ``load_encoder`` (:mod:`.encoders`).
"""

from __future__ import annotations

import importlib
import json
import math
import os
from types import ModuleType

import torch

from ..errors import CheckpointError, GANLabError
from ..limits import load_json
from .base import GANGenerator, fingerprint_state
from .encoders import ImageEncoder, load_encoder
from .files import Checkpoint, read_checkpoint

FAMILY_MODULES = ("stylegan2", "stylegan3", "genforce", "biggan", "biggan_brock", "pggan_zoo", "proggan_ptrblck", "sngan",
                  "dcgan")
NATIVE_FORMAT = "gan-latent-lab"
MAX_ANCESTORS = 1000


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
    config = load_json(ckpt.metadata.get("config", "{}"), ckpt.path, "the metadata 'config'")
    if not isinstance(config, dict):
        raise ckpt.fail("the metadata 'config' is not a JSON object")
    check_native_dtypes(ckpt)
    ancestors = _ancestors(ckpt)
    for fam in families():
        if arch in getattr(fam, "ARCHS", ()):
            try:
                gen = fam.from_native(ckpt.obj, config, arch)
            except CheckpointError as e:  # a config check that did not know the file: name it
                if e.path is None:
                    raise ckpt.fail(e.reason) from None
                raise
            gen.ancestors = ancestors
            return gen
    raise ckpt.fail(f"converted file of architecture {arch!r}, which this version cannot build")


def _ancestors(ckpt: Checkpoint) -> list[str]:
    """The fingerprints of the models a fine-tuned file descends from (metadata ``ancestors``, parent first)."""
    text = ckpt.metadata.get("ancestors")
    if not text:
        return []
    out = load_json(text, ckpt.path, "the metadata 'ancestors'")
    if not isinstance(out, list) or len(out) > MAX_ANCESTORS or not all(
            isinstance(f, str) and f.isalnum() and 0 < len(f) <= 64 for f in out):
        raise ckpt.fail("the metadata 'ancestors' is not a JSON list of model fingerprints")
    return out


def check_native_dtypes(ckpt: Checkpoint) -> None:
    """A converted file holds floating-point weights (integers only for batch-norm step counters)."""
    for key, t in ckpt.obj.items():
        if t.is_complex() or t.dtype == torch.bool or (not t.is_floating_point()
                                                       and not key.endswith("num_batches_tracked")):
            raise ckpt.fail(f"the tensor '{key[:80]}' holds {t.dtype} numbers; generator weights are floating point")


def check_finite(gen: torch.nn.Module, ckpt: Checkpoint) -> None:
    """Refuse weights holding NaN or infinite numbers (they would only show up as black images)."""
    for name, t in [*gen.named_parameters(), *gen.named_buffers()]:
        # the infinity norm is inf or NaN exactly when an entry is, and needs no temporary as big as t
        if t.is_floating_point() and t.numel() and not math.isfinite(
                float(torch.linalg.vector_norm(t.detach(), math.inf))):
            raise ckpt.fail(f"the weights '{name[:80]}' hold NaN or infinite numbers")


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
        check_finite(gen, ckpt)
    except CheckpointError as e:
        if e.path is None:  # raised below the file level: name the file
            raise ckpt.fail(e.reason) from None
        raise
    except GANLabError as e:  # a setting out of range (InputError) or a mismatch found while building
        raise ckpt.fail(str(e)) from None
    except RecursionError:
        raise ckpt.fail("the checkpoint nests too deeply") from None
    except MemoryError:
        raise ckpt.fail("building the network would need more memory than there is") from None
    except Exception as e:  # noqa: BLE001 - any failure to build from a foreign file is a bad checkpoint
        raise ckpt.fail(f"the weights do not fit the detected architecture ({type(e).__name__}: "
                        f"{str(e).splitlines()[0][:300] if str(e) else ''})") from None
    gen.source = ckpt.name
    gen.requires_grad_(False)
    gen.eval()
    if device is not None:
        gen.to(device)
    return gen


def save_converted(gen: GANGenerator, out_path: str | os.PathLike, overwrite: bool = False) -> str:
    """Write a generator as safetensors with arch and config metadata (no code, shareable).

    A fine-tuned generator also records the fingerprints it descends from (metadata ``ancestors``,
    parent first, and ``parent_fingerprint``), so it still accepts what was made on its parent."""
    from safetensors.torch import save_file

    from ..atomic import atomic_write

    try:  # a config we could not read back (NaN, objects) is refused before anything is written
        config = json.dumps(gen.config, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as e:
        raise GANLabError(f"the model's configuration cannot be saved as JSON ({e})") from None
    state = {k: v.detach().to("cpu").contiguous() for k, v in gen.state_dict().items()}
    meta = {"format": NATIVE_FORMAT, "arch": gen.arch, "config": config, "fingerprint": gen.fingerprint}
    if gen.class_names:
        meta["class_names"] = json.dumps(gen.class_names)
    if gen.ancestors:
        meta["ancestors"] = json.dumps(list(gen.ancestors))
        meta["parent_fingerprint"] = gen.ancestors[0]
    with atomic_write(out_path, overwrite=overwrite) as tmp:
        save_file(state, tmp, metadata=meta)
    return os.fspath(out_path)


__all__ = ["load_gan", "load_encoder", "ImageEncoder", "read_checkpoint", "build_generator", "save_converted", "GANGenerator", "Checkpoint",
           "CheckpointError", "fingerprint_state", "families"]
