"""Latent deformators for Voynov & Babenko (ICML 2020): a [dim, K] matrix whose columns are directions.

A training sample picks a direction index k and a magnitude eps; the deformator turns them into
the latent shift ``matrix @ (one_hot(k) * eps)``, i.e. ``eps * matrix[:, k]``.

Kinds (the paper's section 3 and the official repository's options):

- ``ortho``: ``matrix_exp(P - P^T)`` of a free square parameter P (the skew-symmetric exponent
  keeps the exponential orthogonal), first K columns, so directions stay orthonormal by
  construction. P starts at ``0.001 * randn``, as in the official code.
- ``linear``: a free [dim, K] matrix (starts at the first K axes).
- ``proj``: like ``linear`` with each column rescaled to unit length before use.
- ``random``: a fixed random orthonormal basis (baseline, not trained).
- ``identity``: the first K coordinate axes (baseline, not trained).
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import InputError

KINDS = ("ortho", "linear", "proj", "random", "identity")
TRAINABLE = ("ortho", "linear", "proj")


class Deformator(nn.Module):
    """Maps (direction index, magnitude) pairs to latent shifts through a [dim, K] matrix."""

    def __init__(self, kind: str, dim: int, k: int, generator: torch.Generator | None = None) -> None:
        super().__init__()
        if kind not in KINDS:
            raise InputError(f"deformator must be one of {', '.join(KINDS)}, not {kind!r}")
        if not 1 <= int(k) <= int(dim):
            raise InputError(f"number of directions K={k} must be between 1 and the code width {dim}")
        self.kind, self.dim, self.k = kind, int(dim), int(k)
        if kind == "ortho":
            self.log_half = nn.Parameter(0.001 * torch.randn(self.dim, self.dim, generator=generator))
        elif kind in ("linear", "proj"):
            self.weight = nn.Parameter(torch.eye(self.dim, self.k))
        elif kind == "random":
            gauss = torch.randn(self.dim, self.k, generator=generator, dtype=torch.float64)
            q, r = torch.linalg.qr(gauss)
            q = q * torch.sign(torch.diagonal(r)).add(0.5).sign()  # a unique Q: Haar-distributed basis
            self.register_buffer("basis", q.to(torch.float32))
        else:
            self.register_buffer("basis", torch.eye(self.dim, self.k))

    @property
    def trainable(self) -> bool:
        return self.kind in TRAINABLE

    def matrix(self) -> torch.Tensor:
        """The current [dim, K] matrix; column k is direction k (differentiable for trained kinds)."""
        if self.kind == "ortho":
            skew = self.log_half - self.log_half.T
            return torch.linalg.matrix_exp(skew)[:, : self.k]
        if self.kind == "linear":
            return self.weight
        if self.kind == "proj":
            return self.weight / self.weight.norm(dim=0, keepdim=True).clamp_min(1e-12)
        return self.basis

    def forward(self, index: torch.Tensor, eps: torch.Tensor) -> torch.Tensor:
        """Shifts ``[n, dim]`` for direction indices ``[n]`` and magnitudes ``[n]``."""
        basis_shift = torch.zeros(index.shape[0], self.k, device=eps.device, dtype=eps.dtype)
        basis_shift = basis_shift.scatter(1, index.view(-1, 1), eps.view(-1, 1))
        return basis_shift @ self.matrix().T


def directions_of(deformator: Deformator) -> torch.Tensor:
    """The K directions as unit rows ``[K, dim]`` (detached, CPU)."""
    with torch.no_grad():
        vec = deformator.matrix().detach().T.to("cpu", torch.float32)
    return vec / vec.norm(dim=1, keepdim=True).clamp_min(1e-12)


def matrix_from_official(state: dict, dim: int) -> tuple[torch.Tensor, str]:
    """The [dim, K] matrix of a deformator saved by the official GANLatentDiscovery code.

    Knows its ``ortho`` forms (``log_mat_half``: square exponent; ``ortho_mat``: [dim, K] with
    orthonormal columns) and its ``linear``/``proj`` form (``linear.weight`` [dim, K])."""
    keys = [k for k in ("log_mat_half", "ortho_mat", "linear.weight") if k in state]
    if not keys:
        raise InputError("not an official deformator: expected a 'log_mat_half', 'ortho_mat' or 'linear.weight' "
                         f"tensor, found {sorted(map(str, state))[:6]}")
    key = keys[0]
    t = state[key]
    if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim != 2:
        raise InputError(f"the deformator's '{key}' must be a 2-D floating-point tensor, not "
                         f"{getattr(t, 'dtype', type(t).__name__)} {list(getattr(t, 'shape', []))}")
    if t.shape[0] != dim or (key == "log_mat_half" and t.shape[1] != dim):
        raise InputError(f"the deformator's matrix is {list(t.shape)}; this model's codes are {dim} wide"
                         + (" (log_mat_half is square)" if key == "log_mat_half" else ""))
    if not bool(torch.isfinite(t).all()):
        raise InputError(f"the deformator's '{key}' holds NaN or infinite numbers")
    p = t.detach().to(torch.float64)
    if key == "log_mat_half":
        mat, kind = torch.linalg.matrix_exp(p - p.T), "ortho"
    else:
        mat, kind = p, ("ortho" if key == "ortho_mat" else "linear")
    return mat.to(torch.float32), kind
