"""Atomic file writes: a temporary file in the target folder, flushed, then published in one step.

"Never overwrite" holds even against another process saving the same name at the same moment:
without ``overwrite`` the finished temporary file is hard-linked to the target name, which fails
if the name exists (no check-then-replace window); where a file system has no hard links, the
name is first reserved with an exclusive create.  Targets are checked before any work starts
(:func:`check_target`), and temporary files that a killed process left behind are removed.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import time
from typing import Iterator

from .errors import GANLabError
from .limits import NAME_MAX_BYTES

TMP_PREFIX = ".tmp-"
STALE_TMP_S = 60.0
"""A temporary file of a dead process is removed once it is this old (seconds) ..."""
ABANDONED_TMP_S = 24 * 3600.0
"""... and any temporary file once it is this old."""


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (True when that cannot be told)."""
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill would terminate the process there
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def check_name(name: str, what: str = "file name") -> str:
    """Refuse a name we could not create: empty, only dots or spaces, control characters, too long."""
    if not isinstance(name, str):
        raise GANLabError(f"{what} must be text, not {type(name).__name__}")
    if not name.strip(". \t"):
        raise GANLabError(f"{what} {name!r} is empty or only dots")
    if any(ord(ch) < 32 for ch in name):
        raise GANLabError(f"{what} {name[:40]!r} contains control characters")
    if len(name.encode("utf-8", "surrogatepass")) > NAME_MAX_BYTES:
        raise GANLabError(f"{what} is {len(name.encode('utf-8', 'surrogatepass'))} bytes long; at most "
                          f"{NAME_MAX_BYTES} fit a file name")
    return name


def check_target(path: str | os.PathLike, overwrite: bool = False) -> str:
    """A path we can write, checked before any work: a valid name, not a folder, not an existing
    file unless ``overwrite``, and a parent that is (or can become) a folder."""
    path = os.fspath(path)
    name = os.path.basename(path)
    check_name(name, "the file name")
    if os.path.isdir(path):
        raise GANLabError(f"'{name}' is a folder; choose a file name")
    if not overwrite and os.path.lexists(path):
        raise GANLabError(f"'{name}' already exists; choose another name or allow overwrite")
    parent = os.path.dirname(os.path.abspath(path))
    while parent and not os.path.exists(parent):
        parent = os.path.dirname(parent) if os.path.dirname(parent) != parent else ""
    if parent and not os.path.isdir(parent):
        raise GANLabError(f"cannot write '{name}': '{os.path.basename(parent)}' on its path is a file, not a folder")
    return path


def clean_stale_temps(folder: str) -> list[str]:
    """Remove temporary files (``.tmp-<pid>-...``) of processes that no longer run, and abandoned ones."""
    removed = []
    now = time.time()
    try:
        names = [n for n in os.listdir(folder) if n.startswith(TMP_PREFIX)]
    except OSError:
        return removed
    for name in names:
        full = os.path.join(folder, name)
        try:
            age = now - os.stat(full).st_mtime
        except OSError:
            continue
        pid_text = name[len(TMP_PREFIX):].split("-", 1)[0]
        dead = pid_text.isdigit() and int(pid_text) != os.getpid() and not pid_alive(int(pid_text))
        if (dead and age > STALE_TMP_S) or age > ABANDONED_TMP_S:
            with contextlib.suppress(OSError):
                os.remove(full)
                removed.append(full)
    return removed


def _publish_new(tmp: str, path: str) -> None:
    """Give ``tmp`` the name ``path`` only if no file has it: a hard link fails on an existing name."""
    name = os.path.basename(path)
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise GANLabError(f"'{name}' appeared while writing (another save of the same name); not overwritten") from None
    except OSError:  # no hard links here (FAT, some network shares): reserve the name exclusively
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            raise GANLabError(f"'{name}' appeared while writing (another save of the same name); "
                              "not overwritten") from None
        os.close(fd)
        os.replace(tmp, path)
        return
    os.remove(tmp)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, overwrite: bool = False) -> Iterator[str]:
    """Yield a temporary path to write; on success it becomes ``path`` in one step.

    Without ``overwrite`` an existing file is left untouched: an error is raised before anything is
    written, and also if another process creates the name meanwhile.  On failure the temporary
    file is removed and ``path`` is unchanged.  File-system failures are our error naming the file."""
    path = check_target(path, overwrite)
    name = os.path.basename(path)
    folder = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(folder, exist_ok=True)
        clean_stale_temps(folder)
        fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{os.getpid()}-", suffix=os.path.splitext(path)[1][:16],
                                   dir=folder)
        os.close(fd)
    except OSError as e:
        raise GANLabError(f"cannot write '{name}' ({e.strerror or e})") from None
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        if overwrite:
            if os.path.isdir(path):
                raise GANLabError(f"'{name}' is a folder; choose a file name")
            os.replace(tmp, path)
        else:
            _publish_new(tmp, path)
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        if isinstance(e, OSError):
            raise GANLabError(f"cannot write '{name}' ({e.strerror or e})") from None
        raise
