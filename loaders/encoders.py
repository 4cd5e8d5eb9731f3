"""Image encoders that invert a photo into a style GAN's w+ in one forward pass: e4e and pSp.

encoder4editing (Tov et al., 2021) and pixel2style2pixel (Richardson et al., 2021) share one file
layout: ``torch.save({"state_dict": {"encoder.*", "decoder.*"}, "opts": {...}, "latent_avg"})``
where ``decoder.*`` is the rosinality StyleGAN2 the encoder was trained against.  Three encoder
types exist (``opts["encoder_type"]``), all on the IR-SE-50 body of :mod:`.irse`:

- ``GradualStyleEncoder`` (pSp): a feature pyramid over the body's taps ``c1, c2, c3``
  (``p2 = up(c3) + latlayer1(c2)``, ``p1 = up(p2) + latlayer2(c1)``, bilinear with aligned corners)
  and one GradualStyleBlock per w+ slot: slots 0-2 read ``c3`` (16 px), 3-6 ``p2`` (32 px), 7 and
  up ``p1`` (64 px).  A block is stride-2 3x3 convolutions with leaky ReLU (slope 0.01) down to
  1x1, then an equalized-lr linear layer (weight scaled by 1/sqrt(fan-in)).
- ``Encoder4Editing`` (e4e): the same network, but slot 0's block gives one w that every slot
  starts from and the other blocks give offsets from it: ``w_i = w_0 + block_i(features)``.
- ``BackboneEncoderUsingLastLayerIntoW`` (pSp in W): the mean of ``c3`` over the image through
  one equalized-lr linear layer: a single w, repeated over the slots.

The official forward adds ``latent_avg`` (the decoder's mean w, stored ``[n_styles, w]`` or
``[1, w]``) to the codes when ``opts["start_from_latent_avg"]`` is set, and images are resized to
256x256 and mapped to [-1, 1] first.  :func:`load_encoder` reads the file weights-only on the CPU,
checks every shape against the architecture and the ``opts`` before anything is allocated, and
builds the modules on the meta device so that they take the file's tensors over.  The style
blocks that read the same features are stored stacked: their first convolutions run as one
convolution of the shared input, the later ones block by block on slices of the stacked weights.
"""

from __future__ import annotations

import math
import os
import re
from typing import Any

import einops
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import CheckpointError, GANLabError, InputError
from .base import GANGenerator, fingerprint_state
from .config_check import Bool, Choice, Int, PowerOfTwo, build_bounded, check_config
from .files import Checkpoint, read_checkpoint
from .irse import BodyShapeError, IRSEBody, body_keys, read_body

ENCODER_TYPES = {"Encoder4Editing": "e4e", "GradualStyleEncoder": "psp", "BackboneEncoderUsingLastLayerIntoW": "psp_w"}
"""``opts["encoder_type"]`` -> our short kind."""

INPUT_SIZE = 256
LEVEL_STARTS = (0, 3, 7)
"""First slot of each feature level: c3 (16 px), p2 (32 px), p1 (64 px)."""
LEVEL_SLOTS = ("0-2", "3-6", "7 and up")
LEVEL_CONVS = (4, 5, 6)
"""Stride-2 convolutions a block of each level needs to reach 1x1 from 16, 32 and 64 px."""
LEAKY_SLOPE = 0.01
DEFAULT_SIZE = 1024
"""pSp's ``output_size`` when a file names none (its inference script assumes 1024 px)."""
MAX_STYLES = 64
MAX_SIZE = 2**16
MAX_SIDE = 16384
"""Largest image side :meth:`ImageEncoder.encode` accepts (it resizes to 256 anyway)."""
OPTS_SPEC = {
    "encoder_type": Choice(tuple(ENCODER_TYPES)),
    "n_styles": Int(1, MAX_STYLES, optional=True),
    "stylegan_size": PowerOfTwo(4, MAX_SIZE, optional=True),
    "output_size": PowerOfTwo(4, MAX_SIZE, optional=True),
    "input_nc": Int(1, 64, optional=True),
    "label_nc": Int(0, 4096, optional=True),
    "start_from_latent_avg": Bool(optional=True),
}
"""The ``opts`` fields the loader reads, checked (:func:`.config_check.check_config`) before any is used."""


def n_styles_for(size: int) -> int:
    """w+ slots of a StyleGAN2 of ``size`` px: ``2 log2(size) - 2`` (18 for 1024)."""
    return 2 * int(math.log2(size)) - 2


def level_of(slot: int) -> int:
    return sum(slot >= s for s in LEVEL_STARTS) - 1


# ----- modules --------------------------------------------------------------------------------------
class EqualLinear(nn.Module):
    """StyleGAN's equalized-learning-rate linear layer (learning-rate multiplier 1): ``x (W / sqrt(in))^T + b``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        self.bias = nn.Parameter(torch.empty(out_features))
        self.scale = 1.0 / math.sqrt(in_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * self.scale, self.bias)


class StyleLevel(nn.Module):
    """The ``count`` GradualStyleBlocks that read one feature map, stacked.

    ``conv{j}_weight`` holds the j-th convolution of every block one after the other along the output
    channels: the first convolution of all blocks is one convolution of the shared input, the later
    ones are a convolution with ``groups=count`` (block b only sees its own channels)."""

    def __init__(self, count: int, in_ch: int, width: int, convs: int) -> None:
        super().__init__()
        self.count, self.width, self.convs = count, width, convs
        for j in range(convs):
            setattr(self, f"conv{j}_weight", nn.Parameter(torch.empty(count * width, in_ch if j == 0 else width, 3, 3)))
            setattr(self, f"conv{j}_bias", nn.Parameter(torch.empty(count * width)))
        self.linear_weight = nn.Parameter(torch.empty(count, width, width))
        self.linear_bias = nn.Parameter(torch.empty(count, width))
        self.scale = 1.0 / math.sqrt(width)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """features ``[n, in, s, s]`` -> one w per block ``[n, count, width]``.

        The first convolution runs once for every block (they read the same input); the later ones run
        block by block on slices of the stacked weights, which on the CPU is faster than one grouped
        convolution (``benchmarks/bench_encoder.py``)."""
        x = F.leaky_relu(F.conv2d(features, self.conv0_weight, self.conv0_bias, stride=2, padding=1), LEAKY_SLOPE)
        if self.convs > 1:
            blocks = []
            for b, xb in enumerate(x.split(self.width, dim=1)):
                part = slice(b * self.width, (b + 1) * self.width)
                for j in range(1, self.convs):
                    xb = F.leaky_relu(F.conv2d(xb, getattr(self, f"conv{j}_weight")[part],
                                               getattr(self, f"conv{j}_bias")[part], stride=2, padding=1), LEAKY_SLOPE)
                blocks.append(xb)
            x = torch.cat(blocks, dim=1)
        x = einops.rearrange(x, "n (k c) 1 1 -> n k c", k=self.count)
        return einops.einsum(x, self.linear_weight * self.scale, "n k c, k d c -> n k d") + self.linear_bias


def upsample_add(top: torch.Tensor, lateral: torch.Tensor) -> torch.Tensor:
    """The feature-pyramid merge: ``top`` resized to ``lateral``'s size (bilinear, aligned corners) plus it."""
    return F.interpolate(top, size=lateral.shape[-2:], mode="bilinear", align_corners=True) + lateral


class ImageEncoder(nn.Module):
    """An e4e / pSp encoder: images -> w+ codes ``[n, n_styles, w_dim]`` for one StyleGAN2.

    Facts: ``kind`` ("e4e", "psp", "psp_w"), ``encoder_type`` (the official class name), ``n_styles``,
    ``w_dim``, ``input_size`` (256), ``adds_latent_avg``, ``source`` (file name) and ``decoder``: the
    StyleGAN2 stored in the same file (a :class:`GANGenerator`, or None).  The decoder is not a
    submodule: moving the encoder leaves it where it is."""

    def __init__(self, kind: str, body: dict, heads: dict, n_styles: int, w_dim: int,
                 latent_avg_rows: int | None, adds_latent_avg: bool) -> None:
        super().__init__()
        self.kind = kind
        self.encoder_type = next(k for k, v in ENCODER_TYPES.items() if v == kind)
        self.n_styles, self.w_dim, self.input_size = n_styles, w_dim, INPUT_SIZE
        self.adds_latent_avg = adds_latent_avg
        self.source = ""
        self.body_net = IRSEBody(body["spec"])
        c1, c2, c3 = body["spec"].tap_widths
        if kind == "psp_w":
            self.linear = EqualLinear(c3, w_dim)
        else:
            self.levels = nn.ModuleList(StyleLevel(count, c3, w_dim, LEVEL_CONVS[lvl]) for lvl, count in heads["levels"])
            self.latlayer1 = nn.Conv2d(c2, c3, 1)
            self.latlayer2 = nn.Conv2d(c1, c3, 1)
        self.register_buffer("latent_avg", None if latent_avg_rows is None else torch.empty(latent_avg_rows, w_dim))
        self.__dict__["decoder"] = None
        self._fingerprint: str | None = None

    # ----- facts ---------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @property
    def fingerprint(self) -> str:
        """A hash of the encoder's weights (hashes every tensor once, then remembered)."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint_state(self.state_dict())
        return self._fingerprint

    @property
    def decoder_fingerprint(self) -> str:
        """The fingerprint of the StyleGAN2 this encoder was trained with, or "" when the file has none."""
        return self.decoder.fingerprint if self.decoder is not None else ""

    def summary(self) -> str:
        widths = "/".join(str(self.body_net.spec.units[i].depth) for i in (0, 3, 7, 21))
        lines = [f"{self.encoder_type} ({self.kind}): IR-SE-50 widths {widths}, {self.n_styles} styles x {self.w_dim}, "
                 f"input resized to {self.input_size}x{self.input_size}, latent_avg "
                 f"{'added' if self.adds_latent_avg else 'not added'}"]
        if self.source:
            lines.append(f"file: {self.source}")
        if self.decoder is not None:
            d = self.decoder
            lines.append(f"decoder: {d.arch} {d.resolution}x{d.resolution}, {d.num_ws} slots x {d.w_dim}, "
                         f"fingerprint {d.fingerprint}")
        else:
            lines.append("decoder: none in this file (give Encode Image a model with matching slots and width)")
        return "\n".join(lines)

    # ----- forward -------------------------------------------------------------------------------
    def check_images(self, images: torch.Tensor) -> None:
        """Refuse what :meth:`encode` cannot take, before any work: not ``[n, 3, H, W]`` floating point,
        no image, a side outside ``1..MAX_SIDE``, NaN or infinite values."""
        if not isinstance(images, torch.Tensor):
            raise InputError(f"images must be a tensor [n, 3, H, W], not {type(images).__name__}")
        if images.ndim != 4 or images.shape[1] != self.body_net.spec.input_nc:
            raise InputError(f"images must be [n, {self.body_net.spec.input_nc}, H, W] in [-1, 1], "
                             f"got {list(images.shape)}")
        n, _, h, w = images.shape
        if n == 0 or not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
            raise InputError(f"images of {n} x {h}x{w} pixels: need at least one image, sides 1..{MAX_SIDE}")
        if not images.is_floating_point():
            raise InputError(f"images must be floating point in [-1, 1], not {images.dtype}")
        if not bool(torch.isfinite(images).all()):
            raise InputError("images hold NaN or infinite values")

    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """Check ``[n, 3, H, W]`` images in [-1, 1] and resize them to 256x256 as the official transforms do.

        The official pipeline resizes the PIL image bilinearly (antialiased when shrinking) and then
        maps [0, 1] to [-1, 1]; both steps are linear, so resizing the [-1, 1] tensor is the same."""
        self.check_images(images)
        x = images.to(self.device, torch.float32)
        if not torch.isfinite(x).all():  # a float64 value past float32's range
            raise InputError("images hold values too large for float32")
        h, w = x.shape[-2:]
        if (h, w) != (INPUT_SIZE, INPUT_SIZE):
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", align_corners=False,
                              antialias=True)
        return x

    def raw_codes(self, x: torch.Tensor) -> torch.Tensor:
        """The encoder network alone on preprocessed ``[n, 3, 256, 256]``: ``[n, n_styles, w_dim]``
        (the single-w encoder's w repeated over the slots), before ``latent_avg``."""
        c1, c2, c3 = self.body_net(x)
        if self.kind == "psp_w":
            w = self.linear(c3.mean(dim=(2, 3)))
            return einops.repeat(w, "n d -> n s d", s=self.n_styles)
        outs = [self.levels[0](c3)]
        if len(self.levels) > 1:
            p2 = upsample_add(c3, self.latlayer1(c2))
            outs.append(self.levels[1](p2))
            if len(self.levels) > 2:
                outs.append(self.levels[2](upsample_add(p2, self.latlayer2(c1))))
        styles = torch.cat(outs, dim=1)
        if self.kind == "e4e":  # slot 0 is w0 itself, every other block an offset from it
            styles = torch.cat([styles[:, :1], styles[:, 1:] + styles[:, :1]], dim=1)
        return styles

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Images ``[n, 3, H, W]`` in [-1, 1] -> w+ codes ``[n, n_styles, w_dim]`` for the decoder
        (``latent_avg`` added as the official forward does), on the encoder's device."""
        codes = self.raw_codes(self.preprocess(images))
        if self.adds_latent_avg:
            codes = codes + self.latent_avg
        return codes

    forward = encode


# ----- reading a file --------------------------------------------------------------------------------
def _opts(ckpt: Checkpoint) -> dict:
    raw = ckpt.obj.get("opts")
    if isinstance(raw, dict):
        return dict(raw)
    if raw is None:
        raise ckpt.fail("no 'opts' in the file: not an e4e / pSp checkpoint (they record their encoder_type there)")
    state = getattr(raw, "state", None)  # an inert record of a foreign options class
    if isinstance(state, dict):
        return dict(state)
    if hasattr(raw, "__dict__") and not callable(raw) and not isinstance(raw, torch.Tensor):  # argparse.Namespace
        return dict(vars(raw))
    raise ckpt.fail(f"'opts' is a {type(raw).__name__}, not a dictionary of options")


def _declared_styles(opts: dict) -> dict[str, int]:
    """Slot counts the (checked) options declare, by the option that declares them."""
    out = {}
    if opts.get("n_styles") is not None:
        out["n_styles"] = opts["n_styles"]
    for key in ("stylegan_size", "output_size"):
        if opts.get(key) is not None:
            out[key] = n_styles_for(opts[key])
    return out


def _style_blocks(ckpt: Checkpoint, sd: dict[str, torch.Tensor], in_ch: int) -> tuple[int, int]:
    """Check the GradualStyleBlocks: (n_styles, width)."""
    pattern = re.compile(r"^encoder\.styles\.(\d+)\.")
    found = sorted({int(m.group(1)) for k in sd if (m := pattern.match(k))})
    if not found:
        raise ckpt.fail("the encoder has no style blocks (encoder.styles.N)")
    if found != list(range(len(found))):
        missing = sorted(set(range(found[-1] + 1)) - set(found))
        raise ckpt.fail(f"style blocks {missing[:6]} are missing (the file has blocks up to {found[-1]})")
    if len(found) > MAX_STYLES:
        raise ckpt.fail(f"{len(found)} style blocks is more than any StyleGAN has ({MAX_STYLES})")
    first = sd.get("encoder.styles.0.linear.weight")
    if not isinstance(first, torch.Tensor) or first.ndim != 2:
        raise ckpt.fail("encoder.styles.0.linear.weight is missing or not a matrix")
    width = int(first.shape[0])
    for i in found:
        p = f"encoder.styles.{i}"
        lvl = level_of(i)
        want = LEVEL_CONVS[lvl]
        convs = sorted({int(m.group(1)) for k in sd if (m := re.match(rf"^{re.escape(p)}\.convs\.(\d+)\.", k))})
        expected = [2 * j for j in range(want)]
        if convs != expected:
            side = 16 * 2**lvl
            raise ckpt.fail(f"style block {i} has convolutions {convs}; the blocks of slots {LEVEL_SLOTS[lvl]} read "
                            f"{side}x{side} features and need {want} (at {expected})")
        for j in range(want):
            _check(ckpt, sd, f"{p}.convs.{2 * j}.weight", (width, in_ch if j == 0 else width, 3, 3))
            _check(ckpt, sd, f"{p}.convs.{2 * j}.bias", (width,))
        _check(ckpt, sd, f"{p}.linear.weight", (width, width))
        _check(ckpt, sd, f"{p}.linear.bias", (width,))
    return len(found), width


def _check(ckpt: Checkpoint, sd: dict[str, torch.Tensor], key: str, shape: tuple[int, ...]) -> None:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor):
        raise ckpt.fail(f"the tensor {key} is missing")
    if tuple(t.shape) != shape:
        raise ckpt.fail(f"{key} is {list(t.shape)}, expected {list(shape)}")


def _latent_avg(ckpt: Checkpoint, n_styles: int, w_dim: int) -> torch.Tensor | None:
    t = ckpt.obj.get("latent_avg")
    if t is None:
        return None
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        raise ckpt.fail(f"latent_avg is a {type(t).__name__}{'' if not isinstance(t, torch.Tensor) else ' of ' + str(t.dtype)}, "
                        "not a floating-point tensor")
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[1] != w_dim or t.shape[0] not in (1, n_styles):
        raise ckpt.fail(f"latent_avg is {list(ckpt.obj['latent_avg'].shape)}; the encoder writes {n_styles} "
                        f"codes of {w_dim}, so it must be [{n_styles}, {w_dim}], [1, {w_dim}] or [{w_dim}]")
    t = t.float()
    if not torch.isfinite(t).all():
        raise ckpt.fail("latent_avg holds NaN or infinite values")
    return t


def _encoder_spec(ckpt: Checkpoint) -> dict:
    """Everything the file says about the encoder, checked; raises before any allocation."""
    obj = ckpt.obj
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        raise ckpt.fail("not an e4e / pSp checkpoint (no 'state_dict' dictionary)")
    sd = obj["state_dict"]
    if not any(isinstance(k, str) and k.startswith("encoder.") for k in sd):
        raise ckpt.fail("the state_dict has no encoder.* tensors: not an e4e / pSp checkpoint")
    bad = [k for k, v in sd.items() if not isinstance(k, str) or not isinstance(v, torch.Tensor)]
    if bad:
        raise ckpt.fail(f"the state_dict holds things that are not named tensors ({bad[:3]})")
    opts = check_config(_opts(ckpt), OPTS_SPEC, ckpt.path, "the opts", required=("encoder_type",))
    etype = opts["encoder_type"]
    kind = ENCODER_TYPES[etype]
    input_nc, label_nc = opts.get("input_nc"), opts.get("label_nc")
    if (input_nc not in (None, 3)) or label_nc:
        raise ckpt.fail(f"this pSp takes {input_nc or label_nc}-channel inputs (sketches or segmentation maps, "
                        f"input_nc {input_nc}, label_nc {label_nc}); only RGB image encoders are supported")
    try:
        body = read_body(sd, "encoder.")
    except BodyShapeError as e:
        raise ckpt.fail(f"the IR-SE-50 body does not fit: {e}") from None
    if body.input_nc != 3:
        raise ckpt.fail(f"the encoder's first convolution reads {body.input_nc} channels, not RGB")
    c1, c2, c3 = body.tap_widths
    expected = body_keys(body, "encoder.")
    declared = _declared_styles(opts)
    if kind == "psp_w":
        t = sd.get("encoder.linear.weight")
        if not isinstance(t, torch.Tensor) or t.ndim != 2:
            raise ckpt.fail("the single-w encoder's encoder.linear.weight is missing or not a matrix")
        w_dim = int(t.shape[0])
        _check(ckpt, sd, "encoder.linear.weight", (w_dim, c3))
        _check(ckpt, sd, "encoder.linear.bias", (w_dim,))
        expected |= {"encoder.linear.weight", "encoder.linear.bias"}
        counts = set(declared.values())
        if len(counts) > 1:
            raise ckpt.fail(f"the options disagree on the number of w+ slots: {declared}")
        n_styles = counts.pop() if counts else n_styles_for(DEFAULT_SIZE)
        levels: list[tuple[int, int]] = []
    else:
        n_styles, w_dim = _style_blocks(ckpt, sd, c3)
        disagree = {k: v for k, v in declared.items() if v != n_styles}
        if disagree:
            raise ckpt.fail(f"the file has {n_styles} style blocks but the options say "
                            + ", ".join(f"{k} = {opts[k]} ({v} slots)" for k, v in disagree.items()))
        if not declared and n_styles != n_styles_for(DEFAULT_SIZE):
            raise ckpt.fail(f"the file has {n_styles} style blocks and its options name no size; without one the "
                            f"official code builds {n_styles_for(DEFAULT_SIZE)} (1024 px)")
        for name, src in (("latlayer1", c2), ("latlayer2", c1)):
            _check(ckpt, sd, f"encoder.{name}.weight", (c3, src, 1, 1))
            _check(ckpt, sd, f"encoder.{name}.bias", (c3,))
            expected |= {f"encoder.{name}.weight", f"encoder.{name}.bias"}
        for i in range(n_styles):
            p = f"encoder.styles.{i}"
            expected |= {f"{p}.linear.weight", f"{p}.linear.bias"}
            expected |= {f"{p}.convs.{2 * j}.{n}" for j in range(LEVEL_CONVS[level_of(i)]) for n in ("weight", "bias")}
        levels = [(lvl, min(n_styles, end) - start)
                  for lvl, (start, end) in enumerate(zip(LEVEL_STARTS, LEVEL_STARTS[1:] + (MAX_STYLES,)))
                  if start < n_styles]
    extra = sorted(k for k in sd if k.startswith("encoder.") and k not in expected)
    if extra:
        raise ckpt.fail(f"the encoder has tensors a {etype} does not: {extra[:5]}")
    for k in expected:
        t = sd.get(k)
        if t is not None and not k.endswith("num_batches_tracked") and not t.is_floating_point():
            raise ckpt.fail(f"{k} holds {t.dtype}, not floating-point numbers")
    latent_avg = _latent_avg(ckpt, n_styles, w_dim)
    # the official forward tests the option's truth, so a stored None adds nothing; a file without the
    # option adds latent_avg when it has one
    adds = bool(opts["start_from_latent_avg"]) if "start_from_latent_avg" in opts else latent_avg is not None
    if adds and latent_avg is None:
        raise ckpt.fail("opts say start_from_latent_avg but the file has no latent_avg")
    return {"kind": kind, "body": {"spec": body}, "heads": {"levels": levels}, "n_styles": n_styles, "w_dim": w_dim,
            "latent_avg": latent_avg, "adds": adds}


def _decoder(ckpt: Checkpoint, latent_avg: torch.Tensor | None) -> GANGenerator | None:
    """The rosinality StyleGAN2 in ``decoder.*`` built by our rosinality loader (the same checks as a
    rosinality file given to ``load_gan``: configuration, build budget, NaN and infinite weights), or
    None if absent."""
    from . import check_finite, rosinality

    sd = ckpt.obj["state_dict"]
    dec = {k[len("decoder."):]: v for k, v in sd.items() if k.startswith("decoder.")}
    if not dec:
        return None
    if rosinality.rosinality_state({"g_ema": dec}) is None:
        raise ckpt.fail("the decoder.* tensors are not a rosinality StyleGAN2 generator")
    for k, t in dec.items():
        if not t.is_floating_point():
            raise ckpt.fail(f"decoder.{k[:80]} holds {t.dtype}, not floating-point numbers")
    _check_values(ckpt, dec, "decoder.")
    mean_w = None
    if latent_avg is not None:  # the rows are the decoder's mean w repeated; take it exactly when they agree
        mean_w = latent_avg[0] if bool((latent_avg == latent_avg[0]).all()) else latent_avg.mean(dim=0)
    sub = Checkpoint(path=ckpt.path, format=ckpt.format, obj={"g_ema": dec, "latent_avg": mean_w})
    try:
        gen = rosinality.build(sub)
        check_finite(gen, sub)
    except CheckpointError as e:
        raise ckpt.fail(f"the decoder: {e.reason}") from None
    except GANLabError as e:
        raise ckpt.fail(f"the decoder: {e}") from None
    except Exception as e:  # noqa: BLE001 - any failure to build the decoder from a foreign file is a bad file
        raise ckpt.fail(f"the decoder does not fit a StyleGAN2 ({_describe(e)})") from None
    gen.source = f"{ckpt.name} (decoder)"
    gen.requires_grad_(False)
    gen.eval()
    return gen


def _module_state(sd: dict[str, torch.Tensor], spec: dict, latent_avg: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """File tensors under the module's names; style blocks are stacked into their levels.

    Each file tensor is dropped from ``sd`` once copied into a stack, so the load holds about one
    copy of the weights at any time."""
    def f32(t: torch.Tensor) -> torch.Tensor:
        return t.float() if t.is_floating_point() and t.dtype != torch.float32 else t

    out: dict[str, torch.Tensor] = {}
    for k in [k for k in sd if k.startswith("encoder.")]:
        name = k[len("encoder."):]
        if name.startswith(("input_layer.", "body.")):
            out["body_net." + name] = f32(sd.pop(k))
        elif name.startswith(("latlayer1.", "latlayer2.", "linear.")):
            out[name] = f32(sd.pop(k))
    for p in list(out):  # batch-norm counters that old files lack: they do not change the forward
        if p.endswith(".running_var") and p[:-len("running_var")] + "num_batches_tracked" not in out:
            out[p[:-len("running_var")] + "num_batches_tracked"] = torch.zeros((), dtype=torch.long)
    for li, (lvl, count) in enumerate(spec["heads"]["levels"]):
        first = LEVEL_STARTS[lvl]
        for j in range(LEVEL_CONVS[lvl]):
            for part in ("weight", "bias"):
                keys = [f"encoder.styles.{first + b}.convs.{2 * j}.{part}" for b in range(count)]
                rows, rest = sd[keys[0]].shape[0], tuple(sd[keys[0]].shape[1:])
                stack = torch.empty((count * rows,) + rest)
                for b, key in enumerate(keys):
                    stack[b * rows:(b + 1) * rows] = sd.pop(key)
                out[f"levels.{li}.conv{j}_{part}"] = stack
        for part in ("weight", "bias"):
            keys = [f"encoder.styles.{first + b}.linear.{part}" for b in range(count)]
            out[f"levels.{li}.linear_{part}"] = torch.stack([f32(sd.pop(key)) for key in keys])
    if latent_avg is not None:
        out["latent_avg"] = latent_avg
    return out


FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _largest(t: torch.Tensor) -> float:
    """The largest magnitude in ``t`` (NaN or infinite when an entry is), without a temporary as big as ``t``."""
    return float(torch.linalg.vector_norm(t.detach(), math.inf)) if t.numel() else 0.0


def _check_values(ckpt: Checkpoint, tensors: dict[str, torch.Tensor], prefix: str = "") -> None:
    """No NaN or infinity in a floating-point tensor (nor a float64 value that float32, which the
    encoder computes in, cannot hold), no negative batch-norm variance: checked on the file's own
    tensors (``prefix`` + name), before anything is built from them."""
    for key, t in tensors.items():
        if not t.is_floating_point():
            continue
        largest = _largest(t)
        if not math.isfinite(largest):
            raise ckpt.fail(f"{prefix}{key[:120]} holds NaN or infinite values")
        if largest > FLOAT32_MAX:
            raise ckpt.fail(f"{prefix}{key[:120]} holds values past the float32 range ({largest:.3g})")
        if key.endswith("running_var") and bool((t < 0).any()):
            raise ckpt.fail(f"{prefix}{key[:120]} has negative variances")


def build_encoder(ckpt: Checkpoint) -> ImageEncoder:
    """An :class:`ImageEncoder` (with its decoder, when the file has one) from a read checkpoint.

    Every value is checked on the file's tensors first (NaN, infinity, negative batch-norm variances),
    then the modules are built on the meta device under :func:`.config_check.build_bounded` (their
    shapes come from the file's tensors, so they can ask for no more than the file holds) and take the
    file's tensors over."""
    spec = _encoder_spec(ckpt)
    sd = ckpt.obj["state_dict"]
    _check_values(ckpt, {k: v for k, v in sd.items() if k.startswith("encoder.")})
    decoder = _decoder(ckpt, spec["latent_avg"])
    if decoder is not None and (decoder.num_ws, decoder.w_dim) != (spec["n_styles"], spec["w_dim"]):
        raise ckpt.fail(f"the decoder takes {decoder.num_ws} codes of {decoder.w_dim} but the encoder writes "
                        f"{spec['n_styles']} of {spec['w_dim']}")
    rows = None if spec["latent_avg"] is None else spec["latent_avg"].shape[0]
    with torch.device("meta"):
        enc = build_bounded(lambda: ImageEncoder(spec["kind"], spec["body"], spec["heads"], spec["n_styles"],
                                                 spec["w_dim"], rows, spec["adds"]),
                            {k: v for k, v in sd.items() if k.startswith("encoder.")}, ckpt.path,
                            "the encoder's shapes")
    state = _module_state(sd, spec, spec["latent_avg"])
    enc.load_state_dict(state, strict=True, assign=True)
    enc.requires_grad_(False)
    enc.eval()
    enc.__dict__["decoder"] = decoder
    return enc


def _describe(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else ""
    return f"{type(e).__name__}: {text[:300]}" if text else type(e).__name__


def load_encoder(path: str | os.PathLike, device: str | torch.device | None = None) -> ImageEncoder:
    """Read an e4e / pSp checkpoint (weights only, on the CPU) into an eval-mode :class:`ImageEncoder`.

    Every problem (a foreign global, a view past its storage, a decompression bomb, a damaged file,
    an ``opts`` value out of range, shapes that do not fit the architecture or the options, NaN or
    infinite weights, negative batch-norm variances, a decoder that is not a StyleGAN2) is a
    :class:`CheckpointError` naming the file, raised before any network is built.  ``device`` moves
    the encoder (not its decoder)."""
    ckpt = read_checkpoint(path)
    if ckpt.format not in ("torch-zip", "torch-legacy"):
        raise ckpt.fail(f"a {ckpt.format} file; e4e / pSp checkpoints are torch files (.pt)")
    try:
        enc = build_encoder(ckpt)
    except CheckpointError as e:
        if e.path is None:  # raised below the file level: name the file
            raise ckpt.fail(e.reason) from None
        raise
    except GANLabError as e:
        raise ckpt.fail(str(e)) from None
    except RecursionError:
        raise ckpt.fail("the checkpoint nests too deeply") from None
    except MemoryError:
        raise ckpt.fail("building the encoder would need more memory than there is") from None
    except Exception as e:  # noqa: BLE001 - any failure to build from a foreign file is a bad checkpoint
        raise ckpt.fail(f"the weights do not fit the encoder ({_describe(e)})") from None
    enc.source = ckpt.name
    if device is not None:
        try:
            enc.to(device)
        except torch.OutOfMemoryError:
            raise
        except (RuntimeError, TypeError, ValueError) as e:
            raise InputError(f"cannot move the encoder to {str(device)[:40]!r} ({_describe(e)})") from None
    return enc


def is_encoder_checkpoint(obj: Any) -> bool:
    """True for the layout of an e4e / pSp file (to point users of the GAN loader to the encoder loader)."""
    sd = obj.get("state_dict") if isinstance(obj, dict) else None
    return isinstance(sd, dict) and any(isinstance(k, str) and k.startswith("encoder.") for k in sd)


__all__ = ["ImageEncoder", "load_encoder", "build_encoder", "ENCODER_TYPES", "CheckpointError", "is_encoder_checkpoint"]
