"""Pivotal tuning on the real face DCGAN (64 px, z 100): PSNR gain against steps and seconds, and our
steps/s against a plain PyTorch loop doing the same optimisation (our overhead).

The photos are eight images the DCGAN drew from seeds; the pivots are the same z perturbed by
Gaussian noise of scale ``--noise`` (0.05 leaves the pivots about as close as a projection does, 0.3
far), so the PSNR before tuning is known and the gain is what tuning adds.  The plain loop is the
textbook version of the same method (deep copy, Adam on the synthesis weights, MSE + pixel/MS-SSIM
distance, the same steps), timed alternately with ours in one process.

    python3 benchmarks/bench_pivotal.py [--images 8] [--steps 350] [--noise 0.05,0.3] [--locality]
"""

from __future__ import annotations

import argparse
import copy
import importlib.util
import os
import statistics
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import conftest  # noqa: E402,F401  - makes ``gan_latent_lab`` this checkout

from gan_latent_lab.directions import GANLatent, pivotal_tune  # noqa: E402
from gan_latent_lab.directions.perceptual import image_distance  # noqa: E402
from gan_latent_lab.loaders import load_gan  # noqa: E402

MARKS = (10, 25, 50, 100, 200, 350, 500, 1000)


def face_dcgan():
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None:
        sys.exit("gan-face-generate is not installed (pip install --no-deps gan-face-generate==1.1.1)")
    return load_gan(os.path.join(list(spec.submodule_search_locations)[0], "weights.tar"))


def problem(gen, n: int, noise: float):
    seeds = list(range(100, 100 + n))
    z = gen.sample_z(seeds)
    with torch.no_grad():
        target = gen.synthesis(gen.mapping(z))
    zp = z + noise * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    return target, GANLatent(codes=gen.mapping(zp), fingerprint=gen.fingerprint, z=zp, seeds=seeds, space="z")


def curve(gen, target, pivot, steps: int, locality: bool) -> tuple[dict, dict]:
    """Median PSNR and elapsed seconds at the marks, from the progress callback."""
    points, t0 = {}, time.perf_counter()

    def progress(step, total, info):
        if step in MARKS or step == total:
            points[step] = (statistics.median(info["psnr"]), time.perf_counter() - t0)

    _, _, stats = pivotal_tune(gen, pivot, target, steps=steps, locality=locality, progress=progress)
    return points, stats


def plain_loop(gen, target, codes, steps: int, lr: float = 3e-4) -> float:
    """The same optimisation written out directly; returns the seconds of its steps."""
    tuned = copy.deepcopy(gen)
    params = [p for name, p in tuned.named_parameters() if not name.startswith("mapping.")]
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.Adam(params, lr=lr)
    distance = image_distance()
    t0 = time.perf_counter()
    for _ in range(steps):
        img = tuned.synthesis(codes)
        loss = ((img - target).square().flatten(1).mean(1) + distance(img, target)).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def ours_loop(gen, target, pivot, steps: int) -> float:
    _, _, stats = pivotal_tune(gen, pivot, target, steps=steps, progress=lambda s, t, info: None)
    return stats["seconds"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=8)
    ap.add_argument("--steps", type=int, default=350)
    ap.add_argument("--noise", default="0.05,0.3")
    ap.add_argument("--locality", action="store_true", help="also run the curve with the locality regulariser")
    ap.add_argument("--overhead-steps", type=int, default=50)
    ap.add_argument("--rounds", type=int, default=3, help="alternating timing rounds, ours vs plain")
    ap.add_argument("--threads", type=int, default=0)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = face_dcgan()
    print(f"face DCGAN {gen.fingerprint}, {args.images} images, torch {torch.__version__}, "
          f"threads {torch.get_num_threads()}", flush=True)
    for noise in [float(x) for x in args.noise.split(",")]:
        target, pivot = problem(gen, args.images, noise)
        for locality in ((False, True) if args.locality else (False,)):
            points, stats = curve(gen, target, pivot, args.steps, locality)
            before, after = statistics.median(stats["psnr_before"]), statistics.median(stats["psnr_after"])
            worst = min(a - b for a, b in zip(stats["psnr_after"], stats["psnr_before"]))
            marks = "  ".join(f"{s}: {p:.2f} dB ({p - before:+.2f}) {t:.1f} s" for s, (p, t) in sorted(points.items()))
            print(f"noise {noise}, locality {'on' if locality else 'off'}: median PSNR before {before:.2f} dB, after "
                  f"{after:.2f} dB ({after - before:+.2f}); every image {worst:+.2f} dB or more; {stats['steps']} steps "
                  f"in {stats['seconds']:.1f} s ({stats['steps_per_s']:.2f} steps/s); random images vs parent "
                  f"{stats['drift_psnr']:.1f} dB", flush=True)
            print(f"  curve  {marks}", flush=True)
    target, pivot = problem(gen, args.images, 0.3)
    ours, plain = [], []
    for _ in range(args.rounds):
        ours.append(ours_loop(gen, target, pivot, args.overhead_steps))
        plain.append(plain_loop(gen, target, pivot.codes, args.overhead_steps))
    o, p = min(ours), min(plain)
    print(f"{args.overhead_steps} steps, best of {args.rounds}: ours {args.overhead_steps / o:.2f} steps/s, plain loop "
          f"{args.overhead_steps / p:.2f} steps/s; ours takes x{o / p:.3f} the plain loop's time "
          f"(overhead {100 * (o / p - 1):+.1f}%)", flush=True)


if __name__ == "__main__":
    main()
