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
    if "log_mat_half" in state:
        p = torch.as_tensor(state["log_mat_half"]).to(torch.float64)
        if p.ndim != 2 or p.shape[0] != p.shape[1]:
            raise InputError(f"log_mat_half must be square, got {list(p.shape)}")
        mat, kind = torch.linalg.matrix_exp(p - p.T), "ortho"
    elif "ortho_mat" in state:
        mat, kind = torch.as_tensor(state["ortho_mat"]).to(torch.float64), "ortho"
    elif "linear.weight" in state:
        mat, kind = torch.as_tensor(state["linear.weight"]).to(torch.float64), "linear"
    else:
        raise InputError("not an official deformator: expected a 'log_mat_half', 'ortho_mat' or 'linear.weight' "
                         f"tensor, found {sorted(state)[:6]}")
    if mat.ndim != 2 or mat.shape[0] != dim:
        raise InputError(f"the deformator's matrix is {list(mat.shape)}; this model's codes are {dim} wide")
    return mat.to(torch.float32), kind
