"""StyleGAN2 (config F) in the genforce / SeFa layout (``models/stylegan2_generator.py``).

Weight-modulated, demodulated convolutions; a const 4x4 input (``early_layer``); upsampling
layers are stride-2 transposed convolutions followed by a [1,3,3,1] FIR filter; scalar-strength
noise.  Layer ``layer{i}`` reads w+ slot ``i``; the to-RGB ``output{b}`` reads slot ``2b+1``.
"skip" sums upsampled to-RGB outputs of every resolution, "origin" uses only the last one.
genforce's "resnet" variant is not supported (its module names collide in the original code).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .base import GANGenerator
from .genforce_stylegan import (Mapping, Truncation, attach, check_slots, child_of, make_noise, nf, num_layers_for,
                               weight_scale)

ARCH = "stylegan2-genforce"
SQRT2 = math.sqrt(2.0)

DEFAULTS = {
    "z_space_dim": 512, "w_space_dim": 512, "label_size": 0, "mapping_layers": 8, "mapping_fmaps": 512,
    "mapping_lr_mul": 0.01, "repeat_w": True, "image_channels": 3, "final_tanh": False, "const_input": True,
    "architecture": "skip", "fused_modulate": True, "demodulate": True, "use_wscale": True,
    "fmaps_base": 32 << 10, "fmaps_max": 512,
}


def upfirdn(x: torch.Tensor, kernel: torch.Tensor, up: int, pad: tuple[int, int]) -> torch.Tensor:
    """Zero-insert upsample by ``up``, pad (before, after) on both axes, filter each channel."""
    n, c, h, w = x.shape
    if up > 1:
        x = x.view(n, c, h, 1, w, 1)
        x = F.pad(x, (0, up - 1, 0, 0, 0, up - 1))
        x = x.view(n, c, h * up, w * up)
    x = F.pad(x, (pad[0], pad[1], pad[0], pad[1]))
    x = F.conv2d(x.reshape(n * c, 1, x.shape[2], x.shape[3]), kernel.to(x.dtype))
    return x.view(n, c, x.shape[2], x.shape[3])


class Affine(nn.Module):
    """w -> per-input-channel style: ``w @ (W / sqrt(w_dim)).T + b + 1``."""

    def __init__(self, w_dim: int, channels: int, use_wscale: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(channels, w_dim))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.wscale = weight_scale(w_dim, 1.0, use_wscale)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return F.linear(w, self.weight * self.wscale, self.bias) + 1.0


class Filter(nn.Module):
    """Holds an FIR kernel buffer ``[1, 1, 4, 4]`` (genforce stores it as ``kernel``)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("kernel", torch.zeros(1, 1, 4, 4))


class ModConv(nn.Module):
    """Modulated convolution (optionally demodulated, upsampling, with noise) + bias + activation."""

    def __init__(self, config: dict, in_ch: int, out_ch: int, res: int, kernel: int = 3, up: bool = False,
                 demodulate: bool = True, noise: bool = True, act: bool = True) -> None:
        super().__init__()
        use_wscale = bool(config["use_wscale"])
        self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, kernel, kernel))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.wscale = weight_scale(in_ch * kernel * kernel, 1.0, use_wscale)
        self.style = Affine(int(config["w_space_dim"]), in_ch, use_wscale)
        self.up, self.demodulate, self.act, self.has_noise = up, demodulate, act, noise
        self.kernel_size = kernel
        if up:
            self.filter = Filter()
        if noise:
            self.register_buffer("noise", torch.zeros(1, 1, res, res))
            self.noise_strength = nn.Parameter(torch.zeros(()))

    def _weights(self, w: torch.Tensor) -> torch.Tensor:
        """Per-sample weights ``[n, out, in, k, k]``."""
        style = self.style(w)
        weight = (self.weight * self.wscale).unsqueeze(0) * style[:, None, :, None, None]
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.square().sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        return weight

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        n, in_ch, h, wd = x.shape
        weight = self._weights(w)
        out_ch, k = weight.shape[1], self.kernel_size
        xg = x.reshape(1, n * in_ch, h, wd)
        if self.up:
            # transposed conv with the spatially flipped kernel, grouped per sample: [n*in, out, k, k]
            wt = weight.flip(3, 4).transpose(1, 2).reshape(n * in_ch, out_ch, k, k)
            y = F.conv_transpose2d(xg, wt, stride=2, groups=n)
            y = y.view(n, out_ch, y.shape[2], y.shape[3])
            pad = self.filter.kernel.shape[-1] - 1 + (2 - k)
            y = upfirdn(y, self.filter.kernel, 1, ((pad + 1) // 2, pad // 2))
        else:
            y = F.conv2d(xg, weight.reshape(n * out_ch, in_ch, k, k), padding=k // 2, groups=n)
            y = y.view(n, out_ch, y.shape[2], y.shape[3])
        if self.has_noise:
            y = y + make_noise(self.noise, y, noise_mode) * self.noise_strength
        y = y + self.bias.view(1, -1, 1, 1)
        return F.leaky_relu(y, 0.2) * SQRT2 if self.act else y


class Const(nn.Module):
    def __init__(self, channels: int) -> None:
        super().__init__()
        self.const = nn.Parameter(torch.zeros(1, channels, 4, 4))


class Synthesis2(nn.Module):
    """``early_layer`` const, ``layer0..layer{L-2}``, to-RGB ``output{b}`` and the skip upsampler."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        res_final = int(config["resolution"])
        self.num_layers = num_layers_for(res_final)
        self.architecture = config["architecture"]
        if self.architecture not in ("skip", "origin"):
            raise ValueError(f"genforce StyleGAN2 architecture {self.architecture!r} is not supported (skip, origin)")
        if not config["const_input"]:
            raise ValueError("genforce StyleGAN2 without a const input is not supported")
        demod, channels = bool(config["demodulate"]), int(config["image_channels"])
        blocks = int(math.log2(res_final)) - 1
        self.early_layer = Const(nf(config, 4))
        for b in range(blocks):
            res = 4 * 2**b
            if b > 0:
                self.add_module(f"layer{2 * b - 1}", ModConv(config, nf(config, res // 2), nf(config, res), res,
                                                              up=True, demodulate=demod))
            self.add_module(f"layer{2 * b}", ModConv(config, nf(config, res), nf(config, res), res, demodulate=demod))
            if b == blocks - 1 or self.architecture == "skip":
                self.add_module(f"output{b}", ModConv(config, nf(config, res), channels, res, kernel=1,
                                                      demodulate=False, noise=False, act=False))
        if self.architecture == "skip":
            self.upsample = Filter()
        self.blocks = blocks
        self.final_tanh = bool(config["final_tanh"])

    def forward(self, wp: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = self.early_layer.const.expand(wp.shape[0], -1, -1, -1)
        img = None
        for i in range(self.num_layers - 1):
            x = getattr(self, f"layer{i}")(x, wp[:, i], noise_mode)
            if self.architecture == "skip" and i % 2 == 0:
                rgb = getattr(self, f"output{i // 2}")(x, wp[:, i + 1])
                img = rgb if img is None else rgb + self._upsample(img)
        if self.architecture == "origin":
            img = getattr(self, f"output{self.blocks - 1}")(x, wp[:, self.num_layers - 1])
        return torch.tanh(img) if self.final_tanh else img

    def _upsample(self, img: torch.Tensor) -> torch.Tensor:
        pad = self.upsample.kernel.shape[-1] - 2
        return upfirdn(img, self.upsample.kernel, 2, ((pad + 1) // 2 + 1, pad // 2))


class GenforceStyleGAN2(GANGenerator):
    """genforce StyleGAN2: codes are w+ (``num_layers`` slots)."""

    arch = ARCH
    code_space = "w"
    synthesis_reads_class = False  # the class enters through the mapping only

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = dict(config)
        self.z_dim = int(config["z_space_dim"])
        self.c_dim = int(config["label_size"])
        self.w_dim = int(config["w_space_dim"])
        self.resolution = int(config["resolution"])
        self.img_channels = int(config["image_channels"])
        self.num_ws = num_layers_for(self.resolution)
        repeat = bool(config["repeat_w"])
        attach(self, "mapping", Mapping(config, self.w_dim if repeat else self.w_dim * self.num_ws, 1.0, SQRT2))
        self.truncation = Truncation(self.w_dim, self.num_ws, repeat)
        attach(self, "synthesis", Synthesis2(config))

    def slot_names(self) -> list[str]:
        names = [f"layer{i} ({4 * 2 ** ((i + 1) // 2)}px)" for i in range(self.num_ws - 1)]
        return names + [f"output{(self.num_ws - 1) // 2} ({self.resolution}px rgb)"]

    def _style_reader(self, slot: int) -> nn.Module:
        """The layer SeFa reads for a slot: ``layer{i}``, or the last to-RGB for the final slot."""
        if slot == self.num_ws - 1:
            return child_of(self, f"synthesis.output{slot // 2}")
        return child_of(self, f"synthesis.layer{slot}")

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return self.truncation(self._modules["mapping"](z, c), truncation_psi, truncation_cutoff)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        return self._modules["synthesis"](codes, noise_mode)

    def sefa_weights(self, slots):
        """SeFa's choice for genforce StyleGAN2: the affine (style) weight ``[C_in, w_dim]`` per slot."""
        return [self._style_reader(i).style.weight for i in check_slots(slots, self.num_ws)]

    def activation_layers(self) -> list[str]:
        return [f"synthesis.layer{i}" for i in range(self.num_ws - 1)]

    def noise_buffers(self) -> list[str]:
        """``synthesis.layer{i}.noise`` (``[1, 1, r, r]``) of the modulated convs built with noise."""
        return [f"synthesis.layer{i}.noise" for i in range(self.num_ws - 1)
                if child_of(self, f"synthesis.layer{i}").has_noise]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return child_of(self, name)
