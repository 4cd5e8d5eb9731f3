"""StyleGAN3 (alias-free GAN, configs T and R) as a pure-PyTorch network with NVlabs key names.

The official generator (NVlabs stylegan3, ``training/networks_stylegan3.py``) fuses its filtered
leaky ReLU into a custom CUDA kernel.  Here every step is a plain torch op (grouped and transposed
convolutions for the up-, down- and low-pass filtering), so the same module runs on CPU and GPU.
``state_dict()`` names equal the official ones, so an NVlabs state dict loads with ``strict=True``.

Nothing the tensors cannot tell is guessed silently: the layer plan (sampling rates, cutoffs,
transition bands, sizes, paddings) follows from the constructor arguments (``init_kwargs``) the
way the paper's Appendix F derives it, and a plan that does not fit the weights is an error.

w+ slots: 0 feeds the Fourier-feature input (rotation and translation of the whole image),
1..num_layers feed the synthesis layers L0..L{num_layers-1}, the last slot feeds the ToRGB layer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, InputError
from ..limits import load_json
from .base import GANGenerator
from .config_check import MAX_DIM, Bool, Float, Int, build_bounded, check_config
from .files import Checkpoint, state_dict_of, strip_prefix

ARCHS = ("stylegan3-t", "stylegan3-r")
WRAPPER_KEYS = ("G_ema", "g_ema", "state_dict", "generator", "G")

MAPPING_DEFAULTS = {"num_layers": 2, "lr_multiplier": 0.01, "w_avg_beta": 0.998}
SYNTHESIS_DEFAULTS: dict[str, Any] = {
    "channel_base": 32768, "channel_max": 512, "num_layers": 14, "num_critical": 2, "first_cutoff": 2.0,
    "first_stopband": 2 ** 2.1, "last_stopband_rel": 2 ** 0.3, "margin_size": 10, "output_scale": 0.25,
    "num_fp16_res": 4, "conv_kernel": 3, "filter_size": 6, "lrelu_upsampling": 2, "use_radial_filters": False,
    "conv_clamp": 256, "magnitude_ema_beta": 0.999,
}
TOP_KEYS = ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels")
LRELU_SLOPE = 0.2
LRELU_GAIN = math.sqrt(2.0)
_LAYER_KEY = re.compile(r"^synthesis\.L(\d+)_(\d+)_(\d+)\.")


# ----- configuration ---------------------------------------------------------------------------
def _plain(v: Any) -> Any:
    """numpy scalars from pickles -> Python numbers, so the config is JSON-able."""
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, (int, np.integer)):
        return int(v)
    if isinstance(v, (float, np.floating)):
        return float(v)
    return v


MAPPING_SPEC = {"num_layers": Int(1, 64), "lr_multiplier": Float(0, 1e3, lo_open=True), "w_avg_beta": Float(0, 1)}
SPEC = {
    "z_dim": Int(1, MAX_DIM), "c_dim": Int(0, MAX_DIM), "w_dim": Int(1, MAX_DIM), "img_resolution": Int(4, 8192),
    "img_channels": Int(1, 16), "channel_base": Int(1, 1 << 26), "channel_max": Int(1, MAX_DIM),
    "num_layers": Int(1, 64), "num_critical": Int(0, 63), "first_cutoff": Float(0, 1e5, lo_open=True),
    "first_stopband": Float(0, 1e5, lo_open=True), "last_stopband_rel": Float(0, 1e3, lo_open=True),
    "margin_size": Int(0, 1024), "output_scale": Float(-1e6, 1e6), "num_fp16_res": Int(0, 64),
    "conv_kernel": Int(1, 15), "filter_size": Int(1, 64), "lrelu_upsampling": Int(1, 16), "use_radial_filters": Bool(),
    "conv_clamp": Float(0, 1e9, optional=True, lo_open=True), "magnitude_ema_beta": Float(0, 1),
}
"""What each setting may be, checked before the layer plan is computed from it."""


def normalize_init_kwargs(init_kwargs: dict, source: str | None = None) -> dict:
    """Official ``_init_kwargs`` (synthesis settings flat or under ``synthesis_kwargs``) -> our config.

    The config keeps the official shape (flat synthesis settings, ``mapping_kwargs`` nested), with
    every default written out so the plan never depends on this module's defaults changing.  Every
    field is checked (:data:`SPEC`) before anything is computed from it."""
    kw = dict(init_kwargs)
    nested = kw.pop("synthesis_kwargs", None) or {}
    mapping = kw.pop("mapping_kwargs", None) or {}
    if not isinstance(nested, dict) or not isinstance(mapping, dict):
        raise CheckpointError(source, "the StyleGAN3 init kwargs: synthesis_kwargs and mapping_kwargs must be mappings")
    missing = [k for k in ("z_dim", "w_dim", "img_resolution") if k not in kw]
    if missing:
        raise InputError(f"StyleGAN3 init kwargs lack {', '.join(missing)}")
    config: dict[str, Any] = {"z_dim": kw["z_dim"], "c_dim": kw.get("c_dim", 0) or 0, "w_dim": kw["w_dim"],
                              "img_resolution": kw["img_resolution"], "img_channels": kw.get("img_channels", 3)}
    config["mapping_kwargs"] = check_config({k: _plain(mapping.get(k, d)) for k, d in MAPPING_DEFAULTS.items()},
                                            MAPPING_SPEC, source, "the StyleGAN3 mapping settings")
    for key, default in SYNTHESIS_DEFAULTS.items():
        value = kw.get(key, nested.get(key, default))
        config[key] = None if value is None else _plain(value)
    config = check_config(config, SPEC, source, "the StyleGAN3 configuration")
    if config["num_critical"] >= config["num_layers"]:
        raise CheckpointError(source, f"the StyleGAN3 configuration: field 'num_critical' is {config['num_critical']}, "
                              f"not below num_layers {config['num_layers']}")
    return config


def arch_of(config: dict) -> str:
    """R config: radially symmetric filters and 1x1 convolutions; T: separable filters, 3x3."""
    return "stylegan3-r" if config.get("use_radial_filters") or int(config.get("conv_kernel", 3)) == 1 else "stylegan3-t"


@dataclass(frozen=True)
class LayerPlan:
    """One synthesis layer's signal-processing settings, as the official network derives them."""

    name: str
    is_torgb: bool
    is_critical: bool
    in_channels: int
    out_channels: int
    in_size: int
    out_size: int
    in_rate: int
    out_rate: int
    in_cutoff: float
    out_cutoff: float
    in_half_width: float
    out_half_width: float
    tmp_rate: int  # the raised rate the nonlinearity runs at
    conv_kernel: int
    up: int
    down: int
    up_taps: int
    down_taps: int
    down_radial: bool
    padding: tuple[int, int]  # (before, after), the same on both axes (square layers)


@dataclass(frozen=True)
class InputPlan:
    channels: int
    size: int
    sampling_rate: float
    bandwidth: float


def synthesis_plan(config: dict) -> tuple[InputPlan, list[LayerPlan]]:
    """Cutoffs, stopbands, sampling rates, sizes and channels per layer (a geometric progression
    from the first cutoff to the Nyquist frequency of the output, critically sampled at the end)."""
    n, crit = int(config["num_layers"]), int(config["num_critical"])
    res = int(config["img_resolution"])
    last_cutoff = res / 2
    last_stopband = last_cutoff * float(config["last_stopband_rel"])
    exponents = np.minimum(np.arange(n + 1) / (n - crit), 1)
    cutoffs = float(config["first_cutoff"]) * (last_cutoff / float(config["first_cutoff"])) ** exponents
    stopbands = float(config["first_stopband"]) * (last_stopband / float(config["first_stopband"])) ** exponents
    rates = np.exp2(np.ceil(np.log2(np.minimum(stopbands * 2, res))))
    half_widths = np.maximum(stopbands, rates / 2) - cutoffs
    sizes = rates + int(config["margin_size"]) * 2
    sizes[-2:] = res
    channels = np.rint(np.minimum((float(config["channel_base"]) / 2) / cutoffs, float(config["channel_max"])))
    channels[-1] = int(config["img_channels"])

    first = InputPlan(int(channels[0]), int(sizes[0]), float(rates[0]), float(cutoffs[0]))
    layers = []
    for idx in range(n + 1):
        prev = max(idx - 1, 0)
        torgb = idx == n
        k = 1 if torgb else int(config["conv_kernel"])
        in_rate, out_rate = int(rates[prev]), int(rates[idx])
        tmp_rate = max(in_rate, out_rate) * (1 if torgb else int(config["lrelu_upsampling"]))
        up, down = int(np.rint(tmp_rate / in_rate)), int(np.rint(tmp_rate / out_rate))
        fs = int(config["filter_size"])
        up_taps = fs * up if up > 1 and not torgb else 1
        down_taps = fs * down if down > 1 and not torgb else 1
        in_size, out_size = int(sizes[prev]), int(sizes[idx])
        pad_total = (out_size - 1) * down + 1 - (in_size + k - 1) * up + up_taps + down_taps - 2
        pad_lo = (pad_total + up) // 2  # symmetric sample positions (paper, Appendix C.3)
        layers.append(LayerPlan(
            name=f"L{idx}_{out_size}_{int(channels[idx])}", is_torgb=torgb, is_critical=idx >= n - crit,
            in_channels=int(channels[prev]), out_channels=int(channels[idx]), in_size=in_size, out_size=out_size,
            in_rate=in_rate, out_rate=out_rate, in_cutoff=float(cutoffs[prev]), out_cutoff=float(cutoffs[idx]),
            in_half_width=float(half_widths[prev]), out_half_width=float(half_widths[idx]), tmp_rate=tmp_rate,
            conv_kernel=k,
            up=up, down=down, up_taps=up_taps, down_taps=down_taps,
            down_radial=bool(config["use_radial_filters"]) and idx < n - crit,
            padding=(int(pad_lo), int(pad_total - pad_lo))))
    return first, layers


# ----- filter design (numpy; scipy's firwin and the jinc filter re-derived) ------------------
def _kaiser_beta(numtaps: int, width: float, fs: float) -> float:
    """Kaiser's empirical formulas: attenuation from the transition width, then the window beta."""
    atten = 2.285 * (numtaps - 1) * np.pi * (width / (fs / 2)) + 7.95
    if atten > 50:
        return 0.1102 * (atten - 8.7)
    if atten > 21:
        return 0.5842 * (atten - 21) ** 0.4 + 0.07886 * (atten - 21)
    return 0.0


def lowpass_filter(numtaps: int, cutoff: float, width: float, fs: float, radial: bool = False) -> torch.Tensor | None:
    """Kaiser-windowed low-pass FIR: separable sinc ``[taps]`` or radially symmetric jinc ``[taps, taps]``.

    Unit DC gain.  One tap means identity (None), as in the official design."""
    if numtaps == 1:
        return None
    window = np.kaiser(numtaps, _kaiser_beta(numtaps, width, fs))
    if not radial:
        m = np.arange(numtaps) - (numtaps - 1) / 2
        c = cutoff / (fs / 2)
        h = c * np.sinc(c * m) * window
        return torch.as_tensor(h / h.sum(), dtype=torch.float32, device="cpu")
    x = (np.arange(numtaps) - (numtaps - 1) / 2) / fs
    r = torch.as_tensor(np.hypot(*np.meshgrid(x, x)), dtype=torch.float64, device="cpu")
    arg = 2 * cutoff * np.pi * r
    safe = torch.where(r > 0, r, torch.ones_like(r))
    jinc = torch.where(r > 0, torch.special.bessel_j1(arg) / (np.pi * safe), torch.full_like(r, cutoff))
    h = jinc.numpy() * np.outer(window, window)
    return torch.as_tensor(h / h.sum(), dtype=torch.float32, device="cpu")


# ----- the up/FIR/down steps with plain convolutions ------------------------------------------
def _depthwise(f: torch.Tensor, channels: int, axis: str) -> torch.Tensor:
    """A 1-D filter as a per-channel conv kernel along ``axis`` ('h' or 'w')."""
    k = f.view(1, 1, -1, 1) if axis == "h" else f.view(1, 1, 1, -1)
    return k.expand(channels, 1, *k.shape[2:])


def upsample_fir(x: torch.Tensor, f: torch.Tensor | None, up: int, padding: tuple[int, int]) -> torch.Tensor:
    """Insert ``up-1`` zeros between samples, pad (negative crops), convolve with ``f`` (gain up per axis).

    Done as a transposed convolution with stride ``up`` (no multiplications by inserted zeros),
    then a pad/crop that lines the result up with the zero-insertion reference."""
    lo, hi = padding
    f = torch.ones(1, dtype=x.dtype, device=x.device) if f is None else f.to(x.dtype)
    if f.ndim == 2:
        raise InputError("2-D upsampling filters are not used by StyleGAN3")
    k = f.shape[0]
    ch = x.shape[1]
    fx = f * up
    x = F.conv_transpose2d(x, _depthwise(fx, ch, "w"), stride=(1, up), groups=ch)
    x = F.conv_transpose2d(x, _depthwise(fx, ch, "h"), stride=(up, 1), groups=ch)
    edge = (lo - k + 1, up + hi - k)
    return F.pad(x, (edge[0], edge[1], edge[0], edge[1]))


def downsample_fir(x: torch.Tensor, f: torch.Tensor | None, down: int) -> torch.Tensor:
    """Convolve with ``f`` (no padding: only fully covered outputs) and keep every ``down``-th sample."""
    if f is None:
        return x[:, :, ::down, ::down]
    f = f.to(x.dtype).flip(list(range(f.ndim)))
    ch = x.shape[1]
    if f.ndim == 2:
        return F.conv2d(x, f.expand(ch, 1, *f.shape), stride=down, groups=ch)
    x = F.conv2d(x, _depthwise(f, ch, "w"), stride=(1, down), groups=ch)
    return F.conv2d(x, _depthwise(f, ch, "h"), stride=(down, 1), groups=ch)


# ----- modules (official names) ---------------------------------------------------------------
class FullyConnectedLayer(nn.Module):
    """Dense layer with equalized learning rate: stored weights are scaled by lr/sqrt(fan_in)."""

    def __init__(self, in_features: int, out_features: int, lrelu: bool = False, lr_multiplier: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        self.lrelu = lrelu
        self.weight = nn.Parameter(torch.randn(out_features, in_features) / lr_multiplier)
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init) / lr_multiplier))
        self.weight_gain = lr_multiplier / math.sqrt(in_features)
        self.bias_gain = lr_multiplier

    def effective_weight(self) -> torch.Tensor:
        return self.weight * self.weight_gain

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addmm(self.bias.to(x.dtype) * self.bias_gain, x, self.effective_weight().to(x.dtype).t())
        return F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN if self.lrelu else x


def _normalize_2nd_moment(x: torch.Tensor) -> torch.Tensor:
    return x * (x.square().mean(dim=1, keepdim=True) + 1e-8).rsqrt()


class MappingNetwork(nn.Module):
    """z (and class) -> one w per sample; broadcasting to w+ and truncation live in the generator."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_layers: int, lr_multiplier: float) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.embed = FullyConnectedLayer(c_dim, w_dim) if c_dim > 0 else None
        features = [z_dim + (w_dim if c_dim > 0 else 0)] + [w_dim] * num_layers
        for idx in range(num_layers):
            setattr(self, f"fc{idx}", FullyConnectedLayer(features[idx], features[idx + 1], lrelu=True,
                                                          lr_multiplier=lr_multiplier))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None = None) -> torch.Tensor:
        x = _normalize_2nd_moment(z.to(torch.float32))
        if self.embed is not None:
            x = torch.cat([x, _normalize_2nd_moment(self.embed(c.to(torch.float32)))], dim=1)
        for idx in range(self.num_layers):
            x = getattr(self, f"fc{idx}")(x)
        return x


class SynthesisInput(nn.Module):
    """Fourier features whose frequencies and phases are rotated and shifted by an affine of w."""

    def __init__(self, w_dim: int, plan: InputPlan) -> None:
        super().__init__()
        self.plan = plan
        c = plan.channels
        self.weight = nn.Parameter(torch.randn(c, c))
        self.affine = FullyConnectedLayer(w_dim, 4)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.copy_(torch.tensor([1.0, 0.0, 0.0, 0.0]))
        self.register_buffer("transform", torch.eye(3))  # user-set inverse transform of the image
        # Frequencies drawn inside the band (a Gaussian squashed towards the disc), random phases;
        # a trained model's own draws always come with its state dict.
        freqs = torch.randn(c, 2)
        radii = freqs.norm(dim=1, keepdim=True)
        freqs = freqs / (radii * radii.square().exp().pow(0.25)) * plan.bandwidth
        self.register_buffer("freqs", freqs)
        self.register_buffer("phases", torch.rand(c) - 0.5)

    def _transforms(self, w: torch.Tensor) -> torch.Tensor:
        """Per-sample inverse transform: rotation, then translation, then the user transform."""
        t = self.affine(w)
        t = t / t[:, :2].norm(dim=1, keepdim=True)
        cos, sin, tx, ty = t.unbind(dim=1)
        one, zero = torch.ones_like(cos), torch.zeros_like(cos)
        rot = torch.stack([cos, -sin, zero, sin, cos, zero, zero, zero, one], dim=1).view(-1, 3, 3)
        shift = torch.stack([one, zero, -tx, zero, one, -ty, zero, zero, one], dim=1).view(-1, 3, 3)
        return rot @ shift @ self.transform.unsqueeze(0)

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        p = self.plan
        m = self._transforms(w)
        phases = self.phases.unsqueeze(0) + (self.freqs.unsqueeze(0) @ m[:, :2, 2:]).squeeze(2)  # [b, c]
        freqs = self.freqs.unsqueeze(0) @ m[:, :2, :2]  # [b, c, xy]
        amplitudes = (1 - (freqs.norm(dim=2) - p.bandwidth) / (p.sampling_rate / 2 - p.bandwidth)).clamp(0, 1)
        pos = (torch.arange(p.size, device=w.device, dtype=torch.float32) + 0.5 - p.size / 2) / p.sampling_rate
        arg = (pos.view(1, 1, -1, 1) * freqs[:, None, None, :, 0]            # x along width
               + pos.view(1, -1, 1, 1) * freqs[:, None, None, :, 1]          # y along height
               + phases[:, None, None, :])                                   # [b, h, w, c]
        x = torch.sin(arg * (2 * np.pi)) * amplitudes[:, None, None, :]
        x = x @ (self.weight / math.sqrt(p.channels)).t()
        return x.permute(0, 3, 1, 2)


class SynthesisLayer(nn.Module):
    """Modulated convolution, then bias + leaky ReLU at a raised sampling rate between low-pass
    filters (up, act, down): the alias-free nonlinearity.  ToRGB: 1x1, no demodulation, linear."""

    def __init__(self, w_dim: int, plan: LayerPlan, conv_clamp: float | None, filters: dict) -> None:
        super().__init__()
        self.plan = plan
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, plan.in_channels, bias_init=1.0)
        self.weight = nn.Parameter(torch.randn(plan.out_channels, plan.in_channels, plan.conv_kernel, plan.conv_kernel))
        self.bias = nn.Parameter(torch.zeros(plan.out_channels))
        self.register_buffer("magnitude_ema", torch.ones([]))
        self.register_buffer("up_filter", filters["up"])
        self.register_buffer("down_filter", filters["down"])

    def styles(self, w: torch.Tensor) -> torch.Tensor:
        s = self.affine(w)
        if self.plan.is_torgb:
            s = s / math.sqrt(self.plan.in_channels * self.plan.conv_kernel ** 2)
        return s

    def modulated_conv(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        """Scale input channels by the style, convolve with the shared kernel, demodulate per output.

        Equal to modulating the kernel per sample (the official grouped convolution) but batched
        as one ordinary convolution.  The style is pre-normalized per sample, so a sample's image
        does not depend on the rest of its batch."""
        weight, s = self.weight.to(x.dtype), self.styles(w).to(x.dtype)
        demodulate = not self.plan.is_torgb
        if demodulate:
            weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
            s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
        gain = self.magnitude_ema.to(x.dtype).rsqrt()
        x = x * (s * gain)[:, :, None, None]
        x = F.conv2d(x, weight, padding=self.plan.conv_kernel - 1)
        if demodulate:
            dcoefs = (torch.einsum("oi,ni->no", weight.square().sum(dim=[2, 3]), s.square()) + 1e-8).rsqrt()
            x = x * dcoefs[:, :, None, None]
        return x

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        p = self.plan
        x = self.modulated_conv(x, w) + self.bias.to(x.dtype)[None, :, None, None]
        x = upsample_fir(x, self.up_filter, p.up, p.padding)
        if not p.is_torgb:
            x = F.leaky_relu(x, LRELU_SLOPE) * LRELU_GAIN
        if self.conv_clamp is not None:
            x = x.clamp(-self.conv_clamp, self.conv_clamp)
        return downsample_fir(x, self.down_filter, p.down)


class SynthesisNetwork(nn.Module):
    """w+ -> image: the Fourier input, then L0..L{N-1} and the ToRGB layer, scaled at the end."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.output_scale = float(config["output_scale"])
        first, plans = synthesis_plan(config)
        self.input = SynthesisInput(int(config["w_dim"]), first)
        clamp = config["conv_clamp"]
        self.layer_names = []
        for p in plans:
            filters = {"up": lowpass_filter(p.up_taps, p.in_cutoff, p.in_half_width * 2, p.tmp_rate),
                       "down": lowpass_filter(p.down_taps, p.out_cutoff, p.out_half_width * 2, p.tmp_rate,
                                              radial=p.down_radial)}
            self.add_module(p.name, SynthesisLayer(int(config["w_dim"]), p, None if clamp is None else float(clamp), filters))
            self.layer_names.append(p.name)

    def layers(self) -> list[SynthesisLayer]:
        return [getattr(self, n) for n in self.layer_names]

    def forward(self, ws: torch.Tensor) -> torch.Tensor:
        slots = ws.to(torch.float32).unbind(dim=1)
        x = self.input(slots[0])
        for layer, w in zip(self.layers(), slots[1:]):
            x = layer(x, w)
        return x * self.output_scale if self.output_scale != 1 else x


# ----- the generator ----------------------------------------------------------------------------
class StyleGAN3Generator(GANGenerator):
    """StyleGAN3-T / -R behind the generator contract; ``mapping`` / ``synthesis`` submodules keep
    the official key names (reach them as ``mapping_net`` / ``synthesis_net``)."""

    code_space = "w"
    synthesis_reads_class = False  # the class enters through the mapping only

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = normalize_init_kwargs(config)
        cfg = self.config
        self.arch = arch_of(cfg)
        self.z_dim, self.c_dim, self.w_dim = cfg["z_dim"], cfg["c_dim"], cfg["w_dim"]
        self.resolution, self.img_channels = cfg["img_resolution"], cfg["img_channels"]
        self.num_ws = int(cfg["num_layers"]) + 2
        mk = cfg["mapping_kwargs"]
        # The contract's mapping()/synthesis() methods shadow these names as attributes, so the
        # submodules are registered directly: the state dict keeps the official prefixes.
        self._modules["mapping"] = MappingNetwork(self.z_dim, self.c_dim, self.w_dim, int(mk["num_layers"]),
                                                  float(mk["lr_multiplier"]))
        self._modules["synthesis"] = SynthesisNetwork(cfg)

    @property
    def mapping_net(self) -> MappingNetwork:
        return self._modules["mapping"]

    @property
    def synthesis_net(self) -> SynthesisNetwork:
        return self._modules["synthesis"]

    def _slot_modules(self) -> list[nn.Module]:
        net = self.synthesis_net
        return [net.input, *net.layers()]

    def slot_names(self) -> list[str]:
        p = self.synthesis_net.input.plan
        names = [f"input: Fourier features {p.size}px {p.channels}ch (rotation, translation)"]
        for layer in self.synthesis_net.layers():
            lp = layer.plan
            kind = "ToRGB" if lp.is_torgb else ("critical " if lp.is_critical else "") + f"conv{lp.conv_kernel}"
            names.append(f"L{len(names) - 1} {kind} {lp.out_size}px {lp.out_channels}ch")
        return names

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        w = self.mapping_net(z, c)
        ws = w.unsqueeze(1).repeat(1, self.num_ws, 1)
        if truncation_psi != 1:
            cut = self.num_ws if truncation_cutoff is None else int(truncation_cutoff)
            ws[:, :cut] = self.mapping_net.w_avg.lerp(ws[:, :cut], truncation_psi)
        return ws

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        return self.synthesis_net(codes)  # StyleGAN3 has no noise inputs: every noise mode is the same

    def sefa_weights(self, slots: Sequence[int]) -> list[torch.Tensor]:
        """The effective affine matrix ``[out, w_dim]`` reading each slot (gains folded in)."""
        mods = self._slot_modules()
        out = []
        for s in slots:
            if not 0 <= int(s) < len(mods):
                raise InputError(f"slot {s} is outside 0..{len(mods) - 1}")
            m = mods[int(s)]
            weight = m.affine.effective_weight()
            if isinstance(m, SynthesisLayer) and m.plan.is_torgb:
                weight = weight / math.sqrt(m.plan.in_channels * m.plan.conv_kernel ** 2)
            out.append(weight.detach())
        return out

    def activation_layers(self) -> list[str]:
        """Synthesis layers coarse to fine (L0 first, the default), then the Fourier input."""
        return [f"synthesis.{n}" for n in self.synthesis_net.layer_names] + ["synthesis.input"]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return getattr(self.synthesis_net, name.split(".", 1)[1])


# ----- building from checkpoints -----------------------------------------------------------------
def _filter_keys(layer_names: Sequence[str]) -> set[str]:
    return {f"synthesis.{n}.{b}" for n in layer_names for b in ("up_filter", "down_filter")}


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str | None = None) -> StyleGAN3Generator:
    """Build from init kwargs and load ``state`` strictly; designed filters fill in only when the
    state has none (they are a pure function of the config)."""
    config = normalize_init_kwargs(config)
    try:
        gen = build_bounded(lambda: StyleGAN3Generator(config), state, what="the StyleGAN3 configuration")
    except (KeyError, ValueError, TypeError, ZeroDivisionError) as e:
        raise CheckpointError(None, f"the StyleGAN3 settings are not usable ({type(e).__name__}: {e})") from None
    if arch is not None and arch != gen.arch:
        raise CheckpointError(None, f"the file says {arch!r}, but its settings describe {gen.arch!r}")
    own = gen.state_dict()
    state = dict(state)
    for key in _filter_keys(gen.synthesis_net.layer_names):
        if key in own and key not in state:
            state[key] = own[key]
    _check_shapes(own, state)
    gen.load_state_dict(state, strict=True)
    return gen


def _check_shapes(own: dict[str, torch.Tensor], state: dict[str, torch.Tensor]) -> None:
    missing = sorted(set(own) - set(state))
    extra = sorted(set(state) - set(own))
    if missing or extra:
        raise CheckpointError(None, "the StyleGAN3 settings do not fit the weights: "
                              + (f"missing {missing[:4]}{' ...' if len(missing) > 4 else ''} " if missing else "")
                              + (f"unexpected {extra[:4]}{' ...' if len(extra) > 4 else ''}" if extra else ""))
    wrong = [f"{k} {list(state[k].shape)} (expected {list(own[k].shape)})" for k in own if state[k].shape != own[k].shape]
    if wrong:
        raise CheckpointError(None, f"the StyleGAN3 settings do not fit the weights: {'; '.join(wrong[:3])}")


def from_nvlabs(init_kwargs: dict, state_dict: dict[str, torch.Tensor]) -> StyleGAN3Generator:
    """A generator from an NVlabs pickle's ``G_ema``: its ``_init_kwargs`` and its state dict."""
    try:
        config = normalize_init_kwargs(init_kwargs)
    except InputError as e:
        raise CheckpointError(None, str(e)) from None
    return from_native(state_dict, config)


def _sg3_state(obj: Any) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(strip_prefix(sd), "G_ema.")
    has_layers = any(_LAYER_KEY.match(k) for k in sd)
    if "synthesis.input.affine.weight" in sd and "synthesis.input.freqs" in sd and has_layers:
        return sd
    return None


def detect(ckpt: Checkpoint) -> bool:
    return _sg3_state(ckpt.obj) is not None


def _declared(ckpt: Checkpoint) -> dict:
    """Init kwargs a user or tool wrote down: safetensors metadata or a sidecar JSON."""
    for key in ("init_kwargs", "config"):
        if ckpt.metadata.get(key):
            value = load_json(ckpt.metadata[key], ckpt.path, f"the metadata {key!r}")
            if not isinstance(value, dict):
                raise ckpt.fail(f"the metadata {key!r} is not a JSON object")
            return dict(value)
    side = dict(ckpt.sidecar or {})
    if isinstance(side.get("init_kwargs"), dict):
        return dict(side["init_kwargs"])
    return side


def infer_init_kwargs(sd: dict[str, torch.Tensor]) -> dict:
    """The init kwargs the tensor shapes tell: widths, depth, kernel, filter kind, channels, margin."""
    w_dim = int(sd["synthesis.input.affine.weight"].shape[1])
    c_dim = int(sd["mapping.embed.weight"].shape[1]) if "mapping.embed.weight" in sd else 0
    z_dim = int(sd["mapping.fc0.weight"].shape[1]) - (w_dim if c_dim else 0)
    mapping_layers = sum(1 for k in sd if re.fullmatch(r"mapping\.fc\d+\.weight", k))
    layers = sorted({(int(m.group(1)), int(m.group(2)), int(m.group(3))) for m in map(_LAYER_KEY.match, sd) if m})
    n = layers[-1][0]
    if n > 64 or any(size > 8192 or ch > 1 << 16 for _, size, ch in layers):
        raise ValueError("the synthesis layer names declare more than 64 layers, sizes over 8192 or widths over 65536")
    if [i for i, _, _ in layers] != list(range(n + 1)):
        raise ValueError("the synthesis layers L0.. are not numbered consecutively")
    res, img_channels = layers[-1][1], layers[-1][2]
    first = next(k for k in sd if k.startswith("synthesis.L0_") and k.endswith(".weight") and ".affine" not in k)
    conv_kernel = int(sd[first].shape[-1])
    radial = any(k.endswith("down_filter") and v.ndim == 2 for k, v in sd.items())
    channel_max = max(ch for i, _, ch in layers[:-1])
    kw = {"z_dim": z_dim, "c_dim": c_dim, "w_dim": w_dim, "img_resolution": res, "img_channels": img_channels,
          "mapping_kwargs": {"num_layers": mapping_layers}, "num_layers": n, "conv_kernel": conv_kernel,
          "use_radial_filters": radial, "channel_max": channel_max}
    want = [(size, ch) for _, size, ch in layers]
    first_in, _ = synthesis_plan({**SYNTHESIS_DEFAULTS, **kw, "channel_base": 4 * channel_max})
    kw["margin_size"] = max(0, (layers[0][1] - int(first_in.sampling_rate)) // 2)
    for base in [4 * layers[0][2]] + [2 ** p for p in range(8, 21)]:
        _, plan = synthesis_plan({**SYNTHESIS_DEFAULTS, **kw, "channel_base": base})
        if [(p.out_size, p.out_channels) for p in plan] == want:
            kw["channel_base"] = base
            return kw
    raise ValueError("no channel_base reproduces the layer widths; put the init kwargs in a config.json beside the file")


def _flatten(kwargs: dict) -> dict:
    """Init kwargs with ADA-style nested ``synthesis_kwargs`` lifted to the top level."""
    out = {k: v for k, v in kwargs.items() if k != "synthesis_kwargs"}
    out.update(kwargs.get("synthesis_kwargs") or {})
    return out


def build(ckpt: Checkpoint) -> StyleGAN3Generator:
    """A bare StyleGAN3 state dict plus declared init kwargs (sidecar / metadata); what is not
    declared is read off the tensor shapes."""
    sd = _sg3_state(ckpt.obj)
    declared = _flatten(_declared(ckpt))
    try:
        inferred = infer_init_kwargs(sd)
    except (ValueError, KeyError, StopIteration, IndexError) as e:
        if not all(k in declared for k in ("z_dim", "w_dim", "img_resolution")):
            raise ckpt.fail(f"cannot work out the StyleGAN3 settings ({e})") from None
        inferred = {}
    kwargs = {**inferred, **declared}
    kwargs["mapping_kwargs"] = {**inferred.get("mapping_kwargs", {}), **(declared.get("mapping_kwargs") or {})}
    try:
        return from_native(sd, normalize_init_kwargs(kwargs))
    except (CheckpointError, InputError) as e:
        raise ckpt.fail(getattr(e, "reason", str(e))) from None
