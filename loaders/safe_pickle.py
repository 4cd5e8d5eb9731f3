"""A restricted unpickler for checkpoints that are plain pickles (NVlabs, TF-era, zoo configs).

Only globals on an allow-list resolve.  Classes of foreign code (NVlabs persistent classes,
``dnnlib`` networks, config objects) become :class:`Record` objects holding the pickled state;
their embedded module source is kept as inert text and never executed.  Any other global raises
:class:`UnsafePickleError` naming it.

What the allow-list may build is bounded as well:

- numpy: only plain numeric dtypes from a fixed list of type strings (no fields, objects, void,
  sub-arrays, long double or complex); a pickled dtype's state is checked, never handed to numpy's
  ``__setstate__``; an array's bytes must match its declared shape.  ``BUILD`` (setting an
  object's state) is only allowed on our own inert stand-ins.
- tensors: NVlabs pickles embed each storage as ``torch.storage._load_from_bytes(<legacy torch
  bytes>)``.  The file is read with a pure-Python unpickler whose large ``BINBYTES`` payloads stay
  on disk as (offset, length) handles; a storage becomes a :class:`LazyStorage` after its legacy
  header is checked, a tensor a :class:`LazyTensor` after its view is checked against its storage
  (:func:`torch_scan.check_view`), and the bytes all views declare are bounded by the file's size.
  :func:`materialize` reads tensors when a loader needs them, each straight from the file into its
  own memory, so the networks a loader does not use (NVlabs ``G`` and ``D`` beside ``G_ema``) cost
  nothing.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
from typing import Any, Callable

import numpy as np
import torch

from .. import limits
from ..errors import CheckpointError, UnsafePickleError
from . import torch_scan
from .torch_scan import BoundedReader, ScanError

MAX_PICKLE_DEPTH = 200
LAZY_MIN_BYTES = 4096
"""Payloads from this size on stay in the file until used (smaller ones are read inline)."""
STORAGE_HEADER_MAX = 1 << 20
"""Bytes of legacy-torch header read to find a storage payload's elements."""


class Record:
    """Inert stand-in for an object of a class we do not import: its name, arguments and state."""

    def __init__(self, qualname: str, *args: Any, **kwargs: Any) -> None:
        self.qualname = qualname
        self.args = args
        self.kwargs = kwargs
        self.state: Any = None

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"Record({self.qualname})"

    def get(self, key: str, default: Any = None) -> Any:
        """Attribute lookup in the pickled ``__dict__`` (or dict state)."""
        st = self.state
        if isinstance(st, tuple) and len(st) == 2 and isinstance(st[0], dict):
            st = st[0]
        if isinstance(st, dict):
            return st.get(key, default)
        return default


def _record_factory(qualname: str) -> Callable[..., Record]:
    def make(*args: Any, **kwargs: Any) -> Record:
        return Record(qualname, *args, **kwargs)

    make.__name__ = qualname
    make.record_qualname = qualname  # type: ignore[attr-defined]
    return make


_RECORD_CLASSES: dict[str, type] = {}


def record_class(qualname: str) -> type:
    """A :class:`Record` subclass standing in for one foreign class.

    torch's ``weights_only`` unpickler builds allow-listed classes with ``cls.__new__(cls)`` and
    fills them with ``__setstate__``; this class gives such objects their name without running
    any of the foreign code."""
    if qualname not in _RECORD_CLASSES:
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            Record.__init__(self, qualname, *args, **kwargs)

        _RECORD_CLASSES[qualname] = type(qualname.rsplit(".", 1)[-1], (Record,),
                                         {"qualname": qualname, "args": (), "kwargs": {}, "state": None,
                                          "__init__": __init__})
    return _RECORD_CLASSES[qualname]


def record_global(full_name: str) -> str | None:
    """The qualname if ``module.Name`` is an allow-listed foreign class read as a record, else None."""
    for (mod, name), target in ALLOWED.items():
        if f"{mod}.{name}" == full_name:
            if isinstance(target, _RecordClass):
                return target.qualname
            return getattr(target, "record_qualname", None)
    return None


class _RecordClass:
    """Stand-in for a class object (``copyreg._reconstructor(cls, object, None)`` passes classes)."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname

    def __call__(self, *args: Any, **kwargs: Any) -> Record:
        return Record(self.qualname, *args, **kwargs)


class _EasyDict(dict):
    """``dnnlib.EasyDict`` read as a plain dict with attribute access."""

    def __getattr__(self, name: str) -> Any:
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None


class _Marker:
    """A global that may only be passed as an argument (``numpy.ndarray`` to ``_reconstruct``), never called."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


_NDARRAY = _Marker("numpy.ndarray")
_OBJECT = _Marker("builtins.object")


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """Safe ``copyreg._reconstructor``: our record stand-ins on an object base, or dicts on a dict base."""
    if base is _OBJECT and state is None:
        if isinstance(cls, _RecordClass):
            return Record(cls.qualname)
        if isinstance(cls, type) and issubclass(cls, Record):
            return cls()
    if cls in (_EasyDict, collections.OrderedDict) and base is dict and (state is None or isinstance(state, dict)):
        return cls(state or {})
    raise pickle.UnpicklingError(f"copyreg._reconstructor of {cls!r} on {base!r} is not allowed")


# ----- numpy --------------------------------------------------------------------------------------
NUMPY_TYPES = ("b1", "i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8", "f2", "f4", "f8")
"""The only numpy type strings a pickle may name: plain booleans, integers and floats."""
_BYTE_ORDERS = ("<", ">", "|", "=")


class _DtypeSpec:
    """A pickled ``numpy.dtype`` held as a type string and byte order, checked, never a live dtype
    until then; its state (the pickle's BUILD) is validated here instead of by numpy."""

    def __init__(self, name: Any, align: Any = False, copy: Any = False) -> None:
        if not isinstance(name, str) or name not in NUMPY_TYPES:
            raise pickle.UnpicklingError(f"numpy dtype {str(name)[:40]!r} is not a plain numeric type "
                                         f"({', '.join(NUMPY_TYPES)})")
        self.name = name
        self.order = "="
        self.checked = False

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (8, 9) or state[0] not in (3, 4):
            raise pickle.UnpicklingError("a numpy dtype state of an unknown form")
        order, subdescr, names, fields, elsize, alignment, flags = state[1:8]
        meta = state[8] if len(state) == 9 else None
        if order not in _BYTE_ORDERS or subdescr is not None or names is not None or fields is not None \
                or meta not in (None, {}) or elsize != -1 or alignment != -1 or type(flags) is not int or flags != 0:
            raise pickle.UnpicklingError("numpy dtypes with fields, sub-arrays, metadata or custom sizes are not allowed")
        self.order = order

    @property
    def dtype(self) -> np.dtype:
        dt = np.dtype(self.name)
        return dt.newbyteorder(self.order) if self.order in "<>" and dt.itemsize > 1 else dt

    def __repr__(self) -> str:
        return f"dtype({self.order}{self.name})"


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> "PendingArray":
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError("numpy subclasses are not allowed")
    return PendingArray()


class PendingArray:
    """A pickled numpy array, checked when its state arrives: a plain numeric dtype and exactly the bytes
    its shape needs.  Its data stays in the file when the pickle left it there (a large payload), so
    the arrays of networks a loader does not use (the ``G`` and ``D`` of a TF-era ``(G, D, Gs)`` pickle)
    are never read; :func:`materialize` turns it into an ndarray."""

    __slots__ = ("shape", "dtype", "fortran", "data")

    def __init__(self) -> None:
        self.shape: tuple[int, ...] = (0,)
        self.dtype = np.dtype(np.uint8)
        self.fortran = False
        self.data: Any = b""

    def __setstate__(self, state: Any) -> None:
        if not isinstance(state, tuple) or len(state) not in (4, 5):
            raise pickle.UnpicklingError("a numpy array state of an unknown form")
        version, shape, spec, fortran, raw = state if len(state) == 5 else (1, *state)
        if not isinstance(spec, _DtypeSpec):
            raise pickle.UnpicklingError("numpy arrays must name a plain numeric dtype")
        if not isinstance(shape, tuple) or len(shape) > 32 or not all(type(n) is int and n >= 0 for n in shape):
            raise pickle.UnpicklingError("a numpy array shape must be a tuple of non-negative integers")
        if not isinstance(raw, (bytes, bytearray, LazyBytes)):
            raise pickle.UnpicklingError("numpy array data must be raw bytes")
        dtype = spec.dtype
        count = 1
        for n in shape:
            count *= n
        if count * dtype.itemsize != len(raw):
            raise pickle.UnpicklingError(f"numpy array of shape {tuple(shape)} does not match its {len(raw)} bytes")
        self.shape, self.dtype, self.fortran, self.data = shape, dtype, bool(fortran), raw

    @property
    def nbytes(self) -> int:
        return len(self.data)

    def load(self) -> np.ndarray:
        """The array, its bytes read from the file into its own (writable) memory when they are still there."""
        if isinstance(self.data, LazyBytes):
            buf = bytearray(self.data.length)
            if buf:
                self.data.source.readinto_at(self.data.offset, memoryview(buf))
        else:
            buf = bytearray(self.data)
        flat = np.frombuffer(buf, dtype=self.dtype) if buf else np.empty(0, self.dtype)
        return flat.reshape(self.shape, order="F" if self.fortran else "C")

    def __repr__(self) -> str:
        return f"PendingArray({list(self.shape)}, {self.dtype})"


def _numpy_scalar(spec: Any, data: Any = None) -> Any:
    if not isinstance(spec, _DtypeSpec) or not isinstance(data, (bytes, bytearray)):
        raise pickle.UnpicklingError("bad numpy scalar")
    dtype = spec.dtype
    if len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("bad numpy scalar")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


# ----- lazy payloads, storages and tensors -----------------------------------------------------------
class _Source:
    """Where lazy payloads live: a file (re-opened on demand) or bytes in memory."""

    def __init__(self, path: str, data: bytes | None = None) -> None:
        self.path, self.data = path, data
        self._fh: io.BufferedReader | None = None

    def size(self) -> int:
        return len(self.data) if self.data is not None else limits.file_size(self.path)

    def _file(self) -> io.BufferedReader:
        if self._fh is None:
            self._fh = open(self.path, "rb")
        return self._fh

    def read_at(self, offset: int, n: int) -> bytes:
        if self.data is not None:
            out = self.data[offset: offset + n]
        else:
            f = self._file()
            f.seek(offset)
            out = f.read(n)
        if len(out) != n:
            raise CheckpointError(self.path, "the file changed or is truncated (a payload runs past its end)")
        return out

    def readinto_at(self, offset: int, buf: memoryview) -> None:
        n = len(buf)
        if self.data is not None:
            chunk = self.data[offset: offset + n]
            if len(chunk) != n:
                raise CheckpointError(self.path, "a payload runs past the end of the data")
            buf[:] = chunk
            return
        f = self._file()
        f.seek(offset)
        got = 0
        while got < n:
            k = f.readinto(buf[got:])
            if not k:
                raise CheckpointError(self.path, "the file changed or is truncated (a payload runs past its end)")
            got += k

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


class LazyBytes:
    """A bytes payload left in the file: (offset, length)."""

    __slots__ = ("source", "offset", "length")

    def __init__(self, source: _Source, offset: int, length: int) -> None:
        self.source, self.offset, self.length = source, offset, length

    def __len__(self) -> int:
        return self.length

    def read(self) -> bytes:
        return self.source.read_at(self.offset, self.length)


class LazyStorage:
    """A checked storage whose elements are still in the file."""

    __slots__ = ("source", "offset", "dtype", "numel")

    def __init__(self, source: _Source, offset: int, dtype: torch.dtype, numel: int) -> None:
        self.source, self.offset, self.dtype, self.numel = source, offset, dtype, numel

    @property
    def nbytes(self) -> int:
        return self.numel * self.dtype.itemsize

    def load(self) -> torch.Tensor:
        """The elements as a new 1-D tensor, read straight into its memory."""
        t = torch.empty(self.numel, dtype=self.dtype)
        if self.numel:
            self.source.readinto_at(self.offset, memoryview(t.view(torch.uint8).numpy()).cast("B"))
        return t


class LazyTensor:
    """A checked tensor view of a :class:`LazyStorage`; :func:`materialize` makes it a tensor."""

    __slots__ = ("storage", "offset", "size", "stride", "parameter")

    def __init__(self, storage: LazyStorage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, tuple(size), tuple(stride)
        self.parameter = False

    @property
    def shape(self) -> torch.Size:
        return torch.Size(self.size)

    @property
    def dtype(self) -> torch.dtype:
        return self.storage.dtype

    def __repr__(self) -> str:
        return f"LazyTensor({list(self.size)}, {self.dtype})"


def _storage_from_payload(source: _Source, offset: int, length: int, path: str) -> LazyStorage:
    """Check one ``_load_from_bytes`` payload (a legacy torch file of one storage) without reading its data."""
    head = source.read_at(offset, min(length, STORAGE_HEADER_MAX))
    try:
        fp = BoundedReader(io.BytesIO(head), length)
        scanner, order = torch_scan.read_legacy(fp, length)
    except ScanError as e:
        raise pickle.UnpicklingError(f"an embedded tensor storage is malformed: {e}") from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError, KeyError, AttributeError,
            OverflowError, struct.error, UnicodeDecodeError) as e:
        raise pickle.UnpicklingError(f"an embedded tensor storage is malformed ({type(e).__name__}: {e})") from None
    if len(order) != 1 or not isinstance(getattr(scanner, "result", None), torch_scan.StorageRef):
        raise pickle.UnpicklingError("an embedded tensor payload is not exactly one storage")
    ref = order[0]
    if ref.data_offset + ref.nbytes != length:
        raise pickle.UnpicklingError("an embedded storage's length does not match its payload")
    return LazyStorage(source, offset + ref.data_offset, ref.dtype, ref.numel)


def _latin1(text: Any, encoding: Any = "latin1") -> bytes:
    """``_codecs.encode(text, 'latin1')``: how protocol-2 pickles store bytes; nothing else is encoded."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode is only read for latin1 text (protocol-2 bytes)")
    return text.encode("latin1")


def _parameter(data: Any, requires_grad: Any = False, hooks: Any = None, *rest: Any) -> Any:
    if not isinstance(data, (LazyTensor, torch.Tensor)):
        raise pickle.UnpicklingError("parameter data is not a tensor")
    if isinstance(data, LazyTensor):
        data.parameter = True
        return data
    return torch.nn.Parameter(data, requires_grad=False)


# (module, name) -> callable.  Names of foreign classes map to inert records.  The tensor builders
# (_load_from_bytes, _rebuild_tensor_v2) are bound to each unpickler (they check against its file).
ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): _OBJECT,
    ("builtins", "dict"): dict,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("_codecs", "encode"): _latin1,
    ("torch._utils", "_rebuild_tensor_v2"): None,
    ("torch._utils", "_rebuild_parameter"): _parameter,
    ("torch.storage", "_load_from_bytes"): None,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _DtypeSpec,
    ("dnnlib.util", "EasyDict"): _EasyDict,
    ("dnnlib", "EasyDict"): _EasyDict,
    ("argparse", "Namespace"): _RecordClass("argparse.Namespace"),
}
for _mod, _name in [
    ("torch_utils.persistence", "_reconstruct_persistent_obj"),
    ("dnnlib.tflib.network", "Network"),
    ("models.utils.config", "BaseConfig"),
]:
    ALLOWED[(_mod, _name)] = _record_factory(f"{_mod}.{_name}")
# TF-era networks are pickled as plain objects (NEWOBJ + BUILD), so they need a real type.
ALLOWED[("dnnlib.tflib.network", "Network")] = record_class("dnnlib.tflib.network.Network")

_BUILDABLE = (Record, PendingArray, _DtypeSpec, _EasyDict, collections.OrderedDict)
"""The only objects whose state a pickle may set (BUILD): our inert stand-ins and plain dicts."""


class RestrictedUnpickler(pickle._Unpickler):  # type: ignore[name-defined]
    """Resolves only :data:`ALLOWED` globals; everything else is refused by name.

    Pure Python (``pickle._Unpickler``) so that its opcodes can be bounded: every length prefix is
    checked against the bytes left, ``BUILD`` only reaches :data:`_BUILDABLE` objects, and large
    byte payloads outside pickle frames stay in the file as :class:`LazyBytes`."""

    dispatch = dict(pickle._Unpickler.dispatch)  # type: ignore[attr-defined]

    def __init__(self, file: io.BufferedIOBase, path: str | None = None,
                 extra: dict[tuple[str, str], Any] | None = None, source: _Source | None = None,
                 size: int | None = None) -> None:
        self._raw = file
        self._size = size if size is not None else _stream_size(file)
        super().__init__(BoundedReader(file, self._size))
        self._path = path
        self._source = source or _Source(path or "<pickle>", None)
        self._declared = 0
        self._budget = limits.view_budget(self._size)
        self._allowed = dict(ALLOWED)
        self._allowed[("torch._utils", "_rebuild_tensor_v2")] = self._rebuild_tensor_v2
        self._allowed[("torch.storage", "_load_from_bytes")] = self._load_from_bytes
        if extra:
            self._allowed.update(extra)

    def find_class(self, module: str, name: str) -> Any:
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise UnsafePickleError(self._path, f"the pickle asks for the global '{module}.{name}', "
                                    "which is not on the allow-list of checkpoint types; nothing was run") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError(f"unexpected persistent id {str(pid)[:60]!r}")

    # ----- tensors --------------------------------------------------------------------------------
    def _load_from_bytes(self, data: Any) -> LazyStorage:
        if isinstance(data, LazyBytes):
            return _storage_from_payload(data.source, data.offset, data.length, self._path or "")
        if isinstance(data, (bytes, bytearray)):
            return _storage_from_payload(_Source(self._source.path, bytes(data)), 0, len(data), self._path or "")
        raise pickle.UnpicklingError("torch.storage._load_from_bytes needs bytes")

    def _rebuild_tensor_v2(self, storage: Any, offset: Any, size: Any, stride: Any, *rest: Any) -> LazyTensor:
        if not isinstance(storage, LazyStorage):
            raise pickle.UnpicklingError("tensor storage is not a storage")
        ref = torch_scan.StorageRef("", storage.dtype, storage.numel)
        try:
            self._declared += torch_scan.check_view(ref, offset, size, stride)
        except ScanError as e:
            raise pickle.UnpicklingError(str(e)) from None
        if self._declared > self._budget:
            raise CheckpointError(self._path, f"its tensors declare more than {self._budget / limits.MiB:.0f} MiB from a "
                                  f"file of {self._size / limits.MiB:.2f} MiB (at most {limits.VIEW_FACTOR}x the file "
                                  f"plus {limits.VIEW_SLACK // limits.MiB} MiB): expanded or overlapping views")
        return LazyTensor(storage, offset, size, stride)

    # ----- bounded opcodes ------------------------------------------------------------------------
    def _in_frame(self) -> bool:
        frame = self._unframer.current_frame
        return frame is not None and frame.tell() < getattr(self, "_frame_len", 0)

    def _bytes(self, n: int) -> None:
        if n >= LAZY_MIN_BYTES and not self._in_frame():
            offset = self._raw.tell()
            if offset + n > self._size:
                raise pickle.UnpicklingError("a bytes payload runs past the end of the file")
            self._raw.seek(n, io.SEEK_CUR)
            self.append(LazyBytes(self._source, offset, n))
        else:
            self.append(self.read(n))

    def load_binbytes(self) -> None:
        (n,) = struct.unpack("<I", self.read(4))
        self._bytes(n)

    def load_binbytes8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        self._bytes(n)

    def load_bytearray8(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        self.append(bytearray(self.read(n)))

    def load_frame(self) -> None:
        (n,) = struct.unpack("<Q", self.read(8))
        self._unframer.load_frame(n)
        self._frame_len = n

    def load_build(self) -> None:
        inst = self.stack[-2] if len(self.stack) >= 2 else None
        if not isinstance(inst, _BUILDABLE):
            raise pickle.UnpicklingError(f"the pickle sets the state of a {type(inst).__name__} object, which is not "
                                         "allowed (only inert records and plain dicts take state)")
        pickle._Unpickler.load_build(self)  # type: ignore[attr-defined]

    dispatch[pickle.BINBYTES[0]] = load_binbytes
    dispatch[pickle.BINBYTES8[0]] = load_binbytes8
    dispatch[pickle.BYTEARRAY8[0]] = load_bytearray8
    dispatch[pickle.FRAME[0]] = load_frame
    dispatch[pickle.BUILD[0]] = load_build


def _stream_size(f: Any) -> int:
    pos = f.tell()
    end = f.seek(0, io.SEEK_END)
    f.seek(pos)
    return end - pos


# ----- materializing ---------------------------------------------------------------------------------
class _Materializer:
    """Replaces lazy handles by real bytes and tensors, walking shared and cyclic graphs once."""

    def __init__(self, path: str | None, skip: set[int]) -> None:
        self.path, self.skip = path, skip
        self.seen: dict[int, Any] = {}
        self.storages: dict[int, torch.Tensor] = {}
        self.keep: list[Any] = []  # holds walked objects so their ids stay unique during the walk
        self.sources: list[_Source] = []  # files opened to read payloads, closed after the walk

    def tensor(self, lt: LazyTensor) -> torch.Tensor:
        buf = self.storages.get(id(lt.storage))
        if buf is None:
            buf = self.storages[id(lt.storage)] = lt.storage.load()
            self.keep.append(lt.storage)
        t = torch.as_strided(buf, lt.size, lt.stride, lt.offset)
        return torch.nn.Parameter(t, requires_grad=False) if lt.parameter else t

    def walk(self, obj: Any, depth: int = 0) -> Any:
        if isinstance(obj, (str, int, float, bool, type(None), torch.Tensor, np.ndarray, bytes)):
            return obj
        key = id(obj)
        if key in self.seen:
            return self.seen[key]
        if depth > MAX_PICKLE_DEPTH:
            raise CheckpointError(self.path, f"the pickle nests deeper than {MAX_PICKLE_DEPTH} levels")
        self.keep.append(obj)
        if key in self.skip:
            self.seen[key] = obj
            return obj
        if isinstance(obj, LazyTensor):
            out = self.seen[key] = self.tensor(obj)
            return out
        if isinstance(obj, LazyBytes):
            out = self.seen[key] = obj.read()
            self.sources.append(obj.source)
            return out
        if isinstance(obj, PendingArray):
            out = self.seen[key] = obj.load()
            if isinstance(obj.data, LazyBytes):
                self.sources.append(obj.data.source)
            return out
        self.seen[key] = obj
        if isinstance(obj, dict):
            for k in list(obj):
                v = obj[k]
                nv = self.walk(v, depth + 1)
                if nv is not v:
                    obj[k] = nv
        elif isinstance(obj, list):
            for i, v in enumerate(obj):
                nv = self.walk(v, depth + 1)
                if nv is not v:
                    obj[i] = nv
        elif isinstance(obj, (tuple, set, frozenset)):
            items = [self.walk(v, depth + 1) for v in obj]
            if any(a is not b for a, b in zip(items, obj)):
                out = self.seen[key] = type(obj)(items)
                return out
        elif isinstance(obj, Record):
            obj.args = self.walk(obj.args, depth + 1)
            obj.kwargs = self.walk(obj.kwargs, depth + 1)
            obj.state = self.walk(obj.state, depth + 1)
        return obj


def materialize(obj: Any, path: str | None = None, skip: Any = ()) -> Any:
    """``obj`` with every lazy tensor read (a Parameter where the pickle made one) and every lazy payload
    turned into bytes; objects whose ``id`` is in ``skip`` (and what only they reach) stay lazy."""
    m = _Materializer(path, {id(o) for o in skip})
    try:
        return m.walk(obj)
    except RecursionError:
        raise CheckpointError(path, "the pickle nests too deeply") from None
    finally:
        for lt in m.keep:
            if isinstance(lt, LazyStorage):
                lt.source.close()
        for source in m.sources:
            source.close()


def load_pickle(path: str | os.PathLike, data: bytes | None = None,
                extra: dict[tuple[str, str], Any] | None = None, lazy: bool = False) -> Any:
    """Unpickle a file (or bytes) with :class:`RestrictedUnpickler`; every failure is a CheckpointError.

    With ``lazy`` the result may hold :class:`LazyTensor` handles (see :func:`materialize`); without,
    everything is read."""
    path = os.fspath(path)
    source = _Source(path, data)
    try:
        if data is not None:
            obj = RestrictedUnpickler(io.BytesIO(data), path, extra, source, len(data)).load()
        else:
            with open(path, "rb") as f:
                obj = RestrictedUnpickler(f, path, extra, source, limits.file_size(path)).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(path, "the pickle nests too deeply") from None
    except MemoryError:
        raise CheckpointError(path, "the pickle asks for more memory than is sensible") from None
    except ScanError as e:
        raise CheckpointError(path, f"not a readable pickle ({e})") from None
    except Exception as e:  # noqa: BLE001 - any failure of a foreign file is a bad checkpoint
        raise CheckpointError(path, f"not a readable pickle ({type(e).__name__}: {str(e)[:200]})") from None
    finally:
        source.close()
    return obj if lazy else materialize(obj, path)
