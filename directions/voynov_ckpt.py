"""Voynov run files (``.voynov``): one checkpoint that is both the resumable state and the result.

A torch zip holding only tensors and plain values (so it loads with ``weights_only=True``):
both networks, both optimiser states, the sampling generator's RNG state, the step reached, the
run's configuration, the model's fingerprint, the current directions and, once finished, the
held-out statistics.  Written atomically, so an interrupted write leaves the previous one intact.
"""

from __future__ import annotations

import os

import torch

from ..atomic import atomic_write
from ..errors import CheckpointError, MismatchError

FORMAT = "gan-latent-lab-voynov"
VERSION = 1
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
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise CheckpointError(path, "no such run file")
    try:
        record = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to parse means a broken file
        raise CheckpointError(path, f"the run file is truncated or corrupt ({type(e).__name__}: {str(e)[:200]})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise CheckpointError(path, "not a Voynov run file (no gan-latent-lab-voynov format marker)")
    if record.get("version") != VERSION:
        raise CheckpointError(path, f"run file version {record.get('version')!r}; this version reads {VERSION}")
    missing = [k for k in REQUIRED if k not in record]
    if missing:
        raise CheckpointError(path, f"the run file lacks {', '.join(missing)}")
    if not isinstance(record["directions"], torch.Tensor) or record["directions"].ndim != 2:
        raise CheckpointError(path, "the run file's directions are not a [K, dim] tensor")
    return record


def check_run_model(record: dict, model, path: str | os.PathLike) -> None:
    """Refuse a run trained on another model, naming both fingerprints."""
    if record["fingerprint"] != model.fingerprint:
        raise MismatchError(f"run file '{os.path.basename(os.fspath(path))}' was trained on model "
                            f"{record['fingerprint']}, not on the loaded {model.arch} ({model.fingerprint}); "
                            "use another run name for this model")
