"""GANSpace (Härkönen et al., NeurIPS 2020): principal components of sampled latents or activations.

Two modes, chosen by the model's code space:

- **W-space PCA** (style GANs, ``code_space == "w"``): PCA of w = mapping(z) for seeded z, without
  truncation.  The samples stream into a float64 running mean and scatter matrix (memory O(dim²),
  never O(n·dim)), and ``torch.linalg.eigh`` gives the components.  In convergence mode sampling
  stops early once the top-k subspace no longer moves between successive estimates.
- **Activation PCA + regression** (``code_space == "z"``: DCGAN, PGGAN, BigGAN): PCA of the
  flattened output of a hooked layer, then, as in the paper's code, a least-squares regression from
  the standardised PCA coordinates of fresh samples back to z; the rows of the solution, normalised,
  are the directions in z.  Narrow layers (dim <= ``COV_MAX_DIM``) use the streaming covariance;
  wide layers (BigGAN's first block is 32,768 wide) keep a memory-capped sample matrix and use a
  randomized SVD (``torch.svd_lowrank``), so no dim x dim matrix is ever formed.

Per-direction scale (``values``, ``scale_kind="stdev"``): in W mode the component's standard
deviation sqrt(eigenvalue); in activation mode the standard deviation of the regression samples'
z projected onto the unit direction (about 1 for Gaussian z, where the paper's code stores ones).

The z stream is drawn in fixed blocks from one seeded ``torch.Generator`` on the CPU, so the same
seed gives the same samples on every device and for every chunk size.
"""

from __future__ import annotations

import math
import os
import time
from typing import Callable

import torch

from ..errors import InputError
from .container import Directions

Z_BLOCK = 256          # z is drawn in blocks of this many rows; chunks are whole blocks
COV_MAX_DIM = 2048     # wider activations use the sample matrix + randomized SVD
SAMPLE_MATRIX_BYTES = 1 << 30   # cap on the wide-layer sample matrix
REGRESSION_SEED_SALT = 0x9E3779B9
DEFAULT_TOL = 0.02   # radians (about 1 degree): what the benchmark measures as the node's default


# ----- sampling -----------------------------------------------------------------------------
def free_memory(device: torch.device) -> int:
    """Free bytes on the device (CUDA: driver's count; CPU: available physical pages)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 2 << 30


def auto_chunk(device: torch.device, bytes_per_sample: int) -> int:
    """A chunk size from free memory: a quarter of it, in whole z blocks, capped (CPU caches favour 8k)."""
    cap = 65536 if device.type == "cuda" else 8192
    n = int(free_memory(device) * 0.25) // max(int(bytes_per_sample), 1)
    return max(Z_BLOCK, min(cap, n) // Z_BLOCK * Z_BLOCK)


def z_stream(z_dim: int, n: int, seed: int, chunk: int):
    """Yield seeded z chunks ``[<=chunk, z_dim]`` (CPU float32) summing to ``n`` rows.

    Rows are drawn block by block, so the sequence does not depend on ``chunk``: replaying with
    the same seed (any chunk size) gives the same z."""
    gen = torch.Generator().manual_seed(int(seed))
    chunk = max(Z_BLOCK, int(chunk) // Z_BLOCK * Z_BLOCK)
    done = 0
    while done < n:
        parts, size = [], min(chunk, n - done)
        left = size
        while left > 0:
            parts.append(torch.randn(Z_BLOCK, z_dim, generator=gen)[:left])
            left -= Z_BLOCK
        done += size
        yield torch.cat(parts) if len(parts) > 1 else parts[0]


def class_vectors(model, classes, n: int, gen: torch.Generator | None = None) -> torch.Tensor | None:
    """Class vectors for a conditional model: a fixed class (index, mix, name) or ``"random"`` one-hots."""
    if model.c_dim == 0:
        return None
    if isinstance(classes, str) and classes.strip().lower() == "random":
        idx = torch.randint(model.c_dim, (n,), generator=gen)
        return torch.nn.functional.one_hot(idx, model.c_dim).to(torch.float32).to(model.device)
    return model.make_c(0 if classes is None else classes, n)


def codes_of(model, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
    """Untruncated codes for z on the model's device."""
    return model.mapping(z.to(model.device), c, truncation_psi=1.0)


# ----- streaming statistics -----------------------------------------------------------------
class RunningCovariance:
    """Running mean and scatter matrix in float64, merged chunk by chunk (Chan et al.).

    Each chunk is centred on its own mean before its scatter is formed (in the chunk's dtype, then
    accumulated in float64), so large means never cancel catastrophically."""

    def __init__(self, dim: int, device: torch.device | str = "cpu") -> None:
        self.n = 0
        self.mean = torch.zeros(dim, dtype=torch.float64, device=device)
        self.scatter = torch.zeros(dim, dim, dtype=torch.float64, device=device)

    def update(self, x: torch.Tensor) -> None:
        nb = x.shape[0]
        if nb == 0:
            return
        mb = x.mean(0, dtype=torch.float64)
        xc = x - mb.to(x.dtype)
        sb = (xc.T @ xc).to(torch.float64)
        delta = mb - self.mean
        n = self.n + nb
        self.scatter += sb + torch.outer(delta, delta) * (self.n * nb / n)
        self.mean += delta * (nb / n)
        self.n = n

    def covariance(self) -> torch.Tensor:
        return self.scatter / max(self.n - 1, 1)


def fix_signs(vectors: torch.Tensor) -> torch.Tensor:
    """Flip each row so its largest-magnitude entry is positive (a deterministic sign)."""
    idx = vectors.abs().argmax(dim=1)
    s = torch.sign(vectors.gather(1, idx[:, None]))
    s[s == 0] = 1
    return vectors * s


def top_eigen(cov: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k eigenvalues (descending, clipped at 0) and unit eigenvectors as rows, signs fixed."""
    evals, evecs = torch.linalg.eigh(cov)
    order = torch.argsort(evals, descending=True)[:k]
    return evals[order].clamp_min(0), fix_signs(evecs[:, order].T)


def principal_angles(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Principal angles (radians, ascending) between the row spaces of ``a`` ``[k, d]`` and ``b`` ``[m, d]``."""
    qa = torch.linalg.qr(a.to(torch.float64).T).Q
    qb = torch.linalg.qr(b.to(torch.float64).T).Q
    s = torch.linalg.svdvals(qa.T @ qb).clamp(-1, 1)
    return torch.sort(torch.arccos(s)).values


# ----- progress -----------------------------------------------------------------------------
class _Reporter:
    """Feeds a progress object (``.set``) or a ``callback(done, total)`` and calls the caller's interrupt check."""

    def __init__(self, progress, total: int, interrupt: Callable[[], None] | None) -> None:
        self.progress, self.total = progress, int(total)
        self.interrupt = interrupt if interrupt is not None else (lambda: None)

    def __call__(self, done: int) -> None:
        if self.progress is not None:
            if hasattr(self.progress, "set"):
                self.progress.set(min(int(done), self.total))
            else:
                self.progress(int(done), self.total)
        self.interrupt()


class _Stop(Exception):
    pass


class ActivationTap:
    """Run the generator only up to a named layer and return that layer's output, flattened."""

    def __init__(self, model, layer: str) -> None:
        self.model, self.layer = model, layer
        self.module = model.activation_module(layer)
        self.out: torch.Tensor | None = None

    def _hook(self, module, inputs, output):
        self.out = output[0] if isinstance(output, (tuple, list)) else output
        raise _Stop

    def __call__(self, z: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        handle = self.module.register_forward_hook(self._hook)
        try:
            self.model.synthesis(codes_of(self.model, z, c), c)
        except _Stop:
            pass
        finally:
            handle.remove()
        if self.out is None:
            raise InputError(f"layer {self.layer!r} did not run during synthesis")
        out, self.out = self.out, None
        return out.reshape(out.shape[0], -1)


# ----- the method ---------------------------------------------------------------------------
def ganspace(model, n_samples: int = 100_000, k: int = 20, seed: int = 0, layer: str | None = None,
             chunk: int | None = None, converge: bool = True, tol: float = DEFAULT_TOL, progress=None,
             classes=0, interrupt: Callable[[], None] | None = None,
             regression_samples: int | None = None) -> tuple[Directions, dict]:
    """GANSpace directions for ``model``: ``(Directions, stats)``.

    ``n_samples`` caps the PCA samples; with ``converge`` sampling stops once the largest principal
    angle between the top-k subspaces of successive estimates (taken at doubling sample counts, so
    the change estimates the error) is below ``tol`` radians.  ``layer``: None / "auto" picks W
    for style models and the first activation layer otherwise; "w" forces W mode; any name from
    ``model.activation_layers()`` forces activation mode.  ``classes``: what conditional models
    are sampled with (index, mix, name, or "random").  ``interrupt`` is called after every chunk and
    stops the run by raising (the node passes ComfyUI's cancel check; None: never interrupted);
    ``progress`` is an object with ``.set(done)`` (the node's progress bar) or ``callback(done, total)``.
    Stats: samples used, cap, explained variance ratios, converged flag, seconds, mode, layer."""
    n_samples, k = int(n_samples), int(k)
    if n_samples < 2:
        raise InputError(f"GANSpace needs at least 2 samples, not {n_samples}")
    if k < 1:
        raise InputError(f"number of components must be at least 1, not {k}")
    if not (isinstance(tol, (int, float)) and math.isfinite(tol) and tol > 0):
        raise InputError(f"convergence tolerance must be a positive number, not {tol!r}")
    mode, layer = _resolve_layer(model, layer)
    t0 = time.perf_counter()
    with torch.no_grad():
        if mode == "w":
            d, stats = _w_pca(model, n_samples, k, seed, chunk, converge, tol, progress, classes, interrupt)
        else:
            d, stats = _activation_pca(model, layer, n_samples, k, seed, chunk, converge, tol, progress, classes,
                                       interrupt, regression_samples)
    stats["time_s"] = time.perf_counter() - t0
    d.meta["time_s"] = round(stats["time_s"], 3)
    return d, stats


def _resolve_layer(model, layer: str | None) -> tuple[str, str | None]:
    name = None if layer is None else str(layer).strip()
    if name in (None, "", "auto"):
        if model.code_space == "w":
            return "w", None
        names = model.activation_layers()
        if not names:
            raise InputError(f"{model.arch} exposes no activation layers for GANSpace")
        return "activation", names[0]
    if name.lower() in ("w", "mapping"):
        if model.code_space != "w":
            raise InputError(f"{model.arch} has no learned w space (its codes are z); pick an activation layer: "
                             f"{', '.join(model.activation_layers()) or 'none'}")
        return "w", None
    if name not in model.activation_layers():
        raise InputError(f"{model.arch} has no layer {name!r}; layers: "
                         f"{', '.join(['auto', 'w'] if model.code_space == 'w' else ['auto'])}"
                         f"{', ' if model.activation_layers() else ''}{', '.join(model.activation_layers())}")
    return "activation", name


def _stream_pca(feature_fn, dim: int, z_dim: int, n_samples: int, k: int, seed: int, chunk: int, converge: bool,
                tol: float, report: _Reporter, device) -> dict:
    """Stream features of seeded z into a running covariance; stop at the cap or on convergence."""
    k = min(k, dim)
    acc = RunningCovariance(dim, device)
    first_check = max(4 * dim, 20 * k, 2 * chunk, 2048)
    next_check, prev, angle, converged = first_check, None, float("nan"), False
    for z in z_stream(z_dim, n_samples, seed, chunk):
        acc.update(feature_fn(z).to(device))
        report(acc.n)
        if converge and acc.n >= next_check and acc.n < n_samples:
            _, vecs = top_eigen(acc.covariance(), k)
            if prev is not None:
                angle = float(principal_angles(prev, vecs).max())
                if angle < tol:
                    converged = True
                    break
            prev, next_check = vecs, 2 * acc.n
    evals, vecs = top_eigen(acc.covariance(), k)
    total = float(torch.trace(acc.covariance()))
    return {"evals": evals, "vectors": vecs, "mean": acc.mean, "n": acc.n, "converged": converged,
            "last_angle": angle, "total_variance": total}


def _w_pca(model, n_samples, k, seed, chunk, converge, tol, progress, classes, interrupt):
    dim = model.w_dim
    device = model.device
    chunk = int(chunk) if chunk else auto_chunk(device, 4 * (model.z_dim + 8 * dim * max(model.num_ws, 1)))
    report = _Reporter(progress, n_samples, interrupt)
    cgen = torch.Generator().manual_seed(int(seed) ^ REGRESSION_SEED_SALT)

    def features(z):
        return codes_of(model, z, class_vectors(model, classes, z.shape[0], cgen))[:, 0]

    r = _stream_pca(features, dim, model.z_dim, n_samples, k, seed, chunk, converge, tol, report, device)
    stdev = r["evals"].sqrt()
    ratio = r["evals"] / max(r["total_variance"], 1e-300)
    stats = _stats("w", None, r, n_samples, ratio, converge, chunk)
    meta = _meta(stats, seed, k, tol, classes if model.c_dim else None)
    meta["lat_mean"] = [float(v) for v in r["mean"].to(torch.float32)]
    d = Directions(r["vectors"], stdev, "ganspace", space="w", slots=None, scale_kind="stdev",
                   fingerprint=model.fingerprint, labels=[f"ganspace w #{i}" for i in range(len(stdev))], meta=meta)
    return d, stats


def _activation_pca(model, layer, n_samples, k, seed, chunk, converge, tol, progress, classes, interrupt,
                    regression_samples):
    tap = ActivationTap(model, layer)
    cgen = torch.Generator().manual_seed(int(seed) ^ REGRESSION_SEED_SALT)
    probe = torch.zeros(1, model.z_dim)
    dim = int(tap(probe, class_vectors(model, classes, 1, cgen)).shape[1])
    k = min(k, dim, model.z_dim)
    device = model.device
    chunk = int(chunk) if chunk else auto_chunk(device, 4 * 12 * dim)
    n_reg = int(regression_samples) if regression_samples else max(10_000, 20 * k)
    wide = dim > COV_MAX_DIM
    cap = n_samples
    if wide:  # the sample matrix must fit a memory budget
        budget = min(SAMPLE_MATRIX_BYTES, free_memory(device) // 4)
        cap = max(2 * k + 2, min(n_samples, budget // (4 * dim)))
    report = _Reporter(progress, cap + n_reg, interrupt)

    def features(z):
        return tap(z, class_vectors(model, classes, z.shape[0], cgen))

    if wide:
        r = _lowrank_pca(features, dim, model.z_dim, cap, k, seed, chunk, report, device)
    else:
        r = _stream_pca(features, dim, model.z_dim, cap, k, seed, chunk, converge, tol, report, device)
    act_stdev = r["evals"].sqrt()
    ratio = r["evals"] / max(r["total_variance"], 1e-300)
    vectors, lat_mean, z_stdev = _regress_to_z(features, model.z_dim, r, act_stdev, n_reg, seed, chunk, report,
                                               offset=r["n"])
    stats = _stats("activation", layer, r, cap, ratio, converge and not wide, chunk)
    stats.update(requested_samples=int(n_samples), regression_samples=n_reg, activation_dim=dim, solver="randomized SVD" if wide else "covariance eigh",
                 activation_stdev=[float(v) for v in act_stdev])
    meta = _meta(stats, seed, k, tol, classes if model.c_dim else None)
    meta.update(lat_mean=[float(v) for v in lat_mean], activation_stdev=stats["activation_stdev"],
                regression_samples=n_reg, activation_dim=dim)
    d = Directions(vectors, z_stdev, "ganspace", space="z", slots=None, scale_kind="stdev",
                   fingerprint=model.fingerprint, labels=[f"ganspace {layer} #{i}" for i in range(k)], meta=meta)
    return d, stats


def _lowrank_pca(feature_fn, dim, z_dim, n, k, seed, chunk, report, device) -> dict:
    """PCA of a wide layer: keep the n x dim samples, randomized SVD of the centred matrix."""
    x = torch.empty(n, dim, dtype=torch.float32, device=device)
    done = 0
    for z in z_stream(z_dim, n, seed, chunk):
        x[done:done + z.shape[0]] = feature_fn(z).to(device, torch.float32)
        done += z.shape[0]
        report(done)
    mean = x.mean(0, dtype=torch.float64)
    x -= mean.to(torch.float32)
    total = sum(float(torch.linalg.vector_norm(x[i:i + 4096])) ** 2 for i in range(0, n, 4096)) / (n - 1)
    q = min(k + 10, n, dim)
    gen_state = torch.random.get_rng_state()
    torch.manual_seed(int(seed))  # svd_lowrank's random test matrix: deterministic for a seed
    try:
        _, s, v = torch.svd_lowrank(x, q=q, niter=4)
    finally:
        torch.random.set_rng_state(gen_state)
    evals = (s[:k].to(torch.float64) ** 2) / (n - 1)
    return {"evals": evals, "vectors": fix_signs(v[:, :k].T.to(torch.float64)), "mean": mean, "n": n,
            "converged": False, "last_angle": float("nan"), "total_variance": total}


def _regress_to_z(feature_fn, z_dim, r, act_stdev, n_reg, seed, chunk, report, offset):
    """Least squares from standardised PCA coordinates of fresh samples to their z (the paper's recipe).

    Solves ``coords @ M ≈ z`` for M ``[k, z_dim]``; row j of M, normalised, is the z direction that
    moves activation component j.  Returns (unit rows, mean z, stdev of z along each row)."""
    comp = r["vectors"].to(torch.float32)
    mean = r["mean"].to(torch.float32)
    scale = act_stdev.to(torch.float32).clamp_min(1e-12)
    coords, zs = [], []
    for z in z_stream(z_dim, n_reg, int(seed) ^ REGRESSION_SEED_SALT, chunk):
        a = feature_fn(z).to(comp.device, torch.float32)
        coords.append(((a - mean) @ comp.T / scale).cpu().to(torch.float64))
        zs.append(z.to(torch.float64))
        offset += z.shape[0]
        report(offset)
    a, zz = torch.cat(coords), torch.cat(zs)
    m = torch.linalg.lstsq(a, zz, driver="gelsd").solution  # [k, z_dim]
    norms = torch.linalg.vector_norm(m, dim=1, keepdim=True).clamp_min(1e-300)
    units = m / norms
    z_stdev = (zz @ units.T).std(0)
    return units.to(torch.float32), zz.mean(0), z_stdev


def _stats(mode, layer, r, cap, ratio, converge, chunk) -> dict:
    return {"mode": mode, "layer": layer, "samples": int(r["n"]), "cap": int(cap), "converged": bool(r["converged"]),
            "convergence_checked": bool(converge), "last_angle": r["last_angle"], "chunk": int(chunk),
            "explained_variance_ratio": [float(v) for v in ratio]}


def _meta(stats, seed, k, tol, classes) -> dict:
    meta = {"n_samples": stats["samples"], "cap": stats["cap"], "seed": int(seed), "layer": stats["layer"] or "w",
            "components": int(k), "converged": stats["converged"], "tol": float(tol),
            "explained_variance_ratio": stats["explained_variance_ratio"]}
    if classes is not None:
        meta["classes"] = str(classes)
    return meta


def component_table(d: Directions, stats: dict) -> str:
    """A readable table: component, stdev, explained variance, plus how many samples were used."""
    ratios = stats.get("explained_variance_ratio", [])
    head = (f"GANSpace {stats['mode']}{' ' + stats['layer'] if stats.get('layer') else ''}: "
            f"{stats['samples']} samples used (cap {stats['cap']})")
    if stats.get("requested_samples", stats["cap"]) > stats["cap"]:
        head += f", lowered from {stats['requested_samples']} so the sample matrix fits in memory"
    if stats.get("convergence_checked"):
        head += ", converged" if stats["converged"] else ", not converged (cap reached)"
    if "time_s" in stats:
        head += f", {stats['time_s']:.1f} s"
    lines = [head, f"{'comp':>4}  {'stdev':>10}  {'explained':>9}  {'cumulative':>10}"]
    cum = 0.0
    for i in range(len(d)):
        r = ratios[i] if i < len(ratios) else float("nan")
        cum += r
        lines.append(f"{i:>4}  {float(d.values[i]):>10.4f}  {100 * r:>8.2f}%  {100 * cum:>9.2f}%")
    return "\n".join(lines)
