"""A restricted unpickler for checkpoints that are plain pickles (NVlabs, TF-era, zoo configs).

Only globals on an allow-list resolve.  Classes of foreign code (NVlabs persistent classes,
``dnnlib`` networks, config objects) become :class:`Record` objects holding the pickled state;
their embedded module source is kept as inert text and never executed.  Any other global raises
:class:`UnsafePickleError` naming it.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
from typing import Any, Callable

import numpy as np
import torch

from ..errors import CheckpointError, UnsafePickleError

MAX_PICKLE_DEPTH = 200


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


def _reconstructor(cls: Any, base: Any, state: Any) -> Any:
    """Safe ``copyreg._reconstructor``: only our stand-ins, plain object or dict bases."""
    if isinstance(cls, _RecordClass):
        return Record(cls.qualname)
    if cls is _EasyDict:
        return _EasyDict()
    if cls is collections.OrderedDict:
        return collections.OrderedDict()
    raise pickle.UnpicklingError(f"copyreg._reconstructor of {cls!r} is not allowed")


def _load_storage_bytes(data: bytes) -> Any:
    """``torch.storage._load_from_bytes``: a legacy torch file, read with weights_only."""
    return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)


def _numpy_reconstruct(subtype: Any, shape: Any, dtype: Any) -> np.ndarray:
    if subtype is not np.ndarray:
        raise pickle.UnpicklingError("numpy subclasses are not allowed")
    return _SafeArray(shape, dtype)


class _SafeArray(np.ndarray):
    """ndarray whose unpickling refuses object dtypes (they would unpickle arbitrary objects)."""

    def __new__(cls, shape: Any, dtype: Any) -> "_SafeArray":
        return np.ndarray.__new__(cls, (0,), np.uint8)

    def __setstate__(self, state: Any) -> None:
        version, shape, dtype, fortran, raw = state if len(state) == 5 else (1, *state)
        if not isinstance(dtype, np.dtype) or dtype.hasobject:
            raise pickle.UnpicklingError("numpy arrays of Python objects are not allowed")
        if not isinstance(raw, (bytes, bytearray)):
            raise pickle.UnpicklingError("numpy array data must be raw bytes")
        count = int(np.prod(shape)) if len(shape) else 1
        if count * dtype.itemsize != len(raw):
            raise pickle.UnpicklingError(f"numpy array of shape {tuple(shape)} does not match its {len(raw)} bytes")
        super().__setstate__((version, shape, dtype, fortran, raw))


def _numpy_dtype(name: Any, align: Any = False, copy: Any = False) -> np.dtype:
    dt = np.dtype(name)
    if dt.hasobject:
        raise pickle.UnpicklingError("numpy object dtype is not allowed")
    return dt


def _numpy_scalar(dtype: np.dtype, data: bytes | None = None) -> Any:
    if dtype.hasobject or not isinstance(data, (bytes, bytearray)) or len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("bad numpy scalar")
    return np.frombuffer(bytes(data), dtype=dtype)[0]


def _rebuild_tensor_v2(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    if not isinstance(storage, (torch.UntypedStorage, torch.TypedStorage)):
        raise pickle.UnpicklingError("tensor storage is not a storage")
    t = torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, collections.OrderedDict())
    return t


def _rebuild_parameter(data, requires_grad, hooks, *rest):
    if not isinstance(data, torch.Tensor):
        raise pickle.UnpicklingError("parameter data is not a tensor")
    return torch.nn.Parameter(data, requires_grad=False)


# (module, name) -> callable.  Names of foreign classes map to inert records.
ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "object"): object,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("copyreg", "_reconstructor"): _reconstructor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch.storage", "_load_from_bytes"): _load_storage_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
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


class RestrictedUnpickler(pickle.Unpickler):
    """Resolves only :data:`ALLOWED` globals; everything else is refused by name."""

    def __init__(self, file: io.BufferedIOBase, path: str | None = None,
                 extra: dict[tuple[str, str], Any] | None = None) -> None:
        super().__init__(file)
        self._path = path
        self._allowed = dict(ALLOWED)
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


def load_pickle(path: str | os.PathLike, data: bytes | None = None,
                extra: dict[tuple[str, str], Any] | None = None) -> Any:
    """Unpickle a file (or bytes) with :class:`RestrictedUnpickler`; every failure is a CheckpointError."""
    path = os.fspath(path)
    if data is None:
        with open(path, "rb") as f:
            data = f.read()
    try:
        return RestrictedUnpickler(io.BytesIO(data), path, extra).load()
    except CheckpointError:
        raise
    except RecursionError:
        raise CheckpointError(path, "the pickle nests too deeply") from None
    except MemoryError:
        raise CheckpointError(path, "the pickle asks for more memory than is sensible") from None
    except Exception as e:  # noqa: BLE001 - any failure of a foreign file is a bad checkpoint
        raise CheckpointError(path, f"not a readable pickle ({type(e).__name__}: {str(e)[:200]})") from None
