"""StyleGAN (v1) TF pickles (NVlabs stylegan, ``karras2019stylegan-*.pkl``) converted to the genforce layout.

The ``Gs`` of the ``(G, D, Gs)`` tuple is a ``dnnlib.tflib`` network (read as inert records by
``tf_pickle``) whose variables follow ``training/networks_stylegan.py``; the published TF -> PyTorch
conversion (genforce's ``stylegan_converter``) names their counterparts.  Per variable:

======================================  ========================================  =====================
TF (``Gs``, ``mapping/``, ``synthesis/``) genforce                                  change
======================================  ========================================  =====================
``dlatent_avg``                           ``truncation.w_avg``
``Dense{i}/weight`` ``[in, out]``         ``mapping.dense{i}.weight``               transposed
``Dense{i}/bias``                         ``mapping.dense{i}.bias``
``LabelConcat/weight`` ``[labels, z]``    ``mapping.label_weight``
``lod``                                   ``synthesis.lod``                         must be 0
``4x4/Const/const``                       ``synthesis.layer0.const``
``{r}x{r}/{Conv0_up,Conv,Conv1}/weight``  ``synthesis.layer{i}.weight``             ``[kh, kw, in, out]``
                                                                                    -> ``[out, in, kh, kw]``
``.../bias``                              ``synthesis.layer{i}.bias``
``.../StyleMod/weight``                   ``synthesis.layer{i}.style.weight``       transposed
``.../StyleMod/bias``                     ``synthesis.layer{i}.style.bias``
``.../Noise/weight``                      ``synthesis.layer{i}.apply_noise.weight``
``noise{i}`` ``[1, 1, r, r]``             ``synthesis.layer{i}.apply_noise.noise``
``ToRGB_lod{l}/weight``, ``/bias``        ``synthesis.output{log2(R) - 2 - l}.*``   conv as above
======================================  ========================================  =====================

Layer ``2b`` of resolution ``r = 4 * 2**b`` is ``Const`` (4 px) or ``Conv0_up``, layer ``2b + 1`` is
``Conv`` (4 px) or ``Conv1``.  The up-sampling layers blur with the fixed ``[1, 2, 1]`` filter, which
is not a variable.  The TF graph's settings (``fused_scale``, ``mapping_lrmul``, ``use_wscale``)
come from the pickled static kwargs; variants the genforce network does not have (no constant
input, pixel norm, no instance norm or styles, other activations or blur filters, an unfinished
progressive-growing ``lod``) are refused by name.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np
import torch

from ..errors import CheckpointError
from .config_check import MAX_DIM, Bool, Choice, Float, Int, Numbers, PowerOfTwo, check_config
from .files import Checkpoint

BLUR_TAPS = (1.0, 2.0, 1.0)
# static kwargs of networks_stylegan.py whose non-default values the genforce network cannot express
UNSUPPORTED = {"const_input_layer": True, "use_styles": True, "use_pixel_norm": False, "use_instance_norm": True,
               "use_noise": True, "normalize_latents": True, "nonlinearity": "lrelu", "mapping_nonlinearity": "lrelu"}


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))


def _conv(a: np.ndarray) -> torch.Tensor:
    """TF ``[kh, kw, in, out]`` -> torch ``[out, in, kh, kw]``."""
    if a.ndim != 4:
        raise ValueError(f"a convolution weight of shape {list(a.shape)}")
    return _t(a.transpose(3, 2, 0, 1))


def _dense(a: np.ndarray) -> torch.Tensor:
    """TF ``[in, out]`` -> torch ``[out, in]``."""
    if a.ndim != 2:
        raise ValueError(f"a dense weight of shape {list(a.shape)}")
    return _t(a.T)


def resolution_of(params: dict[str, np.ndarray]) -> int:
    sizes = {int(m.group(1)) for k in params if (m := re.match(r"^synthesis/(\d+)x\1/", k))}
    if not sizes:
        raise ValueError("no synthesis layers")
    res = max(sizes)
    if res < 8 or res > 4096 or res & (res - 1) or sizes != {2**k for k in range(2, int(math.log2(res)) + 1)}:
        raise ValueError(f"synthesis layers at {sorted(sizes)} px, not every power of two from 4 to a final size")
    return res


def convert(params: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
    """TF variables (named ``mapping/...``, ``synthesis/...``, ``dlatent_avg``) -> genforce StyleGAN state dict."""
    # full TF scope names (``G_synthesis/4x4/Const/const``), at the top or inside a component, mean the same
    p = {re.sub(r"^(?:(?:mapping|synthesis)/)?G_(mapping|synthesis)/", r"\1/", k): v for k, v in params.items()}
    if "synthesis/4x4/Const/const" not in p and "synthesis/4x4/Dense/weight" in p:
        raise ValueError("it starts from a dense map of w instead of a constant input, which is not supported")
    res = resolution_of(p)
    log2 = int(math.log2(res))
    sd: dict[str, torch.Tensor] = {"truncation.w_avg": _t(p["dlatent_avg"])}
    i = 0
    while f"mapping/Dense{i}/weight" in p:
        sd[f"mapping.dense{i}.weight"] = _dense(p[f"mapping/Dense{i}/weight"])
        sd[f"mapping.dense{i}.bias"] = _t(p[f"mapping/Dense{i}/bias"])
        i += 1
    if "mapping/LabelConcat/weight" in p:
        sd["mapping.label_weight"] = _t(p["mapping/LabelConcat/weight"])
    lod = np.asarray(p["synthesis/lod"], dtype=np.float64)
    if lod.size != 1 or float(lod.reshape(-1)[0]) != 0.0:
        raise ValueError(f"the synthesis network's level of detail is {lod.reshape(-1)[:1].tolist()}, not 0 "
                         "(progressive growing did not finish)")
    sd["synthesis.lod"] = torch.zeros(())
    blur = torch.outer(torch.tensor(BLUR_TAPS), torch.tensor(BLUR_TAPS))
    blur = blur / blur.sum()
    for b in range(log2 - 1):
        r = 4 * 2**b
        for layer, tf_name in ((2 * b, "Const" if b == 0 else "Conv0_up"), (2 * b + 1, "Conv" if b == 0 else "Conv1")):
            src, dst = f"synthesis/{r}x{r}/{tf_name}", f"synthesis.layer{layer}"
            if tf_name == "Const":
                sd[f"{dst}.const"] = _t(p[f"{src}/const"])
            else:
                sd[f"{dst}.weight"] = _conv(p[f"{src}/weight"])
            sd[f"{dst}.bias"] = _t(p[f"{src}/bias"])
            sd[f"{dst}.style.weight"] = _dense(p[f"{src}/StyleMod/weight"])
            sd[f"{dst}.style.bias"] = _t(p[f"{src}/StyleMod/bias"])
            sd[f"{dst}.apply_noise.weight"] = _t(p[f"{src}/Noise/weight"])
            sd[f"{dst}.apply_noise.noise"] = _t(p[f"synthesis/noise{layer}"])
            if tf_name == "Conv0_up":
                out = sd[f"{dst}.weight"].shape[0]
                sd[f"{dst}.blur.kernel"] = blur.expand(out, 1, 3, 3).clone()
        rgb = f"synthesis/ToRGB_lod{log2 - 2 - b}"
        sd[f"synthesis.output{b}.weight"] = _conv(p[f"{rgb}/weight"])
        sd[f"synthesis.output{b}.bias"] = _t(p[f"{rgb}/bias"])
    return sd


STATIC_SPEC = {
    "latent_size": Int(1, MAX_DIM), "label_size": Int(0, MAX_DIM), "dlatent_size": Int(1, MAX_DIM),
    "dlatent_broadcast": Int(1, 64, optional=True), "mapping_layers": Int(1, 64), "mapping_fmaps": Int(1, MAX_DIM),
    "mapping_lrmul": Float(0, 100, lo_open=True), "mapping_nonlinearity": Choice(("lrelu", "relu")),
    "use_wscale": Bool(), "normalize_latents": Bool(), "resolution": PowerOfTwo(4, 8192), "num_channels": Int(1, 16),
    "fmap_base": Int(1, 1 << 26), "fmap_decay": Float(0, 16), "fmap_max": Int(1, MAX_DIM), "use_styles": Bool(),
    "const_input_layer": Bool(), "use_noise": Bool(), "randomize_noise": Bool(), "nonlinearity": Choice(("lrelu", "relu")),
    "use_pixel_norm": Bool(), "use_instance_norm": Bool(), "fused_scale": Choice((True, False, "auto")),
    "blur_filter": Numbers(Float(-1e6, 1e6), max_len=16, min_len=0, optional=True),
    "structure": Choice(("auto", "fixed", "linear", "recursive")), "dtype": Choice(("float32", "float16")),
    "truncation_psi": Float(-16, 16, optional=True), "truncation_cutoff": Int(0, 64, optional=True),
    "truncation_psi_val": Float(-16, 16, optional=True), "truncation_cutoff_val": Int(0, 64, optional=True),
    "dlatent_avg_beta": Float(0, 1, optional=True), "style_mixing_prob": Float(0, 1, optional=True),
    "is_training": Bool(), "is_validation": Bool(), "is_template_graph": Bool(), "force_clean_graph": Bool(),
}
"""What each static kwarg of ``networks_stylegan.py`` (``G_style``, ``G_mapping``, ``G_synthesis``) may be."""

AGREE = {"resolution": "resolution", "latent_size": "z_space_dim", "dlatent_size": "w_space_dim",
         "label_size": "label_size", "num_channels": "image_channels", "mapping_layers": "mapping_layers"}
"""Static kwargs that the variables' shapes also tell: they must say the same."""


def check_static(kw: dict[str, Any], path: str | None = None) -> dict:
    """The static kwargs, every field we know checked (:data:`STATIC_SPEC`), naming the file and the field."""
    return check_config(kw, STATIC_SPEC, source=path, where="the TF pickle's static_kwargs")


def settings(kw: dict[str, Any]) -> dict:
    """genforce config overrides from the (checked) TF static kwargs; a ValueError names what cannot be built."""
    for key, default in UNSUPPORTED.items():
        if key in kw and kw[key] != default:
            raise ValueError(f"the TF graph sets {key}={kw[key]!r}, which the genforce StyleGAN network does not "
                             f"have (only {key}={default!r})")
    if "blur_filter" in kw and [float(t) for t in (kw["blur_filter"] or [])] != list(BLUR_TAPS):
        taps = ", ".join(f"{float(t):g}" for t in kw["blur_filter"] or [])
        raise ValueError(f"the TF graph blurs with [{taps}]; only the default [1, 2, 1] is supported")
    out: dict = {}
    if "fused_scale" in kw:
        out["fused_scale"] = kw["fused_scale"]
    if "mapping_lrmul" in kw:
        out["mapping_lr_mul"] = float(kw["mapping_lrmul"])
    if "use_wscale" in kw:
        out["use_wscale"] = bool(kw["use_wscale"])
    return out


def agree(config: dict, kw: dict[str, Any], path: str | None = None) -> None:
    """Refuse static kwargs that contradict the variables' shapes (the file says two things)."""
    for field, key in AGREE.items():
        if field in kw and key in config and kw[field] != config[key]:
            raise CheckpointError(path, f"the TF pickle's static_kwargs: field '{field}' is {kw[field]}, but the "
                                  f"variables make {config[key]}")


def build(ckpt: Checkpoint, params: dict[str, np.ndarray], static_kwargs: dict[str, Any]):
    """A genforce StyleGAN generator from the collected ``Gs`` variables and static kwargs."""
    from . import genforce, genforce_stylegan

    static_kwargs = check_static(static_kwargs, ckpt.path)
    try:
        overrides = settings(static_kwargs)
        sd = convert(params)
    except KeyError as e:
        raise ckpt.fail(f"the TF pickle lacks the variable {e.args[0]!r} of a StyleGAN (v1) generator") from None
    except ValueError as e:
        raise ckpt.fail(f"not a StyleGAN (v1) generator this loader can convert: {e}") from None
    inferred = genforce.infer_stylegan(sd)
    agree(inferred, static_kwargs, ckpt.path)
    return genforce.from_native(sd, {**inferred, **overrides}, genforce_stylegan.ARCH)
