"""Projection: the latent whose image is closest to a given picture (GAN inversion by optimisation).

A photo becomes editable once it is a :class:`GANLatent` of the model: ``invert`` searches the code
space with Adam for the codes whose image is closest to it, every image of the batch as its own
problem (losses are summed per image, so each code only sees its own gradient, and the best step of
each image is kept).

What is searched, per family (``space``):

- style GANs (``code_space == "w"``): ``w``, one w for every slot, starting at the mean w (the average
  of 10,000 mapped z, as NVIDIA's StyleGAN2 projector does); ``w+``, one w per slot, starting from the
  ``w`` solution.  The default runs both phases.
- z-coded models with one slot (DCGAN, PGGAN): ``z``.  Several random starts (drawn from the model's
  own prior) run a short first phase; the best start of each image is refined.
- BigGAN (z repeated per block): ``z`` (one z for every block), then ``z+`` (one z per block, the
  layer-wise codes the edit nodes use).  z stays inside the prior's truncation bound.

The schedule follows the StyleGAN2 projector (Karras et al. 2020, appendix D): Adam (0.9, 0.999) at
a peak rate of 0.1, a linear warm-up over the first 5% of a phase and a cosine
ramp-down over its last 25%; in the ``w`` phase the code is jittered by Gaussian noise of 5% of
the codes' spread, decaying quadratically to zero at 75% of the phase, which shakes the search
out of the first basin it falls into.  Models with per-pixel noise inputs get one noise map per
layer and image, optimised with the ``w`` and kept noise-like by the projector's regulariser
(squared autocorrelation at one pixel shift, over a pyramid of the map, weight 10^5) and by
renormalising every map to zero mean and unit variance after each step.  The maps are returned in
``stats["noise"]``, but a latent carries codes only: decoding it uses the model's stored noise, so
the ``w+`` phase runs with the stored noise and every reported PSNR and the reconstruction are of
the codes as Decode shows them.

Conditional models: the class comes from ``classes`` or the ``init`` latent; without either, z-coded
models (BigGAN, a conditional DCGAN) optimise a soft class (softmax over per-image logits, which
the model embeds as the same mix of class embeddings); style GANs read the class only in the
mapping, so their codes need none and the latent records an even mix.

The loss per image is ``perceptual(x, y) + mse(x, y)`` (pixels in [-1, 1]): a perceptual distance
(default :func:`~.perceptual.image_distance`, pixel L1 + MS-SSIM; LPIPS when a VGG16 is given)
plus the mean squared error, which is what PSNR measures.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .latent import GANLatent
from .perceptual import image_distance

MAX_IMAGES = 16
"""Images one call inverts (each is optimised on its own; larger batches only cost memory)."""
MIN_SIDE = 8
"""Smallest image side accepted: below it there is nothing to match."""
MAX_STEPS = 20_000
SEED_MAX = 2**32 - 1
SPACES = ("w", "w+", "z", "z+")

LEARNING_RATE = 0.1          # peak Adam rate (code units per step), as in the StyleGAN2 projector
PER_SLOT_RATE = 0.3          # w+ / z+ start near a solution and move num_ws codes: a third of the rate
LR_RAMPUP, LR_RAMPDOWN = 0.05, 0.25
W_NOISE, W_NOISE_RAMP = 0.05, 0.75
NOISE_REGULARIZE = 1e5
MSE_WEIGHT = 1.0
W_AVG_SAMPLES = 10_000
Z_STARTS = 8                 # random starts per image for z-coded models
EXPLORE_FRACTION = 0.25      # share of the steps the random starts get (a quarter: fewer left one face DCGAN image in 8 at 24 dB)
PREVIEW_EVERY = 25
PROBLEM_PIXELS = 64 * 64 * 64  # images of the model's size per forward pass when starts multiply the batch

DEFAULT_STEPS = {"w+": 600, "w": 400, "z": 240, "z+": 480}
"""Steps of a run from scratch (the random starts' short phase counts once)."""
REFINE_STEPS = {"w+": 200, "w": 200, "z": 150, "z+": 150}
"""Steps of a refinement from an ``init`` latent (an encoder's output or an earlier inversion)."""


@dataclass
class Phase:
    """One stretch of optimisation: the space, its steps, how many random starts, what else moves."""

    name: str
    space: str
    steps: int
    starts: int = 1
    noise: bool = False   # optimise per-image noise maps (models with noise inputs)
    jitter: bool = False  # the projector's decaying perturbation of the code

    @property
    def shared(self) -> bool:
        """One code for every slot (w, z) rather than one per slot (w+, z+)."""
        return self.space in ("w", "z")


# ----- what a model allows ---------------------------------------------------------------------
def spaces_for(model) -> tuple[tuple[str, ...], str]:
    """The spaces a model can be inverted in and its default."""
    if model.code_space == "w":
        return ("w", "w+"), "w+"
    if model.num_ws == 1:
        return ("z",), "z"
    return ("z", "z+"), "z+"


def plan(model, space: str, steps: int | None, refine: bool) -> list[Phase]:
    """The phases of a run: from scratch (w then w+; starts then z; starts, z, z+) or a refinement."""
    total = int(steps) if steps is not None else (REFINE_STEPS if refine else DEFAULT_STEPS)[space]
    noise = bool(model.noise_buffers())
    if refine:
        return [Phase(space, space, total, noise=noise and space == "w")]
    if space == "w":
        return [Phase("w", "w", total, noise=noise, jitter=True)]
    if space == "w+":
        first = max(1, round(total * 2 / 3)) if total > 1 else total
        phases = [Phase("w", "w", first, noise=noise, jitter=True)]
        return phases + ([Phase("w+", "w+", total - first)] if total - first > 0 else [])
    explore = max(1, round(total * EXPLORE_FRACTION)) if total > 1 else total
    phases = [Phase("starts", "z", explore, starts=Z_STARTS)]
    rest = total - explore
    if space == "z":
        return phases + ([Phase("z", "z", rest)] if rest > 0 else [])
    shared = rest // 2
    phases += [Phase("z", "z", shared)] if shared > 0 else []
    return phases + ([Phase("z+", "z+", rest - shared)] if rest - shared > 0 else [])


# ----- images in ---------------------------------------------------------------------------------
def prepare_images(images, resolution: int) -> torch.Tensor:
    """``[n, C, H, W]`` in [-1, 1] -> ``[n, 3, R, R]`` for a model of resolution R.

    One channel (grey) is repeated to RGB; two (grey + alpha) and four (RGB + alpha) channels are
    composited over white, the way a transparent picture is usually seen.  A non-square image is
    centre-cropped to a square, then resized with bicubic antialiased resampling (clamped back to
    [-1, 1], which bicubic overshoot can leave)."""
    x = check_images(images)
    x = x.float()
    c = x.shape[1]
    if c in (2, 4):
        alpha = (x[:, -1:] + 1) / 2
        x = x[:, :-1] * alpha + (1 - alpha)  # over white (+1)
    return fit_square(rgb(x), resolution)


def fit_square(images: torch.Tensor, size: int) -> torch.Tensor:
    """``[n, C, H, W]`` centre-cropped to a square and resized to ``size`` (bicubic, antialiased when
    shrinking), clamped back to [-1, 1], which bicubic overshoot can leave.  Projection and pivotal
    tuning both fit photos with it, so a photo inverted and then tuned is one target."""
    h, w = images.shape[-2:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    images = images[..., top:top + side, left:left + side]
    if side != size:
        images = F.interpolate(images, size=(size, size), mode="bicubic", align_corners=False, antialias=side > size)
    return images.clamp(-1, 1).contiguous()


def rgb(images: torch.Tensor) -> torch.Tensor:
    """Images as three channels: one channel (grey) repeated, channels past the third dropped."""
    return images.expand(-1, 3, -1, -1) if images.shape[1] == 1 else images[:, :3]


def check_images(images) -> torch.Tensor:
    """The checks an image batch must pass before any work: shape, size, count, finite, range."""
    if not isinstance(images, torch.Tensor):
        try:
            images = torch.as_tensor(np.asarray(images))
        except (TypeError, ValueError, RuntimeError):
            raise InputError(f"images must be a float tensor [n, 3, H, W], not {type(images).__name__}") from None
    if images.ndim != 4:
        raise InputError(f"images must be [n, channels, height, width], got {images.ndim} dimensions "
                         f"{list(images.shape)}")
    n, c, h, w = images.shape
    if c not in (1, 2, 3, 4):
        raise InputError(f"images have {c} channels; give grey (1), grey+alpha (2), RGB (3) or RGBA (4) "
                         "in [n, channels, height, width] order")
    if not images.is_floating_point():
        raise InputError(f"images must be floats in [-1, 1], not {images.dtype} (divide 0..255 pixels by 127.5, "
                         "subtract 1)")
    if not 1 <= n <= MAX_IMAGES:
        raise InputError(f"{n} images: one inversion takes 1 to {MAX_IMAGES}; split the batch")
    if min(h, w) < MIN_SIDE:
        raise InputError(f"a {h}x{w} image is too small to invert (at least {MIN_SIDE} px a side)")
    bad = ~torch.isfinite(images)
    if bad.any():
        idx = int(bad.flatten(1).any(1).nonzero()[0])
        raise InputError(f"image {idx} has NaN or infinite pixels")
    lo, hi = float(images.min()), float(images.max())
    if lo < -1.01 or hi > 1.01:
        raise InputError(f"pixels must be in [-1, 1], got {lo:.3g}..{hi:.3g} (convert 0..1 images with x * 2 - 1)")
    return images


# ----- small pieces --------------------------------------------------------------------------------
def psnr(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Peak signal-to-noise ratio per image in dB for images in [-1, 1] (peak-to-peak 2)."""
    mse = (x.float() - y.float()).square().flatten(1).mean(1)
    return 10 * torch.log10(4.0 / mse.clamp_min(1e-12))


def learning_rate(t: float) -> float:
    """Fraction of the peak rate at phase progress ``t`` in [0, 1): warm-up, flat, cosine ramp-down."""
    ramp = min(1.0, (1.0 - t) / LR_RAMPDOWN)
    ramp = 0.5 - 0.5 * math.cos(ramp * math.pi)
    return ramp * min(1.0, t / LR_RAMPUP)


def noise_regularizer(maps: list[torch.Tensor]) -> torch.Tensor:
    """Per image ``[n]``: squared mean products of each map with itself shifted one pixel along x and y,
    summed over a pyramid of 2x average-pooled maps down to 8 px.  Zero for white noise; it grows
    when a map starts carrying image structure."""
    total = 0
    for v in maps:
        while True:
            total = total + (v * torch.roll(v, 1, dims=3)).mean(dim=(1, 2, 3)).square()
            total = total + (v * torch.roll(v, 1, dims=2)).mean(dim=(1, 2, 3)).square()
            if v.shape[-1] <= 8:
                break
            v = F.avg_pool2d(v, 2)
    return total


def _normalize_maps(maps: list[torch.Tensor]) -> None:
    with torch.no_grad():
        for v in maps:
            v -= v.mean(dim=(1, 2, 3), keepdim=True)
            v *= v.square().mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12).rsqrt()


def _distance_fn(perceptual) -> tuple[Callable, str]:
    if perceptual is None:
        perceptual = image_distance()
    if not callable(perceptual):
        raise InputError(f"perceptual must be an image distance (x, y) -> [n], not {type(perceptual).__name__}")
    name = getattr(perceptual, "name", None) or getattr(perceptual, "__name__", None) or type(perceptual).__name__
    return perceptual, str(name)


def _check_model(model) -> None:
    for attr in ("code_space", "num_ws", "w_dim", "resolution", "synthesis", "mapping", "noise_buffers"):
        if not hasattr(model, attr):
            raise InputError(f"invert needs a loaded generator (GAN_MODEL), not {type(model).__name__}")


# ----- the generator as a function of what is optimised ---------------------------------------------
class _Problem:
    """The model, the targets and the class handling shared by every phase of one inversion."""

    def __init__(self, model, targets: torch.Tensor, distance: Callable, c_fixed: torch.Tensor | None,
                 soft_class: bool) -> None:
        self.model, self.targets, self.distance = model, targets, distance
        self.c_fixed, self.soft_class = c_fixed, soft_class
        self.noise_names = model.noise_buffers()
        self.n = targets.shape[0]

    def classes(self, rows: torch.Tensor, logits: torch.Tensor | None) -> torch.Tensor | None:
        if self.model.c_dim == 0:
            return None
        if logits is not None:
            return torch.softmax(logits, dim=1)
        return self.c_fixed[rows % self.n]

    def render(self, codes: torch.Tensor, rows: torch.Tensor, logits: torch.Tensor | None = None,
               maps: list[torch.Tensor] | None = None) -> torch.Tensor:
        """Images of codes ``[p, num_ws, dim]`` for problem rows ``rows`` (each row is image ``row % n``)."""
        c = self.classes(rows, logits)
        if maps:
            with self.model.noise_maps(dict(zip(self.noise_names, maps))):
                img = self.model.synthesis(codes, c, noise_mode="const")
        else:
            img = self.model.synthesis(codes, c, noise_mode="const")
        return rgb(img)

    def image_loss(self, img: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
        target = self.targets[rows % self.n]
        d = self.distance(img, target)
        if not isinstance(d, torch.Tensor) or d.shape != (img.shape[0],):
            raise InputError(f"the perceptual distance must return one number per image [{img.shape[0]}], got "
                             f"{list(d.shape) if isinstance(d, torch.Tensor) else type(d).__name__}")
        return d + MSE_WEIGHT * (img - target).square().flatten(1).mean(1)


def _code_stats(model, c_for_samples: Callable[[int], torch.Tensor | None], seed: int,
                samples: int) -> tuple[torch.Tensor, float]:
    """Mean code ``[w_dim]`` and spread (root of the summed per-dimension variances, the StyleGAN2
    projector's ``w_std``) of the codes ``mapping`` makes from the prior, over ``samples`` z."""
    g = torch.Generator().manual_seed(seed)
    total = torch.zeros(model.w_dim, dtype=torch.float64)
    square = torch.zeros(model.w_dim, dtype=torch.float64)
    with torch.no_grad():
        for start in range(0, samples, 1000):
            k = min(1000, samples - start)
            z = torch.randn(k, model.z_dim, generator=g).to(model.device)
            codes = model.mapping(z, c_for_samples(k)).double().cpu()
            total += codes.sum(dim=(0, 1))
            square += codes.square().sum(dim=(0, 1))
    count = samples * model.num_ws
    mean = total / count
    var = (square / count - mean.square()).clamp_min(0)
    return mean.float(), float(var.sum().sqrt())


# ----- one phase -------------------------------------------------------------------------------------
@dataclass
class _State:
    """What a phase starts from and returns, one row per problem: codes, class logits, noise maps."""

    codes: torch.Tensor                      # [p, num_ws, dim]
    logits: torch.Tensor | None = None       # [p, c_dim] (soft class)
    maps: list[torch.Tensor] | None = None   # per noise input [p, 1, r, r]

    def where(self, mask: torch.Tensor, other: "_State") -> "_State":
        """Rows of this state where ``mask`` holds, else rows of ``other``."""
        pick = lambda a, b: torch.where(mask.view(-1, *[1] * (a.ndim - 1)), a, b)  # noqa: E731
        return _State(pick(self.codes, other.codes),
                      None if self.logits is None else pick(self.logits, other.logits),
                      None if self.maps is None else [pick(a, b) for a, b in zip(self.maps, other.maps)])

    def rows(self, idx: torch.Tensor) -> "_State":
        return _State(self.codes[idx], None if self.logits is None else self.logits[idx],
                      None if self.maps is None else [m[idx] for m in self.maps])


def _run_phase(prob: _Problem, phase: Phase, start: _State, rows: torch.Tensor, spread: float,
               clock: "_Clock", seed: int) -> tuple[_State, torch.Tensor]:
    """Adam on one chunk of problems for ``phase.steps``; the best state and loss of each row."""
    model = prob.model
    if phase.shared:
        var = start.codes.mean(dim=1).clone()
    else:
        var = start.codes.clone()
    var.requires_grad_(True)
    groups = [{"params": [var], "scale": LEARNING_RATE * (1.0 if phase.shared else PER_SLOT_RATE)}]
    logits = None
    if start.logits is not None:
        logits = start.logits.clone().requires_grad_(True)
        groups.append({"params": [logits], "scale": LEARNING_RATE})
    maps = None
    if phase.noise:
        maps = [m.clone().requires_grad_(True) for m in start.maps]
        groups.append({"params": maps, "scale": LEARNING_RATE})
    opt = torch.optim.Adam(groups, lr=0.0, betas=(0.9, 0.999))
    g = torch.Generator(device=var.device).manual_seed(seed) if phase.jitter else None
    bound = model.z_bound if model.code_space == "z" else None

    best_loss = torch.full((var.shape[0],), float("inf"), device=var.device)
    best = _State(start.codes.clone(), None if logits is None else logits.detach().clone(),
                  None if maps is None else [m.detach().clone() for m in maps])
    for step in range(phase.steps):
        clock.tick()
        t = step / phase.steps
        for group in opt.param_groups:
            group["lr"] = group["scale"] * learning_rate(t)
        code = var
        if phase.jitter:
            strength = spread * W_NOISE * max(0.0, 1.0 - t / W_NOISE_RAMP) ** 2
            if strength > 0:
                code = var + torch.randn(var.shape, generator=g, device=var.device) * strength
        codes = code.unsqueeze(1).expand(-1, model.num_ws, -1) if phase.shared else code
        img = prob.render(codes, rows, logits, maps)
        per_image = prob.image_loss(img, rows)
        loss = per_image.sum()
        if maps:
            loss = loss + NOISE_REGULARIZE * noise_regularizer(maps).sum()
        params = [p for group in groups for p in group["params"]]
        grads = torch.autograd.grad(loss, params)  # the model's own weights never collect gradients
        for p, gr in zip(params, grads):
            p.grad = gr
        with torch.no_grad():
            current = per_image.detach()
            better = current < best_loss
            best_loss = torch.where(better, current, best_loss)
            best.codes[better] = codes.detach()[better]
            if logits is not None:
                best.logits[better] = logits.detach()[better]
            if maps:
                for kept, m in zip(best.maps, maps):
                    kept[better] = m.detach()[better]
        clock.report(lambda: (img.detach(), rows))
        opt.step()
        for p in params:
            p.grad = None
        if maps:
            _normalize_maps(maps)
        if bound is not None:
            with torch.no_grad():
                var.clamp_(-bound, bound)
    if best.maps is None and start.maps is not None:
        best.maps = [m.clone() for m in start.maps]
    return best, best_loss


class _Clock:
    """Counts steps over all phases, checks the interrupt every step and sends progress with a preview."""

    def __init__(self, total: int, targets: torch.Tensor, progress, interrupt) -> None:
        self.total, self.targets, self.progress, self.interrupt = total, targets, progress, interrupt
        self.step = 0

    def tick(self) -> None:
        if self.interrupt is not None:
            self.interrupt()

    def report(self, current: Callable[[], tuple[torch.Tensor, torch.Tensor]]) -> None:
        self.step += 1
        if self.progress is None:
            return
        preview = None
        if self.step % PREVIEW_EVERY == 0 or self.step == self.total or self.step == 1:
            img, rows = current()
            n = self.targets.shape[0]
            keep = rows < n  # the first start of every image
            target = self.targets[rows[keep] % n]
            preview = torch.cat([target, img[keep].clamp(-1, 1)], dim=3).float().cpu()
        self.progress(self.step, self.total, preview)


# ----- the public function -----------------------------------------------------------------------
def invert(model, images, space: str | None = None, steps: int | None = None, seed: int = 0,
           init: GANLatent | None = None, perceptual=None, progress: Callable | None = None,
           interrupt: Callable[[], None] | None = None, classes=None) -> tuple[GANLatent, dict]:
    """Project images into a model's latent space.

    ``images``: float ``[n, C, H, W]`` in [-1, 1] (n up to :data:`MAX_IMAGES`; grey and RGBA accepted,
    see :func:`prepare_images`), resized to the model's resolution.  ``space``: one of
    :func:`spaces_for` (None: the family's default, the last phase of the plan).  ``steps``: total
    optimisation steps (None: :data:`DEFAULT_STEPS`, or :data:`REFINE_STEPS` with ``init``).
    ``seed``: the random starts and the code jitter.  ``init``: a latent of this model to start from
    (an encoder's output, an earlier inversion; one latent or one per image); the run is then one
    short refinement in ``space``.  ``perceptual``: an image distance ``(x, y) -> [n]`` (default
    :func:`~.perceptual.image_distance`).  ``progress(step, total, preview)``: called every step;
    ``preview`` is None or, every :data:`PREVIEW_EVERY` steps, ``[n, 3, R, 2R]`` (target | current)
    in [-1, 1] on the CPU.  ``interrupt()``: called every step; whatever it raises propagates and the
    model is left as it was.  ``classes``: the class for conditional models (anything
    ``model.make_c`` takes).

    Returns the latent (codes ``[n, num_ws, w_dim]`` in the model's code space, its fingerprint, z for
    z-coded models with a shared z, the class vectors of conditional models) and ``stats``:
    ``psnr`` (per image, dB, peak-to-peak 2, of the latent decoded with the model's stored noise),
    ``phases`` (name, space, steps, starts, seconds and per-image PSNR after each), ``start_psnr``,
    ``steps``, ``seconds``, ``space``, ``distance``, ``noise`` ({name: [n, 1, r, r]} optimised maps, or
    empty), ``target`` and ``reconstruction`` (``[n, 3, R, R]`` CPU tensors in [-1, 1]).
    Every input is checked before any work; bad ones raise :class:`~..errors.InputError` (a latent
    of another model: :class:`~..errors.MismatchError`)."""
    checked = check_inputs(model, images, space, steps, seed, init, perceptual, classes, progress, interrupt)
    if any(t.is_inference() for t in list(model.parameters()) + list(model.buffers())):
        raise InputError("the model's tensors were made under torch.inference_mode and cannot enter autograd; "
                         "invert a copy made outside it")
    with torch.inference_mode(False), torch.enable_grad():
        device = model.device
        targets = prepare_images(checked["images"].detach().clone(), model.resolution).to(device)
        distance = checked["distance"]
        if isinstance(distance, torch.nn.Module):
            distance.to(device)
        was_training = model.training
        model.eval()
        try:
            return _invert(model, targets, checked["phases"], checked["space"], checked["seed"], init,
                           checked["c_fixed"], distance, checked["distance_name"], progress, interrupt)
        finally:
            model.train(was_training)


def check_inputs(model, images, space: str | None = None, steps: int | None = None, seed: int = 0,
                 init: GANLatent | None = None, perceptual=None, classes=None, progress: Callable | None = None,
                 interrupt: Callable | None = None) -> dict:
    """Every check :func:`invert` makes before it starts, with the values it will use: ``images``,
    ``space``, ``steps``, ``seed``, ``phases``, ``distance`` / ``distance_name``, ``c_fixed`` (the given
    class, or None).  Nodes call it before they move or copy the model."""
    _check_model(model)
    raw = check_images(images)
    allowed, default = spaces_for(model)
    space = default if space in (None, "", "auto") else str(space)
    if space not in allowed:
        raise InputError(f"space {space!r} does not fit a {model.arch} (codes in {model.code_space}); "
                         f"choose {', '.join(allowed)}")
    if steps is not None:
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or not 1 <= int(steps) <= MAX_STEPS:
            raise InputError(f"steps must be an integer in 1..{MAX_STEPS}, got {steps!r}")
        steps = int(steps)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) <= SEED_MAX:
        raise InputError(f"seed {seed!r} is not an integer in 0..{SEED_MAX}")
    for name, fn in (("progress", progress), ("interrupt", interrupt)):
        if fn is not None and not callable(fn):
            raise InputError(f"{name} must be callable")
    distance, distance_name = _distance_fn(perceptual)
    n = raw.shape[0]
    if init is not None:
        if not isinstance(init, GANLatent):
            raise InputError(f"init must be a GAN latent, not {type(init).__name__}")
        init.check_model(model)
        if len(init) not in (1, n):
            raise InputError(f"init holds {len(init)} latents for {n} images (give one, or one per image)")
    c_fixed = None
    if model.c_dim:
        if classes is not None:
            c_fixed = model.make_c(classes, n)
        elif init is not None and init.c is not None:
            c = init.class_vectors(model)
            c_fixed = c.expand(n, -1) if len(init) == 1 else c
    return {"images": raw, "space": space, "steps": steps, "seed": int(seed), "distance": distance,
            "distance_name": distance_name, "c_fixed": c_fixed,
            "phases": plan(model, space, steps, refine=init is not None)}


def _invert(model, targets, phases, space, seed, init, c_fixed, distance, distance_name, progress, interrupt):
    started = time.perf_counter()
    n, device = targets.shape[0], model.device
    soft_class = bool(model.c_dim) and c_fixed is None and model.code_space == "z"
    if model.c_dim and c_fixed is None:
        c_fixed = torch.full((n, model.c_dim), 1.0 / model.c_dim, device=device)  # style GANs: recorded only
    c_fixed = None if c_fixed is None else c_fixed.to(device)
    prob = _Problem(model, targets, distance, c_fixed, soft_class)

    # the prior's statistics (style GANs): the start of w and the scale of its jitter
    g = torch.Generator().manual_seed(seed)

    def sample_classes(k: int) -> torch.Tensor | None:
        """Classes for the prior samples: style GANs' mean w is over every class (drawn at random);
        z models' mapping does not read the class, which only has to be a valid vector."""
        if not model.c_dim:
            return None
        if model.code_space == "w":
            return F.one_hot(torch.randint(model.c_dim, (k,), generator=g), model.c_dim).float().to(device)
        return torch.full((k, model.c_dim), 1.0 / model.c_dim, device=device)

    mean, spread = None, 0.0
    if model.code_space == "w":
        mean, spread = _code_stats(model, sample_classes, seed, W_AVG_SAMPLES)

    # where the first phase starts
    maps = None
    if prob.noise_names:
        maps = [model.noise_buffer(name).detach().float().expand(n, -1, -1, -1).clone().to(device)
                for name in prob.noise_names]
    logits = torch.zeros(n, model.c_dim, device=device) if soft_class else None
    if init is not None:
        codes = init.codes.to(device).expand(n, -1, -1).clone() if len(init) == 1 else init.codes.to(device).clone()
    elif model.code_space == "w":
        codes = mean.to(device).view(1, 1, -1).expand(n, model.num_ws, -1).clone()
    else:
        codes = None  # the random starts make their own
    state = _State(codes, logits, maps) if codes is not None else None

    total = sum(p.steps * _chunks(p.starts * n, n, model.resolution)[1] for p in phases)
    clock = _Clock(total, targets, progress, interrupt)
    stats: dict = {"space": space, "distance": distance_name, "phases": [], "device": str(device)}
    if state is not None:
        stats["start_psnr"] = _psnr_of(prob, state).tolist()

    for k, phase in enumerate(phases):
        t0 = time.perf_counter()
        phase_seed = (seed * 7919 + k) % (SEED_MAX + 1)
        if phase.starts > 1 or state is None:
            state, start_psnr = _explore(prob, phase, state, spread, clock, phase_seed, seed, logits)
            stats.setdefault("start_psnr", start_psnr)
        else:
            before = _psnr_of(prob, state)
            found, _ = _run_phase(prob, phase, state, torch.arange(n, device=device), spread, clock, phase_seed)
            # a phase judges its steps in its own context (its noise maps, its jitter) and by its loss: an
            # image whose codes decode further from the photo than they started keeps its start
            state = found.where((_psnr_of(prob, found) >= before).to(device), state)
        entry = {"name": phase.name, "space": phase.space, "steps": phase.steps, "starts": phase.starts,
                 "seconds": time.perf_counter() - t0, "psnr": _psnr_of(prob, state).tolist()}
        if phase.noise:
            entry["psnr_with_noise"] = _psnr_of(prob, state, with_maps=True).tolist()
        stats["phases"].append(entry)

    with torch.no_grad():
        recon = prob.render(state.codes, torch.arange(n, device=device), state.logits).clamp(-1, 1)
    final = psnr(recon, targets)
    codes = state.codes.detach()
    c = None
    if model.c_dim:
        c = torch.softmax(state.logits, dim=1) if state.logits is not None else prob.c_fixed
    shared = bool((codes - codes[:, :1]).abs().max() == 0)
    z = codes[:, 0] if model.code_space == "z" and shared else None
    latent = GANLatent(codes=codes, fingerprint=model.fingerprint, z=z, c=c, space=model.code_space)
    stats.update(psnr=final.tolist(), steps=sum(p.steps for p in phases), seconds=time.perf_counter() - started,
                 target=targets.detach().cpu(), reconstruction=recon.detach().cpu(),
                 noise={} if not prob.noise_names or not any(p.noise for p in phases) else
                 {name: m.detach().cpu() for name, m in zip(prob.noise_names, state.maps)})
    return latent, stats


def _chunks(problems: int, n: int, resolution: int) -> tuple[int, int]:
    """Problems per forward pass and how many passes: random starts multiply the batch, so they run in
    chunks of at most :data:`PROBLEM_PIXELS` pixels (never fewer than the n images)."""
    size = max(n, PROBLEM_PIXELS // (resolution * resolution))
    size = min(size, problems)
    return size, -(-problems // size)


def _explore(prob: _Problem, phase: Phase, state: _State | None, spread, clock: _Clock, phase_seed: int,
             seed: int, logits: torch.Tensor | None) -> tuple[_State, list[float]]:
    """Random starts from the prior (row ``s * n + i`` is start s of image i), each optimised on its
    own; per image, the start that ended closest."""
    model, n, device = prob.model, prob.n, prob.model.device
    p = phase.starts * n
    rng = np.random.RandomState(seed)
    z_seeds = rng.randint(0, SEED_MAX, size=p, dtype=np.int64).tolist()
    with torch.no_grad():
        z = model.sample_z(z_seeds)
        c = None
        if model.c_dim:
            c = prob.c_fixed[torch.arange(p, device=device) % n] if prob.c_fixed is not None else \
                torch.full((p, model.c_dim), 1.0 / model.c_dim, device=device)
        codes = model.mapping(z, c)
    if state is not None:  # the given start is start 0
        codes[:n] = state.codes
    start = _State(codes, None if logits is None else logits.repeat(phase.starts, 1),
                   None if state is None or state.maps is None else [m.repeat(phase.starts, 1, 1, 1) for m in state.maps])
    rows = torch.arange(p, device=device)
    start_psnr = _psnr_of(prob, start, rows=rows).view(phase.starts, n).max(0).values.tolist()
    size, count = _chunks(p, n, model.resolution)
    kept, losses = [], []
    for k in range(count):
        idx = rows[k * size:(k + 1) * size]
        best, loss = _run_phase(prob, phase, start.rows(idx), idx, spread, clock, phase_seed + k)
        kept.append(best)
        losses.append(loss)
    loss = torch.cat(losses).view(phase.starts, n)
    pick = loss.argmin(0) * n + torch.arange(n, device=device)
    merged = _State(torch.cat([b.codes for b in kept])[pick],
                    None if kept[0].logits is None else torch.cat([b.logits for b in kept])[pick],
                    None if kept[0].maps is None else [torch.cat(ms)[pick] for ms in zip(*[b.maps for b in kept])])
    return merged, start_psnr


def _psnr_of(prob: _Problem, state: _State, rows: torch.Tensor | None = None, with_maps: bool = False) -> torch.Tensor:
    """PSNR per row of a state's codes against its image, decoded with the stored noise (or its own maps)."""
    if rows is None:
        rows = torch.arange(state.codes.shape[0], device=state.codes.device)
    with torch.no_grad():
        img = prob.render(state.codes, rows, state.logits, state.maps if with_maps else None)
        return psnr(img.clamp(-1, 1), prob.targets[rows % prob.n]).cpu()


__all__ = ["invert", "check_inputs", "prepare_images", "check_images", "spaces_for", "plan", "psnr", "learning_rate",
           "noise_regularizer", "MAX_IMAGES", "MIN_SIDE", "MAX_STEPS", "DEFAULT_STEPS", "REFINE_STEPS"]
