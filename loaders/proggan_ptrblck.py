"""Progressive GAN in ptrblck's layout (prog_gans_pytorch_inference), the CelebA-HQ ProgGAN Voynov & Babenko use.

The file (``100_celeb_hq_network-snapshot-010403.pth``) is a bare state dict: ``features.N.conv.weight``
(bias-free convolutions) with ``features.N.wscale.scale`` (one learned scalar) and
``features.N.wscale.b`` (per-channel bias), and the same three for ``output``.  The network, as that
code documents it:

    z [n, C] viewed as [n, C, 1, 1]
    features 0: pixel norm -> 4x4 conv padded by 3 (a dense map onto 4x4) -> x * scale + b -> lrelu 0.2
    features 1: pixel norm -> 3x3 conv -> scale, bias -> lrelu
    then per doubling: (pixel norm -> 2x nearest upsample -> 3x3 conv -> ...) and one plain block
    output: pixel norm -> 1x1 conv -> x * scale + b (no activation, no tanh)

The resolution follows from the number of feature blocks (two at 4 px, two per doubling: 18 blocks
make 1024 px), the widths and z width from the shapes.  One injection slot holding z itself, as the
official code feeds it (the first block normalises), so an official deformator's shift of z is an
edit of the codes.  The genforce PGGAN (``genforce_pggan``) is the same network with the scale
folded into its weights; its first-layer SeFa matrix is shared.
"""

from __future__ import annotations

import re

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError
from .base import GANGenerator
from .config_check import Int, Numbers, build_bounded
from .config_check import check_config as checked
from .files import Checkpoint, check_state_shapes, state_dict_of, strip_prefix
from .genforce_pggan import first_conv_as_dense
from .genforce_stylegan import check_slots, pixel_norm

ARCH = "proggan-ptrblck"
ARCHS = (ARCH,)
WRAPPER_KEYS = ("state_dict", "generator", "G")
MAX_BLOCKS = 20  # 4 px .. 2048 px
MAX_WIDTH = 1 << 16
_FEATURE = re.compile(r"^features\.(\d+)\.conv\.weight$")


class WScale(nn.Module):
    """``x * scale + b``: the learned output scale (one scalar) and per-channel bias of a block."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(1))
        self.b = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.b.view(1, -1, 1, 1)


class NormConv(nn.Module):
    """pixel norm -> [2x nearest upsample] -> conv (no bias) -> WScale -> [leaky ReLU 0.2]."""

    def __init__(self, c_in: int, c_out: int, kernel: int, padding: int, upsample: bool, act: bool) -> None:
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=False)
        self.wscale = WScale(c_out)
        self.upsample, self.act = upsample, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="nearest")
        x = self.wscale(self.conv(x))
        return F.leaky_relu(x, 0.2) if self.act else x


SPEC = {"z_dim": Int(1, MAX_WIDTH), "channels": Numbers(Int(1, MAX_WIDTH), max_len=MAX_BLOCKS, min_len=2),
        "image_channels": Int(1, 4)}
"""What each setting of our ProgGAN config may be (from the shapes, or a converted file's metadata)."""


def check_config(config: dict, path: str | None = None) -> dict:
    """``{"z_dim", "channels" (one per feature block), "image_channels"}`` checked before anything is built."""
    where = "the ProgGAN configuration"
    cfg = checked(config, SPEC, source=path, where=where, required=tuple(SPEC))
    if len(cfg["channels"]) % 2:
        raise CheckpointError(path, f"{where}: field 'channels' must list an even number (2..{MAX_BLOCKS}) "
                              "of feature-block widths (two per resolution)")
    return {k: cfg[k] for k in SPEC}


def infer_config(sd: dict[str, torch.Tensor], path: str | None = None) -> dict:
    idx = sorted(int(m.group(1)) for k in sd if (m := _FEATURE.match(k)))
    if not idx or idx != list(range(len(idx))):
        raise CheckpointError(path, f"the ProgGAN feature blocks are numbered {idx[:12]}, expected 0..n-1")
    weights = [sd[f"features.{i}.conv.weight"] for i in idx]
    out = sd.get("output.conv.weight")
    if any(w.ndim != 4 for w in weights) or not isinstance(out, torch.Tensor) or out.ndim != 4:
        raise CheckpointError(path, "the ProgGAN convolution weights must be 4-dimensional")
    config = {"z_dim": int(weights[0].shape[1]), "channels": [int(w.shape[0]) for w in weights],
              "image_channels": int(out.shape[0])}
    return check_config(config, path)


class PtrblckProgGAN(GANGenerator):
    """ptrblck's ProgGAN: one slot holding z (the network pixel-normalises it first)."""

    arch = ARCH
    code_space = "z"

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = check_config(config)
        ch = self.config["channels"]
        self.z_dim = self.w_dim = self.config["z_dim"]
        self.num_ws = 1
        self.img_channels = self.config["image_channels"]
        self.resolution = 4 * 2 ** (len(ch) // 2 - 1)
        blocks = []
        for i, c_out in enumerate(ch):
            c_in = self.z_dim if i == 0 else ch[i - 1]
            kernel, padding = (4, 3) if i == 0 else (3, 1)
            blocks.append(NormConv(c_in, c_out, kernel, padding, upsample=i >= 2 and i % 2 == 0, act=True))
        self.features = nn.Sequential(*blocks)
        self.output = NormConv(ch[-1], self.img_channels, 1, 0, upsample=False, act=False)

    def slot_names(self) -> list[str]:
        return ["z (all layers)"]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return z.unsqueeze(1)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        x = codes[:, 0, :, None, None].to(self.output.conv.weight.dtype)
        return self.output(self.features(x))

    def sefa_weights(self, slots):
        """The first block's kernel (times its learned scale) as the dense map z -> (channel, 4, 4)."""
        check_slots(slots, 1)
        first = self.features[0]
        return [first_conv_as_dense(first.conv.weight * first.wscale.scale)]

    def activation_layers(self) -> list[str]:
        return [f"features.{i}" for i in range(len(self.features))]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.get_submodule(name)


def ptrblck_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    needed = ("features.0.conv.weight", "features.0.wscale.scale", "features.0.wscale.b", "output.conv.weight",
              "output.wscale.scale")
    return sd if all(k in sd for k in needed) else None


def detect(ckpt: Checkpoint) -> bool:
    return ptrblck_state(ckpt.obj) is not None


def build(ckpt: Checkpoint) -> PtrblckProgGAN:
    sd = ptrblck_state(ckpt.obj)
    config = infer_config(sd, ckpt.path)
    check_state_shapes(ckpt.path, sd, lambda: PtrblckProgGAN(config), "a ProgGAN (ptrblck layout)")
    return from_native(sd, config, ARCH)


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = ARCH) -> PtrblckProgGAN:
    config = check_config(config)
    gen = build_bounded(lambda: PtrblckProgGAN(config), state, what="the ProgGAN configuration")
    gen.load_state_dict(state, strict=True)
    return gen
