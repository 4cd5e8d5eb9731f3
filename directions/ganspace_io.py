"""GANSpace-compatible ``.npz`` files: ``lat_comp [K, 1, dim]``, ``lat_mean [1, dim]``, ``lat_stdev [K]``.

The layout the GANSpace repository's tools (and its notebooks) read, written atomically, and read
back without unpickling anything (``allow_pickle=False``)."""

from __future__ import annotations

import os

import numpy as np
import torch

from ..atomic import atomic_write
from ..errors import CheckpointError, MismatchError
from ..limits import read_npz
from .container import Directions


def save_ganspace_npz(d: Directions, path: str | os.PathLike, overwrite: bool = False,
                      lat_mean: torch.Tensor | None = None) -> str:
    """Write a set as a GANSpace dump; ``lat_mean`` defaults to the one GANSpace stored in ``meta``."""
    mean = lat_mean if lat_mean is not None else d.meta.get("lat_mean")
    mean = np.zeros(d.dim, np.float32) if mean is None else np.asarray(mean, dtype=np.float32).reshape(-1)
    if mean.shape[0] != d.dim:
        raise MismatchError(f"lat_mean is {mean.shape[0]} wide but the directions are {d.dim} wide")
    arrays = {
        "lat_comp": d.vectors.numpy().astype(np.float32).reshape(len(d), 1, d.dim),
        "lat_mean": mean.reshape(1, d.dim),
        "lat_stdev": d.values.numpy().astype(np.float32).reshape(len(d)),
    }
    # extra keys official readers ignore: the code space and the model, so reloading needs no guessing
    arrays["gll_space"] = np.array(d.space)
    arrays["gll_fingerprint"] = np.array(d.fingerprint or "")
    ratio = d.meta.get("explained_variance_ratio")
    if ratio is not None and len(ratio) == len(d):
        arrays["var_ratio"] = np.asarray(ratio, dtype=np.float32)
    with atomic_write(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:  # a file object: numpy would otherwise append ".npz" to the name
            np.savez(f, **arrays)
    return os.fspath(path)


def load_ganspace_npz(path: str | os.PathLike, fingerprint: str = "", space: str | None = None) -> Directions:
    """Read a GANSpace dump (the official tools' or ours) as a direction set: the one reader behind Load
    Directions and the Python API.

    Rows of ``lat_comp`` are renormalised to unit length and each ``lat_stdev`` is multiplied by its
    row's length, so that ``sigma`` steps move exactly as GANSpace's ``lat_comp[c] * lat_stdev[c] * sigma``.
    Official dumps name no model: ``fingerprint`` ties the set to one. The space is ``space`` if given,
    else the one our exports record (``gll_space``), else "z" for a file name ending in ``_z``, else "w"."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(path, "is a folder, not a file")
    data = read_npz(path)
    missing = [n for n in ("lat_comp", "lat_stdev") if n not in data]
    if missing:
        raise CheckpointError(path, f"not a GANSpace dump: no {', '.join(missing)} "
                              f"(holds {', '.join(sorted(data))[:200] or 'nothing'})")
    raw_comp, raw_stdev = data["lat_comp"], data["lat_stdev"]
    floats = [raw_comp, raw_stdev] + [data[k] for k in ("lat_mean", "var_ratio") if k in data]
    if any(a.dtype.kind != "f" for a in floats):
        raise CheckpointError(path, "lat_comp, lat_stdev, lat_mean and var_ratio must hold floating-point numbers")
    comp = np.asarray(raw_comp, dtype=np.float64)
    stdev = np.asarray(raw_stdev, dtype=np.float64).reshape(-1)
    mean = np.asarray(data["lat_mean"], dtype=np.float64).reshape(-1) if "lat_mean" in data else None
    ratio = np.asarray(data["var_ratio"], dtype=np.float64).reshape(-1) if "var_ratio" in data else None
    recorded = {k: str(data[k]) for k in ("gll_space", "gll_fingerprint")
                if k in data and data[k].dtype.kind == "U" and data[k].ndim == 0}
    if comp.ndim == 3 and comp.shape[1] == 1:
        comp = comp[:, 0]
    if comp.ndim != 2 or comp.shape[0] == 0:
        raise CheckpointError(path, f"lat_comp must be [K, 1, dim] or [K, dim], got {list(comp.shape)}")
    if stdev.shape[0] != comp.shape[0]:
        raise CheckpointError(path, f"{stdev.shape[0]} standard deviations for {comp.shape[0]} components")
    if not (np.isfinite(comp).all() and np.isfinite(stdev).all()):
        raise CheckpointError(path, "lat_comp or lat_stdev holds NaN or infinite numbers")
    norms = np.linalg.norm(comp, axis=1, keepdims=True)
    if (norms < 1e-12).any():
        raise CheckpointError(path, "a component has zero length")
    meta: dict = {"source": os.path.basename(path)}
    if mean is not None:
        if mean.shape[0] != comp.shape[1]:
            raise CheckpointError(path, f"lat_mean is {mean.shape[0]} wide, lat_comp {comp.shape[1]}")
        meta["lat_mean"] = [float(v) for v in mean]
    if ratio is not None and ratio.shape[0] == comp.shape[0]:
        meta["explained_variance_ratio"] = [float(v) for v in ratio]
    stem = os.path.splitext(os.path.basename(path))[0]
    space = space or recorded.get("gll_space") or ("z" if stem.lower().endswith("_z") else "w")
    if space not in ("w", "z"):
        raise CheckpointError(path, f"the space must be 'w' or 'z', not {space!r}")
    fingerprint = fingerprint or recorded.get("gll_fingerprint", "")
    return Directions(torch.from_numpy(comp / norms), torch.from_numpy(stdev * norms[:, 0]), "ganspace",
                      space=space, slots=None, scale_kind="stdev", fingerprint=fingerprint, meta=meta)
