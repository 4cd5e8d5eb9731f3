"""StyleGAN2 on CPU: synthesis throughput against textbook reference ops, and load memory.

1. Throughput at 256 px with config-f widths (channel_base 32768, channel_max 512), batch 4,
   random weights.  Baseline: the same weights run through plain ``torch.nn.functional`` ops
   written here the straightforward way (NVlabs' reference path): per-sample modulated weights
   as one grouped convolution (groups = batch), 2x up-sampling by a grouped transposed conv and
   a reference upfirdn2d (zero insertion, padding, 2-D depthwise FIR filter).  Ours: scale the
   activations and run one batched convolution with shared weights, separable FIR passes.
   Both outputs are compared (max abs difference printed).
2. Peak resident-memory growth of ``load_gan`` on a 1024 px config-f checkpoint saved as
   safetensors, in a fresh subprocess, divided by the checkpoint's tensor bytes (target < 1.3).

    python3 benchmarks/bench_stylegan2.py [--repeats 3] [--threads N]
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
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator  # noqa: E402

CONFIG_F = {"z_dim": 512, "w_dim": 512, "channel_base": 32768, "channel_max": 512, "mapping_layers": 8}


# ----- reference: the straightforward formulation ---------------------------------------------------
def ref_upfirdn2d(x, f, up=1, pad=(0, 0, 0, 0), gain=1.0):
    n, c, h, w = x.shape
    if up > 1:
        x = x.reshape(n, c, h, 1, w, 1)
        x = F.pad(x, [0, up - 1, 0, 0, 0, up - 1]).reshape(n, c, h * up, w * up)
    x = F.pad(x, [pad[0], pad[1], pad[2], pad[3]])
    f = (f * gain).flip([0, 1])[None, None].repeat(c, 1, 1, 1)
    return F.conv2d(x, f, groups=c)


def ref_modconv(x, weight, styles, demodulate=True, up=False, f=None):
    n = x.shape[0]
    o, i, kh, kw = weight.shape
    w = weight[None] * styles.reshape(n, 1, -1, 1, 1)
    if demodulate:
        w = w * (w.square().sum(dim=[2, 3, 4]) + 1e-8).rsqrt().reshape(n, -1, 1, 1, 1)
    x = x.reshape(1, -1, *x.shape[2:])
    if up:
        w = w.transpose(1, 2).reshape(n * i, o, kh, kw)
        x = F.conv_transpose2d(x, w, stride=2, groups=n)
        x = ref_upfirdn2d(x, f, pad=(1, 1, 1, 1), gain=4.0)
    else:
        x = F.conv2d(x, w.reshape(n * o, i, kh, kw), padding=kh // 2, groups=n)
    return x.reshape(n, -1, *x.shape[2:])


def ref_affine(layer, w):
    return F.linear(w, layer.affine.weight * layer.affine.weight_gain, layer.affine.bias * layer.affine.bias_gain)


def ref_layer(layer, x, w):
    x = ref_modconv(x, layer.weight, ref_affine(layer, w), up=layer.up == 2, f=layer.resample_filter)
    x = x + layer.noise_const * layer.noise_strength
    x = F.leaky_relu(x + layer.bias.reshape(1, -1, 1, 1), 0.2) * (2 ** 0.5)
    return x if layer.conv_clamp is None else x.clamp(-layer.conv_clamp, layer.conv_clamp)


def ref_synthesis(gen, ws):
    syn = gen.synthesis_net
    x = img = None
    for res, (start, _) in zip(syn.block_resolutions, syn.block_slots()):
        b = getattr(syn, f"b{res}")
        if res == 4:
            x = ref_layer(b.conv1, b.const[None].repeat(ws.shape[0], 1, 1, 1), ws[:, start])
        else:
            x = ref_layer(b.conv0, x, ws[:, start])
            x = ref_layer(b.conv1, x, ws[:, start + 1])
            img = ref_upfirdn2d(img, b.resample_filter, up=2, pad=(2, 1, 2, 1), gain=4.0)
        t = b.torgb
        y = ref_modconv(x, t.weight, ref_affine(t, ws[:, start + b.num_conv]) * t.weight_gain, demodulate=False)
        y = y + t.bias.reshape(1, -1, 1, 1)
        img = y if img is None else img + y
    return img


# ----- measurements ----------------------------------------------------------------------------
def throughput(fn, ws, repeats: int) -> float:
    with torch.no_grad():
        fn(ws)
        best = float("inf")
        for _ in range(repeats):
            t = time.perf_counter()
            fn(ws)
            best = min(best, time.perf_counter() - t)
    return ws.shape[0] / best


def bench_speed(repeats: int) -> None:
    torch.manual_seed(0)
    gen = StyleGAN2Generator({**CONFIG_F, "img_resolution": 256}).eval().requires_grad_(False)
    with torch.no_grad():
        for p in gen.parameters():  # random but image-like scales
            if p.ndim == 0:
                p.fill_(0.1)
        ws = gen.mapping(torch.randn(4, 512), truncation_psi=0.7)
        diff = (gen.synthesis(ws) - ref_synthesis(gen, ws)).abs().max().item()
    ours = throughput(lambda w: gen.synthesis(w), ws, repeats)
    ref = throughput(lambda w: ref_synthesis(gen, w), ws, repeats)
    print(f"synthesis 256px config-f, batch 4, CPU threads {torch.get_num_threads()}:")
    print(f"  reference (grouped modconv, 2-D upfirdn2d): {ref:.2f} images/s")
    print(f"  ours (batched conv, separable FIR):         {ours:.2f} images/s")
    print(f"  speed-up ours/reference: {ours / ref:.2f}x   (max |diff| {diff:.2e})")


CHILD = r"""
import json, sys
sys.path.insert(0, {tests!r})
import conftest
import torch
from gan_latent_lab.loaders import families, load_gan
def status(key):  # VmRSS / VmHWM of this process (VmHWM starts afresh at exec, unlike ru_maxrss)
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ':'))
families()
torch.zeros(1).add_(1)
before = status('VmRSS')
gen = load_gan({path!r})
total = float(sum(p.double().sum() for p in gen.state_dict().values()))  # touch every weight page
print(json.dumps({{"before": before, "peak": status('VmHWM'), "after": status('VmRSS')}}))
"""


def bench_memory() -> None:
    from safetensors.torch import save_file

    gen = StyleGAN2Generator({**CONFIG_F, "img_resolution": 1024})
    state = {k: v.contiguous() for k, v in gen.state_dict().items()}
    nbytes = sum(v.numel() * v.element_size() for v in state.values())
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "G1024.safetensors")
        save_file(state, path)
        del gen, state
        code = CHILD.format(tests=os.path.join(HERE, "..", "tests"), path=path)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    r = json.loads(out.stdout.strip().splitlines()[-1])
    print(f"load_gan 1024px config-f safetensors ({nbytes / 2**20:.1f} MiB of tensors):")
    print(f"  peak RSS growth {(r['peak'] - r['before']) / 2**20:.1f} MiB, ratio to tensor bytes "
          f"{(r['peak'] - r['before']) / nbytes:.2f} (target < 1.3); resident after load "
          f"{(r['after'] - r['before']) / nbytes:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    bench_memory()
    bench_speed(a.repeats)


if __name__ == "__main__":
    main()
