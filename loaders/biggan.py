"""BigGAN-deep in the huggingface ``pytorch-pretrained-biggan`` layout (``pytorch_model.bin`` + ``config.json``).

The network is rebuilt here with the same parameter and buffer names, so an official state dict loads
strictly.  What the numbers depend on, as the reference evaluates them:

- every convolution and linear map is spectrally normalised: the stored ``weight_orig`` is divided by
  ``sigma = u . (W v)`` with the stored ``weight_u`` / ``weight_v`` (eval mode: no power iteration);
- the class enters through ``embeddings`` (a bias-free linear map of the class vector to ``z_dim``
  values, so a weighted mix of classes embeds to the same mix of embeddings; ``class_embed_dim`` is
  recorded but, as in the reference, unused); the condition vector is ``[z, embedding]``;
- batch norms use precomputed statistics for ``n_stats`` truncation values on the grid ``k / (n_stats - 1)``;
  between grid points the reference blends them with the fractional part weighting the *lower* entry,
  which is reproduced as is so images match it at every truncation;
- the image is ``tanh`` of the first three channels of ``conv_to_rgb``.

Layer-wise injection (as GANSpace does for BigGAN): slot 0 is the z that feeds the first projection
``gen_z``, slot k is the z in the condition vector of the k-th GenBlock.  Without edits every slot
holds the same ``truncation * z``.
"""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..errors import CheckpointError, InputError
from .base import GANGenerator, check_seeds
from .config_check import MAX_DIM, AnyOf, Bool, Float, Int, Numbers, build_bounded, check_config
from .files import Checkpoint, state_dict_of, strip_prefix

ARCHS = ("biggan-deep",)
WRAPPER_KEYS = ("state_dict", "model", "generator")
CLASS_NAMES_FILE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "data",
                                "imagenet_classes.txt")
Z_BOUND = 2.0  # sample_z draws a standard normal truncated to [-2, 2], like truncated_noise_sample

# The reference's defaults (its 128 px model): keys a config.json leaves out take these values.
DEFAULTS = {"output_dim": 128, "z_dim": 128, "class_embed_dim": 128, "channel_width": 128,
            "num_classes": 1000, "attention_layer_position": 8, "eps": 1e-4, "n_stats": 51}
CONFIG_KEYS = set(DEFAULTS) | {"layers"}
SPEC = {
    "output_dim": Int(4, 8192), "z_dim": Int(1, MAX_DIM), "class_embed_dim": Int(0, MAX_DIM),
    "channel_width": Int(1, 4096), "num_classes": Int(1, 100_000), "attention_layer_position": Int(-1, 64),
    "eps": Float(0, 1, lo_open=True), "n_stats": Int(2, 10_000),
    "layers": Numbers(Numbers(AnyOf((Int(0, 64), Bool())), max_len=3, min_len=3), max_len=64),
}
"""What each config.json setting may be (a layer is [upsample, in, out], channel multiples)."""


def _deep_layers(channels: Sequence[int]) -> list[list]:
    """BigGAN-deep block plan: two blocks per resolution, the second one upsamples and narrows."""
    plan = []
    for c_in, c_out in zip(channels[:-1], channels[1:]):
        plan += [[False, c_in, c_in], [True, c_in, c_out]]
    return plan


# The three released models (channel multipliers per resolution, 8 px upward; attention at 64 px).
OFFICIAL = {
    "biggan-deep-128": {**DEFAULTS, "output_dim": 128, "layers": _deep_layers([16, 16, 8, 4, 2, 1])},
    "biggan-deep-256": {**DEFAULTS, "output_dim": 256, "layers": _deep_layers([16, 16, 8, 8, 4, 2, 1])},
    "biggan-deep-512": {**DEFAULTS, "output_dim": 512, "layers": _deep_layers([16, 16, 8, 8, 4, 2, 1, 1])},
}


# ----- building blocks ----------------------------------------------------------------------------
class SpectralNormed(nn.Module):
    """A weight stored as ``weight_orig`` with power-iteration vectors ``weight_u`` [out], ``weight_v`` [in]."""

    def _init_weight(self, shape: tuple[int, ...], bias: bool) -> None:
        self.weight_orig = nn.Parameter(torch.empty(shape))
        self.register_buffer("weight_u", torch.ones(shape[0]))
        self.register_buffer("weight_v", torch.ones(math.prod(shape[1:])))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None

    @property
    def weight(self) -> torch.Tensor:
        """The effective weight ``weight_orig / sigma`` (sigma from the stored u and v)."""
        w = self.weight_orig
        sigma = torch.dot(self.weight_u, torch.mv(w.flatten(1), self.weight_v))
        return w / sigma


class SNLinear(SpectralNormed):
    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self._init_weight((out_features, in_features), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight, self.bias)


class SNConv2d(SpectralNormed):
    def __init__(self, in_channels: int, out_channels: int, kernel: int, bias: bool = True) -> None:
        super().__init__()
        self.padding = kernel // 2
        self._init_weight((out_channels, in_channels, kernel, kernel), bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.weight, self.bias, padding=self.padding)


def stats_at(means: torch.Tensor, variances: torch.Tensor, truncation: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Batch-norm statistics for a truncation, read off the ``[n_stats, C]`` tables the reference's way."""
    step = 1.0 / (means.shape[0] - 1)
    frac, whole = math.modf(truncation / step)
    i = int(whole)
    if frac == 0.0 or i + 1 >= means.shape[0]:  # on the grid (or float noise just past its end)
        return means[i], variances[i]
    # the reference weights the lower grid entry by the fractional part (kept for identical images)
    return (means[i] * frac + means[i + 1] * (1 - frac), variances[i] * frac + variances[i + 1] * (1 - frac))


class ClassBatchNorm(nn.Module):
    """Batch norm with truncation-indexed statistics; gain ``1 + scale(cond)`` and bias ``offset(cond)``."""

    def __init__(self, channels: int, cond_dim: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.scale = SNLinear(cond_dim, channels, bias=False)
        self.offset = SNLinear(cond_dim, channels, bias=False)

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        mean, var = stats_at(self.running_means, self.running_vars, truncation)
        # (x - mean) / sqrt(var + eps) * gain + shift, folded into one multiply-add over the activations
        gain = (1 + self.scale(cond)) * torch.rsqrt(var + self.eps)  # [n, C]
        shift = self.offset(cond) - mean * gain
        return torch.addcmul(shift[:, :, None, None], x, gain[:, :, None, None])


class PlainBatchNorm(nn.Module):
    """The last batch norm: learned affine, truncation-indexed statistics, no condition."""

    def __init__(self, channels: int, n_stats: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.register_buffer("running_means", torch.zeros(n_stats, channels))
        self.register_buffer("running_vars", torch.ones(n_stats, channels))
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, truncation: float) -> torch.Tensor:
        mean, var = stats_at(self.running_means, self.running_vars, truncation)
        return F.batch_norm(x, mean, var, self.weight, self.bias, training=False, momentum=0.0, eps=self.eps)


class GenBlock(nn.Module):
    """Bottleneck residual block: (BN, ReLU, conv) x4 with 1x1 / 3x3 / 3x3 / 1x1 convs, optional 2x upsampling.

    The skip path keeps the first half of the channels when the block narrows."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, upsample: bool, n_stats: int, eps: float) -> None:
        super().__init__()
        mid = c_in // 4
        self.upsample = upsample
        self.bn_0 = ClassBatchNorm(c_in, cond_dim, n_stats, eps)
        self.conv_0 = SNConv2d(c_in, mid, 1)
        self.bn_1 = ClassBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_1 = SNConv2d(mid, mid, 3)
        self.bn_2 = ClassBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_2 = SNConv2d(mid, mid, 3)
        self.bn_3 = ClassBatchNorm(mid, cond_dim, n_stats, eps)
        self.conv_3 = SNConv2d(mid, c_out, 1)

    def norms(self) -> list[ClassBatchNorm]:
        return [self.bn_0, self.bn_1, self.bn_2, self.bn_3]

    def forward(self, x: torch.Tensor, cond: torch.Tensor, truncation: float) -> torch.Tensor:
        h = self.conv_0(F.relu(self.bn_0(x, cond, truncation)))
        h = F.relu(self.bn_1(h, cond, truncation))
        if self.upsample:
            h = F.interpolate(h, scale_factor=2, mode="nearest")
        h = self.conv_1(h)
        h = self.conv_2(F.relu(self.bn_2(h, cond, truncation)))
        h = self.conv_3(F.relu(self.bn_3(h, cond, truncation)))
        skip = x[:, : h.shape[1]] if h.shape[1] < x.shape[1] else x
        if self.upsample:
            skip = F.interpolate(skip, scale_factor=2, mode="nearest")
        return h + skip


def attend(x: torch.Tensor, theta: nn.Module, phi: nn.Module, g: nn.Module, o: nn.Module,
           gamma: torch.Tensor) -> torch.Tensor:
    """SAGAN attention as both BigGAN codes compute it: queries ``theta(x)`` at full resolution, keys
    ``phi(x)`` and values ``g(x)`` max-pooled 2x, output ``o`` back to the input width, gated by ``gamma``."""
    h, w = x.shape[-2:]
    query = rearrange(theta(x), "n c h w -> n (h w) c")
    key = rearrange(F.max_pool2d(phi(x), 2), "n c h w -> n c (h w)")
    value = rearrange(F.max_pool2d(g(x), 2), "n c h w -> n c (h w)")
    attn = torch.softmax(torch.bmm(query, key), dim=-1)  # [n, pixels, pooled pixels]
    out = torch.bmm(value, attn.transpose(1, 2))  # [n, c/2, pixels]
    return x + gamma * o(rearrange(out, "n c (h w) -> n c h w", h=h, w=w))


class SelfAttention(nn.Module):
    """SAGAN attention: queries at full resolution, keys and values max-pooled 2x, a learned gate ``gamma``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.snconv1x1_theta = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_phi = SNConv2d(channels, channels // 8, 1, bias=False)
        self.snconv1x1_g = SNConv2d(channels, channels // 2, 1, bias=False)
        self.snconv1x1_o_conv = SNConv2d(channels // 2, channels, 1, bias=False)
        self.gamma = nn.Parameter(torch.zeros(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return attend(x, self.snconv1x1_theta, self.snconv1x1_phi, self.snconv1x1_g, self.snconv1x1_o_conv, self.gamma)


class DeepGenerator(nn.Module):
    """``gen_z`` projection to 4x4, GenBlocks (attention inserted before block ``attention_layer_position``),
    final BN, ReLU, ``conv_to_rgb``, first three channels, tanh."""

    def __init__(self, config: dict) -> None:
        super().__init__()
        ch, z_dim = config["channel_width"], config["z_dim"]
        self.ch = ch
        cond_dim = 2 * z_dim
        n_stats, eps = config["n_stats"], config["eps"]
        self.gen_z = SNLinear(cond_dim, 4 * 4 * 16 * ch)
        layers: list[nn.Module] = []
        for i, (up, c_in, c_out) in enumerate(config["layers"]):
            if i == config["attention_layer_position"]:
                layers.append(SelfAttention(ch * c_in))
            layers.append(GenBlock(ch * c_in, ch * c_out, cond_dim, bool(up), n_stats, eps))
        self.layers = nn.ModuleList(layers)
        self.bn = PlainBatchNorm(ch, n_stats, eps)
        self.conv_to_rgb = SNConv2d(ch, ch, 3)

    def blocks(self) -> list[GenBlock]:
        return [m for m in self.layers if isinstance(m, GenBlock)]

    def forward(self, conds: Sequence[torch.Tensor], truncation: float) -> torch.Tensor:
        """``conds[0]`` feeds ``gen_z``, ``conds[k]`` the k-th GenBlock."""
        x = rearrange(self.gen_z(conds[0]), "n (h w c) -> n c h w", h=4, w=4)
        k = 1
        for layer in self.layers:
            if isinstance(layer, GenBlock):
                x = layer(x, conds[k], truncation)
                k += 1
            else:
                x = layer(x)
        x = self.conv_to_rgb(F.relu(self.bn(x, truncation)))
        return torch.tanh(x[:, :3])


# ----- configuration ------------------------------------------------------------------------------
def _fail(path: str | None, reason: str) -> CheckpointError:
    return CheckpointError(path, f"{reason}; put the config.json that came with these weights beside them")


def normalize_config(raw: dict, path: str | None = None) -> dict:
    """A config.json dict with the reference's defaults filled in, checked for a buildable network."""
    cfg = {**DEFAULTS, **{k: v for k, v in raw.items() if k in CONFIG_KEYS}}
    if "layers" not in raw:
        raise _fail(path, "the BigGAN config has no 'layers' list")
    cfg = check_config(cfg, SPEC, path, "the BigGAN config")
    raw = {**raw, "layers": cfg["layers"]}
    try:
        layers = [[bool(up), int(a), int(b)] for up, a, b in raw["layers"]]
        for key in ("output_dim", "z_dim", "class_embed_dim", "channel_width", "num_classes", "n_stats",
                    "attention_layer_position"):
            cfg[key] = int(cfg[key])
        cfg["eps"] = float(cfg["eps"])
    except (TypeError, ValueError):
        raise _fail(path, "the BigGAN config is malformed (layers must be [upsample, in, out] triples, "
                    "sizes integers)") from None
    cfg["layers"] = layers
    if not layers or min(cfg["z_dim"], cfg["channel_width"], cfg["num_classes"]) < 1 or cfg["n_stats"] < 2:
        raise _fail(path, "the BigGAN config has empty layers or non-positive sizes")
    if layers[0][1] != 16 or layers[-1][2] != 1:
        raise _fail(path, "the BigGAN config's layers must start at 16 and end at 1 channel multiples")
    for (_, _, out), (_, nxt, _) in zip(layers[:-1], layers[1:]):
        if out != nxt:
            raise _fail(path, f"the BigGAN config's layers do not chain ({out} channels into a block expecting {nxt})")
    if any(b not in (a, a // 2) or a * cfg["channel_width"] < 4 for _, a, b in layers):
        raise _fail(path, "every BigGAN block must keep or halve its channels")
    pos = cfg["attention_layer_position"]
    if 0 <= pos < len(layers) and layers[pos][1] * cfg["channel_width"] < 8:
        raise _fail(path, "the BigGAN config puts attention on fewer than 8 channels")
    cfg["output_dim"] = 4 * 2 ** sum(up for up, _, _ in layers)
    return cfg


def expected_shapes(config: dict) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the state dict a network with this config has (built on the meta device)."""
    with torch.device("meta"):
        net = BigGANDeep(config, with_names=False)
    return {k: tuple(v.shape) for k, v in net.state_dict().items()}


def _shape_problems(sd: dict[str, torch.Tensor], config: dict) -> list[str]:
    want = expected_shapes(config)
    problems = [f"missing {k}" for k in want if k not in sd]
    problems += [f"unexpected {k}" for k in sd if k not in want]
    problems += [f"{k} is {list(sd[k].shape)}, the config gives {list(s)}"
                 for k, s in want.items() if k in sd and tuple(sd[k].shape) != s]
    return problems


def official_config(sd: dict[str, torch.Tensor]) -> tuple[str, dict] | None:
    """The released model whose shapes the state dict has, if any."""
    for name, cfg in OFFICIAL.items():
        if not _shape_problems(sd, cfg):
            return name, dict(cfg)
    return None


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names in index order (data/imagenet_classes.txt)."""
    with open(CLASS_NAMES_FILE, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


# ----- the generator ------------------------------------------------------------------------------
class BigGANBase(GANGenerator):
    """What both BigGAN layouts share: z codes repeated per injection slot, the class read in synthesis,
    truncated-normal seeds, truncation in (0, 1] and ImageNet class names for 1000-class models."""

    code_space = "z"
    truncation_note = "its batch-norm statistics exist only for that range"
    z_bound = Z_BOUND

    def _names(self, config: dict) -> list[str] | None:
        names = config.get("class_names")
        if isinstance(names, list) and len(names) == self.c_dim:
            return [str(n) for n in names]
        if self.c_dim == 1000 and os.path.isfile(CLASS_NAMES_FILE):
            return imagenet_class_names()
        return None

    # ----- latents ----------------------------------------------------------------------------
    def sample_z(self, seeds: Sequence[int]) -> torch.Tensor:
        """z from seeds as ``truncated_noise_sample(1, z_dim, 1.0, seed)`` draws it: a standard normal
        truncated to [-2, 2] by inverting the CDF of ``RandomState(seed).uniform(size=z_dim)``.

        Computed in float64 with torch's ``ndtr`` / ``ndtri`` (no scipy), then rounded to float32 as the
        reference does; it agrees with scipy's ``truncnorm`` up to float64 rounding."""
        seeds = check_seeds(seeds)
        u = np.stack([np.random.RandomState(s).uniform(size=self.z_dim) for s in seeds]) if seeds \
            else np.zeros((0, self.z_dim))
        u = torch.from_numpy(u).to(torch.float64)
        bound = torch.tensor(Z_BOUND, dtype=torch.float64)
        lo, hi = torch.special.ndtr(-bound), torch.special.ndtr(bound)
        z = torch.special.ndtri(lo + u * (hi - lo))
        return z.to(torch.float32).to(self.device)

    def _check_truncation(self, truncation_psi: float) -> float:
        t = float(truncation_psi)
        if not 0.0 < t <= 1.0:
            raise InputError(f"BigGAN truncation must be in (0, 1], got {t} ({self.truncation_note})")
        return t

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """``truncation_psi * z`` in every slot.  The class is not needed here (synthesis reads it), so
        ``c`` may be omitted; ``truncation_cutoff`` has no meaning for BigGAN and is ignored."""
        if c is not None:
            return super().mapping(z, c, truncation_psi, truncation_cutoff)
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InputError(f"z must be [n, {self.z_dim}], got {list(z.shape)}")
        return self._mapping(z, None, float(truncation_psi), truncation_cutoff)

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        t = self._check_truncation(truncation_psi)
        return (t * z).unsqueeze(1).repeat(1, self.num_ws, 1)

    def z_to_codes(self, z: torch.Tensor) -> torch.Tensor:
        return self.mapping(z)


class BigGANDeep(BigGANBase):
    """BigGAN-deep: z plus a class vector -> image; codes are z per injection slot (gen_z, then each block)."""

    arch = "biggan-deep"

    def __init__(self, config: dict, with_names: bool = True) -> None:
        super().__init__()
        names = config.get("class_names")
        config = normalize_config(config)
        if isinstance(names, list):
            config["class_names"] = [str(n) for n in names]
        self.config = config
        self.z_dim = config["z_dim"]
        self.w_dim = self.z_dim
        self.c_dim = config["num_classes"]
        self.embeddings = nn.Linear(self.c_dim, self.z_dim, bias=False)
        self.generator = DeepGenerator(config)
        self.num_ws = len(self.generator.blocks()) + 1
        self.resolution = config["output_dim"]
        if with_names:
            self.class_names = self._names(config)

    # ----- facts ------------------------------------------------------------------------------
    def slot_names(self) -> list[str]:
        names = ["gen_z projection (4 px)"]
        res = 4
        for k, (up, _, _) in enumerate(self.config["layers"]):
            res *= 2 if up else 1
            names.append(f"block {k} ({res} px)")
        return names

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        t = self._check_truncation(truncation_psi)
        dtype = self.embeddings.weight.dtype
        codes, c = codes.to(dtype), c.to(dtype)
        embed = self.embeddings(c)
        conds = [torch.cat([codes[:, k], embed], dim=1) for k in range(self.num_ws)]
        return self.generator(conds, t)

    # ----- direction finding ------------------------------------------------------------------
    def sefa_weights(self, slots: Sequence[int]) -> list[torch.Tensor]:
        """Slot 0: the z columns of ``gen_z``; slot k: the z columns of the gain and bias maps of every
        conditional batch norm in block k-1, stacked ``[8 * ..., z_dim]`` (the maps that read that slot)."""
        blocks = self.generator.blocks()
        out = []
        with torch.no_grad():
            for s in slots:
                s = int(s)
                if not 0 <= s < self.num_ws:
                    raise InputError(f"slot {s} is out of range: BigGAN has slots 0..{self.num_ws - 1}")
                if s == 0:
                    out.append(self.generator.gen_z.weight[:, : self.z_dim].detach())
                    continue
                maps = [m.weight[:, : self.z_dim] for bn in blocks[s - 1].norms() for m in (bn.scale, bn.offset)]
                out.append(torch.cat(maps, dim=0).detach())
        return out

    def activation_layers(self) -> list[str]:
        return ["generator.gen_z"] + [f"generator.layers.{i}" for i in range(len(self.generator.layers))]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.get_submodule(name)


# ----- files --------------------------------------------------------------------------------------
def _biggan_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    return sd if "embeddings.weight" in sd and "generator.gen_z.weight_orig" in sd else None


def detect(ckpt: Checkpoint) -> bool:
    return _biggan_state(ckpt.obj) is not None


def _declared_config(ckpt: Checkpoint) -> dict | None:
    """A BigGAN config.json beside the weights (ignored if the sidecar is about something else)."""
    side = ckpt.sidecar
    if isinstance(side, dict) and CONFIG_KEYS & set(side):
        return side
    return None


def build(ckpt: Checkpoint) -> BigGANDeep:
    sd = _biggan_state(ckpt.obj)
    declared = _declared_config(ckpt)
    if declared is not None:
        config = normalize_config(declared, ckpt.path)
        problems = _shape_problems(sd, config)
        if problems:
            raise _fail(ckpt.path, "the weights do not match the BigGAN config beside them ("
                        + "; ".join(problems[:3]) + (f"; {len(problems) - 3} more" if len(problems) > 3 else "") + ")")
        if isinstance(declared.get("class_names"), list):
            config["class_names"] = [str(n) for n in declared["class_names"]]
    else:
        found = official_config(sd)
        if found is None:
            raise _fail(ckpt.path, "a BigGAN-deep state dict whose shapes match none of the released "
                        f"models ({', '.join(OFFICIAL)}) and no config.json was found")
        config = found[1]
    return from_native(sd, config, "biggan-deep")


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = "biggan-deep") -> BigGANDeep:
    gen = build_bounded(lambda: BigGANDeep(config), state, what="the BigGAN configuration")
    gen.load_state_dict(state, strict=True)
    return gen
