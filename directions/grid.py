"""Image grids with labels, like the SeFa paper figures: rows are directions, columns strengths.

Works on ComfyUI IMAGE tensors (``[n, H, W, 3]`` in 0..1) and returns one such image, so the
node stays thin and the drawing is testable without ComfyUI.  Small cells are enlarged by
nearest-neighbour so labels stay readable next to 16 or 32 pixel images.
"""

from __future__ import annotations

from typing import Sequence

import einops
import numpy as np
import torch
from PIL import Image, ImageDraw, ImageFont

from ..errors import InputError

BACKGROUND = (255, 255, 255)
INK = (20, 20, 20)


def _font() -> ImageFont.ImageFont:
    return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
    box = draw.textbbox((0, 0), text, font=font)
    return box[2] - box[0], box[3] - box[1]


def image_grid(images: torch.Tensor, rows: int, cols: int, row_labels: Sequence[str] = (),
               col_labels: Sequence[str] = (), min_cell: int = 64, gap: int = 2) -> torch.Tensor:
    """``images [rows*cols, H, W, 3]`` (row-major) -> one labelled grid ``[1, H', W', 3]`` in 0..1."""
    if images.ndim != 4 or images.shape[0] != rows * cols or images.shape[-1] != 3:
        raise InputError(f"a {rows}x{cols} grid needs [{rows * cols}, H, W, 3] images, got {list(images.shape)}")
    scale = max(1, -(-min_cell // max(images.shape[1], images.shape[2])))
    pixels = (images.detach().float().clamp(0, 1) * 255 + 0.5).to(torch.uint8).cpu()
    if scale > 1:
        pixels = einops.repeat(pixels, "n h w c -> n (h a) (w b) c", a=scale, b=scale)
    cells = einops.rearrange(pixels, "(r k) h w c -> r k h w c", r=rows).numpy()
    h, w = cells.shape[2], cells.shape[3]

    font = _font()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    left = max([_text_size(probe, t, font)[0] for t in row_labels] or [0])
    left = left + 8 if row_labels else 0
    top = max([_text_size(probe, t, font)[1] for t in col_labels] or [0])
    top = top + 8 if col_labels else 0

    canvas = Image.new("RGB", (left + cols * (w + gap) - gap, top + rows * (h + gap) - gap), BACKGROUND)
    draw = ImageDraw.Draw(canvas)
    for r in range(rows):
        y = top + r * (h + gap)
        if r < len(row_labels):
            th = _text_size(draw, row_labels[r], font)[1]
            draw.text((4, y + (h - th) // 2), row_labels[r], fill=INK, font=font)
        for k in range(cols):
            canvas.paste(Image.fromarray(np.ascontiguousarray(cells[r, k])), (left + k * (w + gap), y))
    for k, text in enumerate(col_labels[:cols]):
        tw = _text_size(draw, text, font)[0]
        draw.text((left + k * (w + gap) + (w - tw) // 2, 3), text, fill=INK, font=font)
    out = torch.from_numpy(np.asarray(canvas, dtype=np.float32) / 255.0)
    return out.unsqueeze(0)


def strength_label(value: float) -> str:
    return f"{value:+.2f}".rstrip("0").rstrip(".") if value else "0"


def direction_label(directions, index: int) -> str:
    """"#3 eig=12.5" for eigenvalue sets, "#3 sd=1.8" for stdev sets, plus the label if named (ASCII: every PIL font draws it)."""
    v = float(directions.values[index])
    kind = {"eigenvalue": "eig", "stdev": "sd"}.get(directions.scale_kind)
    text = f"#{index}" + (f" {kind}={v:.4g}" if kind else "")
    if directions.labels and index < len(directions.labels) and directions.labels[index]:
        text += f" {directions.labels[index]}"
    return text
