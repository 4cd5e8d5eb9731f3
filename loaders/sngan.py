"""SN-GAN ResNet generators as GANLatentDiscovery ships them (MNIST 32 px, AnimeFaces 64 px).

A model is a folder: ``args.json`` (``model``: ``sn_resnet32`` or ``sn_resnet64``, ``latent_dim``,
``image_channels``, ``distribution``) and ``generator.pt``, the state dict of the official wrapper
(keys ``model.N.*``).  The network, as that code documents it ("SN" is the discriminator's spectral
norm; the generator has none):

    z [n, latent_dim] -> Linear to 4x4 x c0 -> ResBlocks -> BN -> ReLU -> 3x3 conv to image channels -> tanh
    ResBlock(c_in, c_out): BN, ReLU, 2x nearest up, 3x3 conv, BN, ReLU, 3x3 conv
                           + shortcut: 2x nearest up [then a 3x3 conv when c_in != c_out]

Batch norms use their running statistics (the official code evaluates ``G.model.eval()``).  Widths
and z width come from the shapes, the resolution from the block count; ``args.json`` is checked
against them field by field.  Each block's two convolutions are registered twice by the official
module (``conv1`` / ``conv2`` and ``model.3`` / ``model.6``); the official loader keeps the later
``model.*`` copy, and so do we.  One injection slot holding z.  A 1-channel (MNIST) model returns
``[n, 1, H, W]``; the nodes show it as grey RGB.
"""

from __future__ import annotations

import os
import re

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .. import limits
from ..errors import CheckpointError
from .base import GANGenerator
from .config_check import Choice, Int, Numbers, build_bounded
from .config_check import check_config as checked
from .files import Checkpoint, check_state_shapes, state_dict_of, strip_prefix
from .genforce_stylegan import check_slots

ARCH = "sngan-resnet"
ARCHS = (ARCH,)
ARGS_FILE = "args.json"
MODELS = {"sn_resnet32": 32, "sn_resnet64": 64}  # the official model names and their image sizes
DISTRIBUTIONS = ("normal",)
BN_EPS = 1e-5
MAX_BLOCKS = 8
MAX_WIDTH = 1 << 16
MAX_Z = 1 << 16
_BLOCK = re.compile(r"^model\.(\d+)\.model\.0\.running_mean$")


class FrozenBatchNorm(nn.Module):
    """Batch norm with the ``nn.BatchNorm2d`` names, always on its running statistics."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("running_mean", torch.zeros(channels))
        self.register_buffer("running_var", torch.ones(channels))
        self.register_buffer("num_batches_tracked", torch.zeros((), dtype=torch.long))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=BN_EPS)


def _conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class ResBlock(nn.Module):
    """The official block; parameter-free positions are ``nn.Identity`` so the indices (and keys) match."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__()
        self.model = nn.Sequential(FrozenBatchNorm(c_in), nn.Identity(), nn.Identity(), _conv3(c_in, c_out),
                                   FrozenBatchNorm(c_out), nn.Identity(), _conv3(c_out, c_out))
        self.bypass = nn.Sequential(nn.Identity(), _conv3(c_in, c_out)) if c_in != c_out else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        h = F.interpolate(F.relu(m[0](x)), scale_factor=2, mode="nearest")
        h = m[6](F.relu(m[4](m[3](h))))
        skip = F.interpolate(x, scale_factor=2, mode="nearest")
        return h + (self.bypass[1](skip) if self.bypass is not None else skip)


SPEC = {"z_dim": Int(1, MAX_Z), "channels": Numbers(Int(1, MAX_WIDTH), max_len=MAX_BLOCKS + 1, min_len=2),
        "image_channels": Int(1, 4), "bottom_width": Int(1, 64), "model": Choice(tuple(MODELS), optional=True)}
"""What each setting of our SN-GAN config may be (from the shapes, or a converted file's metadata)."""
ARGS_SPEC = {"model": Choice(tuple(MODELS)), "latent_dim": Int(1, MAX_Z), "image_channels": Int(1, 4),
             "distribution": Choice(DISTRIBUTIONS)}
"""What each field of the official ``args.json`` that we read may be."""
ARGS_MAX_BYTES = 1 << 20


def check_config(config: dict, path: str | None = None) -> dict:
    """``{"z_dim", "channels" (c0 then each block's output), "image_channels", "bottom_width"}``, checked."""
    cfg = checked(config, SPEC, source=path, where="the SN-GAN configuration",
                  required=("z_dim", "channels", "image_channels", "bottom_width"))
    out = {k: cfg[k] for k in ("z_dim", "image_channels", "bottom_width", "channels")}
    if cfg.get("model") is not None:
        out["model"] = cfg["model"]
    return out


def infer_config(sd: dict[str, torch.Tensor], path: str | None = None) -> dict:
    idx = sorted(int(m.group(1)) for k in sd if (m := _BLOCK.match(k)))
    if not idx or idx != list(range(2, 2 + len(idx))):
        raise CheckpointError(path, f"the SN-GAN residual blocks sit at model.{idx[:8]}, expected model.2 onwards")
    dense, final = sd.get("model.0.weight"), sd.get(f"model.{idx[-1] + 3}.weight")
    if not isinstance(dense, torch.Tensor) or dense.ndim != 2 or not isinstance(final, torch.Tensor) or final.ndim != 4:
        raise CheckpointError(path, "an SN-GAN needs the linear map model.0 and the image convolution after the last block")
    channels = [int(sd[f"model.{i}.model.0.running_mean"].numel()) for i in idx]
    channels.append(int(sd[f"model.{idx[-1]}.model.6.weight"].shape[0]) if f"model.{idx[-1]}.model.6.weight" in sd
                    else int(final.shape[1]))
    area = int(dense.shape[0]) // max(channels[0], 1)
    bottom = int(round(area ** 0.5))
    if channels[0] < 1 or bottom * bottom * channels[0] != int(dense.shape[0]):
        raise CheckpointError(path, f"the linear map's {int(dense.shape[0])} outputs are not {channels[0]} channels on a square")
    return check_config({"z_dim": int(dense.shape[1]), "channels": channels, "image_channels": int(final.shape[0]),
                         "bottom_width": bottom}, path)


def read_args(weights_path: str) -> tuple[str, dict] | None:
    """``args.json`` beside the weights, if there is one, as ``(path, dict)``: at most 1 MiB, JSON nested
    at most 32 deep, no NaN or infinity (:func:`limits.load_json`)."""
    path = os.path.join(os.path.dirname(os.path.abspath(weights_path)), ARGS_FILE)
    if not os.path.isfile(path):
        return None
    return path, limits.read_json_object(path, "the training arguments", ARGS_MAX_BYTES,
                                         "; an args.json holds a few settings")


def apply_args(config: dict, args: dict, path: str) -> dict:
    """Check the official ``args.json`` fields (:data:`ARGS_SPEC`), then against what the weights are;
    record the model name."""
    args = checked(args, ARGS_SPEC, source=path, where="the training arguments")

    def fail(field: str, why: str) -> CheckpointError:
        return CheckpointError(path, f"field '{field}' {why}")

    out = dict(config)
    resolution = config["bottom_width"] * 2 ** (len(config["channels"]) - 1)
    if "model" in args:
        name = args["model"]
        if MODELS[name] != resolution:
            raise fail("model", f"is {name} ({MODELS[name]} px), but the weights make {resolution} px images")
        out["model"] = name
    if "latent_dim" in args and args["latent_dim"] != config["z_dim"]:
        raise fail("latent_dim", f"is {args['latent_dim']}, but the weights read {config['z_dim']} values")
    if "image_channels" in args and args["image_channels"] != config["image_channels"]:
        raise fail("image_channels", f"is {args['image_channels']}, but the weights make {config['image_channels']} channels")
    return check_config(out, path)


class SNGANResNet(GANGenerator):
    """SN-GAN ResNet generator: one slot holding z."""

    arch = ARCH
    code_space = "z"

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = check_config(config)
        ch, self.bottom = self.config["channels"], self.config["bottom_width"]
        self.z_dim = self.w_dim = self.config["z_dim"]
        self.num_ws = 1
        self.img_channels = self.config["image_channels"]
        self.resolution = self.bottom * 2 ** (len(ch) - 1)
        blocks = [ResBlock(a, b) for a, b in zip(ch[:-1], ch[1:])]
        self.model = nn.Sequential(nn.Linear(self.z_dim, self.bottom**2 * ch[0]), nn.Identity(), *blocks,
                                   FrozenBatchNorm(ch[-1]), nn.Identity(), _conv3(ch[-1], self.img_channels))

    @property
    def blocks(self) -> list[ResBlock]:
        return [m for m in self.model if isinstance(m, ResBlock)]

    def slot_names(self) -> list[str]:
        return ["z (all layers)"]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return z.unsqueeze(1)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        m = self.model
        x = m[0](codes[:, 0].to(m[0].weight.dtype))
        x = rearrange(x, "n (c h w) -> n c h w", h=self.bottom, w=self.bottom)
        for block in self.blocks:
            x = block(x)
        return torch.tanh(m[-1](F.relu(m[-3](x))))

    def sefa_weights(self, slots):
        """The linear map from z to the first 4x4 feature map, ``[16 * c0, z_dim]`` (the only layer reading z)."""
        check_slots(slots, 1)
        return [self.model[0].weight]

    def activation_layers(self) -> list[str]:
        return ["model.0"] + [f"model.{i + 2}" for i in range(len(self.blocks))]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.get_submodule(name)


def _fold_aliases(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Drop the ``conv1`` / ``conv2`` names of each block's convolutions, keeping ``model.3`` / ``model.6``
    (the copy the official loader ends with); a file with only the ``conv*`` names gets them moved."""
    out = dict(sd)
    for key in list(sd):
        m = re.fullmatch(r"model\.(\d+)\.conv([12])\.(weight|bias)", key)
        if m:
            twin = f"model.{m.group(1)}.model.{3 if m.group(2) == '1' else 6}.{m.group(3)}"
            value = out.pop(key)
            out.setdefault(twin, value)
    return out


def sngan_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, ())
    if sd is None:
        return None
    sd = strip_prefix(sd)
    if not all(k.startswith("model.") for k in sd) or "model.0.weight" not in sd or not any(_BLOCK.match(k) for k in sd):
        return None
    return _fold_aliases(sd)


def detect(ckpt: Checkpoint) -> bool:
    return sngan_state(ckpt.obj) is not None


def build(ckpt: Checkpoint) -> SNGANResNet:
    sd = sngan_state(ckpt.obj)
    config = infer_config(sd, ckpt.path)
    found = read_args(ckpt.path)
    if found is not None:
        config = apply_args(config, found[1], found[0])
    check_state_shapes(ckpt.path, sd, lambda: SNGANResNet(config), "an SN-GAN ResNet generator (GANLatentDiscovery layout)")
    return from_native(sd, config, ARCH)


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = ARCH) -> SNGANResNet:
    config = check_config(config)
    gen = build_bounded(lambda: SNGANResNet(config), state, what="the SN-GAN configuration")
    gen.load_state_dict(_fold_aliases(state), strict=True)
    return gen
