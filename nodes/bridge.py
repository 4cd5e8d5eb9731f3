"""The one place that touches ComfyUI: device, progress, interrupt, model folders, memory.

Every function falls back to plain torch when ComfyUI is absent, so nodes run in tests, in the
workflow runner and in the command-line demo."""

from __future__ import annotations

import itertools
import logging
import os
import threading
from typing import Any

import torch

log = logging.getLogger("gan_latent_lab")

FOLDERS = {"gan": (".pt", ".pth", ".pkl", ".safetensors", ".bin", ".tar", ".ckpt"),
           "gan_directions": (".safetensors", ".npy", ".npz", ".voynov", ".pt", ".pth"),
           "gan_latents": (".safetensors", ".npz", ".npy", ".pt"),
           "gan_aux": (".pt", ".pth", ".safetensors"),
           "gan_encoders": (".pt", ".pth")}
BUILTIN_PREFIX = "builtin: "


def _comfy(name: str) -> Any | None:
    try:
        import importlib

        return importlib.import_module(name)
    except Exception:  # noqa: BLE001 - ComfyUI absent or broken: fall back
        return None


def has_comfy() -> bool:
    return _comfy("comfy.model_management") is not None


# ----- devices ------------------------------------------------------------------------------
def torch_device() -> torch.device:
    mm = _comfy("comfy.model_management")
    if mm is not None:
        return mm.get_torch_device()
    forced = os.environ.get("GAN_LATENT_LAB_DEVICE")
    if forced:
        return torch.device(forced)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def intermediate_device() -> torch.device:
    mm = _comfy("comfy.model_management")
    return mm.intermediate_device() if mm is not None else torch.device("cpu")


def offload_device() -> torch.device:
    mm = _comfy("comfy.model_management")
    return mm.unet_offload_device() if mm is not None else torch.device("cpu")


# The ModelPatcher of a generator lives in the generator's own __dict__ (not a module-level table), so a
# generator nobody uses any more is collected with its patcher; ComfyUI's manager holds patchers weakly.
PATCHER_ATTR = "_gll_patcher"


class _PatcherHolder(torch.nn.Module):
    """The module ComfyUI's ModelPatcher manages in place of the generator itself.

    ModelPatcher writes plain attributes onto its module (``device``, memory counters), which the
    generator's read-only ``device`` property refuses; the holder takes them and carries the
    generator as a submodule, so moving the holder moves the generator."""

    def __init__(self, gen: torch.nn.Module) -> None:
        super().__init__()
        self.gen = gen
        self.device = getattr(gen, "device", None)


def load_to_device(gen: torch.nn.Module) -> torch.device:
    """Put a generator on the compute device the ComfyUI way (its memory manager may evict it later)."""
    device = torch_device()
    mm = _comfy("comfy.model_management")
    mp = _comfy("comfy.model_patcher")
    if mm is not None and mp is not None:
        patcher = gen.__dict__.get(PATCHER_ATTR)
        if patcher is None or getattr(patcher.model, "gen", None) is not gen:
            patcher = mp.ModelPatcher(_PatcherHolder(gen), load_device=device, offload_device=offload_device())
            gen.__dict__[PATCHER_ATTR] = patcher
        try:
            mm.load_models_gpu([patcher])
            if next(gen.parameters(), None) is not None and next(gen.parameters()).device != device:
                gen.to(device)  # the manager chose not to move it (low memory modes): do it here
            return device
        except Exception as e:  # noqa: BLE001 - keep working if the memory manager rejects a plain module
            log.warning("GAN Latent Lab: ComfyUI's model manager could not load the generator (%s); moving it directly", e)
    gen.to(device)
    return device


def forget_model(gen: torch.nn.Module) -> None:
    gen.__dict__.pop(PATCHER_ATTR, None)


def copy_model(gen: torch.nn.Module) -> torch.nn.Module:
    """A deep copy of a generator without its ComfyUI patcher (the copy gets its own when loaded)."""
    import copy

    patcher = gen.__dict__.get(PATCHER_ATTR)
    copied = copy.deepcopy(gen, memo={} if patcher is None else {id(patcher): None})
    copied.__dict__.pop(PATCHER_ATTR, None)
    return copied


def autograd_ready(model: torch.nn.Module) -> torch.nn.Module:
    """``model`` itself, or a copy with ordinary tensors when it holds inference-mode tensors (ComfyUI loads
    and runs nodes under ``torch.inference_mode``; optimising through the generator needs autograd)."""
    if any(t.is_inference() for t in itertools.chain(model.parameters(), model.buffers())):
        return copy_model(model).requires_grad_(False)
    return model


def soft_empty_cache() -> None:
    mm = _comfy("comfy.model_management")
    if mm is not None:
        mm.soft_empty_cache()


# ----- outputs a node cannot give -------------------------------------------------------------
class BlockedOutput:
    """Outside ComfyUI: an output that is not there; the runner refuses a node that reads it, with ``message``."""

    def __init__(self, message: str) -> None:
        self.message = message

    def __repr__(self) -> str:
        return f"BlockedOutput({self.message!r})"


def blocked_output(message: str) -> Any:
    """A value for an output that only an error can replace: ComfyUI's ``ExecutionBlocker`` (a node that uses
    it is not run and the UI shows ``message``; nodes that do not use it run normally), else :class:`BlockedOutput`."""
    for name in ("comfy_execution.graph_utils", "comfy_execution.graph"):
        mod = _comfy(name)
        if mod is not None and hasattr(mod, "ExecutionBlocker"):
            return mod.ExecutionBlocker(message)
    return BlockedOutput(message)


def blocked_message(value: Any) -> str | None:
    """The message of a blocked output (ours or ComfyUI's), or None for a real value."""
    if isinstance(value, BlockedOutput) or type(value).__name__ == "ExecutionBlocker":
        return str(getattr(value, "message", None) or "this input comes from an output that is not available")
    return None


# ----- progress and interrupt ---------------------------------------------------------------
_interrupt = threading.Event()


class Interrupted(Exception):
    """Raised when the user interrupts outside ComfyUI (ComfyUI raises its own exception)."""


def request_interrupt(flag: bool = True) -> None:
    """Outside ComfyUI: ask running loops to stop at their next check (tests, runner)."""
    if flag:
        _interrupt.set()
    else:
        _interrupt.clear()


def check_interrupt() -> None:
    mm = _comfy("comfy.model_management")
    if mm is not None:
        mm.throw_exception_if_processing_interrupted()
    if _interrupt.is_set():
        _interrupt.clear()
        raise Interrupted("interrupted")


# Longest side of a preview image sent to the UI.  ComfyUI's frontend shows a progress preview below the
# node's widgets in an area at least 220 px high (its image-preview widget's minimum height) and grows the
# node to make room; a preview no larger than that fits the minimum without further growth.  Voynov's
# 8 x 5 grid of 64 px tiles (320 x 512) is sent as 138 x 220.  Smaller previews are sent as they are.
PREVIEW_MAX_SIDE = 220


def preview_image(image: Any, max_side: int = PREVIEW_MAX_SIDE) -> Any:
    """A PIL image no larger than ``max_side`` on its longest side, proportions kept (smaller ones as they are)."""
    if max(image.size) <= max_side:
        return image
    from PIL import Image

    scale = max_side / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    return image.resize(size, Image.LANCZOS)


class Progress:
    """ComfyUI's progress bar when present (with optional preview images, see PREVIEW_MAX_SIDE), else a counter."""

    def __init__(self, total: int) -> None:
        self.total = max(int(total), 1)
        self.value = 0
        utils = _comfy("comfy.utils")
        self._bar = utils.ProgressBar(self.total) if utils is not None and hasattr(utils, "ProgressBar") else None

    def update(self, n: int = 1, preview: Any = None) -> None:
        self.value = min(self.value + n, self.total)
        self.set(self.value, preview)

    def set(self, value: int, preview: Any = None) -> None:
        self.value = value
        if self._bar is not None:
            if preview is not None:
                self._bar.update_absolute(value, self.total, ("PNG", preview_image(preview), None))
            else:
                self._bar.update_absolute(value, self.total)


# ----- model folders ------------------------------------------------------------------------
def _fallback_root() -> str:
    return os.environ.get("GAN_LATENT_LAB_MODELS", os.path.join(os.path.expanduser("~"), ".cache", "gan_latent_lab"))


def register_folders() -> None:
    """Add our ``models/`` folders (:data:`FOLDERS`) to ComfyUI's folder list, merging, never replacing."""
    fp = _comfy("folder_paths")
    if fp is None:
        return
    for kind, exts in FOLDERS.items():
        path = os.path.join(fp.models_dir, kind)
        entry = fp.folder_names_and_paths.get(kind)
        if entry is None:
            fp.folder_names_and_paths[kind] = ([path], set(exts))
            continue
        paths, known = entry
        if path not in paths:
            paths.append(path)
        if isinstance(known, set):
            known.update(exts)


def folder(kind: str) -> str:
    """The first (writable) folder for a kind."""
    fp = _comfy("folder_paths")
    if fp is not None:
        try:
            paths = fp.get_folder_paths(kind)
            if paths:
                return paths[0]
        except Exception:  # noqa: BLE001
            pass
        return os.path.join(fp.models_dir, kind)
    return os.path.join(_fallback_root(), kind)


def list_files(kind: str) -> list[str]:
    fp = _comfy("folder_paths")
    if fp is not None:
        try:
            return sorted(fp.get_filename_list(kind))
        except Exception:  # noqa: BLE001
            pass
    root = folder(kind)
    out = []
    if os.path.isdir(root):
        for dirpath, dirnames, files in os.walk(root):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            for f in files:
                if not f.startswith(".") and f.lower().endswith(FOLDERS[kind]):
                    out.append(os.path.relpath(os.path.join(dirpath, f), root).replace(os.sep, "/"))
            for d in dirnames:  # a BigGAN folder counts as one model
                if kind == "gan" and os.path.isfile(os.path.join(dirpath, d, "config.json")):
                    out.append(os.path.relpath(os.path.join(dirpath, d), root).replace(os.sep, "/"))
    return sorted(out)


def full_path(kind: str, name: str) -> str | None:
    fp = _comfy("folder_paths")
    if fp is not None:
        try:
            p = fp.get_full_path(kind, name)
            if p:
                return p
        except Exception:  # noqa: BLE001
            pass
    from .paths import safe_join

    p = safe_join(folder(kind), name)
    return p if os.path.exists(p) else None
