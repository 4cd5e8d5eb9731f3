"""StyleGAN2 (Karras et al. 2020, "Analyzing and Improving the Image Quality of StyleGAN").

A clean-room generator whose ``state_dict()`` keys equal the NVlabs PyTorch layout
(stylegan2-ada-pytorch / stylegan3 ``training/networks_stylegan2.py``), so NVlabs weights load
without renaming.  Plain torch ops only (no custom CUDA kernels): the 2x up-sampling conv is a
transposed convolution followed by the FIR filter as a depthwise convolution.

Slots (w+ indices) read by the layers, for ``num_ws = 2 * log2(resolution) - 2``:

* slot 0: ``b4.conv1``; slot 1: ``b4.torgb`` and ``b8.conv0``;
* for block ``b{r}`` with ``k = log2(r)``: ``conv0`` reads ``2k - 5``, ``conv1`` reads ``2k - 4``,
  ``torgb`` reads ``2k - 3`` (shared with the next block's ``conv0``);
* the last slot is read only by the final ``torgb``.

Checkpoint layouts: NVlabs pickles (``loaders.nvlabs``), rosinality ``.pt`` (``loaders.rosinality``),
TF-era NVlabs pickles (``loaders.tf_pickle``), bare safetensors with NVlabs keys (config inferred
from shapes) and our own converted safetensors.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import re
from typing import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, InputError
from ..limits import load_json
from .base import GANGenerator
from .config_check import MAX_DIM, AnyOf, Bool, Choice, Float, Int, Numbers, PowerOfTwo, build_bounded, check_config, check_value
from .files import Checkpoint, state_dict_of, strip_prefix

ARCHS = ("stylegan2",)
LRELU_GAIN = math.sqrt(2.0)
WRAPPER_KEYS = ("G_ema", "g_ema", "state_dict", "generator")

DEFAULTS = {
    "z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": 1024, "img_channels": 3,
    "channel_base": 32768, "channel_max": 512, "channels": None, "conv_clamp": None,
    "architecture": "skip", "mapping_layers": 8, "mapping_lr_mul": 0.01, "embed_features": None,
    "layer_features": None, "use_noise": True, "resample_filter": [1, 3, 3, 1],
}
"""Settings the tensors cannot tell, and their documented defaults (NVlabs config-f)."""

SPEC = {
    "z_dim": Int(1, MAX_DIM), "c_dim": Int(0, MAX_DIM), "w_dim": Int(1, MAX_DIM),
    "img_resolution": PowerOfTwo(4, 8192), "img_channels": Int(1, 16), "channel_base": Int(1, 1 << 26),
    "channel_max": Int(1, MAX_DIM), "conv_clamp": Float(0, 1e9, optional=True, lo_open=True),
    "architecture": Choice(("skip", "resnet", "orig")), "mapping_layers": Int(1, 64),
    "mapping_lr_mul": Float(0, 1e3, lo_open=True), "embed_features": Int(1, MAX_DIM, optional=True),
    "layer_features": Int(1, MAX_DIM, optional=True), "use_noise": Bool(),
    "resample_filter": AnyOf((Numbers(Float(-1e6, 1e6), max_len=16),
                              Numbers(Numbers(Float(-1e6, 1e6), max_len=16), max_len=16))),
}
"""What each setting may be (checked before anything is computed from it)."""


_RANDOM_INIT = contextvars.ContextVar("stylegan2_random_init", default=True)


@contextlib.contextmanager
def uninitialized() -> Iterator[None]:
    """Build modules with uninitialised weight memory (to be replaced by checkpoint tensors).

    Untouched allocations are never made resident, so a load costs one copy of the weights."""
    token = _RANDOM_INIT.set(False)
    try:
        yield
    finally:
        _RANDOM_INIT.reset(token)


def _randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape) if _RANDOM_INIT.get() else torch.empty(*shape)


# ----- small ops ------------------------------------------------------------------------------
def normalize_2nd_moment(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale each row to unit mean square (the mapping network's input normalisation)."""
    return x * (x.square().mean(dim=1, keepdim=True) + eps).rsqrt()


def setup_filter(taps: Sequence[float]) -> torch.Tensor:
    """Outer product of a 1-D FIR kernel with itself, normalised to sum 1 (shape [k, k])."""
    f = torch.as_tensor(taps, dtype=torch.float32)
    f = torch.outer(f, f) if f.ndim == 1 else f
    return f / f.sum()


def bias_act(x: torch.Tensor, b: torch.Tensor, lrelu: bool, gain: float, clamp: float | None) -> torch.Tensor:
    """Add a per-channel bias, leaky ReLU (0.2) or linear, multiply by gain, clamp to +-clamp."""
    x = x + b.view(1, -1, 1, 1)
    if lrelu:
        x = F.leaky_relu(x, 0.2)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def _depthwise(x: torch.Tensor, f: torch.Tensor, padding: int, gain: float) -> torch.Tensor:
    """True 2-D convolution of every channel with ``f`` (zero padding), times ``gain``.

    A separable (rank-1) filter runs as two 1-D passes, which is what every trained model has."""
    c = x.shape[1]
    f = f.to(x.dtype).flip([0, 1]) * gain
    i, j = divmod(int(f.abs().argmax()), f.shape[1])
    col, row = f[:, j], f[i, :] / f[i, j]
    if torch.allclose(torch.outer(col, row), f, rtol=1e-6, atol=1e-7 * float(f.abs().max())):
        x = F.conv2d(x, col.view(1, 1, -1, 1).expand(c, 1, -1, 1), padding=(padding, 0), groups=c)
        return F.conv2d(x, row.view(1, 1, 1, -1).expand(c, 1, 1, -1), padding=(0, padding), groups=c)
    return F.conv2d(x, f.expand(c, 1, *f.shape), padding=padding, groups=c)


def upsample2d(x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """2x up-sampling: zero insertion then the FIR filter (gain 4), as a strided transposed conv.

    Equals NVlabs ``upsample2d`` for a 4-tap filter (pads 2 before, 1 after)."""
    c, k = x.shape[1], f.shape[0]
    w = (f.to(x.dtype) * 4).expand(c, 1, *f.shape)
    return F.conv_transpose2d(x, w, stride=2, padding=(k - 2) // 2, groups=c)


# ----- layers (names match the NVlabs modules, so state dict keys match) ----------------------------
class FullyConnectedLayer(nn.Module):
    """Dense layer with equalized learning rate: weight gain lr_mul/sqrt(in), bias gain lr_mul."""

    def __init__(self, in_features: int, out_features: int, lrelu: bool = False, lr_mul: float = 1.0,
                 bias_init: float = 0.0) -> None:
        super().__init__()
        w = _randn(out_features, in_features)
        self.weight = nn.Parameter(w / lr_mul if _RANDOM_INIT.get() else w)  # no arithmetic on unused memory
        self.bias = nn.Parameter(torch.full([out_features], float(bias_init)))
        self.lrelu = lrelu
        self.weight_gain = lr_mul / math.sqrt(in_features)
        self.bias_gain = lr_mul

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addmm(self.bias * self.bias_gain, x, (self.weight * self.weight_gain).t())
        return F.leaky_relu(x, 0.2) * LRELU_GAIN if self.lrelu else x


class MappingNetwork(nn.Module):
    """z (and class) -> w, broadcast to ``num_ws`` slots, with w_avg truncation."""

    def __init__(self, z_dim: int, c_dim: int, w_dim: int, num_ws: int, num_layers: int, lr_mul: float,
                 embed_features: int | None = None, layer_features: int | None = None) -> None:
        super().__init__()
        self.z_dim, self.c_dim, self.w_dim, self.num_ws, self.num_layers = z_dim, c_dim, w_dim, num_ws, num_layers
        embed = 0 if c_dim == 0 else (embed_features or w_dim)
        feats = [z_dim + embed] + [layer_features or w_dim] * (num_layers - 1) + [w_dim]
        if c_dim:
            self.embed = FullyConnectedLayer(c_dim, embed)
        for i in range(num_layers):
            setattr(self, f"fc{i}", FullyConnectedLayer(feats[i], feats[i + 1], lrelu=True, lr_mul=lr_mul))
        self.register_buffer("w_avg", torch.zeros([w_dim]))

    def forward(self, z: torch.Tensor, c: torch.Tensor | None, psi: float = 1.0,
                cutoff: int | None = None) -> torch.Tensor:
        parts = []
        if self.z_dim:
            parts.append(normalize_2nd_moment(z))
        if self.c_dim:
            parts.append(normalize_2nd_moment(self.embed(c)))
        x = torch.cat(parts, dim=1)
        for i in range(self.num_layers):
            x = getattr(self, f"fc{i}")(x)
        ws = x.unsqueeze(1).repeat(1, self.num_ws, 1)
        if psi != 1:
            n = self.num_ws if cutoff is None else max(0, min(int(cutoff), self.num_ws))
            ws[:, :n] = self.w_avg.lerp(ws[:, :n], psi)
        return ws


class SynthesisLayer(nn.Module):
    """Modulated 3x3 conv (optionally 2x up), demodulation, noise, bias, lrelu * sqrt(2), clamp.

    Runs as scale-inputs / shared conv / scale-outputs (NVlabs' non-fused path): the same numbers
    as the per-sample grouped conv, but one batched convolution, which is faster on CPUs."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, up: int = 1,
                 use_noise: bool = True, conv_clamp: float | None = None, resample_filter=(1, 3, 3, 1)) -> None:
        super().__init__()
        self.up, self.resolution, self.use_noise, self.conv_clamp = up, resolution, use_noise, conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight = nn.Parameter(_randn(out_channels, in_channels, 3, 3))
        if use_noise:
            self.register_buffer("noise_const", _randn(resolution, resolution))
            self.noise_strength = nn.Parameter(torch.zeros([]))
        self.bias = nn.Parameter(torch.zeros(out_channels))

    def forward(self, x: torch.Tensor, w: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        styles = self.affine(w)  # [n, in]
        wt = self.weight
        dcoefs = ((wt.unsqueeze(0) * styles[:, None, :, None, None]).square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt()
        x = x * styles[:, :, None, None]
        if self.up == 1:
            x = F.conv2d(x, wt, padding=1)
        else:
            x = F.conv_transpose2d(x, wt.transpose(0, 1), stride=2)
            x = _depthwise(x, self.resample_filter, padding=self.resample_filter.shape[0] // 2 - 1, gain=4.0)
        x = x * dcoefs[:, :, None, None]
        if self.use_noise and noise_mode != "none":
            if noise_mode == "const":
                x = x + self.noise_const * self.noise_strength
            else:
                x = x + torch.randn(x.shape[0], 1, self.resolution, self.resolution, device=x.device,
                                    dtype=x.dtype) * self.noise_strength
        return bias_act(x, self.bias, True, LRELU_GAIN, self.conv_clamp)


class ToRGBLayer(nn.Module):
    """Modulated 1x1 conv to image channels (no demodulation), bias, clamp."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, conv_clamp: float | None = None) -> None:
        super().__init__()
        self.conv_clamp = conv_clamp
        self.affine = FullyConnectedLayer(w_dim, in_channels, bias_init=1)
        self.weight = nn.Parameter(_randn(out_channels, in_channels, 1, 1))
        self.bias = nn.Parameter(torch.zeros(out_channels))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        styles = self.affine(w) * self.weight_gain
        x = F.conv2d(x * styles[:, :, None, None], self.weight)
        return bias_act(x, self.bias, False, 1.0, self.conv_clamp)


class Conv2dLayer(nn.Module):
    """Unmodulated 1x1 conv with 2x up-sampling, no bias: the resnet architecture's skip path."""

    def __init__(self, in_channels: int, out_channels: int, resample_filter=(1, 3, 3, 1)) -> None:
        super().__init__()
        self.weight = nn.Parameter(_randn(out_channels, in_channels, 1, 1))
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        self.weight_gain = 1 / math.sqrt(in_channels)

    def forward(self, x: torch.Tensor, gain: float = 1.0) -> torch.Tensor:
        x = upsample2d(x, self.resample_filter)
        return F.conv2d(x, self.weight * (self.weight_gain * gain))


class SynthesisBlock(nn.Module):
    """One resolution: (const | conv0 up) -> conv1 -> torgb, with skip / resnet / orig wiring."""

    def __init__(self, in_channels: int, out_channels: int, w_dim: int, resolution: int, img_channels: int,
                 is_last: bool, architecture: str, conv_clamp: float | None, use_noise: bool,
                 resample_filter=(1, 3, 3, 1)) -> None:
        super().__init__()
        self.in_channels, self.is_last, self.architecture = in_channels, is_last, architecture
        self.register_buffer("resample_filter", setup_filter(resample_filter))
        kw = dict(w_dim=w_dim, resolution=resolution, use_noise=use_noise, conv_clamp=conv_clamp,
                  resample_filter=resample_filter)
        self.num_conv = self.num_torgb = 0
        if in_channels == 0:
            self.const = nn.Parameter(_randn(out_channels, resolution, resolution))
        else:
            self.conv0 = SynthesisLayer(in_channels, out_channels, up=2, **kw)
            self.num_conv += 1
        self.conv1 = SynthesisLayer(out_channels, out_channels, **kw)
        self.num_conv += 1
        if is_last or architecture == "skip":
            self.torgb = ToRGBLayer(out_channels, img_channels, w_dim, conv_clamp=conv_clamp)
            self.num_torgb += 1
        if in_channels and architecture == "resnet":
            self.skip = Conv2dLayer(in_channels, out_channels, resample_filter=resample_filter)

    def forward(self, x, img, ws: torch.Tensor, noise_mode: str):
        if self.in_channels == 0:
            # channels_last lets oneDNN run the convolutions without layout conversions
            x = self.const.unsqueeze(0).expand(ws.shape[0], -1, -1, -1).contiguous(memory_format=torch.channels_last)
            x = self.conv1(x, ws[:, 0], noise_mode)
        elif self.architecture == "resnet":
            y = self.skip(x, gain=math.sqrt(0.5))
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode) * math.sqrt(0.5)
            x = y + x
        else:
            x = self.conv0(x, ws[:, 0], noise_mode)
            x = self.conv1(x, ws[:, 1], noise_mode)
        if img is not None:
            img = upsample2d(img, self.resample_filter)
        if self.is_last or self.architecture == "skip":
            y = self.torgb(x, ws[:, self.num_conv])
            img = y if img is None else img + y
        return x, img


class SynthesisNetwork(nn.Module):
    """w+ [n, num_ws, w_dim] -> image, one block per resolution 4, 8, ..., img_resolution."""

    def __init__(self, w_dim: int, img_resolution: int, img_channels: int, channels: dict[int, int],
                 architecture: str, conv_clamp: float | None, use_noise: bool, resample_filter) -> None:
        super().__init__()
        self.block_resolutions = [2 ** i for i in range(2, int(math.log2(img_resolution)) + 1)]
        self.num_ws = 0
        for res in self.block_resolutions:
            block = SynthesisBlock(channels[res // 2] if res > 4 else 0, channels[res], w_dim, res, img_channels,
                                   res == img_resolution, architecture, conv_clamp, use_noise, resample_filter)
            self.num_ws += block.num_conv + (block.num_torgb if res == img_resolution else 0)
            setattr(self, f"b{res}", block)

    def block_slots(self) -> list[tuple[int, int]]:
        """(first slot, slot count) each block reads; neighbours share the torgb / conv0 slot."""
        out, idx = [], 0
        for res in self.block_resolutions:
            b = getattr(self, f"b{res}")
            out.append((idx, b.num_conv + b.num_torgb))
            idx += b.num_conv
        return out

    def forward(self, ws: torch.Tensor, noise_mode: str = "const") -> torch.Tensor:
        x = img = None
        for res, (start, count) in zip(self.block_resolutions, self.block_slots()):
            x, img = getattr(self, f"b{res}")(x, img, ws.narrow(1, start, count), noise_mode)
        return img.contiguous()


# ----- the generator -------------------------------------------------------------------------------
def channels_for(config: dict) -> dict[int, int]:
    """Channels per block resolution: explicit ``channels`` or min(channel_base // res, channel_max)."""
    res = int(config["img_resolution"])
    if config.get("channels"):
        return {int(k): int(v) for k, v in config["channels"].items()}
    return {2 ** i: min(int(config["channel_base"]) // 2 ** i, int(config["channel_max"]))
            for i in range(1, int(math.log2(res)) + 1)}


def _int_key(k):
    return int(k) if isinstance(k, str) and k.isdigit() and len(k) <= 6 else k


def complete_config(config: dict, source: str | None = None) -> dict:
    """Defaults filled in, every field checked (:data:`SPEC`) and normalised to JSON types."""
    cfg = {**DEFAULTS, **{k: v for k, v in config.items() if v is not None or k == "conv_clamp"}}
    cfg = check_config(cfg, SPEC, source, "the StyleGAN2 configuration")
    taps = [x for row in cfg["resample_filter"] for x in (row if isinstance(row, list) else [row])]
    if sum(taps) == 0:
        raise CheckpointError(source, "the StyleGAN2 configuration: field 'resample_filter' sums to zero")
    if cfg["channels"]:
        ch = cfg["channels"]
        if not isinstance(ch, dict) or len(ch) > 16:
            raise CheckpointError(source, "the StyleGAN2 configuration: field 'channels' is not a map of at most "
                                  "16 resolutions to widths")
        cfg["channels"] = {str(check_value("channels key", _int_key(k), PowerOfTwo(2, 8192), source)):
                           check_value(f"channels[{k}]", v, Int(1, MAX_DIM), source) for k, v in ch.items()}
        need = {str(2 ** i) for i in range(2, int(math.log2(cfg["img_resolution"])) + 1)}
        if not need <= set(cfg["channels"]):
            raise CheckpointError(source, f"the StyleGAN2 configuration: field 'channels' lacks resolutions "
                                  f"{sorted(need - set(cfg['channels']), key=int)}")
    return cfg


class StyleGAN2Generator(GANGenerator):
    """NVlabs-compatible StyleGAN2 generator; submodules ``mapping`` and ``synthesis`` as in NVlabs.

    The submodules are registered under the NVlabs names so ``state_dict()`` keys match; the
    contract's ``mapping()`` / ``synthesis()`` methods stay methods (reach the modules through
    ``mapping_net`` / ``synthesis_net``)."""

    arch = "stylegan2"
    code_space = "w"
    synthesis_reads_class = False  # the class enters through the mapping only

    def __init__(self, config: dict) -> None:
        super().__init__()
        cfg = self.config = complete_config(config)
        self.z_dim, self.c_dim, self.w_dim = cfg["z_dim"], cfg["c_dim"], cfg["w_dim"]
        self.resolution, self.img_channels = cfg["img_resolution"], cfg["img_channels"]
        self.class_names = cfg.get("class_names")
        syn = SynthesisNetwork(self.w_dim, self.resolution, self.img_channels, channels_for(cfg),
                               cfg["architecture"], cfg["conv_clamp"], bool(cfg["use_noise"]), cfg["resample_filter"])
        self.num_ws = syn.num_ws
        self._modules["mapping"] = MappingNetwork(self.z_dim, self.c_dim, self.w_dim, self.num_ws,
                                                  cfg["mapping_layers"], cfg["mapping_lr_mul"],
                                                  cfg["embed_features"], cfg["layer_features"])
        self._modules["synthesis"] = syn

    @property
    def mapping_net(self) -> MappingNetwork:
        return self._modules["mapping"]

    @property
    def synthesis_net(self) -> SynthesisNetwork:
        return self._modules["synthesis"]

    # ----- contract ----------------------------------------------------------------------------
    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return self.mapping_net(z, c, truncation_psi, truncation_cutoff)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        return self.synthesis_net(codes, noise_mode)

    def slot_readers(self) -> list[list[str]]:
        """For each slot, the layers (module paths under ``synthesis``) whose affine reads it."""
        out: list[list[str]] = [[] for _ in range(self.num_ws)]
        syn = self.synthesis_net
        for res, (start, _count) in zip(syn.block_resolutions, syn.block_slots()):
            b = getattr(syn, f"b{res}")
            names = (["conv0"] if b.in_channels else []) + ["conv1"] + (["torgb"] if b.num_torgb else [])
            for k, name in enumerate(names):
                out[start + k].append(f"b{res}.{name}")
        return out

    def slot_names(self) -> list[str]:
        return [" + ".join(r) for r in self.slot_readers()]

    def sefa_weights(self, slots: Sequence[int]) -> list[torch.Tensor]:
        """Per slot, the affine (style) weight ``[in_channels, w_dim]`` of the conv reading it.

        As in SeFa's official code: the modulation of the conv layers; a slot read by a conv and a
        torgb (the shared block boundary) gives the conv's; the last slot gives the final torgb's.
        Weights carry their equalized-lr gain so that layers of different width compare fairly."""
        readers = self.slot_readers()
        out = []
        for s in slots:
            if not 0 <= int(s) < self.num_ws:
                raise InputError(f"slot {s} is outside 0..{self.num_ws - 1}")
            names = readers[int(s)]
            conv = [n for n in names if not n.endswith("torgb")]
            layer = self.synthesis_net.get_submodule((conv or names)[0])
            out.append(layer.affine.weight * layer.affine.weight_gain)
        return out

    def activation_layers(self) -> list[str]:
        return [f"synthesis.b{r}" for r in self.synthesis_net.block_resolutions]

    def noise_buffers(self) -> list[str]:
        """``synthesis.b{r}.conv{0,1}.noise_const`` of every layer built with noise (``[r, r]`` each)."""
        return [f"synthesis.{name}.noise_const" for name, m in self.synthesis_net.named_modules()
                if isinstance(m, SynthesisLayer) and m.use_noise]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return getattr(self.synthesis_net, name.split(".", 1)[1])


# ----- building from checkpoints --------------------------------------------------------------------
_NV_KEY = re.compile(r"^(mapping\.(fc\d+|embed)\.(weight|bias)|mapping\.w_avg|synthesis\.b\d+\..+)$")


def is_nvlabs_state(sd: dict) -> bool:
    """A state dict with the NVlabs StyleGAN2 key names (and not StyleGAN3's)."""
    return ("synthesis.b4.const" in sd and "mapping.fc0.weight" in sd
            and not any(k.startswith("synthesis.input.") for k in sd))


def infer_config(sd: dict[str, torch.Tensor]) -> dict:
    """Everything the shapes tell: z/c/w dims, mapping depth, resolution, channels, architecture."""
    blocks = sorted({int(m.group(1)) for k in sd if (m := re.match(r"^synthesis\.b(\d+)\.", k))})
    res = blocks[-1]
    n_fc = len({k.split(".")[1] for k in sd if re.match(r"^mapping\.fc\d+\.weight$", k)})
    w_dim = int(sd["mapping.w_avg"].shape[0]) if "mapping.w_avg" in sd else int(sd[f"mapping.fc{n_fc - 1}.weight"].shape[0])
    c_dim = int(sd["mapping.embed.weight"].shape[1]) if "mapping.embed.weight" in sd else 0
    embed = int(sd["mapping.embed.weight"].shape[0]) if c_dim else 0
    channels = {str(r): int(sd[f"synthesis.b{r}.conv1.weight"].shape[0]) for r in blocks}
    channels["2"] = channels["4"]
    arch = "skip" if f"synthesis.b{blocks[0]}.torgb.weight" in sd else (
        "resnet" if any(".skip.weight" in k for k in sd) else "orig")
    f = sd.get("synthesis.b4.resample_filter")
    return {
        "z_dim": int(sd["mapping.fc0.weight"].shape[1]) - embed, "c_dim": c_dim, "w_dim": w_dim,
        "img_resolution": res, "img_channels": int(sd[f"synthesis.b{res}.torgb.weight"].shape[0]),
        "channels": channels, "mapping_layers": n_fc,
        "embed_features": embed or None,
        "layer_features": int(sd["mapping.fc0.weight"].shape[0]) if n_fc > 1 else None,
        "use_noise": "synthesis.b4.conv1.noise_strength" in sd, "architecture": arch,
        "resample_filter": f.tolist() if f is not None else [1, 3, 3, 1],
    }


def adopt_channel_formula(inferred: dict, declared: dict) -> dict:
    """Replace inferred per-resolution channels by a declared channel_base / channel_max that gives them."""
    if "channel_base" not in declared or "channel_max" not in declared or not inferred.get("channels"):
        return inferred
    trial = {**inferred, "channels": None, "channel_base": declared["channel_base"], "channel_max": declared["channel_max"]}
    formula = channels_for(trial)
    if all(formula.get(int(r)) == c for r, c in inferred["channels"].items() if int(r) >= 4):
        return trial
    return inferred


def config_from_init_kwargs(kw: dict) -> dict:
    """Our config from NVlabs ``Generator`` init kwargs (ADA: nested ``synthesis_kwargs``)."""
    kw = dict(kw)
    syn = kw.pop("synthesis_kwargs", None) or {}
    mk = kw.get("mapping_kwargs") or {}
    if not isinstance(syn, dict) or not isinstance(mk, dict):
        raise InputError("the init kwargs' synthesis_kwargs and mapping_kwargs must be mappings")
    kw = {**syn, **kw}
    if kw.get("activation", "lrelu") != "lrelu" or mk.get("activation", "lrelu") != "lrelu":
        raise InputError("only leaky-ReLU StyleGAN2 generators are supported")
    cfg = {k: kw[k] for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "channel_base",
                              "channel_max", "conv_clamp", "architecture", "use_noise", "resample_filter")
           if k in kw}
    cfg["mapping_layers"] = mk.get("num_layers", 8)
    cfg["mapping_lr_mul"] = mk.get("lr_multiplier", 0.01)
    cfg["embed_features"] = mk.get("embed_features")
    cfg["layer_features"] = mk.get("layer_features")
    return cfg


def declared_config(ckpt: Checkpoint) -> dict:
    """Settings from our metadata, a sidecar ``config.json`` or ``init_kwargs`` in either."""
    out: dict = {}
    meta = load_json(ckpt.metadata["config"], ckpt.path, "the metadata 'config'") if ckpt.metadata.get("config") else None
    for src in (ckpt.sidecar, meta):
        if isinstance(src, dict):
            src = src.get("init_kwargs", src)
            if not isinstance(src, dict):
                raise ckpt.fail("the declared 'init_kwargs' is not a mapping of settings")
            out.update(config_from_init_kwargs(src) if ("mapping_kwargs" in src or "synthesis_kwargs" in src) else src)
    return out


def _state(ckpt: Checkpoint) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(ckpt.obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    return sd if is_nvlabs_state(sd) else None


def detect(ckpt: Checkpoint) -> bool:
    from . import nvlabs, rosinality, tf_pickle

    if nvlabs.is_nvlabs_pickle(ckpt.obj) or tf_pickle.is_tf_pickle(ckpt.obj):
        return True
    return _state(ckpt) is not None or rosinality.rosinality_state(ckpt.obj) is not None


def build(ckpt: Checkpoint) -> GANGenerator:
    from . import nvlabs, rosinality, tf_pickle

    if nvlabs.is_nvlabs_pickle(ckpt.obj):
        return nvlabs.build(ckpt)
    if tf_pickle.is_tf_pickle(ckpt.obj):
        return tf_pickle.build(ckpt)
    sd = _state(ckpt)
    if sd is None:
        return rosinality.build(ckpt)
    cfg = infer_config(sd)
    decl = declared_config(ckpt)
    if "channel_base" in decl or "channel_max" in decl:
        cfg.pop("channels")
    cfg.update(decl)
    return build_checked(ckpt, sd, cfg)


def build_checked(ckpt: Checkpoint, state: dict[str, torch.Tensor], config: dict) -> StyleGAN2Generator:
    """``from_native`` whose errors name the checkpoint file."""
    try:
        return from_native(state, config)
    except (CheckpointError, InputError) as e:
        raise ckpt.fail(getattr(e, "reason", str(e))) from None


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = "stylegan2") -> StyleGAN2Generator:
    """Build with ``config`` and adopt ``state`` (missing, extra or misshaped tensors are errors).

    The module is built without initialising its weights and takes the given tensors over without
    copying, so loading needs about one copy of the weights in memory, not two."""
    config = complete_config(config)
    with uninitialized():
        gen = build_bounded(lambda: StyleGAN2Generator(config), state, what="the StyleGAN2 configuration")
    shapes = {k: tuple(v.shape) for k, v in gen.state_dict().items()}
    bad = [k for k, v in state.items() if k in shapes and tuple(v.shape) != shapes[k]]
    missing, unexpected = sorted(set(shapes) - set(state)), sorted(set(state) - set(shapes))
    if bad or missing or unexpected:
        raise CheckpointError(None, f"the StyleGAN2 weights do not fit the configuration: missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}, wrong shapes {bad[:5]}")
    state = {k: (v.float() if v.is_floating_point() and v.dtype != torch.float32 else v) for k, v in state.items()}
    gen.load_state_dict(state, strict=True, assign=True)
    return gen
