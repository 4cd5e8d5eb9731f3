"""Align Face on a real 512 px photo: landmark detection vs the FFHQ warp, against a plain resize.

The photo is input/astronaut.png (scikit-image's public-domain NASA portrait). Stages, each
the best of ``--repeats`` runs after one warm-up:

- ``import``: importing mediapipe and building its graphs once (paid on the first alignment only);
- ``detect``: :func:`find_landmarks` (face detectors, then the face mesh on the face's crop);
- ``warp``: :func:`align_from_landmarks` from those landmarks (crop, pad, 4x quad sampling, resize);
- ``baseline``: Pillow's plain Lanczos resize of the same photo to the same output size, the least
  any aligner has to do, in the same process.

    python3 benchmarks/bench_align.py [--size 1024] [--repeats 5]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.directions.align import align_from_landmarks, find_landmarks, transform_size  # noqa: E402

PHOTO = os.path.join(HERE, "..", "input", "astronaut.png")


def best(fn, repeats: int) -> tuple[float, object]:
    fn()                                   # warm-up
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--size", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()

    rgb = np.asarray(Image.open(PHOTO).convert("RGB"))
    t0 = time.perf_counter()
    try:
        import mediapipe  # noqa: F401
    except ImportError:
        sys.exit('mediapipe is not installed: pip install "gan-latent-lab[align]"')
    marks = find_landmarks(rgb)
    first = time.perf_counter() - t0

    detect, marks = best(lambda: find_landmarks(rgb), args.repeats)
    warp, _ = best(lambda: align_from_landmarks(rgb, marks["eyes"], marks["mouth_corners"], args.size), args.repeats)
    base, _ = best(lambda: np.asarray(Image.fromarray(rgb).resize((args.size, args.size), Image.Resampling.LANCZOS)),
                   args.repeats)
    total = detect + warp
    print(f"photo {rgb.shape[1]}x{rgb.shape[0]}, output {args.size} px (quad sampled at {transform_size(args.size)} px), "
          f"best of {args.repeats}, mediapipe {mediapipe.__version__}")
    print(f"  first call (import + graphs + detect): {first * 1e3:8.1f} ms")
    print(f"  detect (find_landmarks):               {detect * 1e3:8.1f} ms  ({detect / total:5.1%} of an alignment)")
    print(f"  warp (align_from_landmarks):           {warp * 1e3:8.1f} ms  ({warp / total:5.1%})")
    print(f"  alignment (detect + warp):             {total * 1e3:8.1f} ms")
    print(f"  baseline (Pillow Lanczos resize):      {base * 1e3:8.1f} ms")
    print(f"  warp / baseline: {warp / base:.1f}x   alignment / baseline: {total / base:.1f}x")


if __name__ == "__main__":
    main()
