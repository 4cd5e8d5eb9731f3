"""GANSpace W-space PCA vs the official recipe (scikit-learn IncrementalPCA), same process, same mapping.

The mapping network is StyleGAN2-sized (z 512 -> 8 fully connected layers of 512, leaky ReLU with
gain sqrt 2, 2nd-moment normalisation of z) with random weights.  Stages timed:

1. ours, end to end: ``ganspace(n, 80 components, converge off)``: sampling, mapping, streaming
   float64 covariance, eigh;
2. ours, convergence mode (20 components): time, samples used, top-20 |cos| against run 1;
3. the official recipe, end to end: the same z stream mapped in chunks of exactly 10,000, each
   chunk fed to ``IncrementalPCA(80).partial_fit``;
4. PCA stage alone: the same w, mapped again (untimed) and stored, fed in the same 10,000-row
   chunks to IncrementalPCA and to our running covariance + eigh.
5. the sampling-error floor (see below).

Memory: each stage's peak resident memory above what the process held when the stage began
(sampled every 5 ms), so every figure is that stage's own.  The weights of the last mapping layer
get a decaying spectrum (a trained-like w distribution; ``--iid`` keeps plain i.i.d. weights,
whose almost flat spectrum leaves individual components undefined).

    python3 benchmarks/bench_ganspace.py            # n = 1,000,000 (several minutes on 2 cores)
    python3 benchmarks/bench_ganspace.py --n 100000 # quicker
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import numpy as np
import torch
from torch import nn

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_pack():
    spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gan_latent_lab"] = mod
    spec.loader.exec_module(mod)
    return mod


_import_pack()
from gan_latent_lab.directions.ganspace import DEFAULT_TOL, RunningCovariance, ganspace, top_eigen, z_stream  # noqa: E402
from gan_latent_lab.loaders.base import GANGenerator  # noqa: E402
from peak_memory import PeakMemory, rss_mb  # noqa: E402


class MappingOnly(GANGenerator):
    """A StyleGAN2-sized mapping network with random weights; synthesis is a stub."""

    arch = "bench-mapping"
    code_space = "w"

    def __init__(self, dim: int = 512, layers: int = 8, num_ws: int = 18, seed: int = 0, iid: bool = False) -> None:
        super().__init__()
        self.z_dim = self.w_dim = dim
        self.num_ws, self.resolution = num_ws, 4
        g = torch.Generator().manual_seed(seed)
        self.fcs = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        with torch.no_grad():
            for fc in self.fcs:
                fc.weight.copy_(torch.randn(dim, dim, generator=g) / dim ** 0.5)
                fc.bias.copy_(torch.randn(dim, generator=g) * 0.1)
            if not iid:  # last layer: random singular vectors, decaying singular values (trained-like w spectrum)
                q1 = torch.linalg.qr(torch.randn(dim, dim, generator=g)).Q
                q2 = torch.linalg.qr(torch.randn(dim, dim, generator=g)).Q
                sv = torch.exp(-torch.arange(dim) / 12.0) * 3 + 0.05
                self.fcs[-1].weight.copy_(q1 @ torch.diag(sv) @ q2.T)

    def _mapping(self, z, c, psi, cutoff):
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for fc in self.fcs:
            x = nn.functional.leaky_relu(fc(x), 0.2) * 2 ** 0.5
        return x.unsqueeze(1).expand(-1, self.num_ws, -1)

    def _synthesis(self, codes, c, psi, noise_mode):
        return torch.zeros(codes.shape[0], 3, 4, 4)


def exact_chunks(z_dim: int, n: int, seed: int, size: int):
    """The seeded z stream of ``z_stream`` cut into chunks of exactly ``size`` rows (the last may be short)."""
    buf, have = [], 0
    for z in z_stream(z_dim, n, seed, 8192):
        buf.append(z)
        have += len(z)
        while have >= size:
            cat = torch.cat(buf)
            yield cat[:size]
            buf, have = [cat[size:]], have - size
    if have:
        yield torch.cat(buf)


def abs_cos(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a.double() * b.double()).sum(1).abs()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=1_000_000, help="samples (default 1,000,000)")
    ap.add_argument("--k", type=int, default=80, help="components of the full runs (official: 80)")
    ap.add_argument("--k-converge", type=int, default=20, help="components in convergence mode")
    ap.add_argument("--tol", type=float, default=DEFAULT_TOL,
                    help=f"convergence tolerance in radians (default {DEFAULT_TOL}, the node's)")
    ap.add_argument("--chunk", type=int, default=10_000, help="official recipe's partial_fit chunk")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--iid", action="store_true", help="i.i.d. Gaussian last layer too (an almost flat w spectrum)")
    args = ap.parse_args()
    from sklearn.decomposition import IncrementalPCA

    torch.manual_seed(0)
    model = MappingOnly(iid=args.iid).eval()
    n, k = args.n, args.k
    print(f"GANSpace W-space PCA benchmark: n={n:,}, dim {model.w_dim}, 8-layer mapping, k={k}, "
          f"torch threads {torch.get_num_threads()}, {os.cpu_count()} CPUs")
    print(f"last layer: {'i.i.d. Gaussian' if args.iid else 'decaying singular values exp(-i/12)'}; "
          f"convergence tol {args.tol} rad; load average {os.getloadavg()[0]:.1f}")
    print(f"resident memory at start {rss_mb():.0f} MB (torch, sklearn, the model)")

    # 1. ours, end to end, full
    with PeakMemory() as mem:
        t = time.perf_counter()
        full, st_full = ganspace(model, n, k, seed=args.seed, converge=False, interrupt=lambda: None)
        t_ours = time.perf_counter() - t
    print(f"[ours e2e]      {t_ours:8.2f} s  samples {st_full['samples']:,}  chunk {st_full['chunk']}  "
          f"peak memory +{mem.growth:.0f} MB")

    # 2. ours, convergence mode
    with PeakMemory() as mem:
        t = time.perf_counter()
        conv, st_conv = ganspace(model, n, args.k_converge, seed=args.seed + 1, converge=True, tol=args.tol,
                                 interrupt=lambda: None)
        t_conv = time.perf_counter() - t
    kc = args.k_converge
    cos = abs_cos(conv.vectors[:kc], full.vectors[:kc])
    print(f"[ours converge] {t_conv:8.2f} s  samples {st_conv['samples']:,}  converged {st_conv['converged']}  "
          f"last angle {st_conv['last_angle']:.4f} rad  top-{kc} |cos| vs full: min {float(cos.min()):.5f}  "
          f"peak memory +{mem.growth:.0f} MB")
    print("                per-component |cos|: " + " ".join(f"{float(c):.4f}" for c in cos))

    # 3. official recipe, end to end: the same z stream in chunks of exactly args.chunk, IncrementalPCA
    ipca = IncrementalPCA(n_components=k)
    t_map = t_fit = 0.0
    sizes = set()
    with PeakMemory() as mem:
        t = time.perf_counter()
        for z in exact_chunks(model.z_dim, n, args.seed, args.chunk):
            t0 = time.perf_counter()
            with torch.no_grad():
                w = model.mapping(z)[:, 0].numpy()
            t1 = time.perf_counter()
            ipca.partial_fit(w)
            t_fit += time.perf_counter() - t1
            t_map += t1 - t0
            sizes.add(len(w))
        t_official = time.perf_counter() - t
    print(f"[official e2e]  {t_official:8.2f} s  (sampling+mapping {t_map:.2f} s, partial_fit {t_fit:.2f} s, "
          f"chunks of {max(sizes):,})  peak memory +{mem.growth:.0f} MB")
    ref = torch.from_numpy(ipca.components_)
    cos_ref = abs_cos(full.vectors[:20], ref[:20])
    print(f"                ours vs IncrementalPCA, top-20 |cos| min {float(cos_ref.min()):.5f}; stdev rel. diff "
          f"max {float((full.values[:20].double() / torch.from_numpy(np.sqrt(ipca.explained_variance_[:20])) - 1).abs().max()):.2e}")

    # 4. PCA stage alone: the same w mapped again (untimed), stored, fed in the same chunks to both
    stored = np.empty((n, model.w_dim), dtype=np.float32)
    done = 0
    for z in exact_chunks(model.z_dim, n, args.seed, args.chunk):
        with torch.no_grad():
            stored[done:done + len(z)] = model.mapping(z)[:, 0].numpy()
        done += len(z)
    ipca2 = IncrementalPCA(n_components=k)
    t = time.perf_counter()
    for s in range(0, n, args.chunk):
        ipca2.partial_fit(stored[s:s + args.chunk])
    t_ipca = time.perf_counter() - t
    t = time.perf_counter()
    acc = RunningCovariance(model.w_dim)
    src = torch.from_numpy(stored)
    for s in range(0, n, args.chunk):
        acc.update(src[s:s + args.chunk])
    top_eigen(acc.covariance(), k)
    t_cov = time.perf_counter() - t
    print(f"[PCA stage]     IncrementalPCA {t_ipca:.2f} s   ours (running covariance + eigh) {t_cov:.2f} s   "
          f"(on {stored.nbytes / 2**20:.0f} MB of stored w)")

    # 5. the sampling-error floor: for Gaussian-like w, the squared angle between the estimated and true
    # k-th eigenvector after n samples is about s_k / n, s_k = sum_j lam_k lam_j / (lam_k - lam_j)^2; the
    # comparison with the full run adds the full run's own s_k / n_full.
    lam = torch.linalg.eigvalsh(acc.covariance()).flip(0)
    s = torch.stack([(lam[i] * torch.cat([lam[:i], lam[i + 1:]])
                      / (lam[i] - torch.cat([lam[:i], lam[i + 1:]])) ** 2).sum() for i in range(kc)])
    n_c = st_conv["samples"]
    predicted = torch.cos(torch.sqrt(s * (1.0 / n_c + 1.0 / n)))
    budget = 1.0 - 0.999 ** 2  # angle^2 allowed for |cos| >= 0.999 (small angles)
    need = s / budget           # samples for |cos| >= 0.999 against the true components
    worst = int(torch.argmax(need))
    gap = lambda a, b: float((lam[a] - lam[b]) / lam[a])  # noqa: E731
    per_sample = t_conv / n_c
    print(f"[error floor]   predicted top-{kc} |cos| at {n_c:,} samples vs the {n:,}-sample run (compare the "
          "measured ones above):\n                " + " ".join(f"{float(c):.4f}" for c in predicted))
    print(f"                |cos| >= 0.999 to the true top-{kc} components needs about {float(need.max()):,.0f} "
          f"samples (component {worst}, relative eigengaps {gap(worst - 1, worst) if worst else float('nan'):.3f} "
          f"above, {gap(worst, worst + 1):.3f} below): {float(need.max()) * per_sample:.1f} s at this run's speed, "
          f"{t_official / (float(need.max()) * per_sample):.1f}x faster than the official recipe")

    print("\nratios (official / ours; targets: PCA stage >= 10x, end to end >= 2x, converge <= 1/10 of official)")
    print(f"  PCA stage    {t_ipca / t_cov:6.1f}x")
    print(f"  end to end   {t_official / t_ours:6.1f}x   ({t_official:.1f} s vs {t_ours:.1f} s)")
    print(f"  convergence  {t_official / t_conv:6.1f}x   ({t_conv:.1f} s, {st_conv['samples']:,} samples, "
          f"top-{kc} |cos| >= {float(cos.min()):.4f})")


if __name__ == "__main__":
    main()
