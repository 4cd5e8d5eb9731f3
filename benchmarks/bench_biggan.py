"""BigGAN-deep forward: our loader vs pytorch-pretrained-biggan 0.1.1 on the same weights, same process.

Both networks get the released 128 px layout (or a narrower one with ``--width``) with random weights
whose spectral-norm vectors are set by a few power iterations, and decode the same z and class vectors.
Ours recomputes ``weight_orig / sigma`` on every call as the reference's eval mode does, so the ratio
shows what the layer-wise condition vectors and the einops reshapes cost.  Needs the PyPI package
(a benchmark extra): ``pip install pytorch-pretrained-biggan==0.1.1``.

    python3 benchmarks/bench_biggan.py [--width 128] [--batch 4] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.loaders import biggan  # noqa: E402


def random_state(ref: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Random weights with settled spectral-norm vectors and sane batch-norm statistics."""
    state = ref.state_dict()
    g = torch.Generator().manual_seed(0)
    for key, v in state.items():
        if key.endswith("running_vars"):
            v.copy_(0.5 + torch.rand(v.shape, generator=g))
        elif key.endswith(("running_means", "gamma")):
            v.copy_(0.1 * torch.randn(v.shape, generator=g))
    for key in [k for k in state if k.endswith(".weight_orig")]:
        w = state[key].flatten(1)
        v = torch.randn(w.shape[1], generator=g)
        for _ in range(5):
            u = torch.nn.functional.normalize(w @ v, dim=0)
            v = torch.nn.functional.normalize(w.T @ u, dim=0)
        state[key[:-4] + "u"].copy_(u)
        state[key[:-4] + "v"].copy_(v)
    return state


def best_time(fn, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--width", type=int, default=128, help="channel_width (128 = the released model)")
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    from pytorch_pretrained_biggan import BigGAN, BigGANConfig

    config = {**biggan.OFFICIAL["biggan-deep-128"], "channel_width": args.width}
    torch.manual_seed(0)  # the reference draws its initial weights from the global generator
    ref = BigGAN(BigGANConfig.from_dict(config)).eval()
    state = random_state(ref)
    ours = biggan.from_native(state, config).eval()
    z = torch.from_numpy(ours.sample_z(range(args.batch)).numpy())
    c = ours.make_c("207:0.6, 1:0.4", args.batch)
    t = 0.5
    with torch.no_grad():
        want = ref(t * z, c, t)
        got = ours.synthesis(ours.mapping(z, c, t), c, t)
        ref_s = best_time(lambda: ref(t * z, c, t), args.repeats)
        our_s = best_time(lambda: ours.synthesis(ours.mapping(z, c, t), c, t), args.repeats)
    print(f"BigGAN-deep 128 px, width {args.width}, batch {args.batch}, {torch.get_num_threads()} threads, CPU")
    print(f"max |ours - reference| = {(got - want).abs().max().item():.2e}  (reference image std "
          f"{want.std().item():.3f}, max |x| {want.abs().max().item():.3f})")
    print(f"reference {ref_s * 1e3:8.1f} ms   ours {our_s * 1e3:8.1f} ms   ratio ours/reference {our_s / ref_s:.2f}")


if __name__ == "__main__":
    main()
