"""Progressive GAN in the facebookresearch/pytorch_GAN_zoo layout (``GNet`` of progressive_conv_net.py).

A zoo checkpoint is a torch file ``{"config": BaseConfig, "netG": ..., "netD": ..., "avgG": ...}``;
the averaged generator ``avgG`` is preferred.  The config object is read as an inert record (see
``files._torch_load_records``).  The network, from the documented architecture:

    pixel-norm(z) -> formatLayer (dense to 16 * depth0, viewed as depth0 x 4 x 4) -> lrelu -> norm
    -> groupScale0: 3x3 conv -> lrelu -> norm
    -> per scale: nearest 2x upscale -> (3x3 conv -> lrelu -> norm) x 2
    -> the last toRGB 1x1 conv -> optional tanh

Equalised learning rate multiplies each layer's output, bias included, by He's constant
sqrt(2 / fan_in).  The blending factor alpha is taken as 0 (the final scale only).  Channel depths,
latent and image widths come from the shapes; the config supplies what they cannot: leakiness,
normalisation, equalised lr, the class-vector width of an AC-GAN and the loss (MSE and DCGAN
losses put a tanh on the output).  Both the model config's names (``leakyReluLeak``,
``perChannelNormalization``, ``categoryVectorDim``, ``lossCriterion``) and the trainer's
(``leakyness``, ``normalization``, ``lossMode``) are understood.
"""

from __future__ import annotations

import math
import re

import torch
import torch.nn.functional as F
from torch import nn

from .base import GANGenerator
from .config_check import MAX_DIM, Bool, Float, Int, Numbers, build_bounded, check_config
from .files import Checkpoint, state_dict_of, strip_prefix
from .genforce_stylegan import check_slots, pixel_norm

ARCHS = ("pggan-zoo",)
WRAPPER_KEYS = ("avgG", "netG")
TANH_LOSSES = ("MSE", "DCGAN")
SPEC = {
    "latent_dim": Int(1, MAX_DIM), "depths": Numbers(Int(1, MAX_DIM), max_len=12), "dim_output": Int(1, 16),
    "num_rgb": Int(1, 12), "category_dim": Int(0, MAX_DIM), "leakyness": Float(0, 1), "normalization": Bool(),
    "equalized": Bool(), "tanh": Bool(),
}
"""What each setting may be (the zoo config's values are checked before the network is built)."""
_OLD_KEY = re.compile(r"^(.*)\.(weight|bias)$")


def _normalise_keys(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Old zoo files name ``formatLayer.weight`` what the module calls ``formatLayer.module.weight``."""
    out = {}
    for k, v in sd.items():
        m = _OLD_KEY.match(k)
        out[k if ".module." in k or not m else f"{m.group(1)}.module.{m.group(2)}"] = v
    return out


def zoo_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = _normalise_keys(strip_prefix(sd))
    needed = ("formatLayer.module.weight", "groupScale0.0.module.weight", "toRGBLayers.0.module.weight")
    return sd if all(k in sd for k in needed) else None


def detect(ckpt: Checkpoint) -> bool:
    return zoo_state(ckpt.obj) is not None


class Equalized(nn.Module):
    """A conv or linear layer whose output (bias included) is scaled by He's constant at runtime."""

    def __init__(self, module: nn.Module, equalized: bool) -> None:
        super().__init__()
        self.module = module
        fan_in = math.prod(module.weight.shape[1:])
        self.scale = math.sqrt(2.0 / fan_in) if equalized else 1.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x) * self.scale


def _conv(cin: int, cout: int, k: int, equalized: bool) -> Equalized:
    return Equalized(nn.Conv2d(cin, cout, k, padding=k // 2), equalized)


def infer_config(sd: dict[str, torch.Tensor]) -> dict:
    """Everything the shapes tell: latent width, per-scale depths, image channels."""
    fmt = sd["formatLayer.module.weight"]
    scales = sorted({int(k.split(".")[1]) for k in sd if k.startswith("scaleLayers.")})
    depths = [int(fmt.shape[0]) // 16] + [int(sd[f"scaleLayers.{s}.0.module.weight"].shape[0]) for s in scales]
    n_rgb = len({k.split(".")[1] for k in sd if k.startswith("toRGBLayers.")})
    rgb = sd[f"toRGBLayers.{n_rgb - 1}.module.weight"]
    return {"latent_dim": int(fmt.shape[1]), "depths": depths, "dim_output": int(rgb.shape[0]),
            "num_rgb": n_rgb, "category_dim": 0, "leakyness": 0.2, "normalization": True,
            "equalized": True, "tanh": False}


def _read(cfg, *names, default=None):
    for n in names:
        value = cfg.get(n) if hasattr(cfg, "get") else None
        if value is not None:
            return value
    return default


def config_from_zoo(zoo_cfg, config: dict) -> dict:
    """Overlay what a zoo config object (record or dict) says on the shape-derived config."""
    if zoo_cfg is None:
        return config
    out = dict(config)
    out["leakyness"] = _read(zoo_cfg, "leakyReluLeak", "leakyness", default=out["leakyness"])
    out["normalization"] = _read(zoo_cfg, "perChannelNormalization", "normalization", default=out["normalization"])
    out["equalized"] = _read(zoo_cfg, "equalizedlR", default=out["equalized"])
    out["category_dim"] = _read(zoo_cfg, "categoryVectorDim", default=out["category_dim"]) or 0
    act = _read(zoo_cfg, "generationActivation")
    loss = _read(zoo_cfg, "lossCriterion", "lossMode")
    if act is not None or loss is not None:
        out["tanh"] = bool(act == "tanh" or (act is None and loss in TANH_LOSSES))
    return check_config(out, SPEC, where="the PGGAN zoo config")


class ZooPGGAN(GANGenerator):
    """pytorch_GAN_zoo PGGAN: one slot holding the (pixel-normalised) z."""

    arch = "pggan-zoo"
    code_space = "z"

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        depths, eq = [int(d) for d in config["depths"]], bool(config["equalized"])
        latent = int(config["latent_dim"])
        self.c_dim = int(config["category_dim"])
        self.z_dim = latent - self.c_dim
        if self.z_dim <= 0:
            raise ValueError(f"the category vector ({self.c_dim}) leaves no room for z in {latent} inputs")
        self.w_dim, self.num_ws = self.z_dim, 1
        self.resolution = 4 * 2 ** (len(depths) - 1)
        self.img_channels = int(config["dim_output"])
        self.formatLayer = Equalized(nn.Linear(latent, 16 * depths[0]), eq)
        self.groupScale0 = nn.ModuleList([_conv(depths[0], depths[0], 3, eq)])
        self.scaleLayers = nn.ModuleList(
            nn.ModuleList([_conv(a, b, 3, eq), _conv(b, b, 3, eq)]) for a, b in zip(depths[:-1], depths[1:]))
        self.toRGBLayers = nn.ModuleList(_conv(d, self.img_channels, 1, eq) for d in depths[: int(config["num_rgb"])])
        self.slope, self.normalize, self.tanh = float(config["leakyness"]), bool(config["normalization"]), bool(config["tanh"])

    def _norm(self, x: torch.Tensor) -> torch.Tensor:
        return pixel_norm(x) if self.normalize else x

    def _act(self, x: torch.Tensor) -> torch.Tensor:
        return self._norm(F.leaky_relu(x, self.slope))

    def slot_names(self) -> list[str]:
        return ["z (all layers)"]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return self._norm(z).unsqueeze(1)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        x = codes[:, 0] if c is None else torch.cat([codes[:, 0], c], dim=1)
        x = self._act(self.formatLayer(self._norm(x)).view(x.shape[0], -1, 4, 4))
        for conv in self.groupScale0:
            x = self._act(conv(x))
        for group in self.scaleLayers:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
            for conv in group:
                x = self._act(conv(x))
        img = self.toRGBLayers[len(self.scaleLayers)](x)
        return torch.tanh(img) if self.tanh else img

    def sefa_weights(self, slots):
        """The format layer's dense projection of z ``[16 * depth0, z_dim]`` (rows: channel, h, w)."""
        check_slots(slots, 1)
        return [self.formatLayer.module.weight[:, : self.z_dim]]

    def activation_layers(self) -> list[str]:
        names = ["formatLayer", "groupScale0.0"]
        return names + [f"scaleLayers.{s}.{i}" for s in range(len(self.scaleLayers)) for i in range(2)]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.get_submodule(name)


def build(ckpt: Checkpoint) -> ZooPGGAN:
    sd = zoo_state(ckpt.obj)
    config = infer_config(sd)
    zoo_cfg = ckpt.obj.get("config") if isinstance(ckpt.obj, dict) else None
    config = config_from_zoo(zoo_cfg, config)
    if ckpt.sidecar:
        config = config_from_zoo(ckpt.sidecar, config)
    return from_native(sd, config)


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = "pggan-zoo") -> ZooPGGAN:
    config = check_config(config, SPEC, where="the PGGAN zoo configuration")
    gen = build_bounded(lambda: ZooPGGAN(config), state, what="the PGGAN zoo configuration")
    gen.load_state_dict(_normalise_keys(state), strict=True)
    return gen
