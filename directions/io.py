"""Direction-set and latent files: our safetensors, plus importers for what users already have.

Readers (every failure is a :class:`CheckpointError` naming the file):

- our own sets: safetensors with ``vectors``, ``values`` and metadata ``format =
  gan-latent-lab-directions``;
- InterFaceGAN boundaries: ``.npy`` ``[1, dim]`` unit vectors, one direction per file; the file
  name tells the space (PGGAN boundaries are in z, StyleGAN ones in w);
- GANSpace component dumps: ``.npz`` with ``lat_comp [K, 1, dim]`` (or ``[K, dim]``),
  ``lat_stdev [K]`` and ``lat_mean``; the values are standard deviations;
- the ComfyUI-StyleGan (dfl) layout: safetensors with one ``component_NN`` tensor each and
  metadata ``method`` and ``w_dim``;
- encoder4editing's torch files: ``age.pt`` / ``smile.pt`` / ``pose.pt`` directions and the GANSpace
  components ``ffhq_pca.pt`` (see :mod:`.e4e_io`), read weights-only on the CPU.

Nothing in a file runs: ``.npy`` / ``.npz`` are read with ``allow_pickle=False``, torch files with torch's
weights-only unpickler.
"""

from __future__ import annotations

import json
import os
import re
import zipfile

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import CheckpointError, GANLabError, MismatchError
from ..loaders.files import TORCH_LEGACY_MAGIC
from .container import FORMAT, Directions
from .e4e_io import import_e4e
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


def _is_torch_zip(path: str) -> bool:
    """A zip archive written by ``torch.save`` (it holds a ``data.pkl``), not a numpy ``.npz``."""
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.endswith("data.pkl") for n in z.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return False  # the .npz reader names the damage


def _stem(path: str) -> str:
    return os.path.splitext(os.path.basename(path))[0]


# ----- readers --------------------------------------------------------------------------------
def import_interfacegan(path: str | os.PathLike) -> Directions:
    """An InterFaceGAN boundary ``.npy`` (``[1, dim]`` or ``[dim]``) as one unit direction."""
    path = os.fspath(path)
    try:
        arr = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise CheckpointError(path, f"not a readable .npy array ({e})") from None
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
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    with open(path, "rb") as f:
        head = f.read(len(TORCH_LEGACY_MAGIC))
    if head[:6] == b"\x93NUMPY":
        return import_interfacegan(path)
    if head[:4] == b"PK\x03\x04":
        return import_e4e(path) if _is_torch_zip(path) else import_ganspace(path)
    if head.startswith(TORCH_LEGACY_MAGIC):
        return import_e4e(path)
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
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    tensors, meta = _safetensors(path)
    if meta.get("format") != LATENT_FORMAT or "codes" not in tensors:
        raise CheckpointError(path, "not a GAN Latent Lab latent file")
    try:
        seeds = [int(s) for s in json.loads(meta.get("seeds", "[]"))]
        psi = float(meta.get("truncation_psi", "1.0"))
        codes = tensors["codes"]
        for key in ("z", "c"):
            if key in tensors and tensors[key].shape[0] != codes.shape[0]:
                raise ValueError(f"{key} has {tensors[key].shape[0]} rows for {codes.shape[0]} codes")
        return GANLatent(codes=codes.float(), fingerprint=meta.get("fingerprint", ""), z=tensors.get("z"),
                         c=tensors.get("c"), seeds=seeds, truncation_psi=psi, space=meta.get("space", "w"))
    except (ValueError, TypeError, MismatchError) as e:
        raise CheckpointError(path, f"damaged latent file ({e})") from None


__all__ = ["load_directions", "load_for_model", "save_directions", "import_interfacegan", "import_ganspace",
           "import_dfl", "import_e4e", "save_latent", "load_latent", "LATENT_FORMAT", "GANLabError"]
