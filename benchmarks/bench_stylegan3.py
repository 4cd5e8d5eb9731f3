"""StyleGAN3 synthesis on CPU: our formulation against the straightforward one, in one process.

Baseline: the textbook steps (zero insertion + padded depthwise convolution for upsampling,
full convolution then slicing for downsampling, per-sample modulated kernels through a grouped
convolution).  Ours: strided transposed / strided convolutions and one shared convolution with
the style applied to the activations.  Prints the time ratio and the largest image difference.

    python3 benchmarks/bench_stylegan3.py [--res 64] [--batch 4] [--threads 2]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import torch
import torch.nn.functional as F

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _import_pack():
    spec = importlib.util.spec_from_file_location("gan_latent_lab", os.path.join(ROOT, "__init__.py"),
                                                  submodule_search_locations=[ROOT])
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gan_latent_lab"] = mod
    spec.loader.exec_module(mod)


def baseline_up(x, f, up, padding):
    n, c, h, w = x.shape
    z = x.new_zeros(n, c, h * up, w * up)
    z[:, :, ::up, ::up] = x
    lo, hi = padding
    z = F.pad(z, (lo, hi, lo, hi))
    f = torch.ones(1) if f is None else f
    k = (f * up).flip(0)
    z = F.conv2d(z, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
    return F.conv2d(z, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)


def baseline_down(x, f, down):
    if f is None:
        return x[:, :, ::down, ::down]
    c = x.shape[1]
    k = f.flip(list(range(f.ndim)))
    if f.ndim == 2:
        x = F.conv2d(x, k[None, None].repeat(c, 1, 1, 1), groups=c)
    else:
        x = F.conv2d(x, k.view(1, 1, 1, -1).repeat(c, 1, 1, 1), groups=c)
        x = F.conv2d(x, k.view(1, 1, -1, 1).repeat(c, 1, 1, 1), groups=c)
    return x[:, :, ::down, ::down]


def baseline_layer(layer, x, w):
    p = layer.plan
    s = layer.styles(w)
    weight = layer.weight
    n = x.shape[0]
    if not p.is_torgb:
        weight = weight * weight.square().mean(dim=[1, 2, 3], keepdim=True).rsqrt()
        s = s * s.square().mean(dim=1, keepdim=True).rsqrt()
    wk = weight.unsqueeze(0) * s[:, None, :, None, None]
    if not p.is_torgb:
        wk = wk * (wk.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()
    wk = wk * layer.magnitude_ema.rsqrt()
    x = F.conv2d(x.reshape(1, -1, *x.shape[2:]), wk.reshape(-1, *wk.shape[2:]), padding=p.conv_kernel - 1, groups=n)
    x = x.reshape(n, -1, *x.shape[2:]) + layer.bias[None, :, None, None]
    x = baseline_up(x, layer.up_filter, p.up, p.padding)
    if not p.is_torgb:
        x = F.leaky_relu(x, 0.2) * 2 ** 0.5
    if layer.conv_clamp is not None:
        x = x.clamp(-layer.conv_clamp, layer.conv_clamp)
    return baseline_down(x, layer.down_filter, p.down)


def baseline_synthesis(net, ws):
    slots = ws.unbind(dim=1)
    x = net.input(slots[0])
    for layer, w in zip(net.layers(), slots[1:]):
        x = baseline_layer(layer, x, w)
    return x * net.output_scale


def timed(fn, repeats):
    fn()
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    return (time.perf_counter() - start) / repeats, out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--res", type=int, default=64)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    _import_pack()
    from gan_latent_lab.loaders.stylegan3 import StyleGAN3Generator

    torch.manual_seed(0)
    for arch, extra in (("T", {}), ("R", {"conv_kernel": 1, "use_radial_filters": True, "channel_base": 8192})):
        kw = {"z_dim": 64, "w_dim": 64, "img_resolution": args.res, "channel_base": 4096, "channel_max": 128, **extra}
        gen = StyleGAN3Generator(kw).eval()
        ws = gen.mapping(torch.randn(args.batch, 64))
        t_ours, ours = timed(lambda: gen.synthesis(ws), args.repeats)
        t_base, base = timed(lambda: baseline_synthesis(gen.synthesis_net, ws), args.repeats)
        diff = (ours - base).abs().max().item()
        print(f"StyleGAN3-{arch} {args.res}px batch {args.batch} threads {args.threads}: ours {t_ours * 1000:.0f} ms, "
              f"baseline {t_base * 1000:.0f} ms, speed-up x{t_base / t_ours:.2f}, max |diff| {diff:.2e}")


if __name__ == "__main__":
    main()
