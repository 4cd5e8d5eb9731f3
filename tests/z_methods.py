"""Shared checks: SeFa and GANSpace (activation mode) on models whose codes are z (BigGAN, PGGAN)."""

from __future__ import annotations

import torch

from gan_latent_lab.directions import ganspace, sefa


def right_singular_vectors(mat: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Singular values and the top-k right singular vectors of ``mat`` (rows), by an SVD in float64."""
    _, s, vh = torch.linalg.svd(mat.double(), full_matrices=False)
    return s, vh[:k]


def check_sefa_in_z(gen, slots, k: int = 4) -> None:
    """SeFa returns unit, orthonormal z directions equal to the top right singular vectors of the
    row-normalised stack of the weights that read the slots (computed here by SVD, not eigh)."""
    d = sefa(gen, slots, k)
    assert d.vectors.shape == (k, gen.z_dim) and d.space == "z"
    torch.testing.assert_close(d.vectors.double() @ d.vectors.double().T, torch.eye(k, dtype=torch.float64),
                               atol=1e-5, rtol=0)
    stack = torch.cat([w.double() for w in gen.sefa_weights(d.slots)])
    stack = stack / stack.norm(dim=1, keepdim=True)
    s, v = right_singular_vectors(stack, k)
    torch.testing.assert_close(d.values.double(), s[:k] ** 2, rtol=1e-4, atol=0)
    cos = (d.vectors.double() * v).sum(1).abs()
    gaps = (s[:k] - s[1:k + 1]) / s[:k]
    assert (cos[gaps > 0.01] > 0.9999).all(), (cos, gaps)


def check_ganspace_linear_first_layer(gen, layer: str, weight: torch.Tensor, n: int = 8192, k: int = 3,
                                      **kw) -> None:
    """The hooked layer is linear in z with matrix ``weight`` [out, z]: PCA of its output followed by
    the regression to z must give normalize(Wᵀ u_k) = the right singular vectors v_k of W."""
    d, stats = ganspace(gen, n, k, seed=0, layer=layer, converge=False, interrupt=lambda: None, **kw)
    assert stats["mode"] == "activation" and stats["layer"] == layer
    assert d.vectors.shape == (k, gen.z_dim) and d.space == "z"
    torch.testing.assert_close(d.vectors.norm(dim=1), torch.ones(k), atol=1e-5, rtol=0)
    s, v = right_singular_vectors(weight, k)
    gaps = (s[:k] - s[1:k + 1]) / s[:k]
    cos = (d.vectors.double() * v).sum(1).abs()
    assert (cos[gaps > 0.05] > 0.99).all(), (cos, gaps)
    assert (gaps > 0.05).any(), gaps  # the check above must test something


def with_decaying_spectrum(weight: torch.Tensor, cols: slice, seed: int = 0, ratio: float = 0.6) -> torch.Tensor:
    """``weight`` with its ``cols`` block replaced by U diag(ratio**i) Vᵀ for random orthonormal U, V: a map
    whose singular vectors are well separated (random test weights have an almost flat spectrum)."""
    out = weight.clone()
    block = out[:, cols]
    g = torch.Generator().manual_seed(seed)
    m, n = block.shape
    u = torch.linalg.qr(torch.randn(m, n, generator=g, dtype=torch.float64)).Q
    v = torch.linalg.qr(torch.randn(n, n, generator=g, dtype=torch.float64)).Q
    s = ratio ** torch.arange(n, dtype=torch.float64)
    out[:, cols] = (u @ torch.diag(s) @ v.T * block.norm() / s.norm()).to(weight.dtype)
    return out
