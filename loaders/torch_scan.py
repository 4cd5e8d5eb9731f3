"""Check a torch file's tensor declarations before torch reads it.

``torch.load(weights_only=True)`` runs no foreign code, but it trusts the sizes a file declares:
a storage offset past the end makes it grow the storage (uninitialised memory read as weights),
and a stride-0 view lets a few kilobytes declare a gigabyte layer.  So before torch sees a file,
its pickle is walked here with an inert unpickler that builds nothing: each storage a persistent
id names is matched against the bytes the file really holds for it (the zip entry, or the
length-prefixed block of the legacy format), every tensor view must keep all its elements inside
its storage, and the bytes all views declare together are bounded by the file's own size
(:func:`limits.view_budget`).  Only then does torch load the file.

The legacy (pre-zip) format, which ``torch.storage._load_from_bytes`` payloads inside NVlabs
pickles also use, is: pickles of the magic number, the protocol version and a system-info dict;
the main pickle (storages as persistent ids); the pickled list of storage keys; then per key an
8-byte little-endian element count and the raw elements.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from dataclasses import dataclass
from typing import Any, BinaryIO

import torch

from .. import limits
from ..errors import CheckpointError

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001
MAX_DIMS = 16

STORAGE_DTYPES: dict[str, torch.dtype] = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8,
    "BoolStorage": torch.bool, "UntypedStorage": torch.uint8,
}
"""Storage classes a generator checkpoint may name, and their element types (no complex, no quantized)."""
STORAGE_MODULES = ("torch", "torch.cuda", "torch.storage")
TENSOR_BUILDERS = ("_rebuild_tensor", "_rebuild_tensor_v2", "_rebuild_tensor_v3")
PARAMETER_BUILDERS = ("_rebuild_parameter", "_rebuild_parameter_with_state")


class ScanError(Exception):
    """A declaration the scan refuses; :func:`fail` turns it into our error naming the file."""


@dataclass(frozen=True)
class StorageType:
    """A storage class named by a file, reduced to its element type."""

    name: str
    dtype: torch.dtype


@dataclass
class StorageRef:
    """A storage a persistent id declares: key, element type, element count (and, once found, its bytes)."""

    key: str
    dtype: torch.dtype
    numel: int
    data_offset: int = -1

    @property
    def nbytes(self) -> int:
        return self.numel * _itemsize(self.dtype)


def _itemsize(dtype: torch.dtype) -> int:
    return dtype.itemsize


class BoundedReader(io.RawIOBase):
    """A read-only view of ``fp`` that refuses any read reaching past ``end`` before reading.

    A pickle's length prefixes (BINBYTES8, FRAME, ...) then cannot make a reader allocate more than
    the file holds."""

    def __init__(self, fp: BinaryIO, end: int) -> None:
        super().__init__()
        self._fp, self._end = fp, end

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._fp.tell()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return self._fp.seek(offset, whence)

    def _room(self, n: int) -> int:
        left = max(self._end - self._fp.tell(), 0)
        if n is None or n < 0:
            return left
        if n > left:
            raise ScanError(f"the data asks for {n} bytes where {left} remain (truncated or a false length)")
        return n

    def read(self, n: int = -1) -> bytes:
        return self._fp.read(self._room(n))

    def readinto(self, buf) -> int:
        return self._fp.readinto(memoryview(buf)[: self._room(len(buf))])

    def readline(self, limit: int = -1) -> bytes:
        left = max(self._end - self._fp.tell(), 0)
        return self._fp.readline(left if limit is None or limit < 0 else min(limit, left))


def _int(value: Any, what: str) -> int:
    if type(value) is not int:
        raise ScanError(f"{what} is {type(value).__name__}, not an integer")
    return value


def check_view(storage: StorageRef, offset: Any, size: Any, stride: Any, dtype: torch.dtype | None = None) -> int:
    """Bytes a view declares; every element it addresses must lie inside ``storage``."""
    dtype = storage.dtype if dtype is None else dtype
    offset = _int(offset, "a tensor's storage offset")
    if not isinstance(size, (tuple, list)) or not isinstance(stride, (tuple, list)):
        raise ScanError("a tensor's size and stride must be tuples of integers")
    if len(size) != len(stride) or len(size) > MAX_DIMS:
        raise ScanError(f"a tensor declares {len(size)} sizes and {len(stride)} strides (at most {MAX_DIMS} dimensions)")
    size = [_int(s, "a tensor size") for s in size]
    stride = [_int(s, "a tensor stride") for s in stride]
    if offset < 0 or any(s < 0 for s in size) or any(s < 0 for s in stride):
        raise ScanError(f"a tensor declares a negative offset, size or stride ({offset}, {size}, {stride})")
    numel = math.prod(size)
    itemsize = _itemsize(dtype)
    capacity = storage.nbytes // itemsize
    if numel == 0:
        if offset > capacity:
            raise ScanError(f"an empty tensor starts at element {offset} of a storage of {capacity}")
        return 0
    last = offset + sum((n - 1) * s for n, s in zip(size, stride))
    if last >= capacity:
        raise ScanError(f"a tensor of size {size} with stride {stride} at offset {offset} reaches element {last} "
                        f"of a storage of {capacity} elements (it would read memory the file does not hold)")
    return numel * itemsize


class _Inert:
    """What any global other than the tensor builders becomes during the scan: accepts and keeps nothing."""

    def __new__(cls, *args: Any, **kwargs: Any) -> "_Inert":
        return object.__new__(cls)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __setstate__(self, state: Any) -> None:
        pass

    def __setitem__(self, key: Any, value: Any) -> None:
        pass

    def append(self, value: Any) -> None:
        pass

    def extend(self, values: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> "_Inert":
        return _Inert()


class _TensorObject(_Inert):
    """``torch.Tensor()`` and friends: an empty tensor whose state must not be set by the file."""

    def __setstate__(self, state: Any) -> None:
        raise ScanError("the file sets a tensor's storage, offset, size and stride directly (legacy BUILD), "
                        "which is not read")


def _tensor_class(*args: Any, **kwargs: Any) -> _TensorObject:
    if args or kwargs:
        raise ScanError("the file calls a tensor constructor with arguments (it could allocate any size)")
    return _TensorObject()


class ScanUnpickler(pickle.Unpickler):
    """Walks a torch pickle without building tensors: records storages, checks every view."""

    def __init__(self, file: BinaryIO, legacy: bool = False) -> None:
        super().__init__(file)
        self.pid_len = 6 if legacy else 5  # the legacy format adds view metadata to each storage id
        self.storages: dict[str, StorageRef] = {}
        self.declared = 0
        self.result: Any = None

    # ----- tensor builders ---------------------------------------------------------------------
    def _view(self, storage: Any, offset: Any, size: Any, stride: Any, dtype: torch.dtype | None = None) -> _Inert:
        if not isinstance(storage, StorageRef):
            raise ScanError("a tensor is built on something that is not a storage of the file")
        self.declared += check_view(storage, offset, size, stride, dtype)
        return _Inert()

    def _rebuild_tensor(self, storage, offset, size, stride, *rest):
        return self._view(storage, offset, size, stride)

    def _rebuild_tensor_v3(self, storage, offset, size, stride, requires_grad=False, hooks=None, dtype=None, *rest):
        if not isinstance(dtype, torch.dtype):
            raise ScanError("a tensor (v3) names no element type")
        return self._view(storage, offset, size, stride, dtype)

    @staticmethod
    def _parameter(data, *rest):
        return data

    @staticmethod
    def _from_type(func, new_type, args, state):
        if not callable(func) or not isinstance(args, tuple):
            raise ScanError("a tensor subclass is rebuilt from something that is not a tensor builder")
        return func(*args)

    def find_class(self, module: str, name: str) -> Any:
        if module in STORAGE_MODULES and name in STORAGE_DTYPES:
            return StorageType(name, STORAGE_DTYPES[name])
        if module in STORAGE_MODULES and name.endswith("Storage"):
            raise ScanError(f"the file holds {module}.{name} tensors (complex or quantized), which are not weights")
        if module == "torch._utils":
            if name in TENSOR_BUILDERS:
                return self._rebuild_tensor_v3 if name == "_rebuild_tensor_v3" else self._rebuild_tensor
            if name in PARAMETER_BUILDERS:
                return self._parameter
            if name.startswith("_rebuild"):
                raise ScanError(f"the file builds tensors with torch._utils.{name} (sparse, quantized, nested or "
                                "device tensors), which generator checkpoints never hold")
        if module == "torch._tensor" and name == "_rebuild_from_type_v2":
            return self._from_type
        if (module, name) in (("torch", "Tensor"), ("torch.nn.parameter", "Parameter")) or (
                module in ("torch", "torch.cuda") and name.endswith("Tensor")):
            return _tensor_class
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if (module, name) == ("torch", "Size"):
            return lambda *a: tuple(*a)
        if (module, name) == ("collections", "OrderedDict"):
            return _Inert
        return _Inert

    def persistent_load(self, pid: Any) -> StorageRef:
        if not isinstance(pid, tuple) or len(pid) != self.pid_len or pid[0] != "storage":
            raise ScanError(f"unexpected persistent id {str(pid)[:80]!r}")
        stype, key, _location, numel = pid[1:5]
        view = pid[5] if len(pid) == 6 else None
        if not isinstance(stype, StorageType):
            raise ScanError(f"a storage of type {stype!r}, which is not a storage class of plain numbers")
        if not isinstance(key, str) or len(key) > 256:
            raise ScanError("a storage key is not a short string")
        numel = _int(numel, "a storage's element count")
        if numel < 0:
            raise ScanError(f"a storage declares {numel} elements")
        ref = self.storages.get(key)
        if ref is None:
            ref = self.storages[key] = StorageRef(key, stype.dtype, numel)
        elif ref.dtype != stype.dtype or ref.numel != numel:
            raise ScanError(f"storage '{key}' is declared twice with different types or sizes")
        if view is not None:  # pre-1.0 storage views: (view key, offset, size)
            if not (isinstance(view, tuple) and len(view) == 3):
                raise ScanError("a malformed storage view")
            _vkey, voff, vsize = view
            voff, vsize = _int(voff, "a storage view offset"), _int(vsize, "a storage view size")
            if voff < 0 or vsize < 0 or voff + vsize > numel:
                raise ScanError(f"a storage view [{voff}, {voff + vsize}) outside a storage of {numel} elements")
            return StorageRef(f"{key}@{voff}", stype.dtype, vsize)
        return ref


class _PlainUnpickler(pickle.Unpickler):
    """For the legacy format's small header pickles: plain data only."""

    def find_class(self, module: str, name: str) -> Any:
        raise ScanError(f"a legacy torch header names the global '{module}.{name}'")


def _load_plain(fp: BinaryIO) -> Any:
    return _PlainUnpickler(fp).load()


def read_legacy(fp: BinaryIO, end: int) -> tuple[ScanUnpickler, list[StorageRef]]:
    """Walk a legacy torch stream from ``fp``'s position to ``end``: header, main pickle, keys, blocks.

    Returns the scanner (its ``declared`` bytes, storages) and the storages in file order, each with
    the offset of its raw elements in ``fp``'s coordinates."""
    if _load_plain(fp) != LEGACY_MAGIC:
        raise ScanError("not a legacy torch stream (wrong magic number)")
    if _load_plain(fp) != LEGACY_PROTOCOL:
        raise ScanError("an unknown legacy torch protocol version")
    info = _load_plain(fp)
    if not isinstance(info, dict) or info.get("little_endian") is not True:
        raise ScanError("a big-endian or malformed legacy torch file")
    scanner = ScanUnpickler(fp, legacy=True)
    scanner.result = scanner.load()
    keys = _load_plain(fp)
    if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys) or set(keys) != set(scanner.storages) \
            or len(keys) != len(set(keys)):
        raise ScanError("the legacy storage list does not match the storages the file declares")
    order = []
    for key in keys:
        ref = scanner.storages[key]
        head = fp.read(8)
        if len(head) != 8:
            raise ScanError(f"storage '{key}' is truncated")
        (count,) = struct.unpack("<q", head)
        if count != ref.numel:
            raise ScanError(f"storage '{key}' holds {count} elements but is declared with {ref.numel}")
        ref.data_offset = fp.tell()
        if ref.data_offset + ref.nbytes > end:
            raise ScanError(f"storage '{key}' runs past the end of the data")
        fp.seek(ref.nbytes, io.SEEK_CUR)
        order.append(ref)
    return scanner, order


def fail(path: str, e: BaseException) -> CheckpointError:
    """Our error for a scan failure (a refused declaration or a pickle that does not parse)."""
    if isinstance(e, CheckpointError):
        return e
    if isinstance(e, ScanError):
        return CheckpointError(path, str(e))
    return CheckpointError(path, f"the tensor declarations cannot be read ({type(e).__name__}: {str(e)[:160]})")


_SCAN_ERRORS = (ScanError, pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError,
                AttributeError, OverflowError, struct.error, MemoryError, RecursionError, UnicodeDecodeError)


def _check_budget(path: str, declared: int) -> None:
    size = limits.file_size(path)
    if declared > limits.view_budget(size):
        raise CheckpointError(path, f"its tensors declare {declared / limits.MiB:.1f} MiB from a file of "
                              f"{size / limits.MiB:.2f} MiB (views may declare at most {limits.VIEW_FACTOR}x the file "
                              f"plus {limits.VIEW_SLACK // limits.MiB} MiB): expanded or overlapping views")


def scan_zip(path: str, z: zipfile.ZipFile) -> None:
    """Check a torch zip (already size-checked by :func:`limits.check_zip`) before torch loads it."""
    pkls = [n for n in z.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
    if len(pkls) != 1:
        raise CheckpointError(path, f"a torch zip must hold one data.pkl, this one holds {len(pkls)}")
    prefix = pkls[0][: -len("data.pkl")]
    try:
        scanner = ScanUnpickler(io.BytesIO(z.read(pkls[0])))
        scanner.load()
        sizes = {i.filename: i.file_size for i in z.infolist()}
        for key, ref in scanner.storages.items():
            entry = f"{prefix}data/{key}"
            if entry not in sizes:
                raise ScanError(f"storage '{key}' has no entry {entry} in the archive")
            if sizes[entry] != ref.nbytes:
                raise ScanError(f"storage '{key}' is declared as {ref.numel} x {ref.dtype} ({ref.nbytes} bytes) "
                                f"but its entry holds {sizes[entry]} bytes")
    except _SCAN_ERRORS + (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError) as e:
        raise fail(path, e) from None
    _check_budget(path, scanner.declared)


def scan_legacy(path: str) -> None:
    """Check a legacy (pre-zip) torch file before torch loads it."""
    size = limits.file_size(path)
    try:
        with open(path, "rb") as f:
            scanner, _ = read_legacy(BoundedReader(f, size), size)
    except _SCAN_ERRORS + (OSError,) as e:
        raise fail(path, e) from None
    _check_budget(path, scanner.declared)
