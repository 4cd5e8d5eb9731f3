"""TF-era NVlabs pickles ``(G, D, Gs)`` read without TensorFlow: StyleGAN2 converted to the NVlabs PyTorch
layout here, StyleGAN (v1) to the genforce layout in ``tf_stylegan1``.

Each network is a ``dnnlib.tflib.network.Network`` whose pickled state holds ``name``,
``static_kwargs``, ``components`` (sub-networks ``mapping`` / ``synthesis``), ``build_module_src``
(source text, never executed) and ``variables`` = [(name, numpy array)].  The variable names and
the conversion rules are those of the published TF -> PyTorch conversion (NVlabs ``legacy.py``):
dense weights ``[in, out]`` are transposed, conv weights ``[kh, kw, in, out]`` become
``[out, in, kh, kw]`` (the up-sampling ``Conv0_up`` kernel is also flipped in space), modulation
biases are stored without the +1 the TF graph adds, noise maps are ``synthesis/noise{n}``
``[1, 1, r, r]``, and ``dlatent_avg`` is the w average.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from .config_check import Int, check_config, check_value
from .files import Checkpoint
from .safe_pickle import Record

NETWORK = "dnnlib.tflib.network.Network"


def _is_net(obj: Any) -> bool:
    return isinstance(obj, Record) and obj.qualname == NETWORK and isinstance(obj.state, dict)


def is_tf_pickle(obj: Any) -> bool:
    return isinstance(obj, tuple) and len(obj) == 3 and all(_is_net(x) for x in obj)


def collect_params(net: Record, prefix: str = "", out: dict | None = None, depth: int = 0) -> dict[str, np.ndarray]:
    """All variables of a network and its components, named ``component/.../variable``."""
    out = {} if out is None else out
    if depth > 16:
        raise ValueError("the TF network nests too deeply")
    for item in net.state.get("variables") or []:
        name, value = item
        out[prefix + str(name)] = np.asarray(value)
    for name, comp in (net.state.get("components") or {}).items():
        if _is_net(comp):
            collect_params(comp, f"{prefix}{name}/", out, depth + 1)
    return out


def _is_v1(net: Record, params: dict) -> bool:
    funcs = [net.state.get("build_func_name")] + [c.state.get("build_func_name") for c in
                                                    (net.state.get("components") or {}).values() if _is_net(c)]
    if "G_style" in funcs or "G_synthesis" in funcs:
        return True
    return any("StyleMod" in k for k in params) or not any(k.endswith("mod_weight") for k in params)


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _conv(a: np.ndarray, flip: bool = False) -> torch.Tensor:
    if flip:
        a = a[::-1, ::-1]
    return _t(a.transpose(3, 2, 0, 1))


def convert(params: dict[str, np.ndarray], resolution: int, filt: torch.Tensor) -> dict[str, torch.Tensor]:
    """TF variables -> NVlabs PyTorch state dict (architecture skip, or orig: torgb of the last block only)."""
    orig = any("/ToRGB_lod" in k for k in params)
    p = {re.sub(r"^G_(mapping|synthesis)/", r"\1/", k): v for k, v in params.items()}
    for name, v in list(p.items()):
        m = re.fullmatch(r"synthesis/ToRGB_lod(\d+)/(.*)", name)
        if m:
            r = resolution // 2 ** int(m.group(1))
            p[f"synthesis/{r}x{r}/ToRGB/{m.group(2)}"] = v
    sd: dict[str, torch.Tensor] = {"mapping.w_avg": _t(p["dlatent_avg"])}
    if "mapping/LabelEmbed/weight" in p:
        sd["mapping.embed.weight"] = _t(p["mapping/LabelEmbed/weight"].T)
        sd["mapping.embed.bias"] = _t(p["mapping/LabelEmbed/bias"])
    i = 0
    while f"mapping/Dense{i}/weight" in p:
        sd[f"mapping.fc{i}.weight"] = _t(p[f"mapping/Dense{i}/weight"].T)
        sd[f"mapping.fc{i}.bias"] = _t(p[f"mapping/Dense{i}/bias"])
        i += 1
    sd["synthesis.b4.const"] = _t(p["synthesis/4x4/Const/const"][0])
    for k in range(2, int(math.log2(resolution)) + 1):
        r = 2 ** k
        b, s = f"synthesis.b{r}", f"synthesis/{r}x{r}"
        sd[f"{b}.resample_filter"] = filt.clone()
        layers = [("conv1", "Conv", 0)] if r == 4 else [("conv0", "Conv0_up", 2 * k - 5), ("conv1", "Conv1", 2 * k - 4)]
        for dst, src, n in layers:
            sd[f"{b}.{dst}.weight"] = _conv(p[f"{s}/{src}/weight"], flip=src == "Conv0_up")
            sd[f"{b}.{dst}.bias"] = _t(p[f"{s}/{src}/bias"])
            sd[f"{b}.{dst}.affine.weight"] = _t(p[f"{s}/{src}/mod_weight"].T)
            sd[f"{b}.{dst}.affine.bias"] = _t(p[f"{s}/{src}/mod_bias"] + 1)
            sd[f"{b}.{dst}.resample_filter"] = filt.clone()
            if f"{s}/{src}/noise_strength" in p:
                sd[f"{b}.{dst}.noise_strength"] = _t(p[f"{s}/{src}/noise_strength"]).reshape([])
                sd[f"{b}.{dst}.noise_const"] = _t(p[f"synthesis/noise{n}"][0, 0])
        if f"{s}/ToRGB/weight" in p and (r == resolution or not orig):
            sd[f"{b}.torgb.weight"] = _conv(p[f"{s}/ToRGB/weight"])
            sd[f"{b}.torgb.bias"] = _t(p[f"{s}/ToRGB/bias"])
            sd[f"{b}.torgb.affine.weight"] = _t(p[f"{s}/ToRGB/mod_weight"].T)
            sd[f"{b}.torgb.affine.bias"] = _t(p[f"{s}/ToRGB/mod_bias"] + 1)
    return sd


def config_from_static_kwargs(kw: dict) -> dict:
    """Our config keys from the TF ``G_main`` / ``G_synthesis_stylegan2`` keyword arguments."""
    table = {"latent_size": "z_dim", "label_size": "c_dim", "dlatent_size": "w_dim", "resolution": "img_resolution",
             "num_channels": "img_channels", "fmap_max": "channel_max", "conv_clamp": "conv_clamp",
             "architecture": "architecture", "resample_kernel": "resample_filter", "use_noise": "use_noise",
             "mapping_layers": "mapping_layers", "mapping_lrmul": "mapping_lr_mul", "label_fmaps": "embed_features",
             "mapping_fmaps": "layer_features"}
    cfg = {dst: kw[src] for src, dst in table.items() if src in kw}
    if "fmap_base" in kw:
        cfg["channel_base"] = check_value("fmap_base", kw["fmap_base"], Int(1, 1 << 25), where="the TF static_kwargs") * 2
    if kw.get("nonlinearity", "lrelu") != "lrelu" or kw.get("mapping_nonlinearity", "lrelu") != "lrelu":
        raise ValueError("only leaky-ReLU StyleGAN2 generators are supported")
    return cfg


def static_kwargs_of(gs: Record) -> dict:
    """The network's static kwargs over its components' (the top level wins)."""
    kw = {**(gs.state.get("static_kwargs") or {})}
    for comp in (gs.state.get("components") or {}).values():
        if _is_net(comp):
            kw = {**(comp.state.get("static_kwargs") or {}), **kw}
    return kw


def build(ckpt: Checkpoint):
    """Build the generator of a TF pickle's ``Gs``: StyleGAN2 in the NVlabs layout, or StyleGAN (v1) in
    the genforce layout (``tf_stylegan1``)."""
    from . import stylegan2, tf_stylegan1

    gs = ckpt.obj[2]
    params = collect_params(gs)
    if _is_v1(gs, params):
        return tf_stylegan1.build(ckpt, params, static_kwargs_of(gs))
    if any("LabelConcat" in k for k in params):
        raise ckpt.fail("conditional TF pickles of the original stylegan2 repository (LabelConcat) are not "
                        "supported; only stylegan2-ada's LabelEmbed conditioning is")
    try:
        cfg = config_from_static_kwargs(static_kwargs_of(gs))
    except ValueError as e:
        raise ckpt.fail(str(e)) from None
    cfg = check_config(cfg, stylegan2.SPEC, ckpt.path, "the TF pickle's static_kwargs")
    res = cfg.get("img_resolution") or _resolution(params)
    if not 4 <= res <= 8192:
        raise ckpt.fail(f"the TF pickle's variables name a {res} px network")
    taps = cfg.get("resample_filter") or [1, 3, 3, 1]
    filt = stylegan2.setup_filter(taps)
    try:
        sd = convert(params, res, filt)
    except KeyError as e:
        raise ckpt.fail(f"the TF pickle lacks the variable {e.args[0]!r} of a StyleGAN2 generator") from None
    inferred = stylegan2.adopt_channel_formula(stylegan2.infer_config(sd), cfg)
    inferred.update({k: v for k, v in cfg.items() if k in ("conv_clamp", "mapping_lr_mul", "architecture",
                                                            "resample_filter")})
    if any(k.startswith(f"synthesis/{r}x{r}/Skip") for k in params for r in [2 ** i for i in range(3, 11)]):
        raise ckpt.fail("TF StyleGAN2 pickles of the resnet generator architecture are not supported")
    inferred.update(stylegan2.declared_config(ckpt))
    return stylegan2.build_checked(ckpt, sd, inferred)


def _resolution(params: dict) -> int:
    sizes = [int(m.group(1)) for k in params if (m := re.search(r"synthesis/(\d+)x\1/", k))]
    return max(sizes)
