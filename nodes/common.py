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
ENCODER = "GAN_ENCODER"
MAX_BATCH = 256       # latents drawn from seeds or joined into one batch
MAX_IMAGES = 512      # latents of a sweep, grid or interpolation, and codes in one Decode
SEED_MAX = 0xFFFFFFFF
DECODE_CHUNK = 8


def whole(name: str, value) -> int:
    """A widget value that must be a whole number (text, NaN, inf and fractions are input errors naming it)."""
    if isinstance(value, bool):
        raise InputError(f"{name} must be a whole number, not {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InputError(f"{name} must be a whole number, not {str(value)[:40]!r}") from None
    if not f.is_integer():
        raise InputError(f"{name} must be a whole number, not {f}")
    return int(value) if isinstance(value, int) else int(f)


def batch_size(value: int) -> int:
    n = whole("batch size", value)
    if not 1 <= n <= MAX_BATCH:
        raise InputError(f"batch size {n} is outside 1..{MAX_BATCH}")
    return n


def seed(value: int) -> int:
    s = whole("seed", value)
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


def from_image(image: torch.Tensor) -> torch.Tensor:
    """ComfyUI IMAGE ``[n, H, W, C]`` in [0, 1] -> ``[n, 3, H, W]`` in [-1, 1] (the generators' convention).

    Grayscale (C = 1) is repeated to RGB; an alpha channel (C = 2 or 4) is dropped, as PIL's
    ``convert("RGB")`` does."""
    if not isinstance(image, torch.Tensor):
        raise InputError(f"expected an IMAGE tensor, got {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[0] == 0 or image.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"an IMAGE is [batch, height, width, 1..4 channels], got {list(image.shape)}")
    x = image.float()
    if not torch.isfinite(x).all():
        raise InputError("the image holds NaN or infinite values")
    c = x.shape[-1]
    x = x[..., :1].expand(-1, -1, -1, 3) if c <= 2 else x[..., :3]
    return (x * 2 - 1).permute(0, 3, 1, 2).contiguous()
