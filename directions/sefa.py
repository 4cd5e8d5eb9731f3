"""SeFa: closed-form semantic directions from the generator's own weights (Shen & Zhou, CVPR 2021).

The weights that read the chosen slots are stacked into one matrix ``A`` ``[out, dim]``; each
output row is scaled to unit length (so no single layer dominates by its scale, as the authors'
code does); the directions ``n`` that maximise ``|A n|`` are the eigenvectors of ``AᵀA``.  Their
eigenvalues (the squared singular values of ``A``) rank them.  Computed in float64 with a
symmetric eigen solver, so the result is real, orthonormal and sorted, and signs are fixed so
the same weights always give the same set.
"""

from __future__ import annotations

from typing import Sequence

import torch

from ..errors import InputError, MismatchError
from .container import Directions
from .slots import format_slots, parse_slots


def _check_weights(weights: Sequence[torch.Tensor]) -> None:
    """At least one matrix, all ``[out, dim]`` with the same ``dim``."""
    if not weights:
        raise InputError("SeFa needs at least one weight matrix")
    dims = {int(w.shape[-1]) for w in weights}
    if len(dims) != 1 or any(w.ndim != 2 for w in weights):
        raise MismatchError(f"SeFa weights must all be [out, dim] with one dim, got {[list(w.shape) for w in weights]}")


def stack_weights(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """Weights ``[out_i, dim]`` -> one float64 matrix ``[sum out_i, dim]`` with unit-length rows."""
    _check_weights(weights)
    a = torch.cat([w.detach().to("cpu", torch.float64) for w in weights], dim=0)
    return a / torch.linalg.vector_norm(a, dim=1, keepdim=True).clamp_min(1e-30)


def fix_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Flip each row so its largest-magnitude component is positive (eigenvectors have no sign)."""
    idx = vectors.abs().argmax(dim=1, keepdim=True)
    signs = torch.sign(vectors.gather(1, idx))
    signs[signs == 0] = 1
    return vectors * signs


def gram(weights: Sequence[torch.Tensor]) -> torch.Tensor:
    """``AᵀA`` of the unit-row stack, as float64.

    The product runs in the weights' own precision (float32: a sum of unit-row outer products,
    accurate to about 1e-7 relative) and only the small ``[dim, dim]`` result is promoted, so the
    float64 eigen solve costs what the decomposition needs and no more."""
    _check_weights(weights)
    dtype = torch.float64 if any(w.dtype == torch.float64 for w in weights) else torch.float32
    a = torch.cat([w.detach().to("cpu", dtype) for w in weights], dim=0)
    a.div_(torch.linalg.vector_norm(a, dim=1, keepdim=True).clamp_min(1e-30))
    return _symmetric_product(a).to(torch.float64)


def _symmetric_product(a: torch.Tensor, parts: int = 4) -> torch.Tensor:
    """``aᵀa`` computing only the blocks on and above the diagonal (BLAS ``syrk``'s saving, which torch's
    matmul does not make): with 4 column blocks, 10 of the 16 block products."""
    n = a.shape[1]
    if n < 256:
        return a.T @ a
    b = -(-n // parts)
    cols = [a[:, i:i + b] for i in range(0, n, b)]
    out = torch.empty(n, n, dtype=a.dtype)
    for i, ci in enumerate(cols):
        for j in range(i, len(cols)):
            blk = ci.T @ cols[j]
            out[i * b:i * b + blk.shape[0], j * b:j * b + blk.shape[1]] = blk
            if j != i:
                out[j * b:j * b + blk.shape[1], i * b:i * b + blk.shape[0]] = blk.T
    return out


def decompose(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues (descending) and sign-fixed unit eigenvectors (rows) of a symmetric float64 matrix."""
    values, vecs = torch.linalg.eigh(g)  # ascending, vectors in columns
    return values.flip(0).clamp_min(0.0), fix_signs(vecs.flip(1).T.contiguous())


def factorize(weights: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues ``[dim]`` (descending) and unit eigenvectors ``[dim, dim]`` (rows) of ``AᵀA``."""
    return decompose(gram(weights))


def sefa(model, slots: str | Sequence[int] | None = "all", k: int | None = None) -> Directions:
    """SeFa directions of ``model`` on ``slots`` (a spec like "all", "0-3" or a list), top ``k``."""
    slot_list = parse_slots(slots, model.num_ws)
    if k is not None:
        k = int(k)
        if not 1 <= k <= model.w_dim:
            raise InputError(f"top k {k} is outside 1..{model.w_dim} (the code width)")
    with torch.no_grad():
        weights = model.sefa_weights(slot_list)
    values, vectors = factorize(weights)
    if vectors.shape[1] != model.w_dim:
        raise MismatchError(f"SeFa weights are {vectors.shape[1]} wide but the codes are {model.w_dim} wide")
    values_all_sum = values.sum()
    if k is not None:
        values, vectors = values[:k], vectors[:k]
    spec = slots if isinstance(slots, str) else format_slots(slot_list)
    return Directions(vectors=vectors, values=values, method="sefa", space=model.code_space, slots=slot_list,
                      scale_kind="eigenvalue", fingerprint=model.fingerprint,
                      meta={"slots": spec, "k": k, "rows": int(sum(w.shape[0] for w in weights)),
                            "eigen_total": float(values_all_sum)})


def eigen_table(directions: Directions, limit: int = 64) -> str:
    """A text table of index, value and share of the total, for the node's STRING output."""
    vals = directions.values
    total = float(directions.meta.get("eigen_total") or vals.sum()) or 1.0
    kind = {"eigenvalue": "eigenvalue", "stdev": "stdev"}.get(directions.scale_kind, "value")
    lines = [f"{directions.method} on slots {format_slots(directions.slots)}: {len(directions)} directions",
             f"{'index':>5}  {kind:>12}  {'share':>7}"]
    for i in range(min(limit, len(directions))):
        v = float(vals[i])
        lines.append(f"{i:>5}  {v:>12.4f}  {100 * v / total:>6.2f}%")
    if len(directions) > limit:
        lines.append(f"... {len(directions) - limit} more")
    return "\n".join(lines)
