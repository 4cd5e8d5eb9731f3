"""Thin ComfyUI node classes.  Each module exports ``NODES = {id: (class, display name)}``."""

from __future__ import annotations

import functools
import importlib

import torch

from ..errors import GANLabError, InputError

NODE_MODULES = ("model_nodes", "direction_nodes", "edit_nodes", "ganspace_nodes", "voynov_nodes", "latent_nodes",
                # the photo workflow, in the order a graph uses them
                "align_nodes", "encoder_nodes", "invert_nodes", "pivotal_nodes", "perceptual_nodes")


def collect() -> tuple[dict, dict]:
    classes, names = {}, {}
    for mod_name in NODE_MODULES:
        try:
            mod = importlib.import_module(f".{mod_name}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{mod_name}":
                continue
            raise
        for node_id, (cls, display) in mod.NODES.items():
            guard(cls, display)
            classes[node_id] = cls
            names[node_id] = display
    return classes, names


_VALUE_ERRORS = (TypeError, ValueError, IndexError, KeyError, OverflowError, ZeroDivisionError, AttributeError,
                 AssertionError, NotImplementedError, UnicodeError)
_SYSTEM_ERRORS = (RecursionError, MemoryError, OSError, RuntimeError)


def guard(cls: type, display: str) -> None:
    """Make the node's function raise only our errors: a raw Python or torch exception from a bad input
    becomes an :class:`InputError` (values) or :class:`GANLabError` (system) naming the node and the cause.

    ComfyUI's own exceptions (interrupt) and torch's out-of-memory error, which ComfyUI handles by freeing
    memory, pass through unchanged."""
    name = getattr(cls, "FUNCTION", None)
    fn = getattr(cls, name, None) if isinstance(name, str) else None
    if fn is None or getattr(fn, "_gll_guarded", False):
        return

    @functools.wraps(fn)
    def guarded(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except GANLabError:
            raise
        except torch.OutOfMemoryError:
            raise
        except _VALUE_ERRORS as e:
            raise InputError(f"{display}: an input is not usable ({_describe(e)})") from e
        except _SYSTEM_ERRORS as e:
            raise GANLabError(f"{display}: {_describe(e)}") from e

    guarded._gll_guarded = True  # type: ignore[attr-defined]
    setattr(cls, name, guarded)


def _describe(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = collect()
