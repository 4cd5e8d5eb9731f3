"""Names from widgets become paths inside our folders, never outside them, and only names we can create."""

from __future__ import annotations

import os

from ..atomic import check_name, check_target
from ..errors import GANLabError, InputError


def _parts(name: str) -> list[str]:
    if not isinstance(name, str) or not name.strip():
        raise InputError("file name is empty")
    if "\x00" in name:
        raise InputError("file name contains a NUL byte")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise InputError(f"file name {name!r} must be relative to its folder, not absolute")
    parts = [p for p in norm.split("/") if p != ""]
    if any(p == ".." for p in parts):
        raise InputError(f"file name {name!r} may not contain '..'")
    if not parts or any(p == "." for p in parts):
        raise InputError(f"file name {name!r} names a folder ('.'), not a file")
    for p in parts:
        try:
            check_name(p, "a part of the file name")
        except GANLabError as e:
            raise InputError(str(e)) from None
    return parts


def safe_join(root: str, name: str) -> str:
    """``root/name`` for a relative name without ``.``, ``..``, absolute parts, drive letters, empty or
    over-long parts; the result may not leave ``root`` (symbolic links are resolved)."""
    parts = _parts(name)
    full = os.path.realpath(os.path.join(root, *parts))
    real_root = os.path.realpath(root)
    if os.path.commonpath([full, real_root]) != real_root or full == real_root:
        raise InputError(f"file name {name!r} points outside {root}")
    return full


def output_path(root: str, name: str, ext: str | tuple[str, ...], overwrite: bool = False) -> str:
    """Where a node saves ``name`` (``ext``, or the first of several, added when none is there): checked
    before any work starts.

    The name as typed must name a file (``.``, ``..``, only dots, over-long parts are refused before
    the extension is added), the target may not be a folder, nor an existing file unless ``overwrite``."""
    name = str(name).strip()
    _parts(name)
    if name.endswith(("/", "\\")):
        raise InputError(f"file name {name!r} ends with a separator: it names a folder, not a file")
    exts = (ext,) if isinstance(ext, str) else tuple(ext)
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    stem = next((base[: -len(e)] for e in exts if base.lower().endswith(e)), base)
    if not stem.strip(". "):
        raise InputError(f"file name {name!r} has no name before the extension: put one there")
    if not name.lower().endswith(exts):
        name += exts[0]
    path = safe_join(root, name)
    try:
        return check_target(path, overwrite)
    except GANLabError as e:
        raise InputError(f"{e} (in {os.path.basename(root) or root})") from None
