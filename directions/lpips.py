"""LPIPS on VGG16 in plain torch (Zhang et al., 2018, "The Unreasonable Effectiveness of Deep Features
as a Perceptual Metric"), from weights read by :mod:`..loaders.vgg`; nothing is downloaded.

For images ``x, y`` in [-1, 1]: both are read as [0, 1] and normalised with the ImageNet mean and
standard deviation (identical to LPIPS's scaling layer, shift ``[-.030, -.088, -.188]`` and scale
``[.458, .448, .450]`` on [-1, 1]); VGG16 gives the ReLU outputs relu1_2, relu2_2, relu3_3, relu4_3 and
relu5_3; each is divided by its per-position channel norm (``f / (||f|| + 1e-10)``); the squared
differences are weighted per channel by the calibration weights ``w`` (LPIPS v0.1 ``vgg.pth``, or
the ``lpips0..4`` inside NVIDIA's ``vgg16.pt``), averaged over positions and summed over the five
layers::

    d(x, y) = sum_l mean_hw sum_c w_lc (f̂_l(x) - f̂_l(y))_chw ** 2

Without calibration weights every ``w`` is 1 (LPIPS's uncalibrated baseline).  Images wider or taller
than ``size_cap`` (256) are area-downsampled first, as NVIDIA's projector does before its VGG16.
"""

from __future__ import annotations

import weakref
from typing import Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError
from ..loaders.vgg import LPIPS_CHANNELS, LPIPS_NAME, POOL_AFTER, VGG16_CONVS, VGG16Weights
from .perceptual import ImageDistance

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
SIZE_CAP = 256
MIN_SIDE = 16
"""relu5_3 sits behind four 2x2 poolings: smaller images leave it no pixel."""
EPS = 1e-10

UNIFORM_HINT = (f"uniform layer weights: put the lpips package's weights/v0.1/{LPIPS_NAME} into models/gan_aux "
                "for calibrated LPIPS")


class VGG16Features(torch.nn.Module):
    """VGG16's convolutions up to conv5_3; ``forward`` returns the five LPIPS ReLU outputs."""

    def __init__(self, convs: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> None:
        super().__init__()
        if len(convs) != len(VGG16_CONVS):
            raise InputError(f"VGG16 has {len(VGG16_CONVS)} convolutions, got {len(convs)}")
        for i, (w, b) in enumerate(convs):
            self.register_buffer(f"weight{i}", w.detach())
            self.register_buffer(f"bias{i}", b.detach())

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        taps = []
        for i in range(len(VGG16_CONVS)):
            x = F.relu(F.conv2d(x, getattr(self, f"weight{i}"), getattr(self, f"bias{i}"), padding=1), inplace=True)
            if i in POOL_AFTER:
                taps.append(x)
                if i != POOL_AFTER[-1]:
                    x = F.max_pool2d(x, 2)
        return taps


def unit_channels(f: torch.Tensor) -> torch.Tensor:
    """Each position's channel vector divided by its length (LPIPS's ``normalize_tensor``)."""
    return f / (torch.linalg.vector_norm(f, dim=1, keepdim=True) + EPS)


class LPIPS(ImageDistance):
    """LPIPS on VGG16: ``forward(x, y) -> [n]``, differentiable in ``x``, 0 for identical images.

    ``lin``: five per-channel weight vectors (``[C]`` or ``[1, C, 1, 1]``); default: the ones the VGG
    file carries (NVIDIA's ``vgg16.pt``), else uniform; ``False``: uniform in any case.  With
    ``cache_target`` the features of a ``y`` that needs no gradient are kept and reused while the same,
    unmodified tensor is passed again, so an optimisation against a fixed photo runs VGG16 once per
    step instead of twice."""

    def __init__(self, vgg: VGG16Weights, lin: Sequence[torch.Tensor] | None | bool = None, lin_source: str = "",
                 size_cap: int = SIZE_CAP, cache_target: bool = True) -> None:
        super().__init__()
        if int(size_cap) < MIN_SIDE:
            raise InputError(f"size cap {size_cap} is below the {MIN_SIDE} px VGG16 needs")
        self.weights = vgg  # the file's tensors, shared with the buffers below while on the CPU
        self.vgg_name, self.vgg_layout = vgg.name, vgg.layout
        if lin is None and vgg.lin is not None:
            lin, lin_source = vgg.lin, f"{vgg.name}'s own weights"
        if lin is False:  # uniform even when the file has weights
            lin = None
        self.calibrated = lin is not None
        if lin is None:
            lin = [torch.ones(c) for c in LPIPS_CHANNELS]
        if len(lin) != len(LPIPS_CHANNELS):
            raise InputError(f"LPIPS on VGG16 takes {len(LPIPS_CHANNELS)} weight vectors, got {len(lin)}")
        for k, (w, c) in enumerate(zip(lin, LPIPS_CHANNELS)):
            if w.numel() != c or not torch.isfinite(w).all() or (w < 0).any():
                raise InputError(f"LPIPS weights of layer {k} must be {c} finite non-negative numbers, "
                                 f"got shape {list(w.shape)}")
            self.register_buffer(f"lin{k}", w.detach().reshape(c).to(torch.float32))
        self.lin_source = (lin_source or "the given weights") if self.calibrated else ""
        self.net = VGG16Features(vgg.convs)
        self.register_buffer("shift", torch.tensor([(0.5 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([0.5 / s for s in IMAGENET_STD]).view(1, 3, 1, 1))
        self.size_cap = int(size_cap)
        self.cache_target = bool(cache_target)
        self._target: tuple | None = None
        self.name = "lpips-vgg16" if self.calibrated else "lpips-vgg16-uniform"
        self.hint = "" if self.calibrated else UNIFORM_HINT

    @property
    def summary(self) -> str:
        weights = f"calibrated by {self.lin_source}" if self.calibrated else UNIFORM_HINT
        return f"LPIPS on VGG16 ({self.vgg_name}, {self.vgg_layout} layout), {weights}"

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """[-1, 1] images -> VGG16 input: area-downsampled to the size cap, ImageNet-normalised."""
        h, w = x.shape[-2:]
        if max(h, w) > self.size_cap:
            s = self.size_cap / max(h, w)
            x = F.interpolate(x, size=(max(1, round(h * s)), max(1, round(w * s))), mode="area")
        if min(x.shape[-2:]) < MIN_SIDE:
            raise InputError(f"LPIPS on VGG16 needs images of at least {MIN_SIDE} px a side, got {h}x{w}"
                             + (" after downsampling to the size cap" if max(h, w) > self.size_cap else ""))
        return x * self.scale + self.shift

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The five unit-normalised VGG16 feature maps of a batch in [-1, 1]."""
        return [unit_channels(f) for f in self.net(self.prepare(x))]

    def _follow(self, x: torch.Tensor) -> torch.Tensor:
        """Weights onto the input's device; the input in the weights' dtype."""
        if self.shift.device != x.device:
            self.to(x.device)
            self._target = None
        return x.to(self.shift.dtype)

    def _target_features(self, y: torch.Tensor) -> list[torch.Tensor]:
        key = (y._version, y.shape, y.dtype, y.device, y.data_ptr())
        cached = self._target
        if cached is not None and cached[0]() is y and cached[1] == key:
            return cached[2]
        with torch.no_grad():
            feats = self.features(self._follow(y))
        self._target = (weakref.ref(y), key, feats) if self.cache_target else None
        return feats

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.check(x, y)
        xf = self._follow(x)
        if y.requires_grad and torch.is_grad_enabled():
            both = self.features(torch.cat([xf, self._follow(y)]))
            fx, fy = [f[: len(x)] for f in both], [f[len(x):] for f in both]
        else:
            fy = self._target_features(y)
            fx = self.features(xf)
        total = x.new_zeros(len(x), dtype=fx[0].dtype)
        for k, (a, b) in enumerate(zip(fx, fy)):
            h, w = a.shape[-2:]
            total = total + torch.einsum("nchw,c->n", (a - b) ** 2, getattr(self, f"lin{k}")) / (h * w)
        return total


__all__ = ["LPIPS", "VGG16Features", "unit_channels", "SIZE_CAP", "MIN_SIDE", "IMAGENET_MEAN", "IMAGENET_STD",
           "UNIFORM_HINT"]
