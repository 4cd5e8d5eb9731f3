"""Class vectors for conditional generators: an index, several indices mixed with weights, or names."""

from __future__ import annotations

import torch

from ..errors import InputError


def parse_classes(spec, names: list[str] | None = None) -> dict[int, float]:
    """Turn a class spec into ``{index: weight}``.

    Accepts an int, a list of ints, a dict, or a string such as ``"3"``, ``"3,7"``,
    ``"3:0.7, 7:0.3"`` or ``"goldfish:0.5, 207:0.5"`` (names need ``names``)."""
    if isinstance(spec, dict):
        return {int(k): float(v) for k, v in spec.items()}
    if isinstance(spec, int):
        return {spec: 1.0}
    if isinstance(spec, (list, tuple)):
        return {int(k): 1.0 for k in spec}
    text = str(spec).strip()
    if not text:
        raise InputError("empty class: give an index, 'a,b', 'a:0.7,b:0.3' or a class name")
    mix: dict[int, float] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, _, weight = part.rpartition(":") if ":" in part else (part, "", "1")
        key = key.strip()
        try:
            w = float(weight)
        except ValueError:
            raise InputError(f"class weight {weight!r} in {part!r} is not a number") from None
        if key.lstrip("-").isdigit():
            idx = int(key)
        else:
            idx = _lookup_name(key, names)
        mix[idx] = mix.get(idx, 0.0) + w
    return mix


def _lookup_name(key: str, names: list[str] | None) -> int:
    if not names:
        raise InputError(f"class {key!r} is a name, but this model has no class-name list: use an index")
    low = key.lower()
    for i, n in enumerate(names):
        if n.lower() == low:
            return i
    hits = [i for i, n in enumerate(names) if low in n.lower()]
    if len(hits) == 1:
        return hits[0]
    if hits:
        shown = ", ".join(f"{i}:{names[i]}" for i in hits[:5])
        raise InputError(f"class name {key!r} is ambiguous: {shown}")
    raise InputError(f"no class named {key!r}")


def class_vector(spec, c_dim: int, n: int, names: list[str] | None = None) -> torch.Tensor:
    """``[n, c_dim]`` float32 class vectors (the same mix for every row), weights normalised to sum 1."""
    mix = parse_classes(spec, names)
    vec = torch.zeros(c_dim, dtype=torch.float32)
    for idx, w in mix.items():
        if not 0 <= idx < c_dim:
            raise InputError(f"class index {idx} is out of range: the model has classes 0..{c_dim - 1}")
        if not (w == w) or w in (float("inf"), float("-inf")) or w < 0:
            raise InputError(f"class weight {w} for class {idx} must be a finite non-negative number")
        vec[idx] += w
    total = float(vec.sum())
    if total <= 0:
        raise InputError("class weights sum to zero")
    return (vec / total).unsqueeze(0).expand(n, -1).contiguous()
