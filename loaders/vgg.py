"""VGG16 weight files for a perceptual distance, read without running their code.

Two files are in circulation:

* torchvision's ImageNet VGG16, ``vgg16-397923af.pth``: a state dict whose convolutions are
  ``features.{0,2,5,7,10,12,14,17,19,21,24,26,28}.weight / .bias`` (plus ``classifier.*``), read
  with ``torch.load(weights_only=True)`` on the CPU.
* NVIDIA's ``vgg16.pt`` (StyleGAN2-ADA's projector and metrics): a TorchScript archive, read by
  :mod:`.torchscript` without compiling or running its code.  Its convolutions are
  ``layers.conv1`` ... ``layers.conv13`` (``weight`` ``[out, in, 3, 3]``, ``bias`` ``[out]``), its
  classifier ``layers.fc1`` ... ``layers.fc3`` (never read here), and its LPIPS calibration is five
  per-channel weight vectors ``lpips0`` ... ``lpips4`` at the module's top level.  The names are
  those that genforce's converter reads from the module's ``state_dict()``; we read the ``lpipsK``
  tensors as LPIPS's linear weights (``w`` in ``sum_c w_c (f_x - f_y)^2``), as that converter does,
  with any shape of ``C`` elements accepted.  That NVIDIA's module computes LPIPS v0.1 on the
  torchvision VGG16 (ImageNet normalisation) is what torch-fidelity's tests check against it.

LPIPS's own calibration file, the ``lpips`` package's ``weights/v0.1/vgg.pth``, holds
``lin0.model.1.weight`` ... ``lin4.model.1.weight`` of shape ``[1, C, 1, 1]``.

Anything else (a generator checkpoint, another network, a hostile pickle) is refused with a
:class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

from ..errors import CheckpointError
from .files import read_checkpoint, state_dict_of, strip_prefix
from .torchscript import is_torchscript, read_torchscript

VGG16_CONVS = ((3, 64), (64, 64), (64, 128), (128, 128), (128, 256), (256, 256), (256, 256),
               (256, 512), (512, 512), (512, 512), (512, 512), (512, 512), (512, 512))
"""(in, out) channels of VGG16's 13 convolutions, all 3x3 with padding 1."""

POOL_AFTER = (1, 3, 6, 9, 12)
"""Conv indices followed by a 2x2 max-pool; their ReLU outputs are relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3, the five LPIPS layers."""

LPIPS_CHANNELS = (64, 128, 256, 512, 512)
TORCHVISION_INDEX = (0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28)
"""Position of each convolution in torchvision's ``vgg16().features``."""

VGG16_FEATURE_BYTES = 8 * (sum(9 * i * o + o for i, o in VGG16_CONVS) + sum(LPIPS_CHANNELS))
"""The convolutions and LPIPS weights in float64: the most a VGG16 file may make us read (about 118 MB)."""

TORCHVISION_NAME = "vgg16-397923af.pth"
NVIDIA_NAME = "vgg16.pt"
LPIPS_NAME = "vgg.pth"


@dataclass(eq=False)
class VGG16Weights:
    """The 13 convolutions of an ImageNet VGG16 (float32, CPU) and the LPIPS weights its file carries."""

    path: str
    layout: str
    """``torchvision`` (features.N) or ``nvidia`` (layers.convN, NVIDIA's TorchScript vgg16.pt)."""
    convs: list[tuple[torch.Tensor, torch.Tensor]]
    lin: list[torch.Tensor] | None = None
    """Per-channel LPIPS weights ``[C]`` for the five layers when the file has them (NVIDIA's does)."""

    @property
    def name(self) -> str:
        return os.path.basename(self.path)


def _tensor(path: str, name: str, t: object, shape: tuple[int, ...]) -> torch.Tensor:
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(path, f"'{name}' is missing; this is not a VGG16 file")
    if tuple(t.shape) != shape:
        raise CheckpointError(path, f"'{name}' has shape {list(t.shape)} where VGG16 has {list(shape)}; "
                              "this is not a VGG16 file")
    if not t.is_floating_point():
        raise CheckpointError(path, f"'{name}' holds {t.dtype} values, not floating point")
    t = t.detach().to(torch.float32).contiguous()
    if not torch.isfinite(t).all():
        raise CheckpointError(path, f"'{name}' holds NaN or infinite values")
    return t


def check_convs(path: str, sd: dict, names: list[tuple[str, str]]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """The 13 (weight, bias) pairs under the given names, each checked against VGG16's shapes."""
    return [(_tensor(path, w, sd.get(w), (cout, cin, 3, 3)), _tensor(path, b, sd.get(b), (cout,)))
            for (w, b), (cin, cout) in zip(names, VGG16_CONVS)]


def check_lin(path: str, weights: list, names: list[str]) -> list[torch.Tensor]:
    """Five LPIPS weight vectors ``[C]`` (any shape of C elements in the file), finite and non-negative."""
    out = []
    for name, t, c in zip(names, weights, LPIPS_CHANNELS):
        if not isinstance(t, torch.Tensor):
            raise CheckpointError(path, f"'{name}' is missing")
        if not t.is_floating_point():
            raise CheckpointError(path, f"'{name}' holds {t.dtype} values, not floating point")
        if t.numel() != c:
            raise CheckpointError(path, f"'{name}' has shape {list(t.shape)}; LPIPS on VGG16 needs {c} weights "
                                  f"for layer {len(out)} (channels {list(LPIPS_CHANNELS)})")
        t = t.detach().reshape(c).to(torch.float32).contiguous()
        if not torch.isfinite(t).all() or (t < 0).any():
            raise CheckpointError(path, f"'{name}' holds negative, NaN or infinite weights; LPIPS weights are >= 0")
        out.append(t)
    return out


def _torchvision_names() -> list[tuple[str, str]]:
    return [(f"features.{i}.weight", f"features.{i}.bias") for i in TORCHVISION_INDEX]


def _nvidia_names() -> list[tuple[str, str]]:
    return [(f"layers.conv{i}.weight", f"layers.conv{i}.bias") for i in range(1, 14)]


NVIDIA_LIN = [f"lpips{k}" for k in range(5)]


def _layout(keys: set[str]) -> str | None:
    if "features.0.weight" in keys:
        return "torchvision"
    if "layers.conv1.weight" in keys:
        return "nvidia"
    return None


def _not_vgg(path: str, keys: list[str]) -> CheckpointError:
    if any(re.fullmatch(r"lin\d\.model\.\d\.weight", k) for k in keys):
        return CheckpointError(path, "this is an LPIPS calibration file (lin0 ... lin4), not VGG16: choose it as the "
                               "LPIPS weights and a VGG16 file as the network")
    shown = ", ".join(sorted(keys)[:6]) + (", ..." if len(keys) > 6 else "")
    return CheckpointError(path, "not a VGG16 file: expected torchvision's 'features.N.weight' or NVIDIA's "
                           f"'layers.convN.weight' tensors, found [{shown}]")


def _read_torchscript(path: str) -> VGG16Weights:
    arch = read_torchscript(path)
    layout = _layout(set(arch.tensors))
    if layout is None:
        raise _not_vgg(path, list(arch.tensors))
    names = _torchvision_names() if layout == "torchvision" else _nvidia_names()
    lin_names = [n for n in NVIDIA_LIN if n in arch.tensors] if layout == "nvidia" else []
    # shapes are checked before any storage is read, so a wrong file costs no memory
    for (w, b), (cin, cout) in zip(names, VGG16_CONVS):
        for n, shape in ((w, (cout, cin, 3, 3)), (b, (cout,))):
            ref = arch.tensors.get(n)
            if ref is None:
                raise CheckpointError(path, f"'{n}' is missing; this is not a VGG16 file")
            if ref.size != shape:
                raise CheckpointError(path, f"'{n}' has shape {list(ref.size)} where VGG16 has {list(shape)}; "
                                      "this is not a VGG16 file")
    if lin_names and len(lin_names) != 5:
        raise CheckpointError(path, f"the archive has {', '.join(lin_names)} but not all of lpips0 ... lpips4")
    for n, c in zip(lin_names, LPIPS_CHANNELS):
        if torch.Size(arch.tensors[n].size).numel() != c:
            raise CheckpointError(path, f"'{n}' has shape {list(arch.tensors[n].size)}; LPIPS on VGG16 needs {c} weights")
    wanted = [n for pair in names for n in pair]
    tensors = arch.load(wanted + lin_names, max_bytes=VGG16_FEATURE_BYTES)
    convs = check_convs(path, tensors, names)
    lin = None
    if lin_names:
        lin = check_lin(path, [tensors[n] for n in NVIDIA_LIN], NVIDIA_LIN)
    return VGG16Weights(path=path, layout=layout, convs=convs, lin=lin)


def read_vgg16(path: str | os.PathLike) -> VGG16Weights:
    """Read a VGG16 file (torchvision state dict or NVIDIA's TorchScript ``vgg16.pt``) without running code."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    if is_torchscript(path):
        return _read_torchscript(path)
    ckpt = read_checkpoint(path)
    sd = state_dict_of(ckpt.obj, ("state_dict", "model"))
    if sd is None:
        keys = list(ckpt.obj) if isinstance(ckpt.obj, dict) else []
        raise _not_vgg(path, [str(k) for k in keys])
    sd = strip_prefix(sd)
    layout = _layout(set(sd))
    if layout is None:
        raise _not_vgg(path, list(sd))
    names = _torchvision_names() if layout == "torchvision" else _nvidia_names()
    lin = None
    if layout == "nvidia" and all(n in sd for n in NVIDIA_LIN):
        lin = check_lin(path, [sd[n] for n in NVIDIA_LIN], NVIDIA_LIN)
    return VGG16Weights(path=path, layout=layout, convs=check_convs(path, sd, names), lin=lin)


def read_lpips_weights(path: str | os.PathLike) -> list[torch.Tensor]:
    """The five per-channel LPIPS weights ``[C]`` of the lpips package's ``vgg.pth`` (``linK.model.1.weight``).

    A full LPIPS state dict (``lin0.model.1.weight`` under any prefix) is accepted; weights for
    AlexNet or SqueezeNet are refused by their channel counts."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    if is_torchscript(path):
        raise CheckpointError(path, "a TorchScript archive is not an LPIPS calibration file; NVIDIA's vgg16.pt "
                              "carries its own LPIPS weights: choose it as the VGG16 file")
    ckpt = read_checkpoint(path)
    sd = state_dict_of(ckpt.obj, ("state_dict", "model"))
    if sd is None:
        raise CheckpointError(path, "not an LPIPS calibration file (no state dict of tensors)")
    found: dict[int, tuple[str, torch.Tensor]] = {}
    for key, t in sd.items():
        m = re.fullmatch(r"(?:.*\.)?lin(\d+)\.model\.\d+\.weight", key)
        if m:
            found[int(m.group(1))] = (key, t)
    if not found:
        if _layout(set(sd)):
            raise CheckpointError(path, "this is a VGG16 network, not LPIPS calibration weights: choose it as the VGG16 file")
        raise CheckpointError(path, "not an LPIPS calibration file: no 'lin0.model.1.weight' ... 'lin4.model.1.weight'")
    if sorted(found) != list(range(5)):
        raise CheckpointError(path, f"LPIPS weights for {len(found)} layers (lin{', lin'.join(map(str, sorted(found)))}); "
                              "LPIPS on VGG16 has exactly five (lin0 ... lin4)")
    names = [found[k][0] for k in range(5)]
    return check_lin(path, [found[k][1] for k in range(5)], names)


__all__ = ["VGG16Weights", "read_vgg16", "read_lpips_weights", "VGG16_CONVS", "POOL_AFTER", "LPIPS_CHANNELS",
           "TORCHVISION_INDEX", "TORCHVISION_NAME", "NVIDIA_NAME", "LPIPS_NAME"]
