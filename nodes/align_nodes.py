"""Align Face: crop photos the way FFHQ was made, before they are inverted into a face GAN."""

from __future__ import annotations

import numpy as np
import torch

from ..directions.align import MAX_SIZE, MIN_SIZE, align_from_landmarks, check_size, find_landmarks
from ..errors import InputError
from . import bridge
from .common import CATEGORY, MAX_BATCH

SUBCATEGORY = f"{CATEGORY}/photo"


def image_batch_to_uint8(image: torch.Tensor) -> list[np.ndarray]:
    """ComfyUI IMAGE ``[B, H, W, C]`` in [0, 1] -> one ``[H, W, 3]`` uint8 array per entry.

    NaN or infinite pixels are refused (naming the entry); values a rounding step outside [0, 1]
    are clamped, as ComfyUI's own image savers do; one channel is repeated, a fourth dropped."""
    if not isinstance(image, torch.Tensor) or image.ndim != 4 or image.shape[-1] not in (1, 3, 4):
        shape = list(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise InputError(f"expected an IMAGE batch [B, H, W, 3], not {shape}")
    if not 1 <= image.shape[0] <= MAX_BATCH:
        raise InputError(f"the batch has {image.shape[0]} images; 1..{MAX_BATCH} are accepted")
    bad = (~torch.isfinite(image)).flatten(1).any(dim=1).nonzero().flatten().tolist()
    if bad:
        raise InputError(f"image {bad[0]} of the batch has NaN or infinite pixels")
    arrays = torch.round(image.detach().float().clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()
    return [a[:, :, :3] if a.shape[-1] >= 3 else np.repeat(a, 3, axis=2) for a in arrays]


def describe(index: int, info: dict) -> str:
    (lx, ly), (rx, ry) = info["eyes"]
    mx, my = info["mouth"]
    return f"image {index}: eyes ({lx:.1f}, {ly:.1f}) ({rx:.1f}, {ry:.1f}); mouth ({mx:.1f}, {my:.1f})"


class AlignFace:
    DESCRIPTION = ("Find the largest face in each photo (MediaPipe face mesh, offline; needs "
                   "pip install \"gan-latent-lab[align]\") and crop it as the FFHQ dataset was made: levelled by the "
                   "eyes and mouth, scaled by their distances, blurred reflection where the crop leaves the photo. "
                   "Feed the result to inversion; FFHQ-trained generators expect exactly this framing.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = ("IMAGE", "STRING")
    RETURN_NAMES = ("aligned", "landmarks")
    OUTPUT_TOOLTIPS = ("One size x size crop per input image.",
                       "Eye centres (image-left first) and mouth centre per image, in source pixels.")
    FUNCTION = "align"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "image": ("IMAGE", {"tooltip": "Photos with a face; each batch entry is aligned on its own."}),
            "size": ("INT", {"default": 1024, "min": MIN_SIZE, "max": MAX_SIZE, "step": 1,
                             "tooltip": "Side of the aligned image (FFHQ: 1024). Inversion resizes it again to the "
                                        "model's resolution."}),
        }}

    def align(self, image, size):
        size = check_size(size)  # every widget checked before any image is converted
        photos = image_batch_to_uint8(image)
        marks = []
        for i, photo in enumerate(photos):     # every face is found before any image is warped
            bridge.check_interrupt()
            try:
                marks.append(find_landmarks(photo))
            except InputError as e:
                raise InputError(f"image {i} of the batch: {e}") from e
        progress = bridge.Progress(len(photos))
        out, lines = [], []
        for i, (photo, m) in enumerate(zip(photos, marks)):
            bridge.check_interrupt()
            aligned, info = align_from_landmarks(photo, m["eyes"], m["mouth_corners"], size)
            out.append(torch.from_numpy(aligned.copy()))
            lines.append(describe(i, info))
            progress.update(1)
        batch = torch.stack(out).float().div_(255.0).to(bridge.intermediate_device())
        return (batch, "\n".join(lines))


NODES = {
    "GANLabAlignFace": (AlignFace, "Align Face"),
}
