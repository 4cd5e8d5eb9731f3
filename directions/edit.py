"""Edit arithmetic on latents: push codes along a direction on chosen slots, sweep, blend, mix.

An edit is ``codes[:, slots] += strength * direction``; the choice of slots is layer-wise
injection (coarse slots move pose and shape, fine slots colour and texture).  Every function
returns a new :class:`GANLatent` and leaves its inputs untouched, so edits chain.  PGGAN codes
are its pixel-normalised z and are edited the same way: the generator renormalises them, as in
the SeFa paper.
"""

from __future__ import annotations

import math
from typing import Sequence

import einops
import torch

from ..errors import InputError, MismatchError
from .container import Directions
from .latent import GANLatent, common_model
from .slots import parse_slots, slot_range


def finite(name: str, value) -> float:
    """A value that must be a finite number (NaN, inf and text are input errors naming ``name``)."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(v):
        raise InputError(f"{name} must be a finite number, not {v}")
    return v


def check_pair(latent: GANLatent, directions: Directions, model=None) -> None:
    """Refuse a direction set that cannot apply to the latent: width, space, model."""
    if directions.dim != latent.dim:
        raise MismatchError(f"direction set is {directions.dim} wide but the latent codes are {latent.dim} wide; "
                            "the set was made for another model")
    if directions.space and latent.space and directions.space != latent.space:
        raise MismatchError(f"direction set lives in {directions.space} space but the latent codes are "
                            f"{latent.space} codes")
    if model is not None:
        latent.check_model(model)
        directions.check_model(model)
    elif directions.fingerprint and directions.fingerprint not in latent.lineage():
        raise MismatchError(f"direction set was found on model {directions.fingerprint}, but the latent comes from "
                            f"model {latent.fingerprint}")


def direction_index(directions: Directions, index) -> int:
    i = int(index)
    if not 0 <= i < len(directions):
        raise InputError(f"direction index {i} is outside 0..{len(directions) - 1} ({len(directions)} directions)")
    return i


def step_size(directions: Directions, index: int, strength: float, in_sigma: bool) -> float:
    """Strength in code units; in sigma mode, times the set's standard deviation for that direction."""
    if not in_sigma:
        return strength
    if directions.scale_kind != "stdev":
        raise InputError(f"strength in sigma needs a set with standard deviations (GANSpace); this {directions.method} "
                         f"set carries {directions.scale_kind} values: give the strength in code units")
    return strength * float(directions.values[index])


def _resolve_slots(latent: GANLatent, slot_start, slot_end, slots) -> list[int]:
    if slots is not None:
        return parse_slots(slots, latent.num_ws)
    return slot_range(slot_start, slot_end, latent.num_ws)


def shift(codes: torch.Tensor, vector: torch.Tensor, slots: Sequence[int], strengths: torch.Tensor) -> torch.Tensor:
    """``codes [n, S, D]`` + ``strengths [n]`` × ``vector [D]`` on ``slots`` (a new tensor)."""
    mask = torch.zeros(codes.shape[1], dtype=codes.dtype)
    mask[list(slots)] = 1.0
    delta = einops.einsum(strengths.to(codes.dtype), mask, vector.to(codes.dtype), "n, s, d -> n s d")
    return codes + delta


def apply_direction(latent: GANLatent, directions: Directions, index: int, strength: float, slot_start: int = 0,
                    slot_end: int = -1, model=None, in_sigma: bool = False,
                    slots: str | Sequence[int] | None = None) -> GANLatent:
    """Move every code of ``latent`` by ``strength`` along direction ``index`` on slots
    ``slot_start..slot_end`` (inclusive; ``-1`` = last slot), or on ``slots`` when given."""
    strength = finite("strength", strength)
    check_pair(latent, directions, model)
    i = direction_index(directions, index)
    slot_list = _resolve_slots(latent, slot_start, slot_end, slots)
    step = step_size(directions, i, strength, in_sigma)
    strengths = torch.full((len(latent),), step)
    return latent.with_codes(shift(latent.codes, directions.vectors[i], slot_list, strengths))


def sweep_strengths(amplitude: float, steps: int) -> torch.Tensor:
    amplitude = finite("amplitude", amplitude)
    steps = int(steps)
    if not 2 <= steps <= 256:
        raise InputError(f"steps {steps} is outside 2..256")
    return torch.linspace(-amplitude, amplitude, steps)


def sweep(latent: GANLatent, directions: Directions, index: int, amplitude: float, steps: int,
          slots: str | Sequence[int] | None = "all", model=None, in_sigma: bool = False) -> GANLatent:
    """For each code, ``steps`` copies moved from ``-amplitude`` to ``+amplitude`` along one direction.

    The batch is code-major: all steps of code 0, then all steps of code 1, ..."""
    ts = sweep_strengths(amplitude, steps)
    check_pair(latent, directions, model)
    i = direction_index(directions, index)
    slot_list = parse_slots(slots, latent.num_ws)
    ts = ts * step_size(directions, i, 1.0, in_sigma)
    n = len(latent)
    codes = einops.repeat(latent.codes, "n s d -> (n t) s d", t=len(ts))
    strengths = einops.repeat(ts, "t -> (n t)", n=n)
    out = latent.with_codes(shift(codes, directions.vectors[i], slot_list, strengths))
    out.z = None if latent.z is None else einops.repeat(latent.z, "n d -> (n t) d", t=len(ts))
    out.c = None if latent.c is None else einops.repeat(latent.c, "n d -> (n t) d", t=len(ts))
    out.seeds = [s for s in latent.seeds for _ in range(len(ts))] if len(latent.seeds) == n else []
    return out


def grid_codes(latent: GANLatent, directions: Directions, indices: Sequence[int], amplitude: float, steps: int,
               slots: str | Sequence[int] | None = "all", model=None, in_sigma: bool = False) -> GANLatent:
    """The first code swept along each direction in ``indices``: rows are directions, columns strengths."""
    first = latent.with_codes(latent.codes[:1])
    first.z = None if latent.z is None else latent.z[:1]
    first.c = None if latent.c is None else latent.c[:1]
    first.seeds = latent.seeds[:1]
    rows = [sweep(first, directions, i, amplitude, steps, slots, model, in_sigma) for i in indices]
    out = first.with_codes(torch.cat([r.codes for r in rows]))
    return out


def _pair(a: GANLatent, b: GANLatent) -> tuple[torch.Tensor, torch.Tensor]:
    if a.fingerprint not in b.lineage() and b.fingerprint not in a.lineage():
        raise MismatchError(f"latents come from different models ({a.fingerprint} and {b.fingerprint})")
    if a.codes.shape[1:] != b.codes.shape[1:]:
        raise MismatchError(f"latent codes are shaped {list(a.codes.shape[1:])} and {list(b.codes.shape[1:])}")
    if len(a) != len(b) and 1 not in (len(a), len(b)):
        raise MismatchError(f"cannot pair {len(a)} latents with {len(b)} (give equal counts or one)")
    n = max(len(a), len(b))
    return a.codes.expand(n, -1, -1), b.codes.expand(n, -1, -1)


def slerp(x: torch.Tensor, y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation of vectors along the last axis (magnitudes interpolated linearly).

    ``x, y [..., D]``, ``t [T]`` -> ``[T, ..., D]``; parallel vectors fall back to lerp."""
    x64, y64 = x.double(), y.double()
    nx = torch.linalg.vector_norm(x64, dim=-1, keepdim=True)
    ny = torch.linalg.vector_norm(y64, dim=-1, keepdim=True)
    ux, uy = x64 / nx.clamp_min(1e-12), y64 / ny.clamp_min(1e-12)
    omega = torch.arccos((ux * uy).sum(-1, keepdim=True).clamp(-1.0, 1.0))
    so = torch.sin(omega)
    tt = t.double().reshape(-1, *([1] * x.ndim))
    safe = so.abs() > 1e-6
    wa = torch.where(safe, torch.sin((1 - tt) * omega) / so.where(safe, torch.ones_like(so)), 1 - tt)
    wb = torch.where(safe, torch.sin(tt * omega) / so.where(safe, torch.ones_like(so)), tt)
    direction = wa * ux + wb * uy
    direction = direction / torch.linalg.vector_norm(direction, dim=-1, keepdim=True).clamp_min(1e-12)
    mag = (1 - tt) * nx + tt * ny
    return (direction * mag).to(x.dtype)


def interpolate(a: GANLatent, b: GANLatent, steps: int, mode: str = "lerp") -> GANLatent:
    """``steps`` codes from ``a`` to ``b`` inclusive, per pair; batch is pair-major.

    ``lerp`` is a straight line (right for w); ``slerp`` follows the sphere, per slot vector,
    which keeps Gaussian z codes at a typical length."""
    steps = int(steps)
    if not 2 <= steps <= 256:
        raise InputError(f"steps {steps} is outside 2..256")
    if mode not in ("lerp", "slerp"):
        raise InputError(f"interpolation mode must be lerp or slerp, not {mode!r}")
    ca, cb = _pair(a, b)
    t = torch.linspace(0.0, 1.0, steps)
    if mode == "lerp":
        frames = torch.lerp(ca.unsqueeze(0), cb.unsqueeze(0), t.reshape(-1, 1, 1, 1))
    else:
        frames = slerp(ca, cb, t)
    codes = einops.rearrange(frames, "t n s d -> (n t) s d")
    fingerprint, ancestors = common_model([a, b])
    out = a.with_codes(codes, fingerprint=fingerprint, ancestors=ancestors)
    n = ca.shape[0]
    out.z, out.seeds = None, []
    if a.c is not None and b.c is not None:
        c = torch.lerp(a.c.expand(n, -1).unsqueeze(0), b.c.expand(n, -1).unsqueeze(0), t.reshape(-1, 1, 1))
        out.c = einops.rearrange(c, "t n k -> (n t) k")
    elif a.c is not None:
        out.c = einops.repeat(a.c.expand(n, -1), "n k -> (n t) k", t=steps)
    return out


def concat(latents: Sequence[GANLatent]) -> GANLatent:
    """One batch holding every code of ``latents`` in order (same model, same truncation)."""
    latents = [x for x in latents if x is not None]
    if not latents:
        raise InputError("no latents to batch")
    first = latents[0]
    fingerprint, ancestors = common_model(latents)
    for i, other in enumerate(latents[1:], start=2):
        if other.codes.shape[1:] != first.codes.shape[1:] or other.space != first.space:
            raise MismatchError(f"latent {i} codes are {other.space} {list(other.codes.shape[1:])}, latent 1 codes "
                                f"are {first.space} {list(first.codes.shape[1:])}")
        if other.truncation_psi != first.truncation_psi:
            raise MismatchError(f"latent {i} was drawn with truncation {other.truncation_psi}, latent 1 with "
                                f"{first.truncation_psi}: a batch decodes with one truncation")
        if (other.c is None) != (first.c is None):
            raise MismatchError(f"latent {i} and latent 1 disagree on having a class: draw both from the same model")
    codes = torch.cat([x.codes for x in latents])
    out = first.with_codes(codes, fingerprint=fingerprint, ancestors=ancestors)
    out.z = torch.cat([x.z for x in latents]) if all(x.z is not None for x in latents) else None
    out.c = torch.cat([x.c for x in latents]) if first.c is not None else None
    out.seeds = sum((list(x.seeds) for x in latents), []) if all(len(x.seeds) == len(x) for x in latents) else []
    return out


def style_mix(a: GANLatent, b: GANLatent, slot_start: int, slot_end: int) -> GANLatent:
    """Codes of ``a`` with slots ``slot_start..slot_end`` (inclusive; -1 = last) taken from ``b``."""
    ca, cb = _pair(a, b)
    slot_list = slot_range(slot_start, slot_end, a.num_ws)
    codes = ca.clone()
    codes[:, slot_list] = cb[:, slot_list]
    fingerprint, ancestors = common_model([a, b])
    return a.with_codes(codes, fingerprint=fingerprint, ancestors=ancestors)
