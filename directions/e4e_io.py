"""encoder4editing's direction files (``.pt``): InterFaceGAN directions and GANSpace components in w.

The e4e repository ships, for its FFHQ StyleGAN2 (``editings/``):

- ``interfacegan_directions/age.pt``, ``smile.pt``: one unit direction ``[1, 512]``;
- ``interfacegan_directions/pose.pt``: ``[1, 18, 512]``, the same unit row for every w+ slot;
- ``ganspace_pca/ffhq_pca.pt`` (and ``cars_pca.pt``): ``{"comp": [80, 1, 512], "mean": [1, 512],
  "std": [80]}``, GANSpace's principal components of w with their standard deviations.

They are torch files saved on a GPU; they are read weights-only with a CPU map location through
:func:`..loaders.files.read_checkpoint`, so nothing in them runs.  A per-slot tensor whose rows
differ, or any other shape, is refused: this container holds one vector per direction.

e4e applies its InterFaceGAN directions on every slot (``w + factor * d``) and *sets* a GANSpace
coordinate on a slot range (``w += (strength - <w - mean, c>/std) * std * c``); Apply Direction adds
``strength * d`` (times ``std`` with strength in sigma), so a GANSpace strength here is relative.
"""

from __future__ import annotations

import os

import torch

from ..errors import CheckpointError, GANLabError
from .container import Directions

MAX_WIDTH = 65536
ROW_TOLERANCE = 1e-6
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def _floats(path: str, name: str, t) -> torch.Tensor:
    if not isinstance(t, torch.Tensor) or not t.is_floating_point():
        kind = f"a tensor of {t.dtype}" if isinstance(t, torch.Tensor) else f"a {type(t).__name__}"
        raise CheckpointError(path, f"{name} is {kind}, not floating-point numbers")
    t = t.detach().to("cpu", torch.float64)
    if not torch.isfinite(t).all():
        raise CheckpointError(path, f"{name} holds NaN or infinite values")
    return t


def _one_direction(path: str, t: torch.Tensor) -> torch.Tensor:
    """``[dim]``, ``[1, dim]``, ``[slots, dim]`` or ``[1, slots, dim]`` with equal rows -> ``[dim]``."""
    shape = list(t.shape)
    if t.ndim == 3 and t.shape[0] == 1:
        t = t[0]
    if t.ndim == 1:
        t = t[None]
    if t.ndim != 2 or t.shape[0] == 0 or not 1 <= t.shape[1] <= MAX_WIDTH:
        raise CheckpointError(path, f"a direction tensor is [1, dim] or [1, slots, dim], this one is {shape}")
    scale = float(t.abs().max()) or 1.0
    if (t - t[0]).abs().max() > ROW_TOLERANCE * scale:
        raise CheckpointError(path, f"the {t.shape[0]} rows of this {shape} tensor differ: a direction that changes "
                              "from slot to slot is not one direction (this file format holds one per file)")
    return t[0]


def _components(path: str, obj: dict) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    missing = [k for k in ("comp", "std") if k not in obj]
    if missing:
        raise CheckpointError(path, f"a GANSpace file holds comp and std; this one lacks {', '.join(missing)} "
                              f"(it has {', '.join(map(str, list(obj)[:6]))})")
    comp, std = _floats(path, "comp", obj["comp"]), _floats(path, "std", obj["std"])
    shape = list(comp.shape)
    if comp.ndim == 3 and comp.shape[1] == 1:
        comp = comp[:, 0]
    if comp.ndim != 2 or comp.shape[0] == 0 or not 1 <= comp.shape[1] <= MAX_WIDTH:
        raise CheckpointError(path, f"comp must be [K, 1, dim] or [K, dim], got {shape}")
    if std.ndim == 2 and 1 in std.shape:
        std = std.reshape(-1)
    if std.ndim != 1 or std.shape[0] != comp.shape[0]:
        raise CheckpointError(path, f"std is {list(obj['std'].shape)}; it needs one value per component ({comp.shape[0]})")
    if (std <= 0).any():
        raise CheckpointError(path, "std has values that are not positive")
    mean = None
    if obj.get("mean") is not None:
        mean = _floats(path, "mean", obj["mean"]).reshape(-1)
        if mean.shape[0] != comp.shape[1]:
            raise CheckpointError(path, f"mean is {list(obj['mean'].shape)}, the components are {comp.shape[1]} wide")
    return comp, std, mean


def _length(path: str, what: str, norms: torch.Tensor) -> torch.Tensor:
    """Row lengths that make unit vectors: not zero, not overflowing (float64 values near 1e308)."""
    if not bool(torch.isfinite(norms).all()):
        raise CheckpointError(path, f"{what} is too long to normalise (its length overflows)")
    if bool((norms < 1e-12).any()):
        raise CheckpointError(path, f"{what} has zero length")
    return norms


def import_e4e(path: str | os.PathLike, obj=None) -> Directions:
    """An e4e direction file as a direction set in w (see the module docstring for the layouts).

    A single direction gets value 1 (strengths in code units, as e4e's factors); GANSpace components
    are renormalised to unit rows and keep their standard deviations as values (``std`` x row length).
    Every refusal (a hostile global, a view past its storage or a bomb, found by
    :func:`..loaders.files.read_checkpoint`; another shape, NaN, zero vectors, values past float32) is a
    :class:`CheckpointError` naming the file."""
    from ..loaders.files import read_checkpoint

    path = os.fspath(path)
    if obj is None:
        obj = read_checkpoint(path).obj
    try:
        return _import(path, obj)
    except CheckpointError as e:
        if e.path is None:
            raise CheckpointError(path, e.reason) from None
        raise
    except GANLabError as e:  # the container's own checks (widths, values) on what the file holds
        raise CheckpointError(path, str(e)) from None
    except RecursionError:
        raise CheckpointError(path, "the file nests too deeply") from None
    except Exception as e:  # noqa: BLE001 - any other failure on a foreign file is a bad file
        text = str(e).splitlines()[0][:200] if str(e) else ""
        raise CheckpointError(path, f"not an e4e direction file ({type(e).__name__}: {text})") from None


def _import(path: str, obj) -> Directions:
    stem = os.path.splitext(os.path.basename(path))[0]
    meta: dict = {"source": os.path.basename(path), "format": "e4e"}
    if isinstance(obj, torch.Tensor):
        vec = _one_direction(path, _floats(path, "the direction", obj))
        norm = float(_length(path, "the direction", torch.linalg.vector_norm(vec)))
        meta["norm"] = norm
        return Directions(vectors=(vec / norm)[None], values=torch.ones(1), method="interfacegan", space="w",
                          slots=None, scale_kind="none", labels=[stem], meta=meta)
    if isinstance(obj, dict):
        comp, std, mean = _components(path, obj)
        norms = _length(path, "a component", torch.linalg.vector_norm(comp, dim=1))
        values = std * norms
        if bool((values > FLOAT32_MAX).any()):
            raise CheckpointError(path, "std times a component's length is past the float32 range")
        if mean is not None:
            if bool((mean.abs() > FLOAT32_MAX).any()):
                raise CheckpointError(path, "mean holds values past the float32 range")
            meta["lat_mean"] = [float(v) for v in mean]
        return Directions(vectors=comp / norms[:, None], values=values, method="ganspace", space="w",
                          slots=None, scale_kind="stdev", meta=meta)
    raise CheckpointError(path, f"the file holds a {type(obj).__name__}: not an e4e direction tensor or GANSpace "
                          "component dictionary")


__all__ = ["import_e4e"]
