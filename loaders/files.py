"""Read a checkpoint file into plain Python objects without running its code.

The format is sniffed from the bytes, not the extension: safetensors, torch zip, legacy torch,
or a raw pickle (NVlabs).  Torch files load with ``weights_only=True`` on the CPU, so files saved
on CUDA open on a CPU-only machine.  Every failure is a :class:`CheckpointError` naming the file.
"""

from __future__ import annotations

import argparse
import os
import pickle
import struct
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from .. import limits
from ..errors import CheckpointError, UnsafePickleError
from . import safe_pickle, torch_scan

TORCH_LEGACY_MAGIC = b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19."
SAFETENSORS_HEADER_MAX = 100_000_000
SIDECAR_MAX_BYTES = limits.JSON_MAX_BYTES
TF_NETWORK = "dnnlib.tflib.network.Network"
FOLDER_WEIGHTS = ("model.safetensors", "pytorch_model.bin", "generator.safetensors", "generator.pth", "generator.pt")


@dataclass
class Checkpoint:
    """A checkpoint read into memory: the object, its format, metadata and any sidecar config."""

    path: str
    format: str
    obj: Any
    metadata: dict[str, str] = field(default_factory=dict)
    sidecar: dict | None = None

    @property
    def name(self) -> str:
        return os.path.basename(self.path)

    def fail(self, reason: str) -> CheckpointError:
        return CheckpointError(self.path, reason)


def sniff(path: str, head: bytes, size: int | None = None) -> str:
    """Name the container format from the first bytes of a file (and its size).

    safetensors is recognised by its own structure first: an 8-byte little-endian header length
    whose header starts with ``{`` and fits in the file.  Its length bytes can be anything, for
    example ``80 03`` (a header of 896 bytes), which would otherwise look like a pickle."""
    if len(head) == 0:
        raise CheckpointError(path, "the file is empty")
    if len(head) >= 9 and head[8:9] == b"{":
        (n,) = struct.unpack("<Q", head[:8])
        if 2 <= n <= SAFETENSORS_HEADER_MAX and (size is None or 8 + n <= size):
            return "safetensors"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    if head.startswith(TORCH_LEGACY_MAGIC):
        return "torch-legacy"
    if head[:1] == b"\x80" and len(head) > 1 and 2 <= head[1] <= 5:
        return "pickle"
    if head[:6] == b"\x93NUMPY":
        return "npy"
    raise CheckpointError(path, "unknown file format (not safetensors, a torch file or a pickle)")


def _resolve(path: str) -> str:
    if os.path.isdir(path):
        for name in FOLDER_WEIGHTS:
            p = os.path.join(path, name)
            if os.path.isfile(p):
                return p
        raise CheckpointError(path, f"the folder holds none of {', '.join(FOLDER_WEIGHTS)}")
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    return path


def read_sidecar(path: str) -> dict | None:
    """Config beside a checkpoint: ``<file>.json``, ``<stem>.json`` or ``config.json`` in its folder.

    Size and nesting are bounded (:func:`limits.load_json`); NaN and Infinity are refused."""
    stem, _ = os.path.splitext(path)
    for cand in (path + ".json", stem + ".json", os.path.join(os.path.dirname(path), "config.json")):
        if cand != path and os.path.isfile(cand):
            return limits.read_json_object(cand, "the sidecar config", SIDECAR_MAX_BYTES)
    return None


TORCH_SAFE_GLOBALS = [argparse.Namespace]
"""Inert classes a weights_only torch load may build (rosinality checkpoints store ``args``)."""

MAX_RECORD_GLOBALS = 8


def _torch_load_records(path: str, first: str) -> Any:
    """``torch.load(weights_only=True)`` that also admits allow-listed foreign classes as records.

    Training checkpoints pickle small config objects (pytorch_GAN_zoo's ``BaseConfig``).  Each name
    that :mod:`safe_pickle` reads as a record is admitted as an inert :class:`safe_pickle.Record`
    subclass, one refused name at a time; tensors still load the weights-only way and no foreign
    code is imported or run.  Any other refusal ends in the usual errors of :func:`_torch_load`."""
    names = [first]
    while True:
        extra = [(safe_pickle.record_class(safe_pickle.record_global(n)), n) for n in names]
        try:
            with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS + extra):
                return torch.load(path, map_location="cpu", weights_only=True, mmap=None)
        except pickle.UnpicklingError as e:
            msg = str(e)
            glob = msg.split("GLOBAL ", 1)[1].split()[0].rstrip(".,'\"") if "GLOBAL " in msg else ""
            if not safe_pickle.record_global(glob) or glob in names or len(names) >= MAX_RECORD_GLOBALS:
                if glob:
                    raise UnsafePickleError(path, f"the file asks for the global '{glob}', which is not on the "
                                            "allow-list of checkpoint types; nothing was run") from None
                raise CheckpointError(path, f"torch refused the file as unsafe or malformed ({msg.splitlines()[0][:200]})") from None
            names.append(glob)
        except Exception as e:  # noqa: BLE001
            raise CheckpointError(path, f"not a readable torch file ({type(e).__name__}: {str(e)[:200]})") from None


def _torch_load(path: str) -> Any:
    try:
        with torch.serialization.safe_globals(TORCH_SAFE_GLOBALS):
            return torch.load(path, map_location="cpu", weights_only=True, mmap=None)
    except pickle.UnpicklingError as e:
        msg = str(e)
        marker = "GLOBAL "
        if marker in msg:
            glob = msg.split(marker, 1)[1].split()[0].rstrip(".,'\"")
            if safe_pickle.record_global(glob):
                return _torch_load_records(path, glob)
            raise UnsafePickleError(path, f"the file asks for the global '{glob}', which is not on the allow-list "
                                    "of checkpoint types; nothing was run") from None
        raise CheckpointError(path, f"torch refused the file as unsafe or malformed ({msg.splitlines()[0][:200]})") from None
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(path, f"not a readable torch file ({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None


def read_torch_file(path: str | os.PathLike) -> Any:
    """A torch file (zip or legacy) read weights-only on the CPU: tensors and plain containers, nothing run.

    The same checks as a checkpoint's come first (:func:`check_torch_file`): zip sizes before anything
    is inflated, every tensor view against its storage and the file's size.  Latents, Voynov runs and
    official deformators are read this way."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(path, "is a folder, not a file")
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such file")
    check_torch_file(path)
    return _torch_load(path)


def check_torch_file(path: str) -> str:
    """Sniff a torch file and scan its tensor declarations before torch reads it; returns the format.

    Anything that is not a torch zip or a legacy torch file (a bare pickle, which torch would read
    without the legacy header's checks, a TorchScript archive, junk) is refused naming the file."""
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise CheckpointError(path, f"cannot open ({e.strerror or e})") from None
    fmt = sniff(path, head, limits.file_size(path))
    if fmt == "zip":
        with limits.open_zip(path) as z:
            names = z.namelist()
            if not any(n.endswith("data.pkl") for n in names):
                raise CheckpointError(path, "a zip archive that is not a torch file (no data.pkl)")
            if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
                raise CheckpointError(path, "a TorchScript archive, not a torch file of tensors")
            torch_scan.scan_zip(path, z)
        return "torch-zip"
    if fmt == "torch-legacy":
        torch_scan.scan_legacy(path)
        return fmt
    raise CheckpointError(path, f"a {fmt} file, not a torch file (torch.save writes a zip archive or the legacy format)")


def _safetensors_load(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        out: dict[str, torch.Tensor] = {}
        with safe_open(path, framework="pt", device="cpu") as f:
            meta = dict(f.metadata() or {})
            for k in f.keys():
                out[k] = f.get_tensor(k)
        return out, meta
    except Exception as e:  # noqa: BLE001
        raise CheckpointError(path, f"not a valid safetensors file ({type(e).__name__}: {str(e)[:200]})") from None


def read_checkpoint(path: str | os.PathLike) -> Checkpoint:
    """Read any supported container into a :class:`Checkpoint` (no architecture logic here)."""
    path = _resolve(os.fspath(path))
    try:
        with open(path, "rb") as f:
            head = f.read(64)
    except OSError as e:
        raise CheckpointError(path, f"cannot open ({e.strerror})") from None
    fmt = sniff(path, head, limits.file_size(path))
    meta: dict[str, str] = {}
    if fmt == "safetensors":
        obj, meta = _safetensors_load(path)
    elif fmt in ("zip", "torch-legacy"):
        fmt = check_torch_file(path)
        obj = _torch_load(path)
    elif fmt == "pickle":
        obj = safe_pickle.load_pickle(path, lazy=True)
        obj = safe_pickle.materialize(obj, path, skip=unused_networks(obj))
    else:
        raise CheckpointError(path, f"a {fmt} array file is not a generator checkpoint")
    return Checkpoint(path=path, format=fmt, obj=obj, metadata=meta, sidecar=read_sidecar(path))


def unused_networks(obj: Any) -> list:
    """Networks of a training snapshot that loading a generator leaves on disk.

    An NVlabs snapshot holds ``G``, ``D`` and ``G_ema`` (and the augmentation pipe); only ``G_ema`` is
    read.  A TF-era pickle is the tuple ``(G, D, Gs)`` of ``dnnlib`` networks; only ``Gs`` is read.
    The others stay :class:`safe_pickle.LazyTensor` / :class:`safe_pickle.PendingArray` handles that
    ``safe_pickle.materialize`` reads on demand."""
    if isinstance(obj, dict) and isinstance(obj.get("G_ema"), safe_pickle.Record):
        keep = obj["G_ema"]
        return [v for k, v in obj.items() if k != "G_ema" and v is not keep and isinstance(v, safe_pickle.Record)]
    if isinstance(obj, tuple) and len(obj) == 3 and all(
            isinstance(v, safe_pickle.Record) and v.qualname == TF_NETWORK for v in obj):
        keep = obj[2]
        return [v for v in obj[:2] if v is not keep]
    return []


def state_dict_of(obj: Any, keys: tuple[str, ...] = ()) -> dict[str, torch.Tensor] | None:
    """The first of ``keys`` in ``obj`` that is a dict of tensors, or ``obj`` itself if it is one."""
    for k in keys:
        if isinstance(obj, dict) and isinstance(obj.get(k), dict):
            sd = obj[k]
            if sd and all(isinstance(v, torch.Tensor) for v in sd.values()):
                return dict(sd)
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return dict(obj)
    return None


def strip_prefix(sd: dict[str, torch.Tensor], prefix: str = "module.") -> dict[str, torch.Tensor]:
    """Drop a DataParallel-style prefix when every key has it."""
    if sd and all(k.startswith(prefix) for k in sd):
        return {k[len(prefix):]: v for k, v in sd.items()}
    return sd


def check_state_shapes(path: str | None, sd: dict[str, torch.Tensor], build: Callable[[], torch.nn.Module],
                       what: str) -> None:
    """Refuse a state dict whose names or shapes differ from the network ``build()`` makes.

    The network is built on the meta device, so nothing is allocated; the error names the first
    differences and the layout (``what``) they were measured against."""
    with torch.device("meta"):
        want = {k: tuple(v.shape) for k, v in build().state_dict().items()}
    problems = [f"missing {k}" for k in want if k not in sd] + [f"unexpected {k}" for k in sd if k not in want]
    problems += [f"{k} is {list(sd[k].shape)}, expected {list(s)}" for k, s in want.items()
                 if k in sd and tuple(sd[k].shape) != s]
    if problems:
        more = f"; {len(problems) - 4} more" if len(problems) > 4 else ""
        raise CheckpointError(path, f"the weights do not form {what}: " + "; ".join(problems[:4]) + more)
