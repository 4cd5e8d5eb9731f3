"""StyleGAN (v1) in the genforce / SeFa layout (``models/stylegan_generator.py`` of genforce/sefa).

Parameter names match that layout, so a genforce state dict loads strictly.  The network is
rebuilt from published facts: a pixel-normalised mapping MLP with a learning-rate multiplier,
``truncation.w_avg``, and a synthesis network whose every layer adds per-pixel noise and a bias,
applies a leaky ReLU, instance-normalises and then modulates with a style (AdaIN).  Upsampling
layers blur after the convolution; from 128 px on ("auto") genforce fuses the nearest upsample
and the 3x3 convolution into a stride-2 transposed convolution.  Images come from the
final-resolution to-RGB layer (level of detail 0).  The mapping and truncation pieces are shared
with the StyleGAN2 module.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from .base import GANGenerator

ARCH = "stylegan-genforce"
INIT_RES = 4
AUTO_FUSED_MIN_RES = 128

DEFAULTS = {
    "z_space_dim": 512, "w_space_dim": 512, "label_size": 0, "mapping_layers": 8, "mapping_fmaps": 512,
    "mapping_lr_mul": 0.01, "repeat_w": True, "image_channels": 3, "final_tanh": False, "const_input": True,
    "fused_scale": "auto", "use_wscale": True, "fmaps_base": 16 << 10, "fmaps_max": 512,
}


# ----- pieces shared with StyleGAN2 -------------------------------------------------------------
def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each feature vector (dim 1) to unit mean square."""
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


def weight_scale(fan_in: int, gain: float, use_wscale: bool, lr_mul: float = 1.0) -> float:
    """Runtime weight multiplier of an equalised-learning-rate layer (genforce convention)."""
    return gain / math.sqrt(fan_in) * lr_mul if use_wscale else lr_mul


def num_layers_for(resolution: int) -> int:
    """Two synthesis layers per resolution from 4x4 up."""
    return 2 * (int(math.log2(resolution)) - 1)


def nf(config: dict, res: int) -> int:
    """Feature maps at a resolution: ``min(fmaps_base // res, fmaps_max)``."""
    return min(int(config["fmaps_base"]) // res, int(config["fmaps_max"]))


class Dense(nn.Module):
    """A mapping layer: ``act(x @ (W * wscale).T + b * lr_mul)`` times an activation gain."""

    def __init__(self, fan_in: int, fan_out: int, gain: float, use_wscale: bool, lr_mul: float,
                 act_gain: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(fan_out, fan_in))
        self.bias = nn.Parameter(torch.zeros(fan_out))
        self.wscale = weight_scale(fan_in, gain, use_wscale, lr_mul)
        self.bscale = lr_mul
        self.act_gain = act_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.linear(x, self.weight * self.wscale, self.bias * self.bscale)
        return F.leaky_relu(x, 0.2) * self.act_gain


class Mapping(nn.Module):
    """z (and an optional label embedding) -> w: pixel norm, then ``mapping_layers`` dense layers.

    StyleGAN v1 scales weights by sqrt(2)/sqrt(fan_in); StyleGAN2 by 1/sqrt(fan_in) and multiplies
    the leaky ReLU output by sqrt(2)."""

    def __init__(self, config: dict, out_dim: int, gain: float, act_gain: float) -> None:
        super().__init__()
        self.num_layers = int(config["mapping_layers"])
        z_dim, label = int(config["z_space_dim"]), int(config["label_size"])
        hidden = int(config["mapping_fmaps"])
        for i in range(self.num_layers):
            fan_in = z_dim * (2 if label else 1) if i == 0 else hidden
            fan_out = out_dim if i == self.num_layers - 1 else hidden
            self.add_module(f"dense{i}", Dense(fan_in, fan_out, gain, bool(config["use_wscale"]),
                                               float(config["mapping_lr_mul"]), act_gain))
        if label:
            self.label_weight = nn.Parameter(torch.zeros(label, z_dim))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        if c is not None:
            z = torch.cat([z, c @ self.label_weight], dim=1)
        w = pixel_norm(z)
        for i in range(self.num_layers):
            w = getattr(self, f"dense{i}")(w)
        return w


class Truncation(nn.Module):
    """Broadcast w to one code per layer and pull the first ``cutoff`` towards ``w_avg``."""

    def __init__(self, w_dim: int, num_layers: int, repeat_w: bool) -> None:
        super().__init__()
        self.w_dim, self.num_layers, self.repeat_w = w_dim, num_layers, repeat_w
        self.register_buffer("w_avg", torch.zeros(w_dim if repeat_w else w_dim * num_layers))

    def forward(self, w: torch.Tensor, psi: float, cutoff: int | None) -> torch.Tensor:
        if self.repeat_w:
            wp = w.unsqueeze(1).expand(-1, self.num_layers, -1)
        else:
            wp = w.view(-1, self.num_layers, self.w_dim)
        cutoff = self.num_layers if cutoff is None else max(0, min(int(cutoff), self.num_layers))
        if psi == 1.0 or cutoff == 0:
            return wp.contiguous()
        avg = self.w_avg.view(1, -1, self.w_dim)
        coef = torch.ones(1, self.num_layers, 1, device=wp.device, dtype=wp.dtype)
        coef[:, :cutoff] = psi
        return avg + (wp - avg) * coef


def attach(parent: nn.Module, name: str, child: nn.Module) -> None:
    """Register ``child`` under ``name`` even where the name is a method of the parent.

    The generator contract has methods ``mapping`` / ``synthesis``, and genforce's state-dict keys
    start with the same words; the submodule lives in ``_modules`` (so its keys load and save
    unchanged) and is reached through :func:`child_of`, while attribute access finds the method."""
    parent._modules[name] = child


def child_of(parent: nn.Module, dotted: str) -> nn.Module:
    """Walk ``_modules`` along a dotted path (works for children shadowed by methods)."""
    mod = parent
    for part in dotted.split("."):
        mod = mod._modules[part]
    return mod


def check_slots(slots, num_ws: int) -> list[int]:
    """Slot indices as ints in range, or an InputError naming the bad one."""
    out = []
    for s in slots:
        if isinstance(s, bool) or int(s) != s or not 0 <= int(s) < num_ws:
            raise InputError(f"slot {s!r} is outside 0..{num_ws - 1}")
        out.append(int(s))
    return out


def make_noise(buffer: torch.Tensor, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
    """The stored noise map, fresh noise per sample, or zeros."""
    if noise_mode == "random":
        return torch.randn(x.shape[0], 1, x.shape[2], x.shape[3], device=x.device, dtype=x.dtype)
    if noise_mode == "none":
        return torch.zeros_like(buffer)
    return buffer


# ----- StyleGAN v1 synthesis ----------------------------------------------------------------------
def instance_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    x = x - x.mean(dim=(2, 3), keepdim=True)
    return x * torch.rsqrt(x.square().mean(dim=(2, 3), keepdim=True) + eps)


class NoiseInput(nn.Module):
    """Per-channel weighted noise map (``apply_noise``)."""

    def __init__(self, res: int, channels: int) -> None:
        super().__init__()
        self.register_buffer("noise", torch.zeros(1, 1, res, res))
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise_mode: str) -> torch.Tensor:
        return x + make_noise(self.noise, x, noise_mode) * self.weight.view(1, -1, 1, 1)


class StyleMod(nn.Module):
    """AdaIN affine: w -> (scale, shift) per channel; ``x * (1 + scale) + shift``."""

    def __init__(self, w_dim: int, channels: int, use_wscale: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(2 * channels, w_dim))
        self.bias = nn.Parameter(torch.zeros(2 * channels))
        self.wscale = weight_scale(w_dim, 1.0, use_wscale)
        self.channels = channels

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        style = F.linear(w, self.weight * self.wscale, self.bias)
        scale, shift = style.view(-1, 2, self.channels, 1, 1).unbind(1)
        return x * (scale + 1) + shift


class StyleLayer(nn.Module):
    """One synthesis layer: (const | [upsample] conv [blur]) -> noise -> bias -> lrelu -> IN -> style."""

    def __init__(self, config: dict, in_ch: int, out_ch: int, res: int, kind: str) -> None:
        super().__init__()
        self.kind = kind  # const | dense (first layer from w) | conv | up | up_fused
        use_wscale = bool(config["use_wscale"])
        w_dim = int(config["w_space_dim"])
        if kind == "const":
            self.const = nn.Parameter(torch.zeros(1, in_ch, res, res))
        else:
            k = INIT_RES if kind == "dense" else 3
            self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, k, k))
            self.wscale = weight_scale(k * k * in_ch, math.sqrt(2.0), use_wscale)
        if kind in ("up", "up_fused"):
            self.blur = nn.Module()
            self.blur.register_buffer("kernel", torch.zeros(out_ch, 1, 3, 3))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.apply_noise = NoiseInput(res, out_ch)
        self.style = StyleMod(w_dim, out_ch, use_wscale)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        weight = self.weight * self.wscale
        if self.kind == "dense":
            return F.conv2d(x, weight, padding=INIT_RES - 1)
        if self.kind == "conv":
            return F.conv2d(x, weight, padding=1)
        if self.kind == "up":
            x = F.conv2d(F.interpolate(x, scale_factor=2, mode="nearest"), weight, padding=1)
        else:  # nearest upsample + 3x3 conv folded into one 4x4 stride-2 transposed conv
            w4 = F.pad(weight, (1, 1, 1, 1))
            w4 = w4[:, :, 1:, 1:] + w4[:, :, :-1, 1:] + w4[:, :, 1:, :-1] + w4[:, :, :-1, :-1]
            x = F.conv_transpose2d(x, w4.transpose(0, 1), stride=2, padding=1)
        return F.conv2d(x, self.blur.kernel, padding=1, groups=x.shape[1])

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        if self.kind == "const":
            x = self.const.expand(w.shape[0], -1, -1, -1)
        elif self.kind == "dense":
            x = self._convolve(w.view(w.shape[0], -1, 1, 1))
        else:
            x = self._convolve(x)
        x = self.apply_noise(x, noise_mode)
        x = F.leaky_relu(x + self.bias.view(1, -1, 1, 1), 0.2)
        return self.style(instance_norm(x), w)


class ToRGB(nn.Module):
    """1x1 convolution to image channels (gain 1), plus bias."""

    def __init__(self, in_ch: int, out_ch: int, use_wscale: bool) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(out_ch, in_ch, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_ch))
        self.wscale = weight_scale(in_ch, 1.0, use_wscale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight * self.wscale, self.bias)


class Synthesis(nn.Module):
    """Layers ``layer0..layer{L-1}`` (two per resolution) and a to-RGB per resolution."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        res_final = int(config["resolution"])
        self.num_layers = num_layers_for(res_final)
        self.register_buffer("lod", torch.zeros(()))
        fused = config["fused_scale"]
        channels = int(config["image_channels"])
        for b, log2 in enumerate(range(2, int(math.log2(res_final)) + 1)):
            res = 2**log2
            if b == 0:
                kind = "const" if config["const_input"] else "dense"
                first_in = nf(config, res) if kind == "const" else int(config["w_space_dim"])
            else:
                use_fused = res >= AUTO_FUSED_MIN_RES if fused == "auto" else bool(fused)
                kind, first_in = ("up_fused" if use_fused else "up"), nf(config, res // 2)
            self.add_module(f"layer{2 * b}", StyleLayer(config, first_in, nf(config, res), res, kind))
            self.add_module(f"layer{2 * b + 1}", StyleLayer(config, nf(config, res), nf(config, res), res, "conv"))
            self.add_module(f"output{b}", ToRGB(nf(config, res), channels, bool(config["use_wscale"])))
        self.final_rgb = f"output{self.num_layers // 2 - 1}"
        self.final_tanh = bool(config["final_tanh"])

    def forward(self, wp: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = None
        for i in range(self.num_layers):
            x = getattr(self, f"layer{i}")(x, wp[:, i], noise_mode)
        img = getattr(self, self.final_rgb)(x)
        return torch.tanh(img) if self.final_tanh else img


class GenforceStyleGAN(GANGenerator):
    """genforce StyleGAN: codes are w+ (one w per synthesis layer)."""

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
        attach(self, "mapping", Mapping(config, self.w_dim if repeat else self.w_dim * self.num_ws, math.sqrt(2.0), 1.0))
        self.truncation = Truncation(self.w_dim, self.num_ws, repeat)
        attach(self, "synthesis", Synthesis(config))

    def slot_names(self) -> list[str]:
        return [f"layer{i} ({4 * 2 ** (i // 2)}px)" for i in range(self.num_ws)]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return self.truncation(self._modules["mapping"](z, c), truncation_psi, truncation_cutoff)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        return self._modules["synthesis"](codes, noise_mode)

    def sefa_weights(self, slots):
        """SeFa's choice for genforce StyleGAN: each slot's style-modulation weight ``[2C, w_dim]``."""
        return [child_of(self, f"synthesis.layer{i}").style.weight for i in check_slots(slots, self.num_ws)]

    def activation_layers(self) -> list[str]:
        return [f"synthesis.layer{i}" for i in range(self.num_ws)]

    def noise_buffers(self) -> list[str]:
        """``synthesis.layer{i}.apply_noise.noise`` (``[1, 1, r, r]``): every layer adds noise."""
        return [f"synthesis.layer{i}.apply_noise.noise" for i in range(self.num_ws)]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return child_of(self, name)
