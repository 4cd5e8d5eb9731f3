"""BigGAN (not -deep) in the layout of ajbrock/BigGAN-PyTorch: the ``G_ema.pth`` Voynov & Babenko use.

The network is rebuilt with the reference's parameter and buffer names, so its state dict loads
strictly.  What the numbers depend on, as the reference evaluates them in eval mode:

- spectral norm: every convolution and linear map divides its ``weight`` by a singular value
  estimated with one power iteration from the stored ``u0`` (``v = normalize(u0 W)``,
  ``u = normalize(v Wᵀ)``, ``sigma = v Wᵀ uᵀ``, ``normalize`` with the SN epsilon); ``u0`` is not
  updated.  Further ``u1``, ``sv*`` buffers are kept for a strict load but do not change the output;
- class-conditional batch norm: ``stored_mean`` / ``stored_var`` statistics, gain ``1 + gain(cond)``
  and shift ``bias(cond)`` by bias-free SN linear maps of ``cond = [shared embedding, z chunk]``;
- hierarchical z: z splits into equal chunks, one for the first linear map (to a ``bottom_width``
  square) and one per residual block; a block is BN-ReLU-up-conv-BN-ReLU-conv plus an upsampled
  1x1 shortcut; attention (SAGAN) follows the blocks that have it; then BN-ReLU-conv-tanh.

Everything structural comes from the tensor shapes: widths, block count (the resolution), attention
positions, chunk size (the z columns of a batch-norm gain), shared embedding width, classes.  A
``config.json`` beside the file (the reference's own keys: ``G_ch``, ``dim_z``, ``resolution``,
``G_attn``, ``n_classes``, ``shared_dim``, ``hier``, ``BN_eps``, ``SN_eps``, ``G_nl``, ...) supplies
the epsilons and is checked against the shapes: a disagreement is an error naming the field.

Codes: one slot per place z enters (the linear map, then each block), each slot holding a full copy
of z ``[n, num_slots, z_dim]`` of which the slot reads only its own chunk.  So every slot has the
width of z (120 for the ImageNet model, the width of the official Voynov deformators), an edit on
all slots is exactly an edit of z, and an edit on slot k moves only the chunk that block k reads.
Without edits every slot holds the same ``truncation * z``.
"""

from __future__ import annotations

import math
import re
from typing import Sequence

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from ..errors import CheckpointError, InputError
from .biggan import BigGANBase, attend
from .config_check import AnyOf, Bool, Choice, Float, Int, Numbers, Text, Texts, build_bounded
from .config_check import check_config as checked
from .files import Checkpoint, check_state_shapes, state_dict_of, strip_prefix

ARCH = "biggan-brock"
ARCHS = (ARCH,)
WRAPPER_KEYS = ("G_ema", "G", "generator", "state_dict")
DEFAULT_BN_EPS = 1e-5
DEFAULT_SN_EPS = 1e-6  # the released ImageNet model's training setting (the class default is 1e-12)
RELU_NAMES = ("relu", "inplace_relu", "ir")
MAX_BLOCKS = 10
MAX_WIDTH = 1 << 16
MAX_CLASSES = 1 << 20
MAX_Z = 1 << 16
MAX_BOTTOM = 64
MAX_SVS = 16
# channel multipliers of the reference architectures, first block's input then every block's output
ARCH_MULTIPLIERS = {32: [4, 4, 4, 4], 64: [16, 16, 8, 4, 2], 128: [16, 16, 8, 4, 2, 1],
                    256: [16, 16, 8, 8, 4, 2, 1], 512: [16, 16, 8, 8, 4, 2, 1, 1]}
_BLOCK = re.compile(r"^blocks\.(\d+)\.0\.conv1\.weight$")


# ----- layers -------------------------------------------------------------------------------------
class SpectralNorm(nn.Module):
    """A weight with power-iteration buffers ``u0..`` ``[1, out]`` and logged ``sv0..`` ``[1]``."""

    def _init_weight(self, shape: tuple[int, ...], bias: bool, num_svs: int, eps: float) -> None:
        self.weight = nn.Parameter(torch.empty(shape))
        self.bias = nn.Parameter(torch.zeros(shape[0])) if bias else None
        self.eps = eps
        for i in range(num_svs):
            self.register_buffer(f"u{i}", torch.zeros(1, shape[0]))
            self.register_buffer(f"sv{i}", torch.ones(1))

    def normalized_weight(self) -> torch.Tensor:
        """``weight / sigma`` with sigma from one power-iteration step from the stored ``u0`` (not updated)."""
        w = self.weight.flatten(1)
        frozen = w.detach()  # the reference's singular vectors are constants of the step
        v = F.normalize(self.u0 @ frozen, eps=self.eps)
        u = F.normalize(v @ frozen.T, eps=self.eps)
        sigma = (v @ w.T @ u.T).squeeze()
        return self.weight / sigma


class SNLinear(SpectralNorm):
    def __init__(self, fan_in: int, fan_out: int, bias: bool, num_svs: int, eps: float) -> None:
        super().__init__()
        self._init_weight((fan_out, fan_in), bias, num_svs, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.normalized_weight(), self.bias)


class SNConv2d(SpectralNorm):
    def __init__(self, c_in: int, c_out: int, kernel: int, bias: bool, num_svs: int, eps: float) -> None:
        super().__init__()
        self.padding = kernel // 2
        self._init_weight((c_out, c_in, kernel, kernel), bias, num_svs, eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, self.normalized_weight(), self.bias, padding=self.padding)


class ClassBatchNorm(nn.Module):
    """Stored-statistics batch norm with gain ``1 + gain(cond)`` and shift ``bias(cond)``."""

    def __init__(self, channels: int, cond_dim: int, num_svs: int, bn_eps: float, sn_eps: float) -> None:
        super().__init__()
        self.eps = bn_eps
        self.gain = SNLinear(cond_dim, channels, False, num_svs, sn_eps)
        self.bias = SNLinear(cond_dim, channels, False, num_svs, sn_eps)
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        x = F.batch_norm(x, self.stored_mean, self.stored_var, training=False, eps=self.eps)
        return x * (1 + self.gain(cond))[:, :, None, None] + self.bias(cond)[:, :, None, None]


class OutputBatchNorm(nn.Module):
    """The unconditional batch norm before the image convolution (learned ``gain`` / ``bias``)."""

    def __init__(self, channels: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.gain = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))
        self.register_buffer("stored_mean", torch.zeros(channels))
        self.register_buffer("stored_var", torch.ones(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.stored_mean, self.stored_var, self.gain, self.bias, training=False, eps=self.eps)


class GBlock(nn.Module):
    """BN-ReLU, 2x nearest upsample, 3x3 conv, BN-ReLU, 3x3 conv; shortcut: upsample, 1x1 conv."""

    def __init__(self, c_in: int, c_out: int, cond_dim: int, num_svs: int, bn_eps: float, sn_eps: float) -> None:
        super().__init__()
        self.conv1 = SNConv2d(c_in, c_out, 3, True, num_svs, sn_eps)
        self.conv2 = SNConv2d(c_out, c_out, 3, True, num_svs, sn_eps)
        self.conv_sc = SNConv2d(c_in, c_out, 1, True, num_svs, sn_eps)
        self.bn1 = ClassBatchNorm(c_in, cond_dim, num_svs, bn_eps, sn_eps)
        self.bn2 = ClassBatchNorm(c_out, cond_dim, num_svs, bn_eps, sn_eps)

    def norms(self) -> list[ClassBatchNorm]:
        return [self.bn1, self.bn2]

    def forward(self, x: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.interpolate(F.relu(self.bn1(x, cond)), scale_factor=2, mode="nearest")
        h = self.conv2(F.relu(self.bn2(self.conv1(h), cond)))
        return h + self.conv_sc(F.interpolate(x, scale_factor=2, mode="nearest"))


class Attention(nn.Module):
    """SAGAN self-attention with the reference's names (``theta``, ``phi``, ``g``, ``o``, ``gamma``)."""

    def __init__(self, channels: int, num_svs: int, sn_eps: float) -> None:
        super().__init__()
        self.theta = SNConv2d(channels, channels // 8, 1, False, num_svs, sn_eps)
        self.phi = SNConv2d(channels, channels // 8, 1, False, num_svs, sn_eps)
        self.g = SNConv2d(channels, channels // 2, 1, False, num_svs, sn_eps)
        self.o = SNConv2d(channels // 2, channels, 1, False, num_svs, sn_eps)
        self.gamma = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return attend(x, self.theta, self.phi, self.g, self.o, self.gamma)


class ClassEmbedding(nn.Module):
    """``shared.weight`` [classes, dim]: a class vector (one-hot or a mix) embeds to the same mix of rows."""

    def __init__(self, classes: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(classes, dim))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        return c @ self.weight


# ----- configuration ------------------------------------------------------------------------------
SPEC = {
    "channels": Numbers(Int(1, MAX_WIDTH), max_len=MAX_BLOCKS + 1, min_len=2),
    "attention": Numbers(Int(0, MAX_BLOCKS - 1), max_len=MAX_BLOCKS, min_len=0),
    "bottom_width": Int(1, MAX_BOTTOM), "z_chunk": Int(0, MAX_Z), "z_dim": Int(1, MAX_Z),
    "shared_dim": Int(1, MAX_WIDTH), "n_classes": Int(1, MAX_CLASSES), "num_svs": Int(1, MAX_SVS),
    "image_channels": Int(1, 4), "bn_eps": Float(0, 1, lo_open=True), "sn_eps": Float(0, 1, lo_open=True),
    "class_names": Texts(MAX_CLASSES),
}
"""What each setting of our BigGAN config may be (from the shapes, or a converted file's metadata)."""

DECLARED_SPEC = {
    "G_ch": Int(1, MAX_WIDTH), "dim_z": Int(1, MAX_Z), "resolution": Int(1, 8192), "n_classes": Int(1, MAX_CLASSES),
    "shared_dim": Int(0, MAX_WIDTH), "num_G_SVs": Int(1, MAX_SVS), "num_G_SV_itrs": Int(1, 1000),
    "bottom_width": Int(1, MAX_BOTTOM), "BN_eps": Float(0, 1, lo_open=True), "SN_eps": Float(0, 1, lo_open=True),
    "hier": Bool(), "G_shared": Bool(), "mybn": Bool(), "cross_replica": Bool(), "G_nl": Choice(RELU_NAMES),
    "norm_style": Choice(("bn",)), "G_attn": AnyOf((Int(0, 8192), Text(100))),
    "class_names": Texts(MAX_CLASSES),
}
"""What each BigGAN-PyTorch config.json field we read may be (the reference's own names)."""


def check_config(config: dict, path: str | None = None) -> dict:
    """Our config (from shapes or converted metadata) with every value checked before anything is built."""
    where = "the BigGAN configuration"
    cfg = checked(config, SPEC, source=path, where=where, required=[k for k in SPEC if k != "class_names"])

    def fail(field: str, why: str) -> CheckpointError:
        return CheckpointError(path, f"{where}: field '{field}' {why}")

    channels, blocks = cfg["channels"], len(cfg["channels"]) - 1
    if any(a >= blocks for a in cfg["attention"]):
        raise fail("attention", f"must list block indices in 0..{blocks - 1}")
    if any(channels[a + 1] < 8 for a in cfg["attention"]):
        raise fail("attention", "sits on a block with fewer than 8 channels")
    out = {k: cfg[k] for k in SPEC if k not in ("class_names", "attention")}
    out["attention"] = sorted(set(cfg["attention"]))
    if out["z_chunk"] and out["z_dim"] != out["z_chunk"] * (blocks + 1):
        raise fail("z_dim", f"is {out['z_dim']}, but {blocks + 1} chunks of {out['z_chunk']} make {out['z_chunk'] * (blocks + 1)}")
    if out["bottom_width"] * 2**blocks > 4096:
        raise fail("channels", f"give {blocks} upsampling blocks from {out['bottom_width']} px, beyond 4096 px")
    names = cfg.get("class_names")
    if isinstance(names, list) and len(names) == out["n_classes"]:
        out["class_names"] = names
    return out


def infer_config(sd: dict[str, torch.Tensor], path: str | None = None) -> dict:
    """Everything the shapes tell, checked (a shape that cannot be is an error, nothing is built)."""

    def shape(key: str, ndim: int) -> tuple[int, ...]:
        t = sd.get(key)
        if not isinstance(t, torch.Tensor) or t.ndim != ndim:
            raise CheckpointError(path, f"a BigGAN state dict needs '{key}' with {ndim} dimensions")
        return tuple(int(s) for s in t.shape)

    idx = sorted(int(m.group(1)) for k in sd if (m := _BLOCK.match(k)))
    if not idx or idx != list(range(len(idx))) or len(idx) > MAX_BLOCKS:
        raise CheckpointError(path, f"the BigGAN blocks are numbered {idx[:12]}, expected 0..n-1 with n <= {MAX_BLOCKS}")
    n_classes, shared_dim = shape("shared.weight", 2)
    lin_out, first_z = shape("linear.weight", 2)
    channels = [shape("blocks.0.0.conv1.weight", 4)[1]] + [shape(f"blocks.{i}.0.conv1.weight", 4)[0] for i in idx]
    cond = shape("blocks.0.0.bn1.gain.weight", 2)[1]
    chunk = cond - shared_dim
    if chunk < 0:
        raise CheckpointError(path, f"the batch-norm gains read {cond} values, fewer than the {shared_dim}-wide class embedding")
    if chunk and chunk != first_z:
        raise CheckpointError(path, f"the z chunk of the linear map ({first_z}) and of the blocks ({chunk}) differ")
    bottom = math.isqrt(lin_out // channels[0]) if channels[0] > 0 else 0
    if channels[0] <= 0 or bottom * bottom * channels[0] != lin_out:
        raise CheckpointError(path, f"the linear map's {lin_out} outputs are not {channels[0]} channels on a square")
    svs = len({k for k in sd if re.fullmatch(r"linear\.u\d+", k)})
    config = {"channels": channels, "attention": [i for i in idx if f"blocks.{i}.1.gamma" in sd],
              "bottom_width": bottom, "z_chunk": chunk, "z_dim": chunk * (len(idx) + 1) if chunk else first_z,
              "shared_dim": shared_dim, "n_classes": n_classes, "num_svs": svs,
              "image_channels": shape("output_layer.2.weight", 4)[0], "bn_eps": DEFAULT_BN_EPS, "sn_eps": DEFAULT_SN_EPS}
    return check_config(config, path)


def apply_declared(config: dict, declared: dict, path: str | None = None) -> dict:
    """Overlay a BigGAN-PyTorch config.json: epsilons and class names are taken, structure must agree.

    Every field read is checked first (:data:`DECLARED_SPEC`), naming the field; fields we do not
    read (training settings) are left alone."""
    where = "the config.json beside it"
    declared = checked(declared, DECLARED_SPEC, source=path, where=where)

    def fail(field: str, why: str) -> CheckpointError:
        return CheckpointError(path, f"{where}: '{field}' {why}")

    out = dict(config)
    for field, key in (("BN_eps", "bn_eps"), ("SN_eps", "sn_eps")):
        if field in declared:
            out[key] = declared[field]
    if declared.get("G_shared", True) is not True:
        raise fail("G_shared", "is off; only generators with a shared class embedding are supported")
    if declared.get("mybn", False) or declared.get("cross_replica", False):
        raise fail("mybn", "asks for another normalisation than the stored-statistics batch norm")
    blocks = len(config["channels"]) - 1
    resolution = config["bottom_width"] * 2**blocks

    def agree(field: str, want, have) -> None:
        if field in declared and want != have:
            raise fail(field, f"is {declared[field]!r}, but the weights have {have!r}")

    agree("resolution", declared.get("resolution"), resolution)
    agree("n_classes", declared.get("n_classes"), config["n_classes"])
    agree("shared_dim", declared.get("shared_dim"), config["shared_dim"])
    agree("num_G_SVs", declared.get("num_G_SVs"), config["num_svs"])
    agree("bottom_width", declared.get("bottom_width"), config["bottom_width"])
    agree("hier", bool(declared.get("hier")), bool(config["z_chunk"]))
    if "dim_z" in declared:
        slots = blocks + 1 if config["z_chunk"] else 1
        agree("dim_z", declared["dim_z"] // slots * slots, config["z_dim"])
    if "G_ch" in declared and resolution in ARCH_MULTIPLIERS:
        want = [declared["G_ch"] * m for m in ARCH_MULTIPLIERS[resolution]]
        if want != config["channels"]:
            raise fail("G_ch", f"is {declared['G_ch']!r}, giving widths {want}, but the weights have {config['channels']}")
    if "G_attn" in declared:
        try:
            wanted = {int(r) for r in str(declared["G_attn"]).split("_") if r.strip()}
        except ValueError:
            raise fail("G_attn", f"is {declared['G_attn']!r}, expected resolutions like '64' or '32_64'") from None
        have = {config["bottom_width"] * 2 ** (i + 1) for i in config["attention"]}
        if wanted - {0} != have:
            raise fail("G_attn", f"is {declared['G_attn']!r}, but the weights have attention at {sorted(have) or 'no'} px")
    if isinstance(declared.get("class_names"), list):
        out["class_names"] = declared["class_names"]
    return check_config(out, path)


# ----- the generator ------------------------------------------------------------------------------
class BrockBigGAN(BigGANBase):
    """BigGAN in BigGAN-PyTorch's layout: class embedding ``shared``, ``linear``, ``blocks``, ``output_layer``."""

    arch = ARCH
    truncation_note = "truncation scales z, which the generator saw as a standard normal"

    def __init__(self, config: dict) -> None:
        super().__init__()
        config = check_config(config)
        self.config = config
        ch, svs, bn_eps, sn_eps = config["channels"], config["num_svs"], config["bn_eps"], config["sn_eps"]
        self.chunk, self.bottom = config["z_chunk"], config["bottom_width"]
        self.z_dim = self.w_dim = config["z_dim"]
        self.c_dim = config["n_classes"]
        self.num_ws = len(ch) if self.chunk else 1
        self.resolution = self.bottom * 2 ** (len(ch) - 1)
        self.img_channels = config["image_channels"]
        cond = config["shared_dim"] + self.chunk
        self.shared = ClassEmbedding(self.c_dim, config["shared_dim"])
        self.linear = SNLinear(self.chunk or self.z_dim, ch[0] * self.bottom**2, True, svs, sn_eps)
        blocks = []
        for i, (c_in, c_out) in enumerate(zip(ch[:-1], ch[1:])):
            layers: list[nn.Module] = [GBlock(c_in, c_out, cond, svs, bn_eps, sn_eps)]
            if i in config["attention"]:
                layers.append(Attention(c_out, svs, sn_eps))
            blocks.append(nn.ModuleList(layers))
        self.blocks = nn.ModuleList(blocks)
        self.output_layer = nn.Sequential(OutputBatchNorm(ch[-1], bn_eps), nn.ReLU(),
                                          SNConv2d(ch[-1], self.img_channels, 3, True, svs, sn_eps))
        self.class_names = self._names(config)

    def slot_names(self) -> list[str]:
        if not self.chunk:
            return ["z (linear map; the blocks read only the class)"]
        names = [f"linear map, z[0:{self.chunk}] ({self.bottom} px)"]
        for i in range(len(self.blocks)):
            lo = (i + 1) * self.chunk
            names.append(f"block {i}, z[{lo}:{lo + self.chunk}] ({self.bottom * 2 ** (i + 1)} px)")
        return names

    def _chunks(self, codes: torch.Tensor) -> list[torch.Tensor]:
        """The z part each place reads: slot k's own chunk k (or the whole z without hierarchy)."""
        if not self.chunk:
            return [codes[:, 0]]
        return [codes[:, k, k * self.chunk:(k + 1) * self.chunk] for k in range(self.num_ws)]

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        dtype = self.shared.weight.dtype
        chunks = self._chunks(codes.to(dtype))
        y = self.shared(c.to(dtype))
        h = rearrange(self.linear(chunks[0]), "n (c h w) -> n c h w", h=self.bottom, w=self.bottom)
        for i, layers in enumerate(self.blocks):
            cond = torch.cat([y, chunks[i + 1]], dim=1) if self.chunk else y
            h = layers[0](h, cond)
            for extra in layers[1:]:
                h = extra(h)
        return torch.tanh(self.output_layer(h))

    # ----- direction finding ------------------------------------------------------------------
    def _place(self, weight: torch.Tensor, slot: int) -> torch.Tensor:
        """A map reading chunk ``slot`` as a ``[out, z_dim]`` matrix (zero outside that chunk)."""
        if not self.chunk:
            return weight
        out = weight.new_zeros(weight.shape[0], self.z_dim)
        out[:, slot * self.chunk:(slot + 1) * self.chunk] = weight
        return out

    def sefa_weights(self, slots: Sequence[int]) -> list[torch.Tensor]:
        """Slot 0: the linear map; slot k: the z columns of the gain and bias maps of both batch norms of
        block k-1.  Each as ``[out, z_dim]``, zero outside the slot's chunk, so SeFa on all slots is SeFa
        on the whole hierarchical z (spectrally normalised weights, as the network uses them)."""
        shared = self.config["shared_dim"]
        out = []
        with torch.no_grad():
            for s in slots:
                if isinstance(s, bool) or int(s) != s or not 0 <= int(s) < self.num_ws:
                    raise InputError(f"slot {s!r} is out of range: this BigGAN has slots 0..{self.num_ws - 1}")
                s = int(s)
                if s == 0:
                    out.append(self._place(self.linear.normalized_weight(), 0))
                    continue
                block = self.blocks[s - 1][0]
                maps = [m.normalized_weight()[:, shared:] for bn in block.norms() for m in (bn.gain, bn.bias)]
                out.append(self._place(torch.cat(maps, dim=0), s))
        return out

    def activation_layers(self) -> list[str]:
        """Block outputs and the linear map.  With hierarchical z the first block's output comes first
        (the default): the linear map sees only chunk 0, the first block chunks 0 and 1 and the class."""
        layers = [f"blocks.{i}.{j}" for i, group in enumerate(self.blocks) for j in range(len(group))]
        return (layers[:1] + ["linear"] + layers[1:]) if self.chunk else (["linear"] + layers)

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.get_submodule(name)


# ----- files --------------------------------------------------------------------------------------
def brock_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    needed = ("shared.weight", "linear.weight", "linear.u0", "blocks.0.0.conv1.weight", "blocks.0.0.conv_sc.weight",
              "output_layer.2.weight")
    if not all(k in sd for k in needed) or "blocks.0.0.conv3.weight" in sd:  # conv3: BigGAN-PyTorch's -deep
        return None
    return sd


def detect(ckpt: Checkpoint) -> bool:
    return brock_state(ckpt.obj) is not None


def build(ckpt: Checkpoint) -> BrockBigGAN:
    sd = brock_state(ckpt.obj)
    config = infer_config(sd, ckpt.path)
    if isinstance(ckpt.sidecar, dict):
        config = apply_declared(config, ckpt.sidecar, ckpt.path)
    check_state_shapes(ckpt.path, sd, lambda: BrockBigGAN(config), "a BigGAN (BigGAN-PyTorch layout)")
    return from_native(sd, config, ARCH)


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = ARCH) -> BrockBigGAN:
    config = check_config(config)
    gen = build_bounded(lambda: BrockBigGAN(config), state, what="the BigGAN configuration")
    gen.load_state_dict(state, strict=True)
    return gen

