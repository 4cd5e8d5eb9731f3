"""Names from widgets become paths inside our folders, never outside them."""

from __future__ import annotations

import os

from ..errors import InputError


def safe_join(root: str, name: str) -> str:
    """``root/name`` for a relative name without ``..``, absolute parts or drive letters."""
    if not isinstance(name, str) or not name.strip():
        raise InputError("file name is empty")
    if "\x00" in name:
        raise InputError("file name contains a NUL byte")
    norm = name.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":"):
        raise InputError(f"file name {name!r} must be relative to the models folder, not absolute")
    parts = [p for p in norm.split("/") if p not in ("", ".")]
    if any(p == ".." for p in parts):
        raise InputError(f"file name {name!r} may not contain '..'")
    full = os.path.realpath(os.path.join(root, *parts))
    if os.path.commonpath([full, os.path.realpath(root)]) != os.path.realpath(root):
        raise InputError(f"file name {name!r} points outside {root}")
    return full
