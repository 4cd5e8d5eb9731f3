"""NVlabs PyTorch pickles (stylegan2-ada-pytorch, stylegan3): persistent records -> a flat state dict.

Such a pickle is a dict with ``G``, ``D``, ``G_ema``, ...; each network is stored as a call to
``torch_utils.persistence._reconstruct_persistent_obj(meta)`` where ``meta`` holds the module's
source text (``module_src``), its ``class_name`` and its ``state`` (the module ``__dict__``:
``_init_kwargs``, ``_parameters``, ``_buffers``, ``_modules``).  The restricted unpickler turns
each call into an inert :class:`~.safe_pickle.Record`; here we only walk those records.  The
source text is inspected as a string to name the network family and is never executed.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

import torch

from ..errors import InputError
from .base import GANGenerator
from .files import Checkpoint
from .safe_pickle import Record

PERSISTENT = "torch_utils.persistence._reconstruct_persistent_obj"
NETWORK_KEYS = ("G_ema", "G")
MAX_DEPTH = 64


@dataclass
class NVlabsNet:
    """One network read out of an NVlabs pickle, with nothing of its code."""

    init_kwargs: dict
    state_dict: dict[str, torch.Tensor]
    class_name: str
    module_name: str


def _meta(obj: Any) -> dict | None:
    if isinstance(obj, Record) and obj.qualname == PERSISTENT and len(obj.args) == 1 and isinstance(obj.args[0], dict):
        return obj.args[0]
    return None


def _plain(value: Any) -> Any:
    """Init kwargs as plain JSON-like values (EasyDicts become dicts, tuples lists)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    if hasattr(value, "item") and getattr(value, "ndim", 1) == 0:
        return value.item()
    return repr(value)


def _walk(obj: Any, prefix: str, out: dict[str, torch.Tensor], depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("the network nests too deeply")
    meta = _meta(obj)
    state = meta.get("state") if meta is not None else (obj.state if isinstance(obj, Record) else None)
    if isinstance(state, tuple) and state and isinstance(state[0], dict):
        state = state[0]
    if not isinstance(state, dict):
        raise ValueError(f"module '{prefix.rstrip('.') or '<root>'}' has no readable state")
    skip = set(state.get("_non_persistent_buffers_set") or ())
    for group in ("_parameters", "_buffers"):
        for name, t in (state.get(group) or {}).items():
            if t is None or (group == "_buffers" and name in skip):
                continue
            if not isinstance(t, torch.Tensor):
                raise ValueError(f"{prefix}{name} is not a tensor")
            out[prefix + name] = t.detach()
    for name, sub in (state.get("_modules") or {}).items():
        if sub is not None:
            _walk(sub, f"{prefix}{name}.", out, depth + 1)


def module_family(src: str, keys: set[str]) -> str:
    """Name the network module from its (inert) source text and its keys."""
    if any(k.startswith("synthesis.input.") for k in keys) or "class SynthesisInput" in src:
        return "networks_stylegan3"
    if "def modulated_conv2d" in src or "synthesis.b4.const" in keys:
        return "networks_stylegan2"
    return "unknown"


def is_nvlabs_pickle(obj: Any) -> bool:
    return isinstance(obj, dict) and any(_meta(obj.get(k)) is not None for k in NETWORK_KEYS)


def extract_nvlabs(ckpt: Checkpoint | Any) -> NVlabsNet | None:
    """The generator (``G_ema``, else ``G``) of an NVlabs pickle, or None if it is not one."""
    obj = ckpt.obj if isinstance(ckpt, Checkpoint) else ckpt
    if not isinstance(obj, dict):
        return None
    net = next((obj[k] for k in NETWORK_KEYS if _meta(obj.get(k)) is not None), None)
    if net is None:
        return None
    meta = _meta(net)
    state = meta.get("state") or {}
    sd: dict[str, torch.Tensor] = {}
    _walk(net, "", sd, 0)
    src = meta.get("module_src")
    src = src if isinstance(src, str) else ""
    return NVlabsNet(init_kwargs=_plain(state.get("_init_kwargs") or {}), state_dict=sd,
                     class_name=str(meta.get("class_name", "")), module_name=module_family(src, set(sd)))


def build(ckpt: Checkpoint) -> GANGenerator:
    """Build the generator of an NVlabs pickle: StyleGAN2 here, StyleGAN3 by ``loaders.stylegan3``."""
    from . import stylegan2

    try:
        net = extract_nvlabs(ckpt)
    except ValueError as e:
        raise ckpt.fail(f"the NVlabs pickle is malformed ({e})") from None
    if net is None:
        raise ckpt.fail("not an NVlabs pickle (no G_ema or G network)")
    if net.module_name == "networks_stylegan3":
        try:
            sg3 = importlib.import_module(".stylegan3", __package__)
        except ModuleNotFoundError as e:
            if e.name != f"{__package__}.stylegan3":
                raise
            raise ckpt.fail("StyleGAN3 support is not installed (loaders/stylegan3.py is missing)") from None
        return sg3.from_nvlabs(net.init_kwargs, net.state_dict)
    if net.class_name and net.class_name != "Generator":
        raise ckpt.fail(f"the pickle's network is a {net.class_name}, not a Generator")
    if not stylegan2.is_nvlabs_state(net.state_dict):
        raise ckpt.fail(f"the NVlabs network ({net.module_name}) is not a StyleGAN2 or StyleGAN3 generator")
    try:
        cfg = stylegan2.config_from_init_kwargs(net.init_kwargs) if net.init_kwargs else stylegan2.infer_config(net.state_dict)
    except InputError as e:
        raise ckpt.fail(str(e)) from None
    return stylegan2.build_checked(ckpt, net.state_dict, cfg)
