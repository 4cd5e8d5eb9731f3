"""Reconstructors for Voynov training: from an image pair, which direction moved and by how much.

Both take the two images stacked as 6 channels and return direction logits ``[n, K]`` and a
predicted magnitude ``[n]``.  ``resnet`` is ResNet-18 shaped (BasicBlocks [2, 2, 2, 2] with batch
norm), the paper's choice for large images; ``lenet`` is the small LeNet-shaped network the paper
uses for MNIST / anime-sized images.  ``auto`` picks LeNet up to 64 px, ResNet above.  Images are
resized (bilinear) to the network's input size, so any generator resolution works.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError

KINDS = ("auto", "lenet", "resnet")
LENET_MAX = 64
RESNET_MAX = 128
MIN_SIZE = 32


def _as_rgb(img: torch.Tensor) -> torch.Tensor:
    if img.shape[1] == 3:
        return img
    if img.shape[1] == 1:
        return img.expand(-1, 3, -1, -1)
    return img[:, :3]


class _PairInput(nn.Module):
    """Resize both images to the network's size and stack them as 6 channels."""

    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = int(size)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        x = torch.cat([_as_rgb(a), _as_rgb(b)], dim=1)
        if x.shape[-2:] != (self.size, self.size):
            shrink = x.shape[-1] > self.size
            x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", align_corners=False, antialias=shrink)
        return x


class BasicBlock(nn.Module):
    """Two 3x3 conv + BN layers with an identity (or 1x1 projection) shortcut."""

    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.shortcut = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return F.relu(y + self.shortcut(x))


class ResNetReconstructor(nn.Module):
    """ResNet-18 body on the 6-channel pair, global average pool, two linear heads."""

    def __init__(self, k: int, size: int) -> None:
        super().__init__()
        self.pair = _PairInput(size)
        self.stem = nn.Sequential(nn.Conv2d(6, 64, 7, 2, 3, bias=False), nn.BatchNorm2d(64), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        blocks, c_in = [], 64
        for c_out, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
            blocks += [BasicBlock(c_in, c_out, stride), BasicBlock(c_out, c_out, 1)]
            c_in = c_out
        self.body = nn.Sequential(*blocks)
        self.direction_head = nn.Linear(512, k)
        self.shift_head = nn.Linear(512, 1)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.body(self.stem(self.pair(a, b))).mean(dim=(-2, -1))
        return self.direction_head(feat), self.shift_head(feat).squeeze(-1)


def _mlp_head(width: int, out: int) -> nn.Sequential:
    return nn.Sequential(nn.Linear(60 * width, 42 * width), nn.BatchNorm1d(42 * width), nn.ReLU(),
                         nn.Linear(42 * width, out))


class LeNetReconstructor(nn.Module):
    """Three 5x5 conv + BN layers (two max pools), spatial mean, two small MLP heads."""

    def __init__(self, k: int, size: int, width: int = 2) -> None:
        super().__init__()
        self.pair = _PairInput(size)
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(6, 3 * w, 5), nn.BatchNorm2d(3 * w), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(3 * w, 8 * w, 5), nn.BatchNorm2d(8 * w), nn.ReLU(), nn.MaxPool2d(2, 2),
            nn.Conv2d(8 * w, 60 * w, 5), nn.BatchNorm2d(60 * w), nn.ReLU())
        self.direction_head = _mlp_head(w, k)
        self.shift_head = _mlp_head(w, 1)

    def forward(self, a: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        feat = self.body(self.pair(a, b)).mean(dim=(-2, -1))
        return self.direction_head(feat), self.shift_head(feat).squeeze(-1)


def resolve_kind(kind: str, resolution: int) -> str:
    """``auto`` -> ``lenet`` for images up to 64 px, ``resnet`` above."""
    if kind not in KINDS:
        raise InputError(f"reconstructor must be one of {', '.join(KINDS)}, not {kind!r}")
    if kind == "auto":
        return "lenet" if resolution <= LENET_MAX else "resnet"
    return kind


def build_reconstructor(kind: str, k: int, resolution: int) -> nn.Module:
    """A fresh reconstructor for K directions on images of the given resolution."""
    kind = resolve_kind(kind, resolution)
    if kind == "lenet":
        return LeNetReconstructor(k, size=min(max(resolution, MIN_SIZE), LENET_MAX))
    return ResNetReconstructor(k, size=min(max(resolution, MIN_SIZE), RESNET_MAX))
