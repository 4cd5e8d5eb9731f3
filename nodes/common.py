"""Shared pieces of node classes: socket types, limits, validation, tensor <-> IMAGE."""

from __future__ import annotations

import torch

from ..directions.edit import finite  # noqa: F401 - nodes validate widgets with it
from ..errors import InputError, MismatchError

CATEGORY = "GAN Latent Lab"
MODEL = "GAN_MODEL"
LATENT = "GAN_LATENT"
DIRECTIONS = "GAN_DIRECTIONS"
PERCEPTUAL = "GAN_PERCEPTUAL"
MAX_BATCH = 256       # latents drawn from seeds or joined into one batch
MAX_IMAGES = 512      # latents of a sweep, grid or interpolation, and codes in one Decode
SEED_MAX = 0xFFFFFFFF
DECODE_CHUNK = 8


def batch_size(value: int) -> int:
    n = int(value)
    if not 1 <= n <= MAX_BATCH:
        raise InputError(f"batch size {n} is outside 1..{MAX_BATCH}")
    return n


def seed(value: int) -> int:
    s = int(value)
    if not 0 <= s <= SEED_MAX:
        raise InputError(f"seed {s} is outside 0..{SEED_MAX} (32-bit)")
    return s


def check_latent(model, latent) -> None:
    if latent is None:
        raise MismatchError("no latent given")
    latent.check_model(model)


def to_image(img: torch.Tensor) -> torch.Tensor:
    """Generator output ``[n, C, H, W]`` in [-1, 1] -> ComfyUI IMAGE ``[n, H, W, 3]`` in [0, 1]."""
    img = img.float()
    if img.shape[1] == 1:
        img = img.expand(-1, 3, -1, -1)
    elif img.shape[1] > 3:
        img = img[:, :3]
    return ((img.clamp(-1, 1) + 1) * 0.5).permute(0, 2, 3, 1).contiguous()
