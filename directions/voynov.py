"""Voynov & Babenko, "Unsupervised Discovery of Interpretable Directions in the GAN Latent Space" (ICML 2020).

A deformator A (a [dim, K] matrix) and a reconstructor R are trained together through the frozen
generator G: a sample draws a direction k and a magnitude eps, shifts its code by ``eps * A[:, k]``,
and R must tell from the pair (G(code), G(code + shift)) which k moved (cross-entropy) and by how
much (L1, weight 0.25).  Directions that R can tell apart are the ones that change the image in
distinct, visible ways, which in practice are interpretable.

Paper / official settings: eps uniform in [-6, 6] with |eps| pushed up to at least 0.5, Adam
with learning rate 1e-4 for both networks, batch 32, 100k steps (a GPU budget).  The defaults
here (2,000 steps, batch 8) fit a CPU; on a GPU use the paper's numbers.

Shifts go where the model's editable codes are: z for z-coded models (DCGAN, PGGAN, BigGAN: the
codes are z) and w for style models (all slots, or the chosen ones).  Noise is fixed so the pair
differs only by the shift.  Conditional models draw one random class per sample.

Every random number comes from explicit CPU ``torch.Generator`` objects seeded from ``seed`` and
the network initialisation is seeded too, so a run resumed from its checkpoint ends exactly where
an uninterrupted run of the same length and seed ends.
"""

from __future__ import annotations

import collections
import contextlib
import os
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic import check_target
from ..errors import InputError, MismatchError
from .container import Directions
from .deformators import Deformator, directions_of, matrix_from_official
from .reconstructors import build_reconstructor, resolve_kind
from .voynov_ckpt import check_run_model, read_run, run_lock, save_run

SHIFT_SCALE = 6.0
MIN_SHIFT = 0.5
SHIFT_WEIGHT = 0.25
DEFAULT_STEPS = 2000  # CPU budget; the paper trains 100k steps at batch 32 on a GPU
DEFAULT_BATCH = 8
EVAL_SEED = 20200207  # held-out samples are the same for every run, so accuracies compare
EVAL_SAMPLES = 256
PREVIEW_SEED = 0
# settings that must match for a checkpoint to be resumed (the step target may grow)
RESUME_KEYS = ("k", "deformator", "reconstructor", "batch_size", "lr", "seed", "slots", "truncation_psi", "dim")

ProgressFn = Callable[[int, int, dict], None]


# ----- sampling ---------------------------------------------------------------------------------
def sample_shifts(n: int, k: int, generator: torch.Generator, scale: float = SHIFT_SCALE,
                  min_shift: float = MIN_SHIFT) -> tuple[torch.Tensor, torch.Tensor]:
    """Direction indices ``[n]`` uniform in 0..K-1 and magnitudes ``[n]`` uniform in ±scale, |eps| >= min_shift.

    As in the official trainer, values inside (-min, min) are pushed out to ±min (0 goes to +min)."""
    index = torch.randint(0, k, (n,), generator=generator)
    eps = (2.0 * torch.rand(n, generator=generator) - 1.0) * scale
    small = eps.abs() < min_shift
    eps = torch.where(small, torch.where(eps < 0, -min_shift, min_shift), eps)
    return index, eps


def normalise_slots(model, slots: Sequence[int] | range | None) -> list[int]:
    """The slot list to shift: None means all of the model's slots."""
    if slots is None:
        return list(range(model.num_ws))
    out = sorted({int(s) for s in slots})
    if not out:
        raise InputError("no slots chosen to shift")
    if out[0] < 0 or out[-1] >= model.num_ws:
        raise InputError(f"slots {out} are outside 0..{model.num_ws - 1} ({model.arch} has {model.num_ws} slots)")
    return out


# ----- one run ----------------------------------------------------------------------------------
class _Run:
    """The two networks, their optimisers and the sampling generator of one training run."""

    def __init__(self, model, config: dict) -> None:
        self.model, self.config = model, config
        self.device = model.device
        self.gen = torch.Generator().manual_seed(config["seed"])
        with torch.random.fork_rng(devices=[]):  # seeded init without disturbing the caller's RNG
            torch.manual_seed(config["seed"])
            self.deformator = Deformator(config["deformator"], config["dim"], config["k"], generator=self.gen)
            self.recon = build_reconstructor(config["reconstructor"], config["k"], model.resolution)
        self.deformator.to(self.device).train()
        self.recon.to(self.device).train()
        lr = config["lr"]
        self.opt_def = torch.optim.Adam(self.deformator.parameters(), lr=lr) if self.deformator.trainable else None
        self.opt_rec = torch.optim.Adam(self.recon.parameters(), lr=lr)
        mask = torch.zeros(model.num_ws)
        mask[config["slots"]] = 1.0
        self.mask = mask.view(1, -1, 1).to(self.device)
        self.step = 0
        self.recent = collections.deque(maxlen=100)
        self.last_loss = float("nan")

    # -- state --
    def state(self, target: int, done: bool, stats: dict | None = None) -> dict:
        return {"step": self.step, "target": max(int(target), self.step), "config": dict(self.config),
                "fingerprint": self.model.fingerprint, "arch": self.model.arch,
                "deformator": self.deformator.state_dict(), "reconstructor": self.recon.state_dict(),
                "opt_deformator": None if self.opt_def is None else self.opt_def.state_dict(),
                "opt_reconstructor": self.opt_rec.state_dict(), "rng": self.gen.get_state(),
                "directions": directions_of(self.deformator), "done": bool(done), "stats": stats}

    def restore(self, record: dict, path: str) -> None:
        from ..errors import CheckpointError

        try:
            self.deformator.load_state_dict(record["deformator"])
            self.recon.load_state_dict(record["reconstructor"])
            if self.opt_def is not None:
                self.opt_def.load_state_dict(record["opt_deformator"])
            self.opt_rec.load_state_dict(record["opt_reconstructor"])
            self.gen.set_state(record["rng"])
            self.step = int(record["step"])
        except (RuntimeError, KeyError, ValueError, TypeError) as e:
            raise CheckpointError(path, f"the saved networks do not fit this run ({type(e).__name__}: {str(e)[:200]})") from None

    # -- batches --
    def _batch(self, n: int, gen: torch.Generator):
        model = self.model
        z = torch.randn(n, model.z_dim, generator=gen)
        c = None
        if model.c_dim:
            c = F.one_hot(torch.randint(0, model.c_dim, (n,), generator=gen), model.c_dim).float().to(self.device)
        index, eps = sample_shifts(n, self.config["k"], gen)
        with torch.no_grad():
            codes = model.mapping(z.to(self.device), c, truncation_psi=self.config["truncation_psi"])
        return codes, c, index.to(self.device), eps.to(self.device)

    def _pair(self, codes, c, index, eps):
        model = self.model
        with torch.no_grad():
            img = model.synthesis(codes, c, noise_mode="const")
        shift = self.deformator(index, eps)  # [n, dim]; gradients reach the deformator through G
        shifted = codes + self.mask * shift[:, None, :]
        img_shifted = model.synthesis(shifted, c, noise_mode="const")
        return self.recon(img, img_shifted)

    def train_step(self) -> None:
        codes, c, index, eps = self._batch(self.config["batch_size"], self.gen)
        logits, magnitude = self._pair(codes, c, index, eps)
        loss = F.cross_entropy(logits, index) + SHIFT_WEIGHT * (magnitude - eps).abs().mean()
        self.recon.zero_grad(set_to_none=True)
        self.deformator.zero_grad(set_to_none=True)
        loss.backward()
        if self.opt_def is not None:
            self.opt_def.step()
        self.opt_rec.step()
        self.step += 1
        self.last_loss = float(loss.detach())
        self.recent.append(float((logits.argmax(1) == index).float().mean()))

    @torch.no_grad()
    def evaluate(self, samples: int = EVAL_SAMPLES, chunk: int = 32) -> dict:
        """Direction accuracy and mean |magnitude error| on fixed held-out samples (eval mode)."""
        if samples <= 0:
            return {"accuracy": None, "shift_error": None, "eval_samples": 0, "chance": 1.0 / self.config["k"]}
        self.deformator.eval()
        self.recon.eval()
        gen = torch.Generator().manual_seed(EVAL_SEED)
        correct, err, seen = 0.0, 0.0, 0
        try:
            while seen < samples:
                n = min(chunk, samples - seen)
                codes, c, index, eps = self._batch(n, gen)
                logits, magnitude = self._pair(codes, c, index, eps)
                correct += float((logits.argmax(1) == index).float().sum())
                err += float((magnitude - eps).abs().sum())
                seen += n
        finally:
            self.deformator.train()
            self.recon.train()
        return {"accuracy": correct / seen, "shift_error": err / seen, "eval_samples": seen,
                "chance": 1.0 / self.config["k"]}

    def preview(self, **kw):
        return preview_grid(self.model, directions_of(self.deformator), self.config["slots"],
                            truncation_psi=self.config["truncation_psi"], **kw)


# ----- entry points -----------------------------------------------------------------------------
def _config(model, k, batch_size, lr, deformator, slots, seed, reconstructor, truncation_psi) -> dict:
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 1 <= int(k) <= model.w_dim:
        raise InputError(f"number of directions K={k!r} must be an integer in 1..{model.w_dim} (the code width)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or not 2 <= int(batch_size) <= 1024:
        raise InputError(f"batch size {batch_size!r} must be an integer in 2..1024 (batch norm needs 2 or more)")
    lr = float(lr)
    if not (np.isfinite(lr) and 0 < lr < 1):
        raise InputError(f"learning rate {lr} must be in (0, 1)")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**63:
        raise InputError(f"seed {seed!r} must be a non-negative integer")
    psi = float(truncation_psi)
    if not np.isfinite(psi):
        raise InputError(f"truncation psi {psi} must be finite")
    return {"k": int(k), "deformator": str(deformator), "batch_size": int(batch_size), "lr": lr,
            "seed": int(seed), "slots": normalise_slots(model, slots), "truncation_psi": psi,
            "reconstructor": resolve_kind(reconstructor, model.resolution), "dim": int(model.w_dim),
            "space": model.code_space}


def check_settings(model, k, steps, batch_size, lr, deformator="ortho", slots=None, seed=0, reconstructor="auto",
                   checkpoint_every=250, truncation_psi=1.0) -> dict:
    """Every training setting checked against the model, without touching it: the run's config, or our error."""
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 0:
        raise InputError(f"steps {steps!r} must be a non-negative integer")
    if int(checkpoint_every) < 1:
        raise InputError(f"checkpoint_every {checkpoint_every} must be at least 1")
    return _config(model, k, batch_size, lr, deformator, slots, seed, reconstructor, truncation_psi)


def _check_resumable(record: dict, config: dict, path: str) -> None:
    saved = record["config"]
    diff = [f"{key} {saved.get(key)!r} (asked {config[key]!r})" for key in RESUME_KEYS if saved.get(key) != config[key]]
    if diff:
        raise MismatchError(f"run file '{os.path.basename(path)}' was started with other settings: {'; '.join(diff)}. "
                            "Resume with the same settings or choose another run name")


def _directions(run: _Run, stats: dict | None) -> Directions:
    cfg = run.config
    meta = {"k": cfg["k"], "steps": run.step, "deformator": cfg["deformator"], "lr": cfg["lr"],
            "batch": cfg["batch_size"], "seed": cfg["seed"], "reconstructor": cfg["reconstructor"],
            "truncation_psi": cfg["truncation_psi"], "paper": "Voynov & Babenko, ICML 2020"}
    if stats:
        meta.update(accuracy=stats.get("accuracy"), shift_error=stats.get("shift_error"))
    vec = directions_of(run.deformator)
    return Directions(vectors=vec, values=torch.ones(vec.shape[0]), method="voynov", space=run.model.code_space,
                      slots=list(cfg["slots"]), scale_kind="none", fingerprint=run.model.fingerprint, meta=meta)


def train_voynov(model, k: int, steps: int = DEFAULT_STEPS, batch_size: int = DEFAULT_BATCH, lr: float = 1e-4,
                 deformator: str = "ortho", slots: Sequence[int] | None = None, seed: int = 0,
                 checkpoint: str | os.PathLike | None = None, checkpoint_every: int = 250,
                 reconstructor: str = "auto", progress: ProgressFn | None = None, truncation_psi: float = 1.0,
                 eval_samples: int = EVAL_SAMPLES) -> tuple[Directions, dict]:
    """Train K Voynov directions on ``model``; returns the direction set and held-out statistics.

    ``checkpoint`` (a ``.voynov`` path) is resumed when it exists and rewritten every
    ``checkpoint_every`` steps, when ``progress`` raises (interrupt: nothing is lost) and at the end.
    ``progress(step, steps, info)`` is called after every step; ``info`` holds ``loss``,
    ``accuracy`` (running training accuracy) and ``preview`` (a callable giving a PIL grid).
    Stats: ``accuracy`` and ``shift_error`` on fixed held-out samples, ``steps``, ``time_s``,
    ``steps_per_s``, ``resumed_from``."""
    config = check_settings(model, k, steps, batch_size, lr, deformator, slots, seed, reconstructor,
                            checkpoint_every, truncation_psi)
    steps = int(steps)
    path = None if checkpoint is None else check_target(checkpoint, overwrite=True)
    with (contextlib.nullcontext() if path is None else run_lock(path)):
        return _train(model, config, steps, path, progress, eval_samples, int(checkpoint_every))


def _train(model, config: dict, steps: int, path: str | None, progress: ProgressFn | None, eval_samples: int,
           every: int) -> tuple[Directions, dict]:
    flags = [(p, p.requires_grad) for p in model.parameters()]
    was_training = model.training
    model.eval().requires_grad_(False)
    try:
        run = _Run(model, config)
        saved_stats = None
        if path is not None and os.path.exists(path):
            record = read_run(path)
            check_run_model(record, model, path)
            _check_resumable(record, config, path)
            run.restore(record, path)
            if record.get("stats") and int(record["step"]) >= steps:
                saved_stats = dict(record["stats"])
        resumed_from = run.step
        t0 = time.perf_counter()
        for _ in range(run.step, steps):
            run.train_step()
            if path is not None and run.step % every == 0 and run.step < steps:
                save_run(path, run.state(steps, done=False))
            if progress is not None:
                try:
                    progress(run.step, steps, _info(run))
                except BaseException:
                    if path is not None:  # stopped between steps: save so a rerun resumes here
                        save_run(path, run.state(steps, done=False))
                    raise
        elapsed = time.perf_counter() - t0
        trained = run.step - resumed_from
        stats = saved_stats or run.evaluate(eval_samples)
        stats.update(steps=run.step, resumed_from=resumed_from, time_s=elapsed,
                     steps_per_s=trained / elapsed if trained and elapsed > 0 else 0.0,
                     train_accuracy=float(np.mean(run.recent)) if run.recent else stats.get("train_accuracy"))
        if path is not None and saved_stats is None:
            save_run(path, run.state(steps, done=True, stats=_plain(stats)))
        return _directions(run, stats), stats
    finally:
        for p, flag in flags:
            p.requires_grad_(flag)
        model.train(was_training)


def _info(run: _Run) -> dict:
    return {"loss": run.last_loss, "accuracy": float(np.mean(run.recent)) if run.recent else 0.0,
            "preview": run.preview}


def _plain(stats: dict) -> dict:
    return {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in stats.items()}


# ----- reading results --------------------------------------------------------------------------
def load_voynov(path: str | os.PathLike) -> tuple[Directions, dict]:
    """The direction set stored in a ``.voynov`` run file, and a summary (step, target, done, stats)."""
    path = os.fspath(path)
    record = read_run(path)
    cfg = record["config"]
    stats = dict(record.get("stats") or {})
    meta = {"k": cfg.get("k"), "steps": record["step"], "deformator": cfg.get("deformator"), "lr": cfg.get("lr"),
            "batch": cfg.get("batch_size"), "seed": cfg.get("seed"), "reconstructor": cfg.get("reconstructor"),
            "truncation_psi": cfg.get("truncation_psi"), "paper": "Voynov & Babenko, ICML 2020"}
    if stats:
        meta.update(accuracy=stats.get("accuracy"), shift_error=stats.get("shift_error"))
    vec = record["directions"].float()
    dirs = Directions(vectors=vec, values=torch.ones(vec.shape[0]), method="voynov", space=cfg.get("space", "w"),
                      slots=cfg.get("slots"), scale_kind="none", fingerprint=record["fingerprint"], meta=meta)
    summary = {"step": int(record["step"]), "target": int(record.get("target", record["step"])),
               "done": bool(record["done"]), "stats": stats}
    return dirs, summary


def directions_from_official(source: str | os.PathLike | dict, model, slots: Sequence[int] | None = None,
                             k: int | None = None) -> Directions:
    """Directions from a deformator saved by the official GANLatentDiscovery code (its state dict).

    The official files carry no model fingerprint, so the set names none (only the width is checked)."""
    state, name = source, "state dict"
    if not isinstance(source, dict):
        from ..errors import CheckpointError

        from ..loaders.files import read_torch_file

        name = os.path.basename(os.fspath(source))
        state = read_torch_file(source)  # zip sizes and tensor views checked, then a weights-only load
        if not isinstance(state, dict):
            raise CheckpointError(source, f"holds a {type(state).__name__}, not a deformator state dict")
    try:
        mat, kind = matrix_from_official(state, model.w_dim)
    except InputError as e:
        if isinstance(source, dict):
            raise
        from ..errors import CheckpointError

        raise CheckpointError(source, str(e)) from None
    vec = mat.T
    if k is not None:
        vec = vec[: int(k)]
    vec = vec / vec.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return Directions(vectors=vec, values=torch.ones(vec.shape[0]), method="voynov", space=model.code_space,
                      slots=normalise_slots(model, slots), scale_kind="none", fingerprint="",
                      meta={"source": "official GANLatentDiscovery deformator", "file": name, "deformator": kind,
                            "k": int(vec.shape[0])})


# ----- preview ----------------------------------------------------------------------------------
@torch.no_grad()
def preview_grid(model, vectors: torch.Tensor, slots: Sequence[int], n_dirs: int = 8,
                 shifts: Sequence[float] = (-6.0, -3.0, 0.0, 3.0, 6.0), seed: int = PREVIEW_SEED,
                 truncation_psi: float = 1.0, tile: int = 64):
    """A PIL grid: one row per direction (first ``n_dirs``), one column per shift, on one latent."""
    from PIL import Image

    vec = vectors[:n_dirs].to(model.device)
    z = model.sample_z([seed])
    c = model.make_c(0, 1)
    codes = model.mapping(z, c, truncation_psi=truncation_psi)  # [1, S, D]
    mask = torch.zeros(model.num_ws, device=model.device)
    mask[list(slots)] = 1.0
    eps = torch.tensor(list(shifts), device=model.device, dtype=torch.float32)
    shift = eps[None, :, None] * vec[:, None, :]  # [K, E, D]
    grid = codes + mask[None, :, None] * shift.reshape(-1, 1, codes.shape[-1])
    cc = None if c is None else c.expand(grid.shape[0], -1)
    img = model.synthesis(grid, cc, noise_mode="const").float()
    if img.shape[1] == 1:
        img = img.expand(-1, 3, -1, -1)
    img = F.interpolate(img[:, :3], size=(tile, tile), mode="bilinear", align_corners=False, antialias=True)
    img = ((img.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).cpu()
    rows, cols = vec.shape[0], len(shifts)
    from einops import rearrange

    sheet = rearrange(img, "(r c) ch h w -> (r h) (c w) ch", r=rows, c=cols)
    return Image.fromarray(sheet.numpy())
