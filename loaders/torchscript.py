"""Read the tensors of a TorchScript archive (``torch.jit.save``) without running any of its code.

A TorchScript archive is a zip: ``<name>/data.pkl`` pickles the module tree (each module an object
of a ``__torch__.*`` class whose state is a dict of attributes), tensors are persistent ids that name
raw little-endian storages in ``<name>/data/<key>``, and ``<name>/code/`` holds the TorchScript source
that ``torch.jit.load`` would compile and run.  ``torch.load(weights_only=True)`` refuses such
archives, and ``torch.jit.load`` runs their code, so we read them ourselves:

* The archive's central directory is checked first (:func:`limits.open_zip`: stored or deflated
  entries, at most 16x the file plus 16 MiB once inflated), so a small file cannot inflate to gigabytes.
* ``data.pkl`` goes through :class:`~.safe_pickle.RestrictedUnpickler`; every ``__torch__`` class
  becomes an inert :class:`~.safe_pickle.Record`, the list helpers of ``torch.jit._pickle`` become
  plain functions, and any other global (numpy, torch's own loaders, anything that runs code) is
  refused by name.  ``code/`` is never read.
* Tensors stay references (:class:`TensorRef`) until asked for, so a caller materialises only the
  weights it needs; each tensor's extent is checked against its storage, the bytes all views declare
  together against the file's size (:func:`limits.view_budget`: stride-0 expansions), and each
  storage's declared size against its zip entry before it is read.
"""

from __future__ import annotations

import io
import math
import os
import pickle
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any, Iterable

import torch

from .. import limits
from ..errors import CheckpointError, UnsafePickleError
from . import safe_pickle

MAX_DATA_PKL = 64 * 2 ** 20
"""Largest ``data.pkl`` we unpickle: module trees are small; the tensors live outside it."""

MAX_DEPTH = 64
MAX_DIMS = 8
_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")

STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool,
}


@dataclass(frozen=True)
class StorageRef:
    """One raw storage of the archive: ``data/<key>``, ``numel`` elements of ``dtype``."""

    key: str
    dtype: torch.dtype
    numel: int


@dataclass(frozen=True)
class TensorRef:
    """A tensor not yet read: a strided view of a storage."""

    storage: StorageRef
    offset: int
    size: tuple[int, ...]
    stride: tuple[int, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.size


@dataclass
class TorchScriptArchive:
    """The module tree of an archive: dotted attribute names -> tensor references, and class names."""

    path: str
    prefix: str
    tensors: dict[str, TensorRef] = field(default_factory=dict)
    classes: dict[str, str] = field(default_factory=dict)
    """Dotted module path ('' for the root) -> the ``__torch__`` class it was saved as."""

    def load(self, names: Iterable[str], max_bytes: int = 2 ** 30) -> dict[str, torch.Tensor]:
        """Materialise the named tensors (each storage read once, sizes checked); CheckpointError if one
        is missing or inconsistent, or if their storages together declare more than ``max_bytes``
        (a small tensor may sit in a huge, highly compressed storage)."""
        names = list(names)
        missing = [n for n in names if n not in self.tensors]
        if missing:
            raise CheckpointError(self.path, f"the archive holds no tensor '{missing[0]}'")
        storages_needed = {self.tensors[n].storage for n in names}
        declared = sum(s.numel * s.dtype.itemsize for s in storages_needed)
        if declared > max_bytes:
            raise CheckpointError(self.path, f"the tensors asked for sit in storages of {declared} bytes, more than "
                                  f"the {max_bytes} these weights can need")
        viewed = sum(math.prod(self.tensors[n].size) * self.tensors[n].storage.dtype.itemsize for n in names)
        if viewed > max_bytes:
            raise CheckpointError(self.path, f"the tensors asked for declare {viewed} bytes through their views "
                                  f"(expanded or overlapping), more than the {max_bytes} these weights can need")
        out: dict[str, torch.Tensor] = {}
        storages: dict[str, torch.Tensor] = {}
        try:
            with limits.open_zip(self.path) as z:
                for n in names:
                    ref = self.tensors[n]
                    flat = storages.get(ref.storage.key)
                    if flat is None:
                        flat = storages[ref.storage.key] = _read_storage(z, self.path, self.prefix, ref.storage)
                    out[n] = _view(self.path, n, flat, ref)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, RuntimeError) as e:
            raise CheckpointError(self.path, f"a damaged TorchScript archive ({type(e).__name__}: {str(e)[:200]})") from None
        return out


class _StorageType:
    """What ``torch.FloatStorage`` and its kin stand for inside a persistent id: a dtype."""

    def __init__(self, dtype: torch.dtype) -> None:
        self.dtype = dtype


def _ints(value: Any, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or len(value) > MAX_DIMS:
        raise pickle.UnpicklingError(f"tensor {what} must be a short tuple of integers")
    if not all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 2 ** 40 for v in value):
        raise pickle.UnpicklingError(f"tensor {what} holds a negative or absurd value")
    return tuple(value)


def _tensor_ref(storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> TensorRef:
    """Stand-in for ``torch._utils._rebuild_tensor_v2``: records the view, reads nothing."""
    if not isinstance(storage, StorageRef):
        raise pickle.UnpicklingError("tensor storage is not a storage reference")
    (offset,) = _ints((offset,), "offset")
    size, stride = _ints(size, "size"), _ints(stride, "stride")
    if len(size) != len(stride):
        raise pickle.UnpicklingError("tensor size and stride differ in length")
    if all(s > 0 for s in size):
        last = offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= storage.numel:
            raise pickle.UnpicklingError(f"a tensor of size {list(size)} reaches element {last} of a storage of "
                                         f"{storage.numel}")
    return TensorRef(storage, offset, size, stride)


def _as_list(data: Any) -> list:
    if not isinstance(data, list):
        raise pickle.UnpicklingError("a TorchScript list must be a list")
    return data


def _restore_type_tag(value: Any, type_str: Any) -> Any:
    return value


def _device(*args: Any) -> str:
    return ":".join(str(a) for a in args)


_PLAIN = {("collections", "OrderedDict"), ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "dict")}
"""Plain containers a module tree may hold, besides the globals of :data:`TORCHSCRIPT_ALLOWED`."""

TORCHSCRIPT_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _tensor_ref,
    ("torch.jit._pickle", "build_intlist"): _as_list,
    ("torch.jit._pickle", "build_doublelist"): _as_list,
    ("torch.jit._pickle", "build_boollist"): _as_list,
    ("torch.jit._pickle", "build_tensorlist"): _as_list,
    ("torch.jit._pickle", "build_genericlist"): _as_list,
    ("torch.jit._pickle", "restore_type_tag"): _restore_type_tag,
    ("torch", "device"): _device,
    **{("torch", name): _StorageType(dtype) for name, dtype in STORAGE_DTYPES.items()},
}


class TorchScriptUnpickler(safe_pickle.RestrictedUnpickler):
    """``data.pkl`` of an archive: ``__torch__`` classes as records, tensors as references."""

    def __init__(self, file: io.BufferedIOBase, path: str, data: bytes | None = None) -> None:
        # payloads left lazy by the unpickler live in data.pkl's bytes, not at those offsets of the archive
        source = safe_pickle._Source(path, data) if data is not None else None
        super().__init__(file, path, TORCHSCRIPT_ALLOWED, source=source)

    def find_class(self, module: str, name: str) -> Any:
        if (module == "__torch__" or module.startswith("__torch__.")) and name.isidentifier():
            return safe_pickle.record_class(f"{module}.{name}")
        if (module, name) in TORCHSCRIPT_ALLOWED or (module, name) in _PLAIN:
            return super().find_class(module, name)
        raise UnsafePickleError(self._path, f"the module tree asks for the global '{module}.{name}', which a "
                                "TorchScript archive of weights does not use; nothing was run")

    def persistent_load(self, pid: Any) -> Any:
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage"):
            raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:60]!r}")
        _, kind, key, location, numel = pid
        if not isinstance(kind, _StorageType):
            raise pickle.UnpicklingError("a storage of unknown type")
        if not isinstance(key, str) or not _KEY.match(key) or ".." in key:
            raise pickle.UnpicklingError(f"storage key {str(key)[:40]!r} is not a plain name")
        if not isinstance(location, str) or not isinstance(numel, int) or isinstance(numel, bool) or not 0 <= numel < 2 ** 40:
            raise pickle.UnpicklingError("a storage with a bad location or element count")
        return StorageRef(key, kind.dtype, numel)


def _prefix(path: str, z: zipfile.ZipFile) -> str:
    """The archive's top folder, the one holding ``data.pkl``."""
    tops = [n[: -len("/data.pkl")] for n in z.namelist() if n.endswith("/data.pkl") and n.count("/") == 1]
    if len(tops) != 1:
        raise CheckpointError(path, "a zip archive that is not a TorchScript module (no single <name>/data.pkl)")
    return tops[0]


def is_torchscript(path: str | os.PathLike) -> bool:
    """Whether a file is a TorchScript archive (a zip with ``constants.pkl`` or ``code/`` beside ``data.pkl``).

    Reads the central directory only (nothing is inflated); a damaged archive is not one."""
    try:
        with zipfile.ZipFile(path) as z:
            names = z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, OverflowError):
        return False
    return any(n.endswith("/data.pkl") for n in names) and any(
        n.endswith("/constants.pkl") or "/code/" in n for n in names)


def _read_storage(z: zipfile.ZipFile, path: str, prefix: str, ref: StorageRef) -> torch.Tensor:
    name = f"{prefix}/data/{ref.key}"
    try:
        info = z.getinfo(name)
    except KeyError:
        raise CheckpointError(path, f"the archive names a storage '{ref.key}' that is not in it") from None
    itemsize = ref.dtype.itemsize
    if info.file_size != ref.numel * itemsize:
        raise CheckpointError(path, f"storage '{ref.key}' holds {info.file_size} bytes, but {ref.numel} "
                              f"{str(ref.dtype).replace('torch.', '')} values need {ref.numel * itemsize}")
    raw = bytearray(z.read(name))
    if len(raw) != info.file_size:
        raise CheckpointError(path, f"storage '{ref.key}' is truncated")
    if not raw:
        return torch.empty(0, dtype=ref.dtype)
    return torch.frombuffer(raw, dtype=ref.dtype)


def _view(path: str, name: str, flat: torch.Tensor, ref: TensorRef) -> torch.Tensor:
    if any(s == 0 for s in ref.size):
        return torch.empty(ref.size, dtype=flat.dtype)
    last = ref.offset + sum((s - 1) * st for s, st in zip(ref.size, ref.stride))
    if last >= flat.numel():
        raise CheckpointError(path, f"tensor '{name}' reaches past the end of its storage")
    return torch.as_strided(flat, ref.size, ref.stride, ref.offset).clone()


def _walk(path: str, obj: Any, prefix: str, arch: TorchScriptArchive, depth: int, seen: set[int]) -> None:
    """Collect the tensors of a module record and its submodules under dotted names."""
    if depth > MAX_DEPTH:
        raise CheckpointError(path, "the module tree nests too deeply")
    if id(obj) in seen:
        return
    seen.add(id(obj))
    arch.classes[prefix[:-1]] = obj.qualname
    state = obj.state
    if not isinstance(state, dict):
        return
    for key, value in state.items():
        if not isinstance(key, str):
            continue
        if isinstance(value, TensorRef):
            arch.tensors[prefix + key] = value
        elif isinstance(value, safe_pickle.Record) and str(value.qualname).startswith("__torch__"):
            _walk(path, value, f"{prefix}{key}.", arch, depth + 1, seen)


def read_torchscript(path: str | os.PathLike) -> TorchScriptArchive:
    """The module tree of a TorchScript archive with its tensors as references; nothing of it is run."""
    path = os.fspath(path)
    if os.path.isdir(path):
        raise CheckpointError(path, "is a folder, not a file")
    with limits.open_zip(path) as z:
        try:
            prefix = _prefix(path, z)
            order = f"{prefix}/byteorder"
            if order in z.namelist() and z.read(order).strip() not in (b"little", b""):
                raise CheckpointError(path, "a big-endian TorchScript archive; only little-endian ones are read")
            info = z.getinfo(f"{prefix}/data.pkl")
            if info.file_size > MAX_DATA_PKL:
                raise CheckpointError(path, f"data.pkl is {info.file_size} bytes; a module tree is far smaller")
            data = z.read(info)
        except CheckpointError:
            raise
        except (zipfile.BadZipFile, OSError, ValueError, KeyError, EOFError, NotImplementedError, RuntimeError) as e:
            raise CheckpointError(path, f"a damaged zip archive ({type(e).__name__}: {str(e)[:200]})") from None
    try:
        root = TorchScriptUnpickler(io.BytesIO(data), path, data).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(path, "data.pkl nests too deeply") from None
    except Exception as e:  # noqa: BLE001 - any failure of a foreign file is a bad checkpoint
        raise CheckpointError(path, f"data.pkl is not a readable module tree ({type(e).__name__}: {str(e)[:200]})") from None
    if not (isinstance(root, safe_pickle.Record) and str(root.qualname).startswith("__torch__")):
        raise CheckpointError(path, "data.pkl does not hold a TorchScript module")
    arch = TorchScriptArchive(path=path, prefix=prefix)
    _walk(path, root, "", arch, 0, set())
    declared = sum(math.prod(t.size) * t.storage.dtype.itemsize for t in arch.tensors.values())
    size = limits.file_size(path)
    if declared > limits.view_budget(size):
        raise CheckpointError(path, f"its tensors declare {declared / limits.MiB:.1f} MiB from a file of "
                              f"{size / limits.MiB:.2f} MiB (views may declare at most {limits.VIEW_FACTOR}x the file "
                              f"plus {limits.VIEW_SLACK // limits.MiB} MiB): expanded or overlapping views")
    return arch


__all__ = ["TorchScriptArchive", "TensorRef", "StorageRef", "read_torchscript", "is_torchscript"]
