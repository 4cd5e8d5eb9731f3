"""Projection on the real face DCGAN (64 px, z 100): PSNR against steps and seconds, our overhead, memory.

Targets: 8 faces the model generated from seeds (drawn once from a fixed generator), so a perfect
inversion exists.  Three measurements, all in this process on the same model and targets:

1. ``invert`` with the defaults (8 random starts for a quarter of the steps, then one z per image), and
   with other step budgets: median / worst PSNR (dB, peak-to-peak 2) and wall time.
2. Overhead: the default run against a plain PyTorch loop doing the same optimisation (the same
   starts, loss, Adam settings and rate schedule, the best start per image kept, then the same
   refinement), with none of our checks, per-image best tracking, phase evaluations or callbacks.
   Runs alternate; the fastest of ``--repeats`` of each is compared, in wall-clock and in CPU
   seconds (the latter moves less when other processes share the cores).
3. Peak resident memory above the level before each run (sampled every 5 ms; on CUDA, the peak
   allocated memory instead).
4. The photo pipeline of the ``edit_a_photo`` example on a real photo (scikit-image's astronaut
   portrait, ``input/astronaut.png``): Align Face (needs the ``align`` extra), ``invert`` with
   the defaults, then ``pivotal_tune`` with its defaults: PSNR after each step and the seconds each took.

    python3 benchmarks/bench_invert.py [--threads 2] [--repeats 3] [--steps 60,120,240,480] [--device cpu]
"""

from __future__ import annotations

import argparse
import importlib
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.directions.perceptual import image_distance  # noqa: E402
from gan_latent_lab.loaders import load_gan  # noqa: E402
from peak_memory import PeakMemory  # noqa: E402

inv = importlib.import_module("gan_latent_lab.directions.invert")  # the module (the package exports the function)

SEEDS = np.random.default_rng(2026).integers(0, 2**31, size=8).tolist()


def face_dcgan():
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None:
        sys.exit("gan-face-generate is not installed (pip install --no-deps gan-face-generate==1.1.1)")
    return load_gan(os.path.join(list(spec.submodule_search_locations)[0], "weights.tar"))


def plain_loop(model, targets: torch.Tensor, seed: int = 0) -> tuple[torch.Tensor, int]:
    """The default optimisation written as a bare loop: returns the final images and the steps taken."""
    n = targets.shape[0]
    phases = inv.plan(model, "z", None, refine=False)
    distance = image_distance()
    z_seeds = np.random.RandomState(seed).randint(0, inv.SEED_MAX, size=phases[0].starts * n, dtype=np.int64).tolist()
    with torch.no_grad():
        z = model.mapping(model.sample_z(z_seeds))[:, 0]
    target_rows = targets.repeat(phases[0].starts, 1, 1, 1)

    def optimise(z: torch.Tensor, target: torch.Tensor, steps: int) -> tuple[torch.Tensor, torch.Tensor]:
        z = z.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=0.0, betas=(0.9, 0.999))
        for step in range(steps):
            t = step / steps
            ramp = 0.5 - 0.5 * math.cos(min(1.0, (1 - t) / 0.25) * math.pi)
            opt.param_groups[0]["lr"] = 0.1 * ramp * min(1.0, t / 0.05)
            img = model.synthesis(z[:, None])
            loss = distance(img, target) + (img - target).square().flatten(1).mean(1)
            opt.zero_grad(set_to_none=True)
            loss.sum().backward()
            opt.step()
        with torch.no_grad():
            img = model.synthesis(z[:, None])
            return z.detach(), distance(img, target) + (img - target).square().flatten(1).mean(1)

    z, loss = optimise(z, target_rows, phases[0].steps)
    best = loss.view(phases[0].starts, n).argmin(0) * n + torch.arange(n, device=z.device)
    z, _ = optimise(z[best], targets, phases[1].steps)
    with torch.no_grad():
        return model.synthesis(z[:, None]).clamp(-1, 1), phases[0].steps + phases[1].steps


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--steps", default="60,120,240,480", help="step budgets for the PSNR curve")
    p.add_argument("--device", default="cpu")
    p.add_argument("--quick", action="store_true", help="one repeat and the default budget only (a smoke run)")
    args = p.parse_args()
    if args.quick:
        args.repeats, args.steps = 1, "240"
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = face_dcgan().to(device)
    # model parameters stay frozen (load_gan's requires_grad_(False)) in both runs
    with torch.no_grad():
        targets = model.synthesis(model.mapping(model.sample_z(SEEDS))).clamp(-1, 1)
    print(f"face DCGAN 64 px, z 100; 8 targets from seeds {SEEDS}; torch {torch.__version__}, "
          f"{args.threads} threads, {device}")
    _ = torch.optim.Adam([torch.zeros(1, requires_grad=True)])  # first optimiser imports torch._dynamo: not timed

    default = sum(ph.steps for ph in inv.plan(model, "z", None, refine=False))
    print(f"\n1. PSNR against steps (defaults: {default} steps; 8 random starts for the first "
          f"{inv.plan(model, 'z', None, refine=False)[0].steps})")
    for steps in [int(s) for s in args.steps.split(",")]:
        with PeakMemory(device) as mem:
            t0 = time.perf_counter()
            _, stats = inv.invert(model, targets, steps=steps)
            wall = time.perf_counter() - t0
        values = stats["psnr"]
        phase_text = ", ".join(f"{ph['name']} {ph['steps']} steps {ph['seconds']:.1f} s" for ph in stats["phases"])
        print(f"  {steps:4d} steps  {wall:6.1f} s  PSNR median {statistics.median(values):5.1f} dB, worst "
              f"{min(values):5.1f} dB, best {max(values):5.1f} dB  ({phase_text}; peak memory +{mem.growth:.0f} MB)"
              + ("  <- default" if steps == default else ""))

    print(f"\n2. Overhead: invert with the defaults vs a plain PyTorch loop of the same optimisation "
          f"(fastest of {args.repeats}, alternating; wall and CPU seconds)")
    ours, plain, mem_ours, mem_plain = [], [], [], []
    for _ in range(args.repeats):
        with PeakMemory(device) as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            latent, stats = inv.invert(model, targets)
            ours.append((time.perf_counter() - t0, time.process_time() - c0))
        mem_ours.append(mem.growth)
        with PeakMemory(device) as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            img, steps = plain_loop(model, targets)
            plain.append((time.perf_counter() - t0, time.process_time() - c0))
        mem_plain.append(mem.growth)
    plain_psnr = inv.psnr(img, targets).tolist()
    for name, runs, values, mem in (("invert", ours, stats["psnr"], mem_ours),
                                    ("plain loop", plain, plain_psnr, mem_plain)):
        wall, cpu = min(r[0] for r in runs), min(r[1] for r in runs)
        print(f"  {name:10s}  {wall:6.1f} s wall ({default / wall:5.2f} steps/s), {cpu:6.1f} s CPU  PSNR median "
              f"{statistics.median(values):.1f} dB, worst {min(values):.1f} dB  peak memory +{max(mem):.0f} MB")
    wall = min(r[0] for r in ours) / min(r[0] for r in plain) - 1
    cpu = min(r[1] for r in ours) / min(r[1] for r in plain) - 1
    print(f"  our overhead per step: {wall * 100:+.1f}% wall, {cpu * 100:+.1f}% CPU (target < 10%); every run "
          f"(wall s): ours {', '.join(f'{r[0]:.1f}' for r in ours)}, plain {', '.join(f'{r[0]:.1f}' for r in plain)}")

    from gan_latent_lab.directions import pivotal_tune

    t0 = time.perf_counter()
    _, _, tuned = pivotal_tune(model, latent, targets)
    print(f"  then pivotal tuning with its defaults ({tuned['steps']} steps) on these 8 pivots: median "
          f"{statistics.median(tuned['psnr_before']):.1f} -> {statistics.median(tuned['psnr_after']):.1f} dB, worst "
          f"{min(tuned['psnr_before']):.1f} -> {min(tuned['psnr_after']):.1f} dB in {time.perf_counter() - t0:.1f} s")

    print("\n4. A real photo: align, invert with the defaults, pivotal tuning with its defaults")
    photo_pipeline(model, device)


def photo_pipeline(model, device: torch.device) -> None:
    from PIL import Image

    from gan_latent_lab.directions import align_face, pivotal_tune
    from gan_latent_lab.errors import GANLabError

    path = os.path.join(os.path.dirname(HERE), "input", "astronaut.png")
    photo = np.array(Image.open(path).convert("RGB"))
    t0 = time.perf_counter()
    try:
        aligned, _ = align_face(photo, size=256)
    except GANLabError as e:
        print(f"  skipped: {e}")
        return
    t_align = time.perf_counter() - t0
    x = (torch.from_numpy(aligned).permute(2, 0, 1)[None].float() / 127.5 - 1).to(device)
    t0 = time.perf_counter()
    latent, stats = inv.invert(model, x)
    t_invert = time.perf_counter() - t0
    t0 = time.perf_counter()
    _, _, tuned = pivotal_tune(model, latent, x)
    t_tune = time.perf_counter() - t0
    print(f"  astronaut.png aligned to 256 px in {t_align:.1f} s (the first call imports MediaPipe); inverted: "
          f"{stats['psnr'][0]:.1f} dB in {t_invert:.1f} s; pivotal tuning ({tuned['steps']} steps): "
          f"{tuned['psnr_before'][0]:.1f} -> {tuned['psnr_after'][0]:.1f} dB in {t_tune:.1f} s")


if __name__ == "__main__":
    main()
