"""Bounds on what a file may make us allocate, stated once and checked before anything is inflated.

A few kilobytes must not be able to ask for gigabytes.  Every reader measures a file's claims
against the file's own size: the uncompressed size of a zip's entries (torch zips, ``.npz``), the
bytes a ``.npy`` header declares, the tensor bytes a pickle's views declare, the depth of JSON.
The numbers here are the stated factors; each check raises :class:`CheckpointError` naming the
file, before any allocation that the claim would cost.
"""

from __future__ import annotations

import json
import math
import os
import zipfile
from typing import Any, BinaryIO

import numpy as np

from .errors import CheckpointError

MiB = 1 << 20
GiB = 1 << 30

ZIP_RATIO = 16
"""Uncompressed bytes a zip may hold per byte of archive (torch writes entries stored, ratio 1)."""
ZIP_SLACK = 16 * MiB
"""Allowance on top of the ratio, so that small well-compressed archives stay readable."""
ZIP_CAP = 64 * GiB
"""Absolute cap on a checkpoint archive's uncompressed content."""
NPZ_CAP = 2 * GiB
"""Absolute cap on a direction archive's (``.npz``) uncompressed content."""
VIEW_FACTOR = 4
"""Tensor bytes the views of a file may declare, per byte of the file (shared storages, stride 0)."""
VIEW_SLACK = 64 * MiB
"""Allowance on top of :data:`VIEW_FACTOR` (broadcast buffers in tiny files)."""
JSON_MAX_DEPTH = 32
"""Nesting depth of JSON configs, sidecars and metadata (real ones nest 3 or 4 deep)."""
JSON_MAX_BYTES = 16 * MiB
"""Size of a JSON sidecar or metadata text."""
NAME_MAX_BYTES = 200
"""Length of one file-name component we create (UTF-8 bytes; file systems stop at 255)."""
NPY_MAX_HEADER = 10_000
"""Header size of a ``.npy`` (numpy's own default limit)."""
IMAGE_MAX_PIXELS = 1 << 25
"""Pixels the workflow runner's LoadImage decodes from one file, all frames together (33.5 million: an
8K UHD photo, 7680 x 4320, fits; the float32 IMAGE it makes is at most 384 MiB).  Checked against the
size the header declares before a pixel is decoded, so a small compressed file cannot inflate past it."""
IMAGE_MAX_FRAMES = 1024
"""Frames LoadImage reads from one animated or multi-page file."""


def file_size(path: str) -> int:
    """Size in bytes, or our error naming the file."""
    try:
        return os.path.getsize(path)
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file ({e.strerror or e})") from None


def view_budget(size: int) -> int:
    """Tensor bytes a file of ``size`` bytes may declare through its views."""
    return VIEW_FACTOR * int(size) + VIEW_SLACK


def check_zip(path: str, z: zipfile.ZipFile, cap: int = ZIP_CAP) -> None:
    """Refuse an archive whose central directory declares more than the ratio or the cap allows.

    Runs on the central directory only, so nothing has been inflated yet.  Entries must be stored
    or deflated (what torch and numpy write)."""
    size = file_size(path)
    total = 0
    for info in z.infolist():
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise CheckpointError(path, f"the archive entry '{info.filename[:80]}' uses compression method "
                                  f"{info.compress_type}; only stored or deflated entries are read")
        if info.file_size < 0 or info.compress_size < 0:
            raise CheckpointError(path, f"the archive entry '{info.filename[:80]}' declares a negative size")
        total += info.file_size
    allowed = min(ZIP_RATIO * size + ZIP_SLACK, cap)
    if total > allowed:
        raise CheckpointError(path, f"the archive would inflate to {total / MiB:.1f} MiB from {size / MiB:.1f} MiB "
                              f"(at most {ZIP_RATIO}x the file plus {ZIP_SLACK // MiB} MiB, and "
                              f"{cap // GiB} GiB, are read): a decompression bomb or a damaged file")


def open_zip(path: str, cap: int = ZIP_CAP) -> zipfile.ZipFile:
    """A checked :class:`zipfile.ZipFile` (see :func:`check_zip`); the caller closes it."""
    try:
        z = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, OverflowError) as e:
        raise CheckpointError(path, f"a damaged zip archive ({type(e).__name__}: {str(e)[:160]})") from None
    try:
        check_zip(path, z, cap)
    except BaseException:
        z.close()
        raise
    return z


# ----- .npy / .npz without numpy's reader ------------------------------------------------------------
NPY_KINDS = ("f", "U")
"""Array kinds a direction file may hold: floating point numbers and text (our space / fingerprint)."""
_PLAIN_FLOATS = {"f2", "f4", "f8"}


def _npy_header(fp: BinaryIO, path: str, what: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    fmt = np.lib.format
    try:
        version = fmt.read_magic(fp)
        if version == (1, 0):
            shape, fortran, dtype = fmt.read_array_header_1_0(fp, max_header_size=NPY_MAX_HEADER)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = fmt.read_array_header_2_0(fp, max_header_size=NPY_MAX_HEADER)
        else:
            raise ValueError(f"unknown .npy version {version}")
    except (ValueError, OSError, EOFError, SyntaxError, TypeError, OverflowError, MemoryError, RecursionError) as e:
        raise CheckpointError(path, f"{what}: not a readable .npy array ({type(e).__name__}: {str(e)[:160]})") from None
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise CheckpointError(path, f"{what}: arrays of {dtype} are not read (plain numbers only)")
    if dtype.kind not in NPY_KINDS or (dtype.kind == "f" and dtype.str[1:] not in _PLAIN_FLOATS):
        raise CheckpointError(path, f"{what}: arrays of {dtype} are not read (float16/32/64 or text only)")
    if dtype.kind == "U" and dtype.itemsize > 4 * 4096:
        raise CheckpointError(path, f"{what}: a text entry longer than 4096 characters")
    if not all(isinstance(n, int) and n >= 0 for n in shape) or len(shape) > 8:
        raise CheckpointError(path, f"{what}: the array shape {shape} is not a valid shape")
    return tuple(shape), bool(fortran), dtype


def read_npy_from(fp: BinaryIO, path: str, available: int, what: str) -> np.ndarray:
    """One ``.npy`` stream whose header must declare exactly the bytes that follow it (``available``
    counts from the start of the stream)."""
    shape, fortran, dtype = _npy_header(fp, path, what)
    nbytes = math.prod(shape) * dtype.itemsize
    left = available - fp.tell()
    if nbytes != left:
        raise CheckpointError(path, f"{what}: the header declares {list(shape)} ({nbytes} bytes) but {left} bytes follow")
    data = fp.read(nbytes)
    if len(data) != nbytes:
        raise CheckpointError(path, f"{what}: the array data is truncated")
    arr = np.frombuffer(data, dtype=dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def read_npy(path: str) -> np.ndarray:
    """A ``.npy`` file read without unpickling and without trusting its header's size."""
    size = file_size(path)
    try:
        with open(path, "rb") as f:
            return read_npy_from(f, path, size, "the array")
    except OSError as e:
        raise CheckpointError(path, f"cannot read the file ({e.strerror or e})") from None


def read_npz(path: str, cap: int = NPZ_CAP) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` (name without ``.npy``), after the archive's sizes are checked."""
    out: dict[str, np.ndarray] = {}
    with open_zip(path, cap) as z:
        infos = z.infolist()
        if len(infos) > 1024:
            raise CheckpointError(path, f"the archive holds {len(infos)} entries; a direction file holds a few")
        for info in infos:
            name = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
            try:
                with z.open(info) as fp:
                    out[name] = read_npy_from(fp, path, info.file_size, f"entry '{name[:60]}'")
            except CheckpointError:
                raise
            except (zipfile.BadZipFile, OSError, ValueError, EOFError, NotImplementedError, RuntimeError) as e:
                raise CheckpointError(path, f"entry '{name[:60]}' cannot be read ({type(e).__name__}: "
                                      f"{str(e)[:160]})") from None
    return out


# ----- JSON ------------------------------------------------------------------------------------------
def json_depth(value: Any, limit: int = JSON_MAX_DEPTH) -> int:
    """Nesting depth of a parsed JSON value, counted without recursion (stops past ``limit``)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        v, d = stack.pop()
        if isinstance(v, (dict, list)):
            deepest = max(deepest, d)
            if deepest > limit:
                return deepest
            stack.extend((c, d + 1) for c in (v.values() if isinstance(v, dict) else v))
    return deepest


def load_json(text: str | bytes, path: str | None, what: str, allow_nan: bool = False) -> Any:
    """Parse JSON from a sidecar or metadata with bounded size and depth; every failure is our error.

    NaN and Infinity (which Python's parser accepts, JSON does not) are refused unless ``allow_nan``
    (statistics in a direction set's description may hold them; configurations must not)."""
    if len(text) > JSON_MAX_BYTES:
        raise CheckpointError(path, f"{what} is {len(text) / MiB:.1f} MiB of JSON; at most {JSON_MAX_BYTES // MiB} MiB is read")
    try:
        value = json.loads(text)
    except RecursionError:
        raise CheckpointError(path, f"{what} nests deeper than {JSON_MAX_DEPTH} levels") from None
    except (ValueError, TypeError) as e:
        raise CheckpointError(path, f"{what} is not valid JSON ({str(e)[:160]})") from None
    if json_depth(value) > JSON_MAX_DEPTH:
        raise CheckpointError(path, f"{what} nests deeper than {JSON_MAX_DEPTH} levels")
    if not allow_nan:
        where = _non_finite(value)
        if where is not None:
            raise CheckpointError(path, f"{what}: the field '{where}' is NaN or infinite, which JSON has no number for")
    return value


def read_json_object(path: str, what: str, max_bytes: int, hint: str = "") -> dict:
    """A small JSON file that must hold an object (a sidecar config, SN-GAN's ``args.json``): at most
    ``max_bytes`` (``hint`` says why, after the bound), then :func:`load_json`'s depth and number checks;
    every failure is our error naming the file and ``what`` it is."""
    try:
        if os.path.getsize(path) > max_bytes:
            raise CheckpointError(path, f"{what}: larger than {max_bytes // MiB} MiB{hint}")
        with open(path, "rb") as f:
            text = f.read()
    except OSError as e:
        raise CheckpointError(path, f"{what}: cannot be read ({e.strerror or e})") from None
    data = load_json(text, path, what)
    if not isinstance(data, dict):
        raise CheckpointError(path, f"{what}: not a JSON object")
    return data


def _non_finite(value: Any) -> str | None:
    """The key path of the first NaN or infinite number in parsed JSON (Python's parser accepts them)."""
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        v, where = stack.pop()
        if isinstance(v, float) and not math.isfinite(v):
            return where or "(the value)"
        if isinstance(v, dict):
            stack.extend((c, f"{where}.{k}" if where else str(k)) for k, c in v.items())
        elif isinstance(v, list):
            stack.extend((c, f"{where}[{i}]") for i, c in enumerate(v))
    return None

