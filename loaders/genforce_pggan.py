"""PGGAN in the genforce / SeFa layout (``models/pggan_generator.py``).

Every block pixel-normalises its input, optionally upsamples (nearest, or fused into a stride-2
transposed convolution), convolves with equalised-learning-rate weights and applies a leaky
ReLU.  ``layer0`` is a 4x4 convolution of the 1x1 latent padded by 3: a dense projection of z
onto a 4x4 map.  One injection slot; the codes are the pixel-normalised z (SeFa edits there,
and synthesis normalises again).  Images come from the final to-RGB (level of detail 0).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from .base import GANGenerator
from .genforce_stylegan import check_slots, nf, num_layers_for, pixel_norm, weight_scale

ARCH = "pggan-genforce"
DEFAULTS = {"z_space_dim": 512, "image_channels": 3, "final_tanh": False, "label_size": 0, "fused_scale": False,
            "use_wscale": True, "fmaps_base": 16 << 10, "fmaps_max": 512}


def first_conv_as_dense(weight: torch.Tensor) -> torch.Tensor:
    """The first layer of a progressive GAN (a KxK convolution padded by K-1 on the 1x1 latent) as the
    dense map it is: ``[out, z, K, K]`` -> ``[(out h w), z]``.

    Output pixel (h, w) reads kernel tap (K-1-h, K-1-w), hence the spatial flip."""
    return rearrange(weight.flip(2, 3), "o z h w -> (o h w) z")


class PGBlock(nn.Module):
    """pixel norm -> [upsample] -> conv (+ bias) -> leaky ReLU (or linear for to-RGB)."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, padding: int, use_wscale: bool, up: str = "",
                 gain: float = math.sqrt(2.0), act: bool = True) -> None:
        super().__init__()
        shape = (in_ch, out_ch, kernel, kernel) if up == "fused" else (out_ch, in_ch, kernel, kernel)
        self.weight = nn.Parameter(torch.zeros(shape))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.wscale = weight_scale(kernel * kernel * in_ch, gain, use_wscale)
        self.up, self.padding, self.act = up, padding, act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = pixel_norm(x)
        weight = self.weight * self.wscale
        if self.up == "fused":
            w4 = F.pad(weight, (1, 1, 1, 1))
            w4 = w4[:, :, 1:, 1:] + w4[:, :, :-1, 1:] + w4[:, :, 1:, :-1] + w4[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, w4, self.bias, stride=2, padding=1)
        else:
            if self.up == "nearest":
                x = F.interpolate(x, scale_factor=2, mode="nearest")
            x = F.conv2d(x, weight, self.bias, padding=self.padding)
        return F.leaky_relu(x, 0.2) if self.act else x


class GenforcePGGAN(GANGenerator):
    """genforce PGGAN: one slot holding the pixel-normalised z."""

    arch = ARCH
    code_space = "z"

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.z_dim = int(config["z_space_dim"])
        self.c_dim = int(config["label_size"])
        self.w_dim = self.z_dim
        self.num_ws = 1
        self.resolution = int(config["resolution"])
        self.img_channels = int(config["image_channels"])
        self.num_layers = num_layers_for(self.resolution)
        use_wscale = bool(config["use_wscale"])
        up = "fused" if config["fused_scale"] else "nearest"
        self.register_buffer("lod", torch.zeros(()))
        for b in range(self.num_layers // 2):
            res = 4 * 2**b
            if b == 0:
                first = PGBlock(self.z_dim + self.c_dim, nf(config, 4), 4, 3, use_wscale)
            else:
                first = PGBlock(nf(config, res // 2), nf(config, res), 3, 1, use_wscale, up=up)
            self.add_module(f"layer{2 * b}", first)
            self.add_module(f"layer{2 * b + 1}", PGBlock(nf(config, res), nf(config, res), 3, 1, use_wscale))
            self.add_module(f"output{b}", PGBlock(nf(config, res), self.img_channels, 1, 0, use_wscale,
                                                  gain=1.0, act=False))
        self.final_tanh = bool(config["final_tanh"])

    def slot_names(self) -> list[str]:
        return ["z (all layers)"]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return pixel_norm(z).unsqueeze(1)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        x = pixel_norm(codes[:, 0])
        if self.c_dim:
            x = torch.cat([x, c], dim=1)
        x = x[:, :, None, None]
        for i in range(self.num_layers):
            x = getattr(self, f"layer{i}")(x)
        img = getattr(self, f"output{self.num_layers // 2 - 1}")(x)
        return torch.tanh(img) if self.final_tanh else img

    def sefa_weights(self, slots):
        """SeFa's PGGAN matrix: layer0's kernel as a dense map z -> (out, 4, 4) (rows (channel, h, w))."""
        check_slots(slots, 1)
        return [first_conv_as_dense(self.layer0.weight[:, : self.z_dim])]

    def activation_layers(self) -> list[str]:
        return [f"layer{i}" for i in range(self.num_layers)]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return getattr(self, name)
