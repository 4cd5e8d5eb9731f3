"""Shared pieces of node classes: socket types, limits, validation, tensor <-> IMAGE."""

from __future__ import annotations

import os
import weakref
from typing import Callable, TypeVar

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
IMAGE_MAX_SIDE = 16384  # photos a node converts: larger sides are refused before anything is resized
IMAGE_RANGE_TOLERANCE = 0.01


T = TypeVar("T")


class FileCache(weakref.WeakValueDictionary):
    """Objects read from files (models, encoders, VGG16 weights), held weakly under the file's identity
    (real path, size, modification time): re-running a graph on an unchanged file reuses what is still in
    memory, and an entry disappears with its object when ComfyUI frees its caches, so nothing is pinned."""

    def load(self, path: str, read: Callable[[str], T]) -> T:
        """The object cached for ``path`` as it is now, else ``read(path)``, kept for next time."""
        st = os.stat(path)
        key = (os.path.realpath(path), st.st_size, st.st_mtime_ns)
        obj = self.get(key)
        if obj is None:
            obj = read(path)
            self[key] = obj
        return obj


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


def check_image(image, node: str, max_images: int, max_side: int = IMAGE_MAX_SIDE, min_side: int = 1) -> None:
    """Refuse an IMAGE a photo node cannot take, before anything is converted or moved: not a tensor
    ``[B, H, W, 1..4]`` (one image may omit the batch axis), no image or more than ``max_images``, a side
    outside ``min_side..max_side``, not floating point, NaN or infinite values, values outside [0, 1]
    (an 8-bit image not divided by 255).  ``node`` names the node in the message."""
    if not isinstance(image, torch.Tensor):
        raise InputError(f"{node}: image must be an IMAGE tensor [batch, height, width, channels], "
                         f"not {type(image).__name__}")
    if image.ndim == 3:
        image = image[None]
    if image.ndim != 4 or image.shape[-1] not in (1, 2, 3, 4):
        raise InputError(f"{node}: an IMAGE is [batch, height, width, 1..4 channels], got {list(image.shape)}")
    n, h, w, _ = image.shape
    if not 1 <= n <= max_images:
        raise InputError(f"{node}: {n} images; it takes 1..{max_images} at once")
    if not (min_side <= h <= max_side and min_side <= w <= max_side):
        raise InputError(f"{node}: the images are {h}x{w} px; sides of {min_side}..{max_side} px are accepted")
    if not image.is_floating_point():
        raise InputError(f"{node}: an IMAGE holds floating-point values in [0, 1], not {image.dtype}")
    if not bool(torch.isfinite(image).all()):
        raise InputError(f"{node}: the image holds NaN or infinite values")
    lo, hi = float(image.min()), float(image.max())
    if lo < -IMAGE_RANGE_TOLERANCE or hi > 1 + IMAGE_RANGE_TOLERANCE:
        raise InputError(f"{node}: pixel values run from {lo:.3g} to {hi:.3g}; an IMAGE is in [0, 1]")


def photos(image, node: str, max_images: int, max_side: int = IMAGE_MAX_SIDE, min_side: int = 1) -> torch.Tensor:
    """:func:`check_image`, then :func:`from_image`: the generator's ``[n, 3, H, W]`` in [-1, 1]
    (grayscale repeated to RGB, alpha dropped: converted, never refused)."""
    check_image(image, node, max_images, max_side, min_side)
    return from_image(image).clamp(-1, 1)
