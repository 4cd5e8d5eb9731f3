"""Pivotal tuning (Roich et al., 2021, "Pivotal Tuning for Latent-based Editing of Real Images").

Projection finds the code whose image comes closest to a photo, but a generator rarely draws a real
photo exactly: some identity and detail is lost.  Pivotal tuning keeps that code (the pivot) and
changes the generator instead: a copy of the synthesis network is trained for a few hundred Adam
steps until the pivot reproduces the photo.  The mapping network stays frozen, so the latent space,
and every direction found in it, is the parent's; edits of the pivot then act on the photo.

The loss per image is ``L2_WEIGHT x MSE + PERCEPTUAL_WEIGHT x perceptual distance`` between the
tuned image of the pivot and the photo (the paper: L2 and LPIPS, both weight 1).  The optional
locality regulariser keeps the rest of the space where it was: every ``LOCALITY_EVERY`` steps,
``LOCALITY_SAMPLES`` random codes per image (drawn with truncation ``LOCALITY_PSI``) give the
direction of a step of length ``LOCALITY_ALPHA`` from the pivot, and the tuned image there must
match the parent's (``LOCALITY_WEIGHTS`` on L2 and the perceptual distance).

Defaults follow the official code (danielroich/PTI, ``configs/hyperparameters.py``): 350 steps, Adam
at 3e-4, one regulariser sample per image every step at psi 0.5, weights 0.1 / 0.1.  Its step length
``regulizer_alpha = 30`` is in FFHQ's w units, measured on the whole ``[18, 512]`` w+ tensor; here
the step is measured in units of the model's own code spread (the root-mean-square distance of its
codes from their mean, over all slots), so one setting fits every family.  FFHQ's w spread is at
least 9.06 per w (the e4e repository's FFHQ PCA standard deviations, top 80 components), so PTI's 30
is at most 30 / (sqrt(18) x 9.06) = 0.78 spreads: ``LOCALITY_ALPHA`` is 0.75.  The official code also
stops early once LPIPS falls below 0.07; with other distances that threshold means nothing, so every
run takes its steps.

A batch of photos tunes one generator for all of them (the paper's multi-identity tuning); the loss
is the mean over the images.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import einops
import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .invert import fit_square, rgb
from .latent import GANLatent
from .perceptual import image_distance

DEFAULT_STEPS = 350
DEFAULT_LR = 3e-4
L2_WEIGHT = 1.0
PERCEPTUAL_WEIGHT = 1.0
LOCALITY_WEIGHTS = (0.1, 0.1)
"""Weights of L2 and of the perceptual distance in the locality term (PTI: 0.1 each)."""
LOCALITY_SAMPLES = 1
LOCALITY_EVERY = 1
LOCALITY_PSI = 0.5
LOCALITY_ALPHA = 0.75
"""Step from the pivot toward a random code, in units of the model's code spread (see the module text)."""

MAX_STEPS = 20_000
LR_RANGE = (1e-6, 0.1)
MAX_IMAGES = 64
MIN_SIDE = 16
SPREAD_SAMPLES = 256
DRIFT_SEEDS = tuple(range(1_000_000, 1_000_008))
"""Codes away from every pivot on which ``stats["drift_psnr"]`` compares the tuned model with its parent."""
RANGE_TOLERANCE = 0.01
SEED_MAX = 2**32 - 1

ProgressFn = Callable[[int, int, dict], None]
Distance = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


# ----- validation ---------------------------------------------------------------------------------------
def check_settings(model, latent: GANLatent, images: torch.Tensor, steps: int | None = None,
                   lr: float | None = None, seed: int = 0, perceptual: Distance | None = None) -> dict:
    """Every input checked before any work: our error names the problem.  Returns the settings."""
    if not hasattr(model, "synthesis") or not hasattr(model, "synthesis_parameters"):
        raise InputError(f"pivotal tuning needs a loaded GAN generator, not a {type(model).__name__}")
    if not isinstance(latent, GANLatent):
        raise InputError(f"the pivot must be a GAN latent, not a {type(latent).__name__}")
    latent.check_model(model)
    if getattr(model, "c_dim", 0) and latent.c is None:
        raise InputError(f"{model.arch} is conditional on {model.c_dim} classes but the pivot latent carries no class "
                         "vector; make the latent with its class (e.g. GAN Invert Image with a class)")
    check_images(images, len(latent))
    steps = DEFAULT_STEPS if steps is None else steps
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= int(steps) <= MAX_STEPS:
        raise InputError(f"steps {steps!r} is outside 1..{MAX_STEPS}")
    lr = DEFAULT_LR if lr is None else lr
    try:
        lr = float(lr)
    except (TypeError, ValueError):
        raise InputError(f"learning rate must be a number, not {lr!r}") from None
    if not math.isfinite(lr) or not LR_RANGE[0] <= lr <= LR_RANGE[1]:
        raise InputError(f"learning rate {lr} is outside {LR_RANGE[0]:g}..{LR_RANGE[1]:g}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= SEED_MAX:
        raise InputError(f"seed {seed!r} is outside 0..{SEED_MAX}")
    if perceptual is not None and not callable(perceptual):
        raise InputError(f"perceptual must be an image distance (x, y) -> [n], not a {type(perceptual).__name__}")
    return {"steps": int(steps), "lr": lr, "seed": int(seed)}


def check_images(images: torch.Tensor, count: int | None = None) -> None:
    """Photos in the generator's convention: float ``[n, 3, H, W]`` in [-1, 1], finite, not tiny, not too many."""
    if not isinstance(images, torch.Tensor) or not images.is_floating_point():
        kind = getattr(images, "dtype", type(images).__name__)
        raise InputError(f"images must be a float tensor [n, 3, H, W] in [-1, 1], not {kind}")
    if images.ndim != 4 or images.shape[1] != 3:
        raise InputError(f"images must be [n, 3, H, W] (RGB, channels first), got {list(images.shape)}")
    n, _, h, w = images.shape
    if not 1 <= n <= MAX_IMAGES:
        raise InputError(f"{n} images: pivotal tuning takes 1..{MAX_IMAGES} at once")
    if count is not None and n != count:
        raise InputError(f"{n} images but {count} pivot latents: give one pivot per image")
    if min(h, w) < MIN_SIDE:
        raise InputError(f"the images are {h}x{w} px; at least {MIN_SIDE}x{MIN_SIDE} is needed")
    if not torch.isfinite(images).all():
        raise InputError("the images hold NaN or infinite pixel values")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1 - RANGE_TOLERANCE or hi > 1 + RANGE_TOLERANCE:
        raise InputError(f"pixel values run from {lo:.3g} to {hi:.3g}; images must be in [-1, 1] (the generator's "
                         "range: 2 * x - 1 for [0, 1] images)")


# ----- images -------------------------------------------------------------------------------------------
def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-image PSNR in dB of images in [-1, 1] (peak-to-peak 2), after clamping to that range."""
    mse = (x.clamp(-1, 1) - y.clamp(-1, 1)).square().flatten(1).mean(1).double()
    return (10 * torch.log10(4.0 / mse.clamp_min(1e-12))).float()


def _mse(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return (x - y).square().flatten(1).mean(1)


def preview(target: torch.Tensor, current: torch.Tensor, count: int = 4, tile: int = 128):
    """A PIL strip: each photo above its current reconstruction, for the first ``count`` images."""
    from PIL import Image

    pair = torch.stack([target[:count], rgb(current[:count]).to(target.device)])  # [2, k, 3, H, W]
    pair = einops.rearrange(pair, "r k c h w -> (r k) c h w").float()
    if pair.shape[-1] != tile:
        pair = F.interpolate(pair, size=(tile, tile), mode="bilinear", align_corners=False,
                             antialias=pair.shape[-1] > tile)
    pixels = ((pair.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    sheet = einops.rearrange(pixels, "(r k) c h w -> (r h) (k w) c", r=2)
    return Image.fromarray(sheet.numpy())


# ----- the method ---------------------------------------------------------------------------------------
def code_spread(model, c: torch.Tensor | None, samples: int = SPREAD_SAMPLES) -> float:
    """Root-mean-square distance of the model's codes (seeds 0.., no truncation) from their mean, over all
    slots: the unit of the locality step."""
    with torch.no_grad():
        z = model.sample_z(range(samples))
        cc = None if c is None else c[:1].expand(samples, -1)
        codes = model.mapping(z, cc).flatten(1).double()
    return float((codes - codes.mean(0)).square().sum(1).mean().sqrt())


def _region_codes(model, pivots: torch.Tensor, c: torch.Tensor | None, step: float,
                  rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``LOCALITY_SAMPLES`` codes per pivot, ``step`` away from it toward a code drawn at ``LOCALITY_PSI``."""
    k = pivots.shape[0] * LOCALITY_SAMPLES
    seeds = torch.randint(0, 2**31 - 1, (k,), generator=rng).tolist()
    cc = None if c is None else c.repeat_interleave(LOCALITY_SAMPLES, 0)
    with torch.no_grad():
        drawn = model.mapping(model.sample_z(seeds), cc, truncation_psi=LOCALITY_PSI)
        base = pivots.repeat_interleave(LOCALITY_SAMPLES, 0)
        toward = drawn - base
        length = torch.linalg.vector_norm(toward.flatten(1), dim=1).clamp_min(1e-8)
        return base + step * toward / length[:, None, None], cc


def pivotal_tune(model, latent: GANLatent, images: torch.Tensor, steps: int | None = None, lr: float | None = None,
                 locality: bool = False, seed: int = 0, perceptual: Distance | None = None,
                 progress: ProgressFn | None = None,
                 interrupt: Callable[[], None] | None = None) -> tuple[object, GANLatent, dict]:
    """Fine-tune a copy of ``model`` so each pivot code of ``latent`` reproduces its photo in ``images``.

    ``images``: float ``[n, 3, H, W]`` in [-1, 1], one per pivot, centre-cropped and resized to the
    model's resolution.  ``perceptual``: any image distance ``(x, y) -> [n]`` (an ``ImageDistance``
    such as LPIPS); default :func:`image_distance` (pixel + MS-SSIM, no weights to download).
    ``progress(step, steps, info)`` is called after every step (``info``: ``loss``, ``psnr`` of the
    step's images, ``preview`` a callable giving a PIL strip of photos over reconstructions);
    ``interrupt()`` before every step; either may raise to stop, and nothing is returned then.

    Returns the tuned copy (synthesis weights changed, mapping frozen; its own fingerprint, and its
    parent's first in ``ancestors``), the pivots bound to it, and stats: ``psnr_before`` and
    ``psnr_after`` (per image, dB), ``steps``, ``seconds``, ``steps_per_s``, ``loss`` (the last
    reconstruction loss), ``locality`` (mean locality term over the last 25 steps, None when off) and
    ``drift_psnr`` (tuned against parent on random codes far from the pivots: how much else changed).
    ``model`` itself is left as it was: weights, fingerprint, gradient flags, device and mode."""
    settings = check_settings(model, latent, images, steps, lr, seed, perceptual)
    steps, lr = settings["steps"], settings["lr"]
    distance = image_distance() if perceptual is None else perceptual
    # ComfyUI runs nodes under inference mode: training needs autograd back, and ordinary tensors
    with torch.inference_mode(False), torch.enable_grad(), _frozen(distance), _evaluating(model):
        device = model.device
        if isinstance(distance, torch.nn.Module):
            distance.to(device)
        target = fit_square(images.detach().to(device, torch.float32).clone(), model.resolution)
        pivots = latent.codes.to(device).clone()
        c = latent.class_vectors(model)
        c = None if c is None else c.clone()
        psi = latent.truncation_psi
        with torch.no_grad():
            before = psnr(rgb(model.synthesis(pivots, c, truncation_psi=psi)), target)
            step_length = LOCALITY_ALPHA * code_spread(model, c) if locality else 0.0

        tuned = model.copy()
        tuned.eval().requires_grad_(False)
        params = [p for _, p in tuned.synthesis_parameters()]
        for p in params:
            p.requires_grad_(True)
        opt = torch.optim.Adam(params, lr=lr)
        rng = torch.Generator().manual_seed(settings["seed"])
        recent: list[float] = []
        loss_value = float("nan")
        t0 = time.perf_counter()
        for step in range(1, steps + 1):
            if interrupt is not None:
                interrupt()
            img = rgb(tuned.synthesis(pivots, c, truncation_psi=psi))
            rec = (L2_WEIGHT * _mse(img, target) + PERCEPTUAL_WEIGHT * distance(img, target)).mean()
            loss = rec
            if locality and step % LOCALITY_EVERY == 0:
                codes, cc = _region_codes(model, pivots, c, step_length, rng)
                with torch.no_grad():
                    old = rgb(model.synthesis(codes, cc, truncation_psi=psi))
                new = rgb(tuned.synthesis(codes, cc, truncation_psi=psi))
                reg = (LOCALITY_WEIGHTS[0] * _mse(new, old) + LOCALITY_WEIGHTS[1] * distance(new, old)).mean()
                loss = loss + reg
                recent = (recent + [float(reg.detach())])[-25:]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_value = float(rec.detach())
            if progress is not None:
                shown = img.detach()
                progress(step, steps, {"loss": loss_value, "psnr": psnr(shown, target).tolist(),
                                       "preview": lambda shown=shown: preview(target, shown)})
        seconds = time.perf_counter() - t0
        del opt
        tuned.requires_grad_(False)
        tuned.forget_fingerprint()
        tuned.ancestors = [model.fingerprint, *getattr(model, "ancestors", [])]
        tuned.source = f"{model.source or model.arch}, pivotal-tuned"
        with torch.no_grad():
            after = psnr(rgb(tuned.synthesis(pivots, c, truncation_psi=psi)), target)
            drift = _drift(model, tuned, c)
    stats = {"psnr_before": before.cpu().tolist(), "psnr_after": after.cpu().tolist(), "steps": steps,
             "seconds": seconds, "steps_per_s": steps / seconds if seconds > 0 else 0.0, "loss": loss_value,
             "locality": float(np.mean(recent)) if recent else None, "drift_psnr": drift, "lr": lr,
             "locality_on": bool(locality), "distance": getattr(distance, "name", type(distance).__name__)}
    return tuned, latent.bound_to(tuned), stats


def _drift(parent, tuned, c: torch.Tensor | None) -> float:
    """Median PSNR between the parent's and the tuned model's images of codes far from the pivots."""
    n = len(DRIFT_SEEDS)
    cc = None if c is None else c[:1].expand(n, -1)
    codes = parent.mapping(parent.sample_z(DRIFT_SEEDS), cc)
    return float(psnr(rgb(tuned.synthesis(codes, cc)), rgb(parent.synthesis(codes, cc))).median())


class _frozen:
    """Gradients off for a distance network's own weights during tuning, restored afterwards."""

    def __init__(self, distance) -> None:
        self.params = list(distance.parameters()) if isinstance(distance, torch.nn.Module) else []
        self.flags = [p.requires_grad for p in self.params]

    def __enter__(self):
        for p in self.params:
            p.requires_grad_(False)

    def __exit__(self, *exc):
        for p, flag in zip(self.params, self.flags):
            p.requires_grad_(flag)


class _evaluating:
    """The parent in eval mode while it renders targets (batch-norm statistics untouched), mode restored."""

    def __init__(self, model) -> None:
        self.model, self.mode = model, model.training

    def __enter__(self):
        self.model.eval()

    def __exit__(self, *exc):
        self.model.train(self.mode)


__all__ = ["pivotal_tune", "check_settings", "check_images", "psnr", "code_spread", "preview",
           "DEFAULT_STEPS", "DEFAULT_LR", "MAX_IMAGES", "MAX_STEPS", "MIN_SIDE", "LR_RANGE", "LOCALITY_ALPHA"]
