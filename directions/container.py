"""Direction sets: unit vectors with a scale each, the space and slots they live in, and provenance."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import torch

from ..errors import CheckpointError, MismatchError
from ..limits import load_json

FORMAT = "gan-latent-lab-directions"
SCALE_KINDS = ("eigenvalue", "stdev", "none")
SPACES = ("w", "z")
"""The code spaces a set can live in (a model's ``code_space``)."""
MAX_SLOTS = 4096


@dataclass
class Directions:
    """``vectors`` ``[K, dim]`` unit rows; ``values`` ``[K]`` (eigenvalue or standard deviation).

    ``slots`` are the injection slots the set was found on (None: all / not slot specific);
    ``space`` is ``"w"`` or ``"z"``; ``meta`` holds the method's parameters, ``fingerprint`` of the
    model (empty for imported sets that name none) and optional ``labels``."""

    vectors: torch.Tensor
    values: torch.Tensor
    method: str
    space: str = "w"
    slots: list[int] | None = None
    scale_kind: str = "none"
    fingerprint: str = ""
    labels: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.vectors = torch.as_tensor(self.vectors).detach().to("cpu", torch.float32)
        if self.vectors.ndim == 1:
            self.vectors = self.vectors.unsqueeze(0)
        if self.vectors.ndim != 2:
            raise MismatchError(f"direction vectors must be [K, dim], got {list(self.vectors.shape)}")
        self.values = torch.as_tensor(self.values).detach().to("cpu", torch.float32).reshape(-1)
        if self.values.numel() != self.vectors.shape[0]:
            raise MismatchError(f"{self.values.numel()} values for {self.vectors.shape[0]} directions")
        if not torch.isfinite(self.vectors).all() or not torch.isfinite(self.values).all():
            raise MismatchError("direction set holds NaN or infinite numbers")
        if self.scale_kind not in SCALE_KINDS:
            raise MismatchError(f"scale kind must be one of {SCALE_KINDS}, not {self.scale_kind!r}")

    def __len__(self) -> int:
        return self.vectors.shape[0]

    @property
    def dim(self) -> int:
        return self.vectors.shape[1]

    def check_model(self, gen, strict_fingerprint: bool = True) -> None:
        """Refuse a set for another model: width always, fingerprint when the set names one.

        A set found on a model applies to the models fine-tuned from it (pivotal tuning keeps the
        latent space), so the fingerprint may be the model's own or one of its ancestors'."""
        if self.dim != gen.w_dim:
            raise MismatchError(f"direction set is {self.dim} wide but the model's codes are {gen.w_dim} wide "
                                f"({gen.arch}); it was made for another model")
        lineage = gen.lineage() if callable(getattr(gen, "lineage", None)) else [gen.fingerprint]
        if strict_fingerprint and self.fingerprint and self.fingerprint not in lineage:
            tuned = f" (fine-tuned from {', '.join(lineage[1:])})" if len(lineage) > 1 else ""
            raise MismatchError(f"direction set was found on model {self.fingerprint}, not on the loaded "
                                f"{gen.arch} ({gen.fingerprint}){tuned}")
        if self.slots is not None and self.slots and max(self.slots) >= gen.num_ws:
            raise MismatchError(f"direction set names slot {max(self.slots)} but the model has {gen.num_ws} slots")

    def label(self, k: int) -> str:
        return self.labels[k] if k < len(self.labels) and self.labels[k] else f"{self.method} #{k}"

    def subset(self, idx) -> "Directions":
        idx = list(idx)
        return Directions(self.vectors[idx], self.values[idx], self.method, self.space, self.slots, self.scale_kind,
                          self.fingerprint, [self.label(i) for i in idx] if self.labels else [], dict(self.meta))

    # ----- files -------------------------------------------------------------------------
    def metadata(self) -> dict[str, str]:
        return {
            "format": FORMAT,
            "method": self.method,
            "space": self.space,
            "slots": json.dumps(self.slots),
            "scale_kind": self.scale_kind,
            "fingerprint": self.fingerprint,
            "labels": json.dumps(self.labels),
            "meta": json.dumps(self.meta, sort_keys=True, default=str),
        }

    def save(self, path: str | os.PathLike, overwrite: bool = False) -> str:
        """Write as safetensors (``vectors``, ``values`` + metadata), atomically."""
        from safetensors.torch import save_file

        from ..atomic import atomic_write

        with atomic_write(path, overwrite=overwrite) as tmp:
            save_file({"vectors": self.vectors.contiguous(), "values": self.values.contiguous()}, tmp,
                      metadata=self.metadata())
        return os.fspath(path)

    @classmethod
    def from_safetensors(cls, tensors: dict[str, torch.Tensor], meta: dict[str, str], path: str) -> "Directions":
        """A set written by :meth:`save`, every part checked: finite non-zero vectors, a space we write,
        slots that are whole non-negative numbers, labels that are text."""
        for key in ("vectors", "values"):
            t = tensors.get(key)
            if not isinstance(t, torch.Tensor) or not t.is_floating_point():
                raise CheckpointError(path, f"not a direction set: '{key}' is missing or not floating point")
        slots = load_json(meta.get("slots", "null"), path, "the metadata 'slots'")
        labels = load_json(meta.get("labels", "[]"), path, "the metadata 'labels'")
        info = load_json(meta.get("meta", "{}"), path, "the metadata 'meta'", allow_nan=True)
        space = meta.get("space", "w")
        if space not in SPACES:
            raise CheckpointError(path, f"the set lives in space {space[:40]!r}; sets are in {' or '.join(SPACES)}")
        if slots is not None and (not isinstance(slots, list) or len(slots) > MAX_SLOTS or not all(
                type(s) is int and 0 <= s < MAX_SLOTS for s in slots)):
            raise CheckpointError(path, f"the slots must be a list of whole numbers 0..{MAX_SLOTS - 1}, not "
                                  f"{str(slots)[:60]}")
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels) or not isinstance(info, dict):
            raise CheckpointError(path, "the metadata labels must be a list of text and meta a JSON object")
        vectors = tensors["vectors"]
        if vectors.ndim != 2 or vectors.shape[0] == 0 or vectors.shape[1] == 0:
            raise CheckpointError(path, f"direction vectors must be [K, dim], got {list(vectors.shape)}")
        norms = torch.linalg.vector_norm(vectors.double(), dim=1)
        if not bool(torch.isfinite(norms).all()) or bool((norms < 1e-12).any()):
            raise CheckpointError(path, "a direction vector is zero or holds NaN or infinite numbers")
        try:
            return cls(
                vectors=vectors, values=tensors["values"], method=str(meta.get("method", "unknown")),
                space=space, slots=slots, scale_kind=meta.get("scale_kind", "none"),
                fingerprint=str(meta.get("fingerprint", "")), labels=labels, meta=info)
        except (KeyError, ValueError, TypeError) as e:
            raise CheckpointError(path, f"not a direction set ({type(e).__name__}: {e})") from None
        except MismatchError as e:
            raise CheckpointError(path, str(e)) from None
