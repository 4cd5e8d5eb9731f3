"""Voynov training on the real face DCGAN (64 px, z 100): speed and held-out accuracy per reconstructor.

Runs the same budget (seed, steps, batch, K) with the LeNet and the ResNet-18 reconstructor in one
process on the CPU and prints steps/s and held-out accuracy, with the ResNet figures relative to
LeNet (the baseline).  ``--default-budget`` also runs the CPU default (2,000 steps, batch 8).

    python3 benchmarks/bench_voynov.py --steps 200 --batch 8 --k 16
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))
import conftest  # noqa: E402,F401  - makes ``gan_latent_lab`` this checkout

from gan_latent_lab.directions.voynov import train_voynov  # noqa: E402
from gan_latent_lab.loaders import load_gan  # noqa: E402


def face_dcgan():
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None:
        sys.exit("gan-face-generate is not installed (pip install --no-deps gan-face-generate==1.1.1)")
    return load_gan(os.path.join(list(spec.submodule_search_locations)[0], "weights.tar"))


def run(gen, reconstructor: str, steps: int, batch: int, k: int, lr: float, seed: int, device: str) -> dict:
    gen.to(device)
    t0 = time.perf_counter()
    _, stats = train_voynov(gen, k, steps=steps, batch_size=batch, lr=lr, seed=seed, reconstructor=reconstructor)
    stats["wall_s"] = time.perf_counter() - t0
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--k", type=int, default=16)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--reconstructors", default="lenet,resnet")
    ap.add_argument("--default-budget", action="store_true", help="also run 2,000 steps at batch 8 with LeNet")
    args = ap.parse_args()
    gen = face_dcgan()
    print(f"face DCGAN {gen.fingerprint}, K={args.k}, {args.steps} steps, batch {args.batch}, lr {args.lr}, "
          f"device {args.device}, torch threads {torch.get_num_threads()}")
    results = {}
    for rec in args.reconstructors.split(","):
        s = run(gen, rec, args.steps, args.batch, args.k, args.lr, args.seed, args.device)
        results[rec] = s
        print(f"{rec:7s} {s['steps_per_s']:6.2f} steps/s  held-out accuracy {s['accuracy']:.3f} "
              f"(chance {1 / args.k:.3f})  magnitude error {s['shift_error']:.2f}  wall {s['wall_s']:.0f} s", flush=True)
    base = results.get("lenet")
    if base:
        for rec, s in results.items():
            if rec != "lenet":
                print(f"{rec} vs lenet: speed x{s['steps_per_s'] / base['steps_per_s']:.2f}, "
                      f"accuracy x{s['accuracy'] / max(base['accuracy'], 1e-9):.2f}")
    if args.default_budget:
        s = run(gen, "lenet", 2000, 8, args.k, 1e-4, args.seed, args.device)
        print(f"default CPU budget (2,000 steps, batch 8, LeNet): accuracy {s['accuracy']:.3f}, magnitude error "
              f"{s['shift_error']:.2f}, {s['steps_per_s']:.2f} steps/s, {s['wall_s']:.0f} s", flush=True)


if __name__ == "__main__":
    main()
