"""Image distances for inversion and pivotal tuning: what "close to the photo" means.

Every distance takes two batches in the generator's convention (``[n, 3, H, W]``, about [-1, 1]),
is differentiable in its first argument and returns one non-negative number per image, zero for
identical images, so a batch of photos is optimised as independent problems.

:class:`PixelMSSSIM` needs no weights: the mix of L1 and multi-scale SSIM that Zhao et al. (2017,
"Loss Functions for Image Restoration with Neural Networks") found to track perceived quality
better than either alone.  MS-SSIM follows Wang et al. (2003): a Gaussian window, contrast-structure
terms at every scale and luminance at the coarsest, weighted by the paper's five exponents.  Small
images use fewer scales (a scale needs at least one full window), with the exponents renormalised.

:func:`image_distance` picks the distance: LPIPS on VGG16 (:mod:`.lpips`) when a VGG16 file is given,
else :class:`PixelMSSSIM`, whose ``hint`` names the files that would improve the result.
"""

from __future__ import annotations

import os
from typing import Any, Sequence

import torch
import torch.nn.functional as F

from ..errors import InputError

MS_SSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
"""Per-scale exponents of Wang, Simoncelli and Bovik (2003), finest first."""


class ImageDistance(torch.nn.Module):
    """Base of every image distance: ``forward(x, y) -> [n]`` per-image, 0 for identical images."""

    name = "distance"
    hint = ""
    """What would make the distance better (a file to add), or empty."""

    @property
    def summary(self) -> str:
        """One line for people: which distance this is and what it is built from."""
        return self.name

    def check(self, x: torch.Tensor, y: torch.Tensor) -> None:
        if x.ndim != 4 or x.shape != y.shape or x.shape[1] != 3:
            raise InputError(f"a distance compares two [n, 3, H, W] batches of one shape, got {list(x.shape)} "
                             f"and {list(y.shape)}")


def gaussian_window(size: int = 11, sigma: float = 1.5) -> torch.Tensor:
    """The normalised 1-D Gaussian that SSIM slides over each axis."""
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    return (g / g.sum()).to(torch.float32)


def _blur(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """Separable valid-mode Gaussian filter of every channel."""
    c = x.shape[1]
    k = g.to(x.dtype).to(x.device)
    x = F.conv2d(x, k.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(x, k.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def ssim_terms(x: torch.Tensor, y: torch.Tensor, g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean luminance x contrast-structure (SSIM) and contrast-structure alone, per image ``[n]``.

    SSIM's luminance term assumes non-negative intensities, so images in [-1, 1] are read as [0, 1]."""
    x, y = (x + 1) / 2, (y + 1) / 2
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    mx, my = _blur(x, g), _blur(y, g)
    sxx = _blur(x * x, g) - mx * mx
    syy = _blur(y * y, g) - my * my
    sxy = _blur(x * y, g) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    lum = (2 * mx * my + c1) / (mx * mx + my * my + c1)
    return (lum * cs).flatten(1).mean(1), cs.flatten(1).mean(1)


def ms_ssim(x: torch.Tensor, y: torch.Tensor, window: int = 11) -> torch.Tensor:
    """Multi-scale SSIM per image ``[n]`` of images in [-1, 1] (1 for identical images), as many scales as the
    size allows."""
    side = min(x.shape[-2:])
    if side < window:
        raise InputError(f"MS-SSIM needs images of at least {window} px, got {side} px")
    scales = 1
    while scales < len(MS_SSIM_WEIGHTS) and side // 2 ** scales >= window:
        scales += 1
    weights = torch.tensor(MS_SSIM_WEIGHTS[:scales], dtype=x.dtype, device=x.device)
    weights = weights / weights.sum()
    g = gaussian_window(window)
    factors = []
    for s in range(scales):
        full, cs = ssim_terms(x, y, g)
        factors.append((full if s == scales - 1 else cs).clamp_min(1e-6))  # negative cs has no real power
        if s < scales - 1:
            x, y = F.avg_pool2d(x, 2), F.avg_pool2d(y, 2)
    return torch.prod(torch.stack(factors, 1) ** weights, dim=1)


NO_VGG_HINT = ("no VGG16 file: put torchvision's vgg16-397923af.pth or NVIDIA's vgg16.pt (StyleGAN2-ADA metrics) "
               "into models/gan_aux for LPIPS, which keeps faces and textures closer than pixel + MS-SSIM")


class PixelMSSSIM(ImageDistance):
    """``alpha * (1 - MS-SSIM) + (1 - alpha) * mean |x - y|`` (pixel values in [-1, 1] halved to [0, 1])."""

    name = "pixel+ms-ssim"
    hint = NO_VGG_HINT

    def __init__(self, alpha: float = 0.84) -> None:
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.check(x, y)
        l1 = (x - y).abs().flatten(1).mean(1) / 2
        if min(x.shape[-2:]) < 11:  # too small for one SSIM window: pixels only
            return l1
        return self.alpha * (1 - ms_ssim(x, y)) + (1 - self.alpha) * l1

    @property
    def summary(self) -> str:
        return f"pixel L1 + MS-SSIM (alpha {self.alpha:g}; no weights)"


def image_distance(vgg: Any = None, lpips: Any = None, *, size_cap: int = 256) -> ImageDistance:
    """The distance inversion and pivotal tuning minimise.

    ``vgg``: a VGG16 file (path: torchvision's ``vgg16-397923af.pth`` or NVIDIA's ``vgg16.pt``) or a
    :class:`~..loaders.vgg.VGG16Weights`; given, the result is LPIPS on VGG16, else
    :class:`PixelMSSSIM`.  ``lpips``: LPIPS calibration weights (path to the lpips package's
    ``vgg.pth``, or five tensors), overriding the ones a VGG16 file carries; without either, or with
    ``lpips=False``, every channel weighs 1.  ``size_cap``: larger images are area-downsampled to it first.
    The result says which it is (``name``, ``summary``) and what would improve it (``hint``)."""
    if vgg is None:
        if lpips is not None and lpips is not False:
            raise InputError("LPIPS calibration weights need a VGG16 file to weight; none was given")
        return PixelMSSSIM()
    from ..loaders.vgg import VGG16Weights, read_lpips_weights, read_vgg16
    from .lpips import LPIPS

    weights = vgg if isinstance(vgg, VGG16Weights) else read_vgg16(vgg)
    lin, source = None, ""
    if isinstance(lpips, (str, os.PathLike)):
        lin, source = read_lpips_weights(lpips), os.path.basename(os.fspath(lpips))
    elif lpips is False:
        lin = False
    elif lpips is not None:
        lin, source = list(_tensors(lpips)), "the given weights"
    return LPIPS(weights, lin=lin, lin_source=source, size_cap=size_cap)


def _tensors(values: Sequence[Any]) -> list[torch.Tensor]:
    if not all(isinstance(v, torch.Tensor) for v in values):
        raise InputError("LPIPS weights must be a path or five tensors")
    return list(values)


__all__ = ["ImageDistance", "PixelMSSSIM", "image_distance", "ms_ssim", "ssim_terms", "gaussian_window", "NO_VGG_HINT"]
