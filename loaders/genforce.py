"""The genforce / SeFa model zoo: StyleGAN, StyleGAN2 and PGGAN generators in genforce's layout.

A genforce ``.pth`` holds ``{"generator_smooth": state_dict}`` (the averaged generator, preferred),
``{"generator": ...}``, or is a bare state dict.  The three networks are told apart by key names:

- StyleGAN:  ``synthesis.layer{i}.apply_noise.weight`` and ``synthesis.layer{i}.style.weight``
- StyleGAN2: ``synthesis.early_layer.const`` / ``synthesis.layer{i}.noise_strength``
- PGGAN:     top-level ``layer0.weight`` (a 4x4 kernel) and ``output0.weight``, no mapping

The constructor settings come, in order of precedence, from the checkpoint's own ``init_kwargs``
/ a sidecar JSON (flat genforce kwargs, or ``{"init_kwargs": {...}}``) and from the shapes:
resolution from the number of synthesis layers, z / w widths, mapping depth and width, feature
maps, image channels, the StyleGAN2 skip/origin layout.  What shapes cannot tell keeps genforce's
defaults: ``mapping_lr_mul`` 0.01, ``use_wscale`` True, StyleGAN ``fused_scale`` "auto" (fused from
128 px), PGGAN ``fused_scale`` False, ``final_tanh`` False, PGGAN ``label_size`` 0.
"""

from __future__ import annotations

import re
from typing import Callable

import torch

from . import genforce_pggan, genforce_stylegan, genforce_stylegan2
from .base import GANGenerator
from .config_check import MAX_DIM, Bool, Choice, Float, Int, PowerOfTwo, build_bounded, check_config
from .files import Checkpoint, state_dict_of, strip_prefix

ARCHS = (genforce_stylegan.ARCH, genforce_stylegan2.ARCH, genforce_pggan.ARCH)
WRAPPER_KEYS = ("generator_smooth", "generator", "state_dict", "model")
_LAYER = re.compile(r"^(?:synthesis\.)?layer(\d+)\.")
_MAPPING = re.compile(r"^mapping\.dense(\d+)\.weight$")


def family_of(sd: dict[str, torch.Tensor]) -> str | None:
    """Which genforce network a state dict is, from its key names alone (None if none)."""
    keys = set(sd)
    if "synthesis.layer0.style.weight" in keys and "mapping.dense0.weight" in keys:
        if "synthesis.early_layer.const" in keys or "synthesis.layer0.noise_strength" in keys:
            return genforce_stylegan2.ARCH
        if "synthesis.layer0.apply_noise.weight" in keys:
            return genforce_stylegan.ARCH
        return None
    w = sd.get("layer0.weight")
    if (w is not None and w.ndim == 4 and w.shape[-1] == 4 and "output0.weight" in keys
            and not any(k.startswith(("mapping.", "synthesis.", "main.")) for k in keys)):
        return genforce_pggan.ARCH
    return None


def genforce_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    return sd if family_of(sd) else None


def detect(ckpt: Checkpoint) -> bool:
    return genforce_state(ckpt.obj) is not None


# ----- configuration from shapes -------------------------------------------------------------------
def _count(sd: dict, pattern: str) -> int:
    rx = re.compile(pattern)
    return len({rx.match(k).group(1) for k in sd if rx.match(k)})


def _fmaps(channels: dict[int, int]) -> tuple[int, int]:
    """``fmaps_base`` / ``fmaps_max`` that reproduce the per-resolution feature-map counts."""
    fmax = max(channels.values())
    below = [res for res, ch in sorted(channels.items()) if ch < fmax]
    base = channels[below[0]] * below[0] if below else fmax * max(channels)
    for res, ch in channels.items():
        if min(base // res, fmax) != ch:
            raise ValueError(f"feature maps {channels} do not follow min(fmaps_base // res, fmaps_max)")
    return base, fmax


def _mapping_config(sd: dict, w_dim: int, num_layers: int) -> dict:
    layers = _count(sd, r"^mapping\.dense(\d+)\.weight$")
    label = sd.get("mapping.label_weight")
    first = sd["mapping.dense0.weight"]
    z_dim = int(label.shape[1]) if label is not None else int(first.shape[1])
    last = sd[f"mapping.dense{layers - 1}.weight"]
    return {"z_space_dim": z_dim, "w_space_dim": w_dim, "label_size": int(label.shape[0]) if label is not None else 0,
            "mapping_layers": layers, "mapping_fmaps": int(first.shape[0]) if layers > 1 else 512,
            "repeat_w": int(last.shape[0]) == w_dim}


def infer_stylegan(sd: dict) -> dict:
    num_layers = _count(sd, r"^synthesis\.layer(\d+)\.style\.weight$")
    resolution = 4 * 2 ** (num_layers // 2 - 1)
    w_dim = int(sd["synthesis.layer0.style.weight"].shape[1])
    const = "synthesis.layer0.const" in sd
    channels = {4 * 2**b: int(sd[f"synthesis.layer{2 * b + 1}.weight"].shape[0]) for b in range(num_layers // 2)}
    base, fmax = _fmaps(channels)
    return {**genforce_stylegan.DEFAULTS, **_mapping_config(sd, w_dim, num_layers), "resolution": resolution,
            "const_input": const, "image_channels": int(sd["synthesis.output0.weight"].shape[0]),
            "fmaps_base": base, "fmaps_max": fmax}


def infer_stylegan2(sd: dict) -> dict:
    num_layers = _count(sd, r"^synthesis\.layer(\d+)\.style\.weight$") + 1
    resolution = 4 * 2 ** (num_layers // 2 - 1)
    w_dim = int(sd["synthesis.layer0.style.weight"].shape[1])
    channels = {4 * 2**b: int(sd[f"synthesis.layer{2 * b}.weight"].shape[0]) for b in range(num_layers // 2)}
    base, fmax = _fmaps(channels)
    outputs = _count(sd, r"^synthesis\.output(\d+)\.weight$")
    rgb = sd[f"synthesis.output{num_layers // 2 - 1}.weight"]
    return {**genforce_stylegan2.DEFAULTS, **_mapping_config(sd, w_dim, num_layers), "resolution": resolution,
            "architecture": "skip" if outputs > 1 or num_layers == 2 else "origin",
            "image_channels": int(rgb.shape[0]), "fmaps_base": base, "fmaps_max": fmax}


def infer_pggan(sd: dict) -> dict:
    num_layers = _count(sd, r"^layer(\d+)\.weight$")
    channels = {4 * 2**b: int(sd[f"layer{2 * b + 1}.weight"].shape[0]) for b in range(num_layers // 2)}
    base, fmax = _fmaps(channels)
    return {**genforce_pggan.DEFAULTS, "resolution": 4 * 2 ** (num_layers // 2 - 1),
            "z_space_dim": int(sd["layer0.weight"].shape[1]), "image_channels": int(sd["output0.weight"].shape[0]),
            "fmaps_base": base, "fmaps_max": fmax}


SPEC = {
    "z_space_dim": Int(1, MAX_DIM), "w_space_dim": Int(1, MAX_DIM), "label_size": Int(0, MAX_DIM),
    "mapping_layers": Int(1, 64), "mapping_fmaps": Int(1, MAX_DIM), "mapping_lr_mul": Float(0, 1e3, lo_open=True),
    "repeat_w": Bool(), "image_channels": Int(1, 16), "final_tanh": Bool(), "const_input": Bool(),
    "fused_scale": Choice((True, False, "auto")), "use_wscale": Bool(), "fmaps_base": Int(1, 1 << 26),
    "fmaps_max": Int(1, MAX_DIM), "resolution": PowerOfTwo(4, 8192), "architecture": Choice(("skip", "origin")),
    "fused_modulate": Bool(), "demodulate": Bool(),
}
"""What each genforce setting may be (all three networks share the names)."""

INFER: dict[str, Callable[[dict], dict]] = {
    genforce_stylegan.ARCH: infer_stylegan, genforce_stylegan2.ARCH: infer_stylegan2, genforce_pggan.ARCH: infer_pggan,
}
CLASSES: dict[str, type[GANGenerator]] = {
    genforce_stylegan.ARCH: genforce_stylegan.GenforceStyleGAN,
    genforce_stylegan2.ARCH: genforce_stylegan2.GenforceStyleGAN2,
    genforce_pggan.ARCH: genforce_pggan.GenforcePGGAN,
}


def _declared(ckpt: Checkpoint) -> dict:
    """Constructor kwargs the user or the file states (sidecar JSON or checkpoint ``init_kwargs``)."""
    decl: dict = {}
    if isinstance(ckpt.obj, dict) and isinstance(ckpt.obj.get("init_kwargs"), dict):
        decl.update(ckpt.obj["init_kwargs"])
    side = dict(ckpt.sidecar or {})
    decl.update(side.get("init_kwargs", side) if isinstance(side.get("init_kwargs", side), dict) else {})
    return decl


def build(ckpt: Checkpoint) -> GANGenerator:
    sd = genforce_state(ckpt.obj)
    arch = family_of(sd)
    config = INFER[arch](sd)
    declared = check_config(_declared(ckpt), SPEC, ckpt.path, "the declared genforce settings")
    pggan_label = int(declared.get("label_size", 0)) if arch == genforce_pggan.ARCH else 0
    for key, value in declared.items():
        if key in config:
            config[key] = value
    if pggan_label:
        config["z_space_dim"] = int(sd["layer0.weight"].shape[1]) - pggan_label
    return from_native(sd, config, arch)


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str) -> GANGenerator:
    config = check_config(config, SPEC, where=f"the {arch} configuration")
    gen = build_bounded(lambda: CLASSES[arch](config), state, what=f"the {arch} configuration")
    state = dict(state)
    for key in ("lod", "synthesis.lod"):  # progressive-growing bookkeeping; some exports drop it
        if key in gen.state_dict() and key not in state:
            state[key] = torch.zeros(())
    gen.load_state_dict(state, strict=True)
    return gen
