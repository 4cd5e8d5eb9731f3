"""rosinality/stylegan2-pytorch checkpoints (``.pt``) renamed to the NVlabs StyleGAN2 layout.

Their files hold ``{"g_ema": state_dict, "latent_avg": w_mean}`` (converted from NVlabs) or a
training checkpoint ``{"g", "d", "g_ema", "g_optim", "d_optim", "args", ...}``.  The math is the
same as NVlabs' (equalized-lr linear layers with lr_mul 0.01 in ``style.N``, modulation with bias
init 1, demodulated convs, a transposed conv followed by the FIR blur, noise added before the
fused bias + leaky ReLU), only the names and a few shapes differ:

=====================================  ===========================================
rosinality                             NVlabs
=====================================  ===========================================
``style.{j}`` (j = 1..n_mlp)           ``mapping.fc{j-1}``
``latent_avg`` (beside ``g_ema``)      ``mapping.w_avg``
``input.input`` [1, C, 4, 4]           ``synthesis.b4.const`` [C, 4, 4]
``conv1`` / ``to_rgb1``                ``synthesis.b4.conv1`` / ``synthesis.b4.torgb``
``convs.{2i}`` / ``convs.{2i+1}``      ``synthesis.b{8*2^i}.conv0`` / ``.conv1``
``to_rgbs.{i}``                        ``synthesis.b{8*2^i}.torgb``
``*.conv.weight`` [1, O, I, k, k]      ``*.weight`` [O, I, k, k]
``*.conv.modulation``                  ``*.affine``
``*.noise.weight`` [1]                 ``*.noise_strength`` []
``*.activate.bias``                    ``*.bias``
``noises.noise_{n}`` [1, 1, r, r]      ``noise_const`` of the n-th conv, [r, r]
``*.blur.kernel``, ``*.upsample.kernel``  ``resample_filter`` times 4
=====================================  ===========================================
"""

from __future__ import annotations

import re
from typing import Any

import torch

from .config_check import Float, Int, check_value
from .files import Checkpoint, state_dict_of, strip_prefix

WRAPPER_KEYS = ("g_ema", "g")
DEFAULT_FILTER = [1.0, 3.0, 3.0, 1.0]


def rosinality_state(obj: Any) -> dict[str, torch.Tensor] | None:
    """The generator state dict of a rosinality checkpoint, or None."""
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    return sd if "input.input" in sd and "style.1.weight" in sd and "conv1.conv.weight" in sd else None


def _layer(src: dict, prefix: str, dst: str, out: dict, noise: torch.Tensor | None) -> None:
    weight = src[f"{prefix}.conv.weight"]
    if weight.ndim != 5 or weight.shape[0] != 1:
        raise ValueError(f"{prefix}.conv.weight is {list(weight.shape)}, not a modulated convolution [1, out, in, k, k]")
    out[f"{dst}.weight"] = weight[0]
    out[f"{dst}.affine.weight"] = src[f"{prefix}.conv.modulation.weight"]
    out[f"{dst}.affine.bias"] = src[f"{prefix}.conv.modulation.bias"]
    if f"{prefix}.activate.bias" in src:  # a StyledConv
        out[f"{dst}.bias"] = src[f"{prefix}.activate.bias"]
        if f"{prefix}.noise.weight" in src:
            if noise is None or noise.ndim != 4 or noise.shape[:2] != (1, 1):
                raise ValueError(f"{prefix} adds noise but its noise map (noises.noise_N [1, 1, r, r]) is "
                                 f"{'missing' if noise is None else list(noise.shape)}")
            out[f"{dst}.noise_strength"] = src[f"{prefix}.noise.weight"].reshape([])
            out[f"{dst}.noise_const"] = noise[0, 0]
    else:  # a ToRGB
        out[f"{dst}.bias"] = src[f"{prefix}.bias"].reshape(-1)


def _numbered(sd: dict, pattern: str, first: int, what: str) -> int:
    """How many layers named by ``pattern`` (one group: the index) there are; they must be numbered
    ``first``, ``first + 1``, ... without a gap (a gap would silently build a smaller network)."""
    found = sorted({int(m.group(1)) for k in sd if (m := re.fullmatch(pattern, k))})
    if found != list(range(first, first + len(found))):
        raise ValueError(f"the {what} are numbered {found[:8]}{' ...' if len(found) > 8 else ''}, "
                         f"not {first}..{first + len(found) - 1}: layers are missing")
    return len(found)


def to_nvlabs(sd: dict[str, torch.Tensor], latent_avg: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Rename a rosinality generator state dict to NVlabs keys (see the module table).

    Raises ValueError when layers are missing (a gap in the numbering of ``style.N``, ``convs.N``,
    ``to_rgbs.N`` or ``noises.noise_N``) or a convolution or noise map has the wrong rank."""
    out: dict[str, torch.Tensor] = {}
    n_mlp = _numbered(sd, r"style\.(\d+)\.weight", 1, "mapping layers (style.N)")
    if n_mlp == 0:
        raise ValueError("there are no mapping layers (style.N)")
    for j in range(1, n_mlp + 1):
        out[f"mapping.fc{j - 1}.weight"] = sd[f"style.{j}.weight"]
        out[f"mapping.fc{j - 1}.bias"] = sd[f"style.{j}.bias"]
    w_dim = sd[f"style.{n_mlp}.weight"].shape[0]
    out["mapping.w_avg"] = latent_avg.reshape(-1) if latent_avg is not None else torch.zeros(w_dim)
    noise = lambda n: sd.get(f"noises.noise_{n}")  # noqa: E731
    n_up = _numbered(sd, r"to_rgbs\.(\d+)\.conv\.weight", 0, "upsampling RGB layers (to_rgbs.N)")
    if _numbered(sd, r"convs\.(\d+)\.conv\.weight", 0, "convolutions (convs.N)") != 2 * n_up:
        raise ValueError(f"{n_up} to_rgbs layers need {2 * n_up} convolutions (convs.N)")
    n_noise = _numbered(sd, r"noises\.noise_(\d+)", 0, "noise maps (noises.noise_N)")
    if n_noise not in (0, 2 * n_up + 1):
        raise ValueError(f"{n_noise} noise maps; {2 * n_up + 1} layers take noise")
    filt = sd.get("to_rgbs.0.upsample.kernel")
    f = filt / 4 if filt is not None else torch.outer(torch.tensor(DEFAULT_FILTER), torch.tensor(DEFAULT_FILTER)) / 64
    const = sd["input.input"]
    if const.ndim != 4 or const.shape[0] != 1:
        raise ValueError(f"input.input is {list(const.shape)}, not the constant input [1, channels, 4, 4]")
    out["synthesis.b4.const"] = const[0]
    out["synthesis.b4.resample_filter"] = f.clone()
    out["synthesis.b4.conv1.resample_filter"] = f.clone()
    _layer(sd, "conv1", "synthesis.b4.conv1", out, noise(0))
    _layer(sd, "to_rgb1", "synthesis.b4.torgb", out, None)
    for i in range(n_up):
        b = f"synthesis.b{8 * 2 ** i}"
        _layer(sd, f"convs.{2 * i}", f"{b}.conv0", out, noise(2 * i + 1))
        _layer(sd, f"convs.{2 * i + 1}", f"{b}.conv1", out, noise(2 * i + 2))
        _layer(sd, f"to_rgbs.{i}", f"{b}.torgb", out, None)
        blur = sd.get(f"convs.{2 * i}.conv.blur.kernel")
        up = sd.get(f"to_rgbs.{i}.upsample.kernel")
        out[f"{b}.conv0.resample_filter"] = blur / 4 if blur is not None else f.clone()
        out[f"{b}.conv1.resample_filter"] = f.clone()
        out[f"{b}.resample_filter"] = up / 4 if up is not None else f.clone()
    if any(f"{k}.noise_strength" in out and f"{k}.noise_const" not in out for k in out):
        raise ValueError("the checkpoint has noise strengths but no stored noise maps (noises.noise_N)")
    return out


def _arg(args: Any, name: str, default: Any) -> Any:
    if args is None:
        return default
    if isinstance(args, dict):
        return args.get(name, default)
    if hasattr(args, "get"):
        return args.get(name, default)
    return getattr(args, name, default)


def build(ckpt: Checkpoint):
    """Build a StyleGAN2 generator from a rosinality checkpoint (mean w computed if absent)."""
    from . import stylegan2

    sd = rosinality_state(ckpt.obj)
    if sd is None:
        raise ckpt.fail("not a rosinality StyleGAN2 checkpoint (no g_ema with input.input / style.N)")
    obj = ckpt.obj if isinstance(ckpt.obj, dict) else {}
    avg = obj.get("latent_avg") if isinstance(obj.get("latent_avg"), torch.Tensor) else None
    state = to_nvlabs(sd, avg)
    cfg = stylegan2.infer_config(state)
    args = obj.get("args")
    where = "the checkpoint's training args"
    cfg["mapping_lr_mul"] = check_value("lr_mlp", _arg(args, "lr_mlp", 0.01), Float(0, 1e3, lo_open=True), ckpt.path, where)
    cm = _arg(args, "channel_multiplier", None)
    if cm is not None:  # rosinality: 512 channels up to 32 px, then 16384 * multiplier / resolution
        cm = check_value("channel_multiplier", cm, Int(1, 64), ckpt.path, where)
        cfg = stylegan2.adopt_channel_formula(cfg, {"channel_base": 16384 * cm, "channel_max": 512})
    cfg.update(stylegan2.declared_config(ckpt))
    gen = stylegan2.build_checked(ckpt, state, cfg)
    if avg is None:
        gen.mapping_net.w_avg.copy_(mean_w(gen))
    return gen


@torch.no_grad()
def mean_w(gen, n: int = 4096, seed: int = 0) -> torch.Tensor:
    """Mean of w over ``n`` fixed-seed normal z: what rosinality's ``mean_latent`` computes."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, gen.z_dim, generator=g)
    return gen.mapping_net(z, None)[:, 0].mean(0)
