"""Voynov run files (``.voynov``): one checkpoint that is both the resumable state and the result.

A torch zip holding only tensors and plain values (so it loads with ``weights_only=True``):
both networks, both optimiser states, the sampling generator's RNG state, the step reached, the
run's configuration, the model's fingerprint, the current directions and, once finished, the
held-out statistics.  Written atomically, so an interrupted write leaves the previous one intact.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from typing import Iterator

import torch

from ..atomic import atomic_write, check_target, pid_alive
from ..errors import CheckpointError, GANLabError, MismatchError

FORMAT = "gan-latent-lab-voynov"
VERSION = 1
LOCK_SUFFIX = ".lock"
MAX_STEPS = 10**8
"""Most steps a run may record (a few days of GPU training at batch 32 is about 10^6)."""
REQUIRED = ("format", "version", "step", "config", "fingerprint", "deformator", "reconstructor",
            "opt_deformator", "opt_reconstructor", "rng", "directions", "done")


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu").clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def save_run(path: str | os.PathLike, state: dict) -> str:
    """Write a run state atomically (replacing the previous checkpoint of the run)."""
    record = {"format": FORMAT, "version": VERSION, **_to_cpu(state)}
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise ValueError(f"run state lacks {missing}")
    with atomic_write(path, overwrite=True) as tmp:
        torch.save(record, tmp)
    return os.fspath(path)


def read_run(path: str | os.PathLike) -> dict:
    """Read a run file safely; a truncated, corrupt or foreign file raises CheckpointError."""
    from ..loaders.files import read_torch_file

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such run file")
    try:  # the checkpoint checks first (zip sizes, tensor views), then a weights-only load
        record = read_torch_file(path)
    except CheckpointError as e:
        raise CheckpointError(path, f"the run file is truncated or corrupt: {e.reason}") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(path, "not a Voynov run file (no gan-latent-lab-voynov format marker)")
    if record.get("version") != VERSION:
        raise CheckpointError(path, f"run file version {record.get('version')!r}; this version reads {VERSION}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise CheckpointError(path, f"the run file lacks {', '.join(missing)}")
    directions = record["directions"]
    if not isinstance(directions, torch.Tensor) or directions.ndim != 2 or not directions.is_floating_point() \
            or not bool(torch.isfinite(directions).all()):
        raise CheckpointError(path, "the run file's directions are not a finite [K, dim] tensor")
    step, target = record["step"], record.get("target", record["step"])
    if type(step) is not int or type(target) is not int or not 0 <= step <= target <= MAX_STEPS:
        raise CheckpointError(path, f"the run file says step {str(step)[:30]} of {str(target)[:30]}; a run is at a "
                              f"whole step between 0 and its target (at most {MAX_STEPS})")
    if not isinstance(record["config"], dict) or not isinstance(record["fingerprint"], str) \
            or not isinstance(record["done"], bool):
        raise CheckpointError(path, "the run file's config, fingerprint or done flag is malformed")
    return record


@contextlib.contextmanager
def run_lock(path: str | os.PathLike) -> Iterator[str]:
    """Hold ``<run>.lock`` while training: a second trainer of the same run is refused, not interleaved.

    The lock is created exclusively and names the process; a lock whose process no longer runs on
    this machine (a crash, kill -9) is stale and taken over."""
    path = check_target(path, overwrite=True)
    lock = path + LOCK_SUFFIX
    os.makedirs(os.path.dirname(os.path.abspath(lock)), exist_ok=True)
    mine = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "time": time.time()})
    for _attempt in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None:
                raise GANLabError(f"run '{os.path.basename(path)}' is being trained by {holder}; wait for it to finish "
                                  f"or choose another run name (if no training runs, delete "
                                  f"'{os.path.basename(lock)}')") from None
            with contextlib.suppress(FileNotFoundError):
                os.remove(lock)
            continue
        except OSError as e:
            raise GANLabError(f"cannot lock run '{os.path.basename(path)}' ({e.strerror or e})") from None
        with os.fdopen(fd, "w") as f:
            f.write(mine)
        break
    else:
        raise GANLabError(f"run '{os.path.basename(path)}' is being locked by another trainer; try again")
    try:
        yield lock
    finally:
        with contextlib.suppress(OSError):
            with open(lock) as f:
                if f.read() == mine:
                    os.remove(lock)


def _lock_holder(lock: str) -> str | None:
    """Who holds a lock ("process N on host H"), or None when it is stale (its process is gone)."""
    try:
        with open(lock) as f:
            info = json.loads(f.read() or "{}")
        age = time.time() - os.stat(lock).st_mtime
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        info, age = {}, 0.0
    pid, host = info.get("pid") if isinstance(info, dict) else None, info.get("host") if isinstance(info, dict) else None
    if type(pid) is not int:  # being written this instant, or garbage: stale once it is a few seconds old
        return None if age > 5 else "another process"
    if host == socket.gethostname() and not pid_alive(pid):
        return None
    return f"process {pid} on {host}"


def check_run_model(record: dict, model, path: str | os.PathLike) -> None:
    """Refuse a run trained on another model, naming both fingerprints."""
    if record["fingerprint"] != model.fingerprint:
        raise MismatchError(f"run file '{os.path.basename(os.fspath(path))}' was trained on model "
                            f"{record['fingerprint']}, not on the loaded {model.arch} ({model.fingerprint}); "
                            "use another run name for this model")
