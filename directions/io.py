"""Direction-set and latent files: our safetensors, plus importers for what users already have.

Readers (every failure is a :class:`CheckpointError` naming the file):

- our own sets: safetensors with ``vectors``, ``values`` and metadata ``format =
  gan-latent-lab-directions``;
- InterFaceGAN boundaries: ``.npy`` ``[1, dim]`` unit vectors, one direction per file; the file
  name tells the space (PGGAN boundaries are in z, StyleGAN ones in w);
- GANSpace component dumps: ``.npz`` with ``lat_comp [K, 1, dim]`` (or ``[K, dim]``),
  ``lat_stdev [K]`` and ``lat_mean``; the values are standard deviations;
- the ComfyUI-StyleGan (dfl) layout: safetensors with one ``component_NN`` tensor each and
  metadata ``method`` and ``w_dim``.

Nothing is unpickled: ``.npy`` / ``.npz`` are read with ``allow_pickle=False``.
"""

from __future__ import annotations

import json
import os
import re

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import CheckpointError, GANLabError, MismatchError
from ..limits import load_json, read_npy
from ..loaders.base import SEED_MAX
from .container import FORMAT, SPACES, Directions
from .ganspace_io import load_ganspace_npz
from .latent import GANLatent

LATENT_FORMAT = "gan-latent-lab-latent"
_COMPONENT = re.compile(r"^component_(\d+)$")


# ----- helpers --------------------------------------------------------------------------------
def _unit_rows(vectors: torch.Tensor, path: str) -> tuple[torch.Tensor, list[float]]:
    vectors = vectors.to(torch.float64)
    if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
        raise CheckpointError(path, f"direction vectors must be [K, dim], got {list(vectors.shape)}")
    if not torch.isfinite(vectors).all():
        raise CheckpointError(path, "the direction vectors hold NaN or infinite numbers")
    norms = torch.linalg.vector_norm(vectors, dim=1)
    if (norms < 1e-12).any():
        raise CheckpointError(path, "a direction vector has zero length")
    return (vectors / norms[:, None]).to(torch.float32), [float(n) for n in norms]


def _safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(path, framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            return {k: f.get_tensor(k) for k in f.keys()}, meta
    except Exception as e:  # noqa: BLE001 - any parse failure is a bad file
        raise CheckpointError(path, f"not a valid safetensors file ({type(e).__name__}: {str(e)[:200]})") from None


def _existing_file(path: str | os.PathLike) -> str:
    """The path of an existing regular file, or our error (a folder, a missing or unnamable file)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(path, "is a folder, not a file")
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    return path


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


# ----- readers --------------------------------------------------------------------------------
def import_interfacegan(path: str | os.PathLike) -> Directions:
    """An InterFaceGAN boundary ``.npy`` (``[1, dim]`` or ``[dim]``) as one unit direction."""
    path = os.fspath(path)
    arr = read_npy(path)
    if not isinstance(arr, np.ndarray) or arr.dtype.kind != "f":
        raise CheckpointError(path, f"a boundary must hold floating-point numbers, not {getattr(arr, 'dtype', '?')}")
    if arr.ndim == 1:
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[0] != 1:
        raise CheckpointError(path, f"an InterFaceGAN boundary is [1, dim], this array is {list(arr.shape)}")
    vectors, norms = _unit_rows(torch.from_numpy(np.array(arr)), path)
    stem = _stem(path)
    space = "z" if "pggan" in stem.lower() or stem.lower().endswith("_z_boundary") else "w"
    label = re.sub(r"_?boundary$", "", stem)
    return Directions(vectors=vectors, values=torch.ones(1), method="interfacegan", space=space, slots=None,
                      scale_kind="none", labels=[label], meta={"source": os.path.basename(path), "norm": norms[0]})


def import_ganspace(path: str | os.PathLike) -> Directions:
    """A GANSpace ``.npz`` dump: ``lat_comp`` components, ``lat_stdev`` their spread (see load_ganspace_npz)."""
    return load_ganspace_npz(path)


def import_dfl(path: str | os.PathLike, tensors: dict | None = None, meta: dict | None = None) -> Directions:
    """The ComfyUI-StyleGan (dfl) layout: ``component_NN`` tensors in order, metadata method, w_dim."""
    path = os.fspath(path)
    if tensors is None:
        tensors, meta = _safetensors(path)
    meta = meta or {}
    names = sorted((int(m.group(1)), k) for k in tensors if (m := _COMPONENT.match(k)))
    if not names:
        raise CheckpointError(path, "no component_NN tensors (not a ComfyUI-StyleGan direction file)")
    rows = [tensors[k].reshape(-1) for _, k in names]
    if len({r.numel() for r in rows}) != 1:
        raise CheckpointError(path, "the components have different lengths")
    vectors, norms = _unit_rows(torch.stack(rows), path)
    declared = meta.get("w_dim")
    if declared is not None and str(declared).strip() != str(vectors.shape[1]):
        raise CheckpointError(path, f"metadata says w_dim {declared} but the components are {vectors.shape[1]} long")
    method = str(meta.get("method", "unknown")).lower() or "unknown"
    return Directions(vectors=vectors, values=torch.ones(len(rows)), method=method, space="w", slots=None,
                      scale_kind="none", labels=[k for _, k in names],
                      meta={"source": os.path.basename(path), "format": "comfyui-stylegan", "norms": norms})


def load_directions(path: str | os.PathLike) -> Directions:
    """Read any supported direction file (sniffed by content, not only by extension)."""
    path = _existing_file(path)
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file ({e.strerror or e})") from None
    if head[:6] == b"\x93NUMPY":
        return import_interfacegan(path)
    if head[:4] == b"PK\x03\x04":
        return import_ganspace(path)
    tensors, meta = _safetensors(path)
    if meta.get("format") == FORMAT:
        return Directions.from_safetensors(tensors, meta, path)
    if any(_COMPONENT.match(k) for k in tensors):
        return import_dfl(path, tensors, meta)
    raise CheckpointError(path, f"a safetensors file that is not a direction set (tensors {sorted(tensors)[:6]})")


def load_for_model(path: str | os.PathLike, model=None) -> Directions:
    """Load a set and, given a model, refuse it when it was made for another (widths named)."""
    d = load_directions(path)
    if model is not None:
        d.check_model(model)
    return d


def save_directions(directions: Directions, path: str | os.PathLike, overwrite: bool = False) -> str:
    """Write a set atomically; an existing file is kept unless ``overwrite``."""
    return directions.save(path, overwrite=overwrite)


# ----- latents --------------------------------------------------------------------------------
def save_latent(latent: GANLatent, path: str | os.PathLike, overwrite: bool = False) -> str:
    """Write codes, z and c as safetensors with seeds, fingerprint, psi and space in metadata."""
    from safetensors.torch import save_file

    tensors = {"codes": latent.codes.contiguous()}
    if latent.z is not None:
        tensors["z"] = latent.z.contiguous()
    if latent.c is not None:
        tensors["c"] = latent.c.contiguous()
    meta = {"format": LATENT_FORMAT, "fingerprint": latent.fingerprint, "seeds": json.dumps(list(latent.seeds)),
            "truncation_psi": repr(float(latent.truncation_psi)), "space": latent.space}
    with atomic_write(path, overwrite=overwrite) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return os.fspath(path)


def load_latent(path: str | os.PathLike) -> GANLatent:
    """Read a latent written by :func:`save_latent`."""
    path = _existing_file(path)
    tensors, meta = _safetensors(path)
    if meta.get("format") != LATENT_FORMAT or "codes" not in tensors:
        raise CheckpointError(path, "not a GAN Latent Lab latent file")
    seeds = load_json(meta.get("seeds", "[]"), path, "the metadata 'seeds'")
    if not isinstance(seeds, list) or not all(type(s) is int and 0 <= s <= SEED_MAX for s in seeds):
        raise CheckpointError(path, f"the seeds must be whole numbers 0..{SEED_MAX}")
    if meta.get("space", "w") not in SPACES:
        raise CheckpointError(path, f"the latent lives in space {meta.get('space', '')[:40]!r}, not {' or '.join(SPACES)}")
    for key in ("codes", "z", "c"):
        t = tensors.get(key)
        if t is not None and (not t.is_floating_point() or t.ndim != (3 if key == "codes" else 2)
                              or not bool(torch.isfinite(t).all())):
            raise CheckpointError(path, f"'{key}' must hold finite floating-point numbers, "
                                  f"[n, slots, dim] for codes and [n, width] for z and c")
    try:
        psi = float(meta.get("truncation_psi", "1.0"))
        if not np.isfinite(psi):
            raise ValueError(f"truncation psi {psi} is not finite")
        codes = tensors["codes"]
        for key in ("z", "c"):
            if key in tensors and tensors[key].shape[0] != codes.shape[0]:
                raise ValueError(f"{key} has {tensors[key].shape[0]} rows for {codes.shape[0]} codes")
        return GANLatent(codes=codes.float(), fingerprint=meta.get("fingerprint", ""), z=tensors.get("z"),
                         c=tensors.get("c"), seeds=seeds, truncation_psi=psi, space=meta.get("space", "w"))
    except (ValueError, TypeError, MismatchError) as e:
        raise CheckpointError(path, f"damaged latent file ({e})") from None


__all__ = ["load_directions", "load_for_model", "save_directions", "import_interfacegan", "import_ganspace",
           "import_dfl", "save_latent", "load_latent", "LATENT_FORMAT", "GANLabError"]
