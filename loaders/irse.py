"""The IR-SE-50 body that e4e and pSp put in front of their style heads.

IR-SE-50 is ArcFace's ResNet-50 variant (Deng et al., CVPR 2019) with squeeze-and-excitation:
a 3x3 stem (conv, batch norm, PReLU), then 24 bottleneck units in four stages of 3, 4, 14 and 3
units.  The first unit of each stage halves the resolution.  A unit is

    residual = BN -> conv3x3 -> PReLU -> conv3x3 (stride) -> BN -> SE
    shortcut = conv1x1 (stride) -> BN     when the width changes
             = every stride-th pixel       when it does not (a 1x1 max-pool)
    out      = residual + shortcut

and SE scales each channel by ``sigmoid(fc2(relu(fc1(mean over the image))))``.  The encoders
tap the features after units 6, 20 and 23 (the ends of stages 2, 3 and 4): ``c1`` at 1/4 of the
input, ``c2`` at 1/8, ``c3`` at 1/16.

The layout (stage lengths, strides, taps) is what "IR-SE-50" means and is fixed; every width
(stem, each unit, each SE bottleneck) is read from the tensors by :func:`read_body`, which
checks that the widths chain and fit together before anything is allocated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

STAGE_UNITS = (3, 4, 14, 3)
UNITS = sum(STAGE_UNITS)
FIRST_OF_STAGE = tuple(sum(STAGE_UNITS[:s]) for s in range(len(STAGE_UNITS)))
TAPS = (6, 20, 23)
"""Units whose outputs the heads read: c1 (1/4 size), c2 (1/8), c3 (1/16)."""

BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")


class BodyShapeError(ValueError):
    """The tensors do not describe an IR-SE-50 body; the message says which tensor and why."""


@dataclass(frozen=True)
class UnitSpec:
    """One bottleneck unit: input and output width, stride, SE bottleneck width, shortcut kind."""

    in_ch: int
    depth: int
    stride: int
    se_hidden: int

    @property
    def conv_shortcut(self) -> bool:
        return self.in_ch != self.depth


@dataclass(frozen=True)
class BodySpec:
    """The stem's input channels and width, and the 24 units."""

    input_nc: int
    stem: int
    units: tuple[UnitSpec, ...]

    @property
    def tap_widths(self) -> tuple[int, int, int]:
        return tuple(self.units[i].depth for i in TAPS)  # type: ignore[return-value]


def _shape(sd: dict[str, torch.Tensor], key: str) -> tuple[int, ...]:
    t = sd.get(key)
    if not isinstance(t, torch.Tensor):
        raise BodyShapeError(f"the tensor {key} is missing")
    return tuple(t.shape)


def _expect(sd: dict[str, torch.Tensor], key: str, shape: tuple[int, ...]) -> None:
    got = _shape(sd, key)
    if got != shape:
        raise BodyShapeError(f"{key} is {list(got)}, expected {list(shape)}")


def _expect_bn(sd: dict[str, torch.Tensor], prefix: str, width: int) -> None:
    for name in BN_KEYS[:4]:
        _expect(sd, f"{prefix}.{name}", (width,))
    if f"{prefix}.num_batches_tracked" in sd:  # only a training counter; files of old torch versions lack it
        _expect(sd, f"{prefix}.num_batches_tracked", ())


def read_body(sd: dict[str, torch.Tensor], prefix: str = "") -> BodySpec:
    """The body's widths from a state dict (keys ``{prefix}input_layer.*`` and ``{prefix}body.N.*``).

    Raises :class:`BodyShapeError` when a unit is missing or extra, a width does not chain into the
    next unit, a stage changes width inside itself, or a shortcut is the wrong kind."""
    stem_w = _shape(sd, f"{prefix}input_layer.0.weight")
    if len(stem_w) != 4 or stem_w[2:] != (3, 3):
        raise BodyShapeError(f"{prefix}input_layer.0.weight is {list(stem_w)}, expected a 3x3 convolution")
    stem, input_nc = stem_w[0], stem_w[1]
    _expect_bn(sd, f"{prefix}input_layer.1", stem)
    _expect(sd, f"{prefix}input_layer.2.weight", (stem,))
    pattern = re.compile(re.escape(prefix) + r"body\.(\d+)\.")
    found = sorted({int(m.group(1)) for k in sd if (m := pattern.match(k))})
    if found != list(range(UNITS)):
        missing = sorted(set(range(UNITS)) - set(found))
        extra = sorted(set(found) - set(range(UNITS)))
        raise BodyShapeError(f"an IR-SE-50 body has units 0..{UNITS - 1}; "
                             + (f"units {missing[:6]} are missing" if missing else f"this one also has units {extra[:6]}"))
    units = []
    in_ch = stem
    for i in range(UNITS):
        p = f"{prefix}body.{i}"
        conv1 = _shape(sd, f"{p}.res_layer.1.weight")
        if len(conv1) != 4 or conv1[1:] != (in_ch, 3, 3):
            raise BodyShapeError(f"{p}.res_layer.1.weight is {list(conv1)}; unit {i} reads {in_ch} channels "
                                 "with a 3x3 convolution")
        depth = conv1[0]
        if i not in FIRST_OF_STAGE and depth != in_ch:
            raise BodyShapeError(f"unit {i} changes the width from {in_ch} to {depth} inside a stage")
        _expect_bn(sd, f"{p}.res_layer.0", in_ch)
        _expect(sd, f"{p}.res_layer.2.weight", (depth,))
        _expect(sd, f"{p}.res_layer.3.weight", (depth, depth, 3, 3))
        _expect_bn(sd, f"{p}.res_layer.4", depth)
        fc1 = _shape(sd, f"{p}.res_layer.5.fc1.weight")
        if len(fc1) != 4 or fc1[1:] != (depth, 1, 1) or fc1[0] < 1:
            raise BodyShapeError(f"{p}.res_layer.5.fc1.weight is {list(fc1)}, expected [hidden, {depth}, 1, 1]")
        _expect(sd, f"{p}.res_layer.5.fc2.weight", (depth, fc1[0], 1, 1))
        has_conv = f"{p}.shortcut_layer.0.weight" in sd
        if in_ch != depth:
            if not has_conv:
                raise BodyShapeError(f"unit {i} goes from {in_ch} to {depth} channels but has no shortcut convolution")
            _expect(sd, f"{p}.shortcut_layer.0.weight", (depth, in_ch, 1, 1))
            _expect_bn(sd, f"{p}.shortcut_layer.1", depth)
        elif has_conv or any(k.startswith(f"{p}.shortcut_layer.") for k in sd):
            raise BodyShapeError(f"unit {i} keeps {depth} channels, so its shortcut has no weights, but the file has some")
        units.append(UnitSpec(in_ch, depth, 2 if i in FIRST_OF_STAGE else 1, fc1[0]))
        in_ch = depth
    return BodySpec(input_nc, stem, tuple(units))


def body_keys(spec: BodySpec, prefix: str = "") -> set[str]:
    """Every tensor name an IR-SE-50 body of this shape has (to find extra tensors in a file)."""
    keys = {f"{prefix}input_layer.0.weight", f"{prefix}input_layer.2.weight"}
    keys |= {f"{prefix}input_layer.1.{n}" for n in BN_KEYS}
    for i, u in enumerate(spec.units):
        p = f"{prefix}body.{i}"
        keys |= {f"{p}.res_layer.0.{n}" for n in BN_KEYS} | {f"{p}.res_layer.4.{n}" for n in BN_KEYS}
        keys |= {f"{p}.res_layer.{j}.weight" for j in (1, 2, 3)}
        keys |= {f"{p}.res_layer.5.fc1.weight", f"{p}.res_layer.5.fc2.weight"}
        if u.conv_shortcut:
            keys |= {f"{p}.shortcut_layer.0.weight"} | {f"{p}.shortcut_layer.1.{n}" for n in BN_KEYS}
    return keys


# ----- modules (their attribute names are the checkpoint's tensor names) ---------------------------
class SqueezeExcite(nn.Module):
    """Channel gates from the image-wide mean of each channel (Hu et al., 2018)."""

    def __init__(self, channels: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(channels, hidden, 1, bias=False)
        self.fc2 = nn.Conv2d(hidden, channels, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = self.fc2(F.relu(self.fc1(x.mean(dim=(2, 3), keepdim=True))))
        return x * torch.sigmoid(gate)


class IRSEUnit(nn.Module):
    """One bottleneck unit (see the module docstring)."""

    def __init__(self, spec: UnitSpec) -> None:
        super().__init__()
        self.stride = spec.stride
        self.res_layer = nn.Sequential(
            nn.BatchNorm2d(spec.in_ch),
            nn.Conv2d(spec.in_ch, spec.depth, 3, 1, 1, bias=False),
            nn.PReLU(spec.depth),
            nn.Conv2d(spec.depth, spec.depth, 3, spec.stride, 1, bias=False),
            nn.BatchNorm2d(spec.depth),
            SqueezeExcite(spec.depth, spec.se_hidden),
        )
        self.shortcut_layer = (nn.Sequential(nn.Conv2d(spec.in_ch, spec.depth, 1, spec.stride, bias=False),
                                             nn.BatchNorm2d(spec.depth)) if spec.conv_shortcut else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.shortcut_layer is not None:
            short = self.shortcut_layer(x)
        else:  # a 1x1 max-pool with this stride keeps every stride-th pixel
            short = x[:, :, ::self.stride, ::self.stride]
        return self.res_layer(x) + short


class IRSEBody(nn.Module):
    """Stem and 24 units; :meth:`forward` returns the three tapped feature maps ``(c1, c2, c3)``."""

    def __init__(self, spec: BodySpec) -> None:
        super().__init__()
        self.spec = spec
        self.input_layer = nn.Sequential(nn.Conv2d(spec.input_nc, spec.stem, 3, 1, 1, bias=False),
                                         nn.BatchNorm2d(spec.stem), nn.PReLU(spec.stem))
        self.body = nn.Sequential(*[IRSEUnit(u) for u in spec.units])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x = self.input_layer(x)
        taps = []
        for i, unit in enumerate(self.body):
            x = unit(x)
            if i in TAPS:
                taps.append(x)
        return taps[0], taps[1], taps[2]
