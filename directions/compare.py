"""Compare two direction sets: |cosine| between their vectors, best matches, principal angles.

Useful to see whether two methods (SeFa, GANSpace, Voynov) or two runs (seeds, sample counts)
found the same directions: a diagonal of ones means the same vectors in the same order; a
permutation means the same vectors reordered; principal angles near 0 mean the same subspace
even when the individual vectors are mixed."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import InputError, MismatchError
from .container import Directions
from .ganspace import principal_angles

MAX_COMPARE = 64


def check_comparable(a: Directions, b: Directions) -> None:
    """Refuse sets of different widths, spaces, or found on different models."""
    if a.dim != b.dim:
        raise MismatchError(f"direction sets have different widths ({a.dim} vs {b.dim}); they belong to different models")
    if a.fingerprint and b.fingerprint and a.fingerprint != b.fingerprint:
        raise MismatchError(f"direction sets were found on different models ({a.fingerprint} vs {b.fingerprint})")
    if a.space != b.space:
        raise MismatchError(f"direction sets live in different spaces ({a.space} vs {b.space}); compare like with like")


def cosine_matrix(a: Directions, b: Directions, n: int) -> torch.Tensor:
    """Signed cosines ``[na, nb]`` between the first ``n`` vectors of each set (float64)."""
    va = a.vectors[:n].to(torch.float64)
    vb = b.vectors[:n].to(torch.float64)
    va = va / torch.linalg.vector_norm(va, dim=1, keepdim=True).clamp_min(1e-300)
    vb = vb / torch.linalg.vector_norm(vb, dim=1, keepdim=True).clamp_min(1e-300)
    return va @ vb.T


def compare_directions(a: Directions, b: Directions, n: int) -> tuple[torch.Tensor, torch.Tensor, str]:
    """``(|cos| [na, nb], principal angles in degrees, report)`` for the first ``n`` vectors of each."""
    check_comparable(a, b)
    n = int(n)
    if not 1 <= n <= MAX_COMPARE:
        raise InputError(f"count {n} is outside 1..{MAX_COMPARE}")
    cos = cosine_matrix(a, b, n)
    abs_cos = cos.abs()
    angles = torch.rad2deg(principal_angles(a.vectors[:n], b.vectors[:n]))
    return abs_cos, angles, _report(a, b, cos, angles)


def _report(a: Directions, b: Directions, cos: torch.Tensor, angles: torch.Tensor) -> str:
    na, nb = cos.shape
    lines = [f"A: {a.method} ({na} of {len(a)})   B: {b.method} ({nb} of {len(b)})   space {a.space}, {a.dim} wide",
             "best match in B for each vector of A:"]
    for i in range(na):
        j = int(cos[i].abs().argmax())
        lines.append(f"  A{i:<3} -> B{j:<3} |cos| {abs(float(cos[i, j])):.4f}  ({'same' if cos[i, j] >= 0 else 'opposite'} sign)")
    lines.append("best match in A for each vector of B:")
    for j in range(nb):
        i = int(cos[:, j].abs().argmax())
        lines.append(f"  B{j:<3} -> A{i:<3} |cos| {abs(float(cos[i, j])):.4f}")
    shown = ", ".join(f"{float(t):.2f}" for t in angles)
    lines.append(f"principal angles between span(A) and span(B), degrees: {shown}")
    lines.append(f"largest {float(angles.max()):.2f} deg, mean {float(angles.mean()):.2f} deg "
                 "(0: same subspace, 90: orthogonal)")
    return "\n".join(lines)


# ----- heatmap ------------------------------------------------------------------------------
_ANCHORS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], np.float64)


def _colour(v: np.ndarray) -> np.ndarray:
    """A viridis-like ramp for values in [0, 1] -> uint8 RGB."""
    x = np.clip(v, 0, 1) * (len(_ANCHORS) - 1)
    i = np.minimum(x.astype(int), len(_ANCHORS) - 2)
    f = (x - i)[..., None]
    return (_ANCHORS[i] * (1 - f) + _ANCHORS[i + 1] * f).round().astype(np.uint8)


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow < 10.1 has only the small bitmap font
        return ImageFont.load_default()


def _text(draw, xy, text, font, fill, anchor) -> None:
    try:
        draw.text(xy, text, fill=fill, font=font, anchor=anchor)
    except ValueError:  # bitmap fonts of old Pillow take no anchor: centre by hand
        w, h = draw.textbbox((0, 0), text, font=font)[2:]
        dx = {"m": w / 2, "r": w, "l": 0}[anchor[0]]
        dy = {"m": h / 2, "s": h}[anchor[1]]
        draw.text((xy[0] - dx, xy[1] - dy), text, fill=fill, font=font)


def heatmap(abs_cos: torch.Tensor, title: str = "") -> np.ndarray:
    """|cos| matrix -> RGB uint8 ``[H, W, 3]``: coloured cells with the value written in each,
    rows labelled A0.., columns B0.."""
    from PIL import Image, ImageDraw

    m = abs_cos.detach().cpu().to(torch.float64).numpy()
    na, nb = m.shape
    cell = 44 if max(na, nb) <= 24 else 36
    margin, top = 48, 48 if title else 30
    img = Image.new("RGB", (margin + nb * cell + 8, top + na * cell + 8), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    small, label = _font(12 if cell >= 44 else 10), _font(13)
    if title:
        draw.text((margin, 4), title, fill=(0, 0, 0), font=label)
    for j in range(nb):
        _text(draw, (margin + j * cell + cell // 2, top - 4), f"B{j}", label, (0, 0, 0), "ms")
    colours = _colour(m)
    for i in range(na):
        y = top + i * cell
        _text(draw, (margin - 6, y + cell // 2), f"A{i}", label, (0, 0, 0), "rm")
        for j in range(nb):
            x = margin + j * cell
            rgb = tuple(int(c) for c in colours[i, j])
            draw.rectangle([x, y, x + cell - 1, y + cell - 1], fill=rgb, outline=(255, 255, 255))
            ink = (0, 0, 0) if 0.299 * rgb[0] + 0.587 * rgb[1] + 0.114 * rgb[2] > 140 else (255, 255, 255)
            _text(draw, (x + cell // 2, y + cell // 2), f"{m[i, j]:.2f}", small, ink, "mm")
    return np.array(img, dtype=np.uint8)
