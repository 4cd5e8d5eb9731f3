"""Atomic file writes: a temporary file in the target folder, flushed, then renamed into place."""

from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Iterator

from .errors import GANLabError


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = False) -> Iterator[str]:
    """Yield a temporary path to write; on success it replaces ``path`` in one rename.

    Without ``overwrite`` an existing file is left untouched and an error is raised before
    anything is written.  On failure the temporary file is removed and ``path`` is unchanged."""
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    if not overwrite and os.path.exists(path):
        raise GANLabError(f"'{os.path.basename(path)}' already exists; choose another name or allow overwrite")
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", suffix=os.path.splitext(path)[1], dir=folder)
    os.close(fd)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if not overwrite and os.path.exists(path):
            raise GANLabError(f"'{os.path.basename(path)}' appeared while writing; not overwritten")
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
