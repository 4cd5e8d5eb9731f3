"""e4e encoder on the CPU: encode time per image against the straightforward forward, and load memory.

1. Encode time per image at batch 1 and 8 with the real widths (IR-SE-50 depths 64/128/256/512,
   18 style blocks of 512, random weights; images already 256x256).  Baseline, in the same
   process on the same weights: the official structure written out plainly, every
   GradualStyleBlock run on its own (its convolutions, leaky ReLU, reshape, equalized linear),
   the body shared.  Ours: the blocks that read one feature map run stacked (one convolution for
   all their first layers, grouped convolutions after it, one batched matrix product).  The body
   alone is timed too, and the two outputs are compared (max abs difference printed).
2. Peak resident-memory growth of ``load_encoder`` on a real-size random e4e checkpoint (the
   encoder and a 1024 px rosinality StyleGAN2 decoder, as the released files hold), in a fresh
   subprocess, divided by the file's tensor bytes (target <= 1.5).

    python3 benchmarks/bench_encoder.py [--repeats 2] [--threads N] [--skip-memory] [--skip-speed]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
sys.path.insert(0, TESTS)
import conftest  # noqa: E402,F401  (imports the package from this checkout)
import model_files as mf  # noqa: E402

from gan_latent_lab.loaders.encoders import LEVEL_CONVS, LEVEL_STARTS, upsample_add  # noqa: E402

REAL_WIDTHS = (64, 128, 256, 512)
W_DIM, N_STYLES = 512, 18


def real_size_file(path: str, with_decoder: bool) -> int:
    """Write a random e4e checkpoint of the released size; returns its tensor bytes."""
    enc = mf.encoder_state("e4e", REAL_WIDTHS, W_DIM, N_STYLES, seed=0)
    dec = None
    if with_decoder:
        from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator

        g = StyleGAN2Generator({"z_dim": 512, "w_dim": 512, "img_resolution": 1024, "channel_base": 32768,
                                "channel_max": 512, "mapping_layers": 8})
        dec = mf.nvlabs_to_rosinality({k: v.contiguous() for k, v in g.state_dict().items()}, 512)
        del g
    avg = torch.randn(1, W_DIM).repeat(N_STYLES, 1)
    mf.write_encoder_file(path, enc, mf.encoder_opts("e4e", 1024), avg, dec)
    return sum(t.numel() * t.element_size() for t in list(enc.values()) + list((dec or {}).values())) + avg.numel() * 4


# ----- baseline: each style block on its own, as the official module list runs them --------------------
def straightforward_styles(enc, x: torch.Tensor) -> torch.Tensor:
    c1, c2, c3 = enc.body_net(x)
    p2 = upsample_add(c3, enc.latlayer1(c2))
    p1 = upsample_add(p2, enc.latlayer2(c1))
    feats = (c3, p2, p1)
    outs = []
    for li, lvl in enumerate(enc.levels):
        for b in range(lvl.count):
            rows = slice(b * lvl.width, (b + 1) * lvl.width)
            y = feats[li]
            for j in range(LEVEL_CONVS[li]):
                y = F.leaky_relu(F.conv2d(y, getattr(lvl, f"conv{j}_weight")[rows], getattr(lvl, f"conv{j}_bias")[rows],
                                          stride=2, padding=1), 0.01)
            y = y.view(-1, lvl.width)
            outs.append(F.linear(y, lvl.linear_weight[b] * lvl.scale, lvl.linear_bias[b]))
    w = torch.stack(outs, dim=1)
    first = w[:, :1]
    return torch.cat([first, w[:, 1:] + first], dim=1) + enc.latent_avg


def per_image_ms(fn, x: torch.Tensor, repeats: int) -> float:
    with torch.no_grad():
        fn(x)  # warm-up
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            fn(x)
            best = min(best, time.perf_counter() - t)
    return 1000 * best / x.shape[0]


def bench_speed(repeats: int) -> None:
    from gan_latent_lab.loaders import load_encoder

    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "e4e_real_size.pt")
        real_size_file(path, with_decoder=False)
        enc = load_encoder(path)
    assert LEVEL_STARTS == (0, 3, 7) and enc.n_styles == N_STYLES
    print(f"encode, IR-SE-50 {'/'.join(map(str, REAL_WIDTHS))}, {N_STYLES} styles x {W_DIM}, 256x256 input, "
          f"CPU threads {torch.get_num_threads()}:")
    for batch in (1, 8):
        x = torch.rand(batch, 3, 256, 256, generator=torch.Generator().manual_seed(batch)) * 2 - 1
        with torch.no_grad():
            diff = (enc.encode(x) - straightforward_styles(enc, x)).abs().max().item()
        body = per_image_ms(lambda t: enc.body_net(t), x, repeats)
        ref = per_image_ms(lambda t: straightforward_styles(enc, t), x, repeats)
        ours = per_image_ms(lambda t: enc.encode(t), x, repeats)
        print(f"  batch {batch}: straightforward {ref:8.1f} ms/image   ours {ours:8.1f} ms/image   "
              f"speed-up {ref / ours:.2f}x   (body alone {body:.1f} ms/image; max |diff| {diff:.1e})")


CHILD = r"""
import json, sys
sys.path.insert(0, {tests!r})
import conftest
import torch
from gan_latent_lab.loaders import load_encoder
def status(key):  # VmRSS / VmHWM of this process (VmHWM starts afresh at exec, unlike ru_maxrss)
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ':'))
torch.zeros(1).add_(1)
before = status('VmRSS')
enc = load_encoder({path!r})
loaded = status('VmHWM')
# touch every weight page (a float sum: no copy of the tensor, unlike .double())
total = float(sum(p.sum() for p in list(enc.state_dict().values()) + list(enc.decoder.state_dict().values())))
print(json.dumps({{"before": before, "loaded": loaded, "peak": status('VmHWM'), "after": status('VmRSS')}}))
"""


def bench_memory() -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "e4e_ffhq_encode.pt")
        nbytes = real_size_file(path, with_decoder=True)
        size = os.path.getsize(path)
        code = CHILD.format(tests=TESTS, path=path)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"load_encoder, real-size e4e file with its 1024 px decoder ({nbytes / 2**20:.0f} MiB of tensors, "
          f"{size / 2**20:.0f} MiB on disk):")
    print(f"  peak RSS growth {(r['peak'] - r['before']) / 2**20:.0f} MiB, ratio to tensor bytes "
          f"{(r['peak'] - r['before']) / nbytes:.2f} (target <= 1.5; {(r['loaded'] - r['before']) / nbytes:.2f} when "
          f"load_encoder returns); resident after touching every weight {(r['after'] - r['before']) / nbytes:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    if not a.skip_memory:
        bench_memory()
    if not a.skip_speed:
        bench_speed(a.repeats)


if __name__ == "__main__":
    main()
