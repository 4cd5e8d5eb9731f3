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

Latents: our safetensors, NVIDIA's ``projected_w.npz`` (written and read), the TF-era
``dlatents.npz``, ``.npy`` arrays, rosinality's projector ``.pt`` and e4e / PTI latent tensors (see
:func:`load_latent`).

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
from ..errors import CheckpointError, GANLabError, InputError, MismatchError
from ..limits import (NPZ_CAP, VIEW_FACTOR, VIEW_SLACK, MiB, file_size, load_json, open_zip, read_npy, read_npz,
                      view_budget)
from ..loaders.base import SEED_MAX
from ..loaders.files import TORCH_LEGACY_MAGIC, sniff
from .container import FORMAT, SPACES, Directions
from .e4e_io import import_e4e
from .ganspace_io import load_ganspace_npz
from .latent import GANLatent

LATENT_FORMAT = "gan-latent-lab-latent"
MAX_ANCESTORS = 1000
"""Fine-tuning generations a latent may name (a model's ``ancestors``, as :mod:`..loaders` reads them)."""
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


def _sniffed(path: str, head: bytes) -> str | None:
    """The container :func:`..loaders.files.sniff` sees in the first bytes, or None if it knows none."""
    try:
        return sniff(path, head, file_size(path))
    except CheckpointError:
        return None


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
            head = f.read(len(TORCH_LEGACY_MAGIC))
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file ({e.strerror or e})") from None
    if head[:6] == b"\x93NUMPY":
        return import_interfacegan(path)
    if head[:4] == b"PK\x03\x04":
        return import_e4e(path) if _is_torch_zip(path) else import_ganspace(path)
    if head.startswith(TORCH_LEGACY_MAGIC):
        return import_e4e(path)
    if _sniffed(path, head) == "pickle":  # after safetensors' own structure, whose length bytes may read 80 0N
        raise CheckpointError(path, "a bare pickle, not a direction file (torch files are zip archives or the "
                              "legacy format; safetensors, .npz and .npy are read too); it was not unpickled")
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
NPZ_KEYS = ("w", "dlatents")
"""Where other tools keep codes in an ``.npz``: NVIDIA's PyTorch projector (``projected_w.npz``: ``w``
``[1, num_ws, w_dim]``) and the TF-era StyleGAN2 / StyleGAN2-ADA projector (``dlatents.npz``: ``dlatents``)."""
_OURS = "gll_"  # extra .npz keys of our own: official readers take only ``w``


def save_latent(latent: GANLatent, path: str | os.PathLike, overwrite: bool = False) -> str:
    """Write a latent atomically.  ``.npz``: NVIDIA's projector layout, ``w`` ``[n, num_ws, w_dim]``
    float32, which its ``generate.py --projected-w`` reads, plus ``gll_*`` keys (fingerprint, seeds,
    z, class) that let this pack bind it again without a model.  Anything else: safetensors with
    codes, z and c, and seeds, fingerprint, psi and space in the metadata."""
    _check_savable(latent)
    if os.fspath(path).lower().endswith(".npz"):
        return _save_npz(latent, path, overwrite)
    from safetensors.torch import save_file

    tensors = {"codes": latent.codes.contiguous()}
    if latent.z is not None:
        tensors["z"] = latent.z.contiguous()
    if latent.c is not None:
        tensors["c"] = latent.c.contiguous()
    meta = {"format": LATENT_FORMAT, "fingerprint": latent.fingerprint, "seeds": json.dumps(list(latent.seeds)),
            "truncation_psi": repr(float(latent.truncation_psi)), "space": latent.space,
            "ancestors": json.dumps(list(latent.ancestors))}
    with atomic_write(path, overwrite=overwrite) as tmp:
        save_file(tensors, tmp, metadata=meta)
    return os.fspath(path)


def _check_savable(latent: GANLatent) -> None:
    """Refuse, before writing, a latent that no reader would accept back (NaN codes, a NaN psi)."""
    if not isinstance(latent, GANLatent):
        raise InputError(f"expected a GAN latent to save, not a {type(latent).__name__}")
    for name, t in (("codes", latent.codes), ("z", latent.z), ("c", latent.c)):
        if t is not None and not bool(torch.isfinite(t).all()):
            raise InputError(f"the latent's {name} hold NaN or infinite numbers (an edit too strong?); not saved")
    if not np.isfinite(float(latent.truncation_psi)):
        raise InputError(f"the latent's truncation psi is {latent.truncation_psi}; not saved")


def _save_npz(latent: GANLatent, path: str | os.PathLike, overwrite: bool) -> str:
    arrays = {"w": latent.codes.numpy().astype(np.float32),
              f"{_OURS}fingerprint": np.array(latent.fingerprint),
              f"{_OURS}ancestors": np.array(json.dumps(list(latent.ancestors))),
              f"{_OURS}space": np.array(latent.space),
              f"{_OURS}truncation_psi": np.array(float(latent.truncation_psi), dtype=np.float64),
              f"{_OURS}seeds": np.array(json.dumps(list(latent.seeds)))}
    if latent.z is not None:
        arrays[f"{_OURS}z"] = latent.z.numpy().astype(np.float32)
    if latent.c is not None:
        arrays[f"{_OURS}c"] = latent.c.numpy().astype(np.float32)
    with atomic_write(path, overwrite=overwrite) as tmp:
        with open(tmp, "wb") as f:  # a file object: np.savez would append .npz to a name
            np.savez(f, **arrays)
    return os.fspath(path)


def load_latent(path: str | os.PathLike, model=None) -> GANLatent:
    """Read a latent file, recognised by its content:

    - ours: safetensors written by :func:`save_latent` (bound to the model that made it);
    - ``.npz``: NVIDIA's ``projected_w.npz`` (``w``) or the TF-era ``dlatents.npz`` (``dlatents``);
    - ``.npy``: ``[dim]``, ``[n, dim]``, ``[num_ws, dim]`` or ``[n, num_ws, dim]``;
    - torch files: rosinality's projector output (``{image_name: {"img", "latent", "noise"}}``, or one
      such record), an e4e / PTI latent tensor ``[n, num_ws, dim]``, or ``{name: tensor}``.

    Foreign files name no model, so ``model`` binds them: their widths and slot count must be the
    model's (a single w per image is repeated into every slot), else the error names both shapes.
    A 2-D array with exactly ``num_ws`` rows is one w+ code; other row counts are one w each.
    Given a ``model``, a latent of ours is checked against it too."""
    path = _existing_file(path)
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file ({e.strerror or e})") from None
    if not head:
        raise CheckpointError(path, "the file is empty")
    if head[:6] == b"\x93NUMPY":
        found = _foreign(path, read_npy(path), "a .npy array", model)
    elif head[:2] == b"PK" and _is_npz(path):
        found = _load_npz(path, model)
    elif head[:2] == b"PK" or head[:1] == b"\x80":
        found = _load_torch(path, model)
    else:
        found = _load_ours(path)
    if model is not None:
        found.check_model(model)
    return found


def _load_ours(path: str) -> GANLatent:
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
    fingerprint, ancestors = _lineage(path, meta.get("fingerprint", ""),
                                      load_json(meta.get("ancestors", "[]"), path, "the metadata 'ancestors'"))
    try:
        psi = float(meta.get("truncation_psi", "1.0"))
        if not np.isfinite(psi):
            raise ValueError(f"truncation psi {psi} is not finite")
        codes = tensors["codes"]
        for key in ("z", "c"):
            if key in tensors and tensors[key].shape[0] != codes.shape[0]:
                raise ValueError(f"{key} has {tensors[key].shape[0]} rows for {codes.shape[0]} codes")
        return GANLatent(codes=codes.float(), fingerprint=fingerprint, z=tensors.get("z"),
                         c=tensors.get("c"), seeds=seeds, truncation_psi=psi, space=meta.get("space", "w"),
                         ancestors=ancestors)
    except (ValueError, TypeError, MismatchError) as e:
        raise CheckpointError(path, f"damaged latent file ({e})") from None


def _is_npz(path: str) -> bool:
    with open_zip(path, NPZ_CAP) as z:
        names = z.namelist()
    return all(n.endswith(".npy") for n in names)  # an empty archive is an (empty) .npz


def _load_npz(path: str, model) -> GANLatent:
    arrays = read_npz(path)
    key = next((k for k in NPZ_KEYS if k in arrays), None)
    if key is None:
        raise CheckpointError(path, f"an .npz latent holds 'w' (NVIDIA's projected_w.npz) or 'dlatents' "
                              f"(dlatents.npz); this one holds {sorted(arrays)[:8]}")
    what = "NVIDIA projector codes ('w')" if key == "w" else "TF StyleGAN projector codes ('dlatents')"
    fingerprint = _text(arrays.get(f"{_OURS}fingerprint"))
    if not fingerprint:
        return _foreign(path, arrays[key], what, model)
    codes = _float_array(path, arrays[key], what)
    if codes.ndim != 3:
        raise CheckpointError(path, f"{what} must be [n, slots, dim], got {list(codes.shape)}")
    fingerprint, ancestors = _lineage(path, fingerprint, load_json(
        _text(arrays.get(f"{_OURS}ancestors")) or "[]", path, f"the entry '{_OURS}ancestors'"))
    seeds = load_json(_text(arrays.get(f"{_OURS}seeds")) or "[]", path, f"the entry '{_OURS}seeds'")
    if not isinstance(seeds, list) or not all(type(s) is int and 0 <= s <= SEED_MAX for s in seeds):
        raise CheckpointError(path, f"the seeds must be whole numbers 0..{SEED_MAX}")
    space = _text(arrays.get(f"{_OURS}space")) or "w"
    if space not in SPACES:
        raise CheckpointError(path, f"the latent lives in space {space[:40]!r}, not {' or '.join(SPACES)}")
    psi_arr = arrays.get(f"{_OURS}truncation_psi", np.array(1.0))
    if psi_arr.dtype.kind != "f" or psi_arr.size != 1 or not np.isfinite(psi_arr).all():
        raise CheckpointError(path, f"the entry '{_OURS}truncation_psi' must be one finite number (the truncation psi)")
    extra = {}
    for name in ("z", "c"):
        t = arrays.get(f"{_OURS}{name}")
        if t is None:
            continue
        if t.ndim != 2 or t.shape[0] != codes.shape[0] or t.dtype.kind != "f" or not np.isfinite(t).all():
            raise CheckpointError(path, f"the entry '{_OURS}{name}' must be finite numbers [n, width] for {codes.shape[0]} "
                                  f"codes, not {t.dtype} {list(t.shape)}")
        extra[name] = torch.from_numpy(np.array(t, dtype=np.float32))
    try:
        return GANLatent(codes=codes, fingerprint=fingerprint, seeds=seeds, truncation_psi=float(psi_arr.reshape(-1)[0]),
                         space=space, ancestors=ancestors, **extra)
    except (ValueError, TypeError, MismatchError) as e:
        raise CheckpointError(path, f"damaged latent file ({e})") from None


def _lineage(path: str, fingerprint, ancestors) -> tuple[str, list[str]]:
    """A latent's model fingerprint and the fingerprints its model descends from, checked: short
    alphanumeric texts, at most :data:`MAX_ANCESTORS` of them."""
    if not isinstance(fingerprint, str) or len(fingerprint) > 64 or (fingerprint and not fingerprint.isalnum()):
        raise CheckpointError(path, "the model fingerprint is not a short alphanumeric text")
    if not isinstance(ancestors, list) or len(ancestors) > MAX_ANCESTORS or not all(
            isinstance(a, str) and a.isalnum() and len(a) <= 64 for a in ancestors):
        raise CheckpointError(path, f"the ancestors are not a list of at most {MAX_ANCESTORS} model fingerprints")
    return fingerprint, list(ancestors)


def _text(arr) -> str:
    return "" if arr is None or arr.dtype.kind != "U" or arr.ndim != 0 else str(arr)


def _load_torch(path: str, model) -> GANLatent:
    from ..loaders.files import read_torch_file

    obj = read_torch_file(path)
    if isinstance(obj, torch.Tensor):
        return _foreign(path, obj, "an e4e / PTI latent tensor", model)
    if isinstance(obj, dict) and "latent" in obj:
        return _foreign(path, _record_latent(path, obj, "the file"), "rosinality projector codes", model)
    if isinstance(obj, dict) and obj and all(isinstance(k, str) for k in obj):
        if all(isinstance(v, dict) for v in obj.values()) and any("latent" in v for v in obj.values()):
            rows = [_record_latent(path, v, repr(k)) for k, v in obj.items()]
            what = f"rosinality projector codes of {len(rows)} images"
        elif all(isinstance(v, torch.Tensor) for v in obj.values()):
            rows, what = list(obj.values()), f"latent tensors of {len(obj)} images"
        else:
            rows = None
        if rows is not None:
            shapes = {tuple(r.shape) for r in rows}
            if len(shapes) != 1:
                raise CheckpointError(path, f"the images' latents have different shapes {sorted(shapes)}")
            return _foreign(path, torch.stack([r.reshape(-1, r.shape[-1]) for r in rows]), what, model)
    described = type(obj).__name__ + (f" with keys {list(obj)[:6]}" if isinstance(obj, dict) else "")
    raise CheckpointError(path, f"a torch file holding a {described}: not a latent (a tensor [n, num_ws, dim], "
                          "or rosinality's {image: {'latent', 'noise', 'img'}})")


def _record_latent(path: str, record: dict, name: str) -> torch.Tensor:
    t = record.get("latent")
    if not isinstance(t, torch.Tensor):
        raise CheckpointError(path, f"{name} has no 'latent' tensor (rosinality's projector writes one per image)")
    if t.ndim not in (1, 2):
        raise CheckpointError(path, f"{name}'s latent must be one w [dim] or a w+ [slots, dim], got {list(t.shape)}")
    return t


def _float_array(path: str, arr, what: str) -> torch.Tensor:
    if isinstance(arr, torch.Tensor):
        t = arr.detach().to("cpu")
        ok = t.is_floating_point()
    else:
        ok = isinstance(arr, np.ndarray) and arr.dtype.kind == "f"
        t = torch.from_numpy(np.array(arr, dtype=np.float32)) if ok else None
    if not ok:
        raise CheckpointError(path, f"{what} must be floating-point numbers, not {getattr(arr, 'dtype', type(arr))}")
    t = t.to(torch.float32)
    if t.numel() == 0 or not torch.isfinite(t).all():
        raise CheckpointError(path, f"{what} are empty or hold NaN or infinite numbers")
    return t


def _foreign(path: str, arr, what: str, model) -> GANLatent:
    """Codes from another tool bound to ``model``: shapes checked, a single w repeated into every slot."""
    t = _float_array(path, arr, what)
    shape = list(t.shape)
    if model is None:
        raise CheckpointError(path, f"{what} {shape} name no model: give the model they were made with "
                              "(Load GAN Latent's model input) to bind them")
    slots, dim = model.num_ws, model.w_dim
    if t.ndim == 1:
        t = t[None, None]
    elif t.ndim == 2:
        t = t[None] if slots > 1 and t.shape[0] == slots else t[:, None]
    elif t.ndim == 4 and t.shape[1] == 1:  # [n, 1, slots, dim]: a batch of single-image projections
        t = t[:, 0]
    if t.ndim != 3 or t.shape[-1] != dim or t.shape[1] not in (1, slots):
        raise CheckpointError(path, f"{what} are shaped {shape}, but the loaded {model.arch} wants [n, {slots}, "
                              f"{dim}] ({slots} slots, {dim} wide) or one w [n, {dim}]")
    expanded = t.shape[0] * slots * dim * 4
    allowed = view_budget(file_size(path))
    if expanded > allowed:
        raise CheckpointError(path, f"{what} {shape} would take {expanded / MiB:.1f} MiB once repeated into {slots} slots, "
                              f"more than {VIEW_FACTOR}x the file plus {VIEW_SLACK // MiB} MiB; split the file")
    t = t.expand(-1, slots, -1).contiguous()
    return GANLatent(codes=t, fingerprint=model.fingerprint, space=model.code_space,
                     ancestors=list(getattr(model, "ancestors", [])))


__all__ = ["load_directions", "load_for_model", "save_directions", "import_interfacegan", "import_ganspace",
           "import_dfl", "import_e4e", "save_latent", "load_latent", "LATENT_FORMAT", "NPZ_KEYS", "GANLabError"]
