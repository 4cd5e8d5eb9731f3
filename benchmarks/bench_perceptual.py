"""Perceptual distance cost: LPIPS on VGG16 forward + backward against pixel + MS-SSIM and against a plain
reference implementation, in one process, on the same inputs.

The step measured is one optimisation step of an inversion: ``d(x, target).sum().backward()`` with ``x``
requiring a gradient and a fixed target.  Variants:

* ``lpips``: ours as inversion uses it; the target's VGG16 features are computed once and reused.
* ``lpips, no target cache``: ours doing the same work as the reference (both batches through VGG16).
* ``reference``: the straightforward formulation, written here: an ``nn.Sequential`` of VGG16's layers
  sliced at the five ReLUs, LPIPS's scaling layer, ``x / (sqrt(sum x^2) + eps)``, 1x1 convolutions
  for the weights, mean over positions; both batches through the network every step.
* ``pixel+ms-ssim``: the weight-free fallback.

Random VGG16 weights (the cost does not depend on their values).  Prints the median of ``--repeats``
timed steps after one warm-up, and the ratios.

    python3 benchmarks/bench_perceptual.py [--size 256] [--batch 8] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.directions.lpips import LPIPS  # noqa: E402
from gan_latent_lab.directions.perceptual import PixelMSSSIM  # noqa: E402
from gan_latent_lab.loaders.vgg import LPIPS_CHANNELS, VGG16_CONVS, VGG16Weights  # noqa: E402


def random_weights(seed: int = 0) -> tuple[VGG16Weights, list[torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    convs = [(torch.randn(o, i, 3, 3, generator=g) * (2 / (9 * i)) ** 0.5, torch.zeros(o)) for i, o in VGG16_CONVS]
    lin = [torch.rand(c, generator=g) for c in LPIPS_CHANNELS]
    return VGG16Weights(path="random", layout="torchvision", convs=convs), lin


class ReferenceLPIPS(torch.nn.Module):
    """LPIPS the way a first implementation writes it: torchvision-style slices and 1x1 weight convolutions."""

    def __init__(self, vgg: VGG16Weights, lin: list[torch.Tensor]) -> None:
        super().__init__()
        layers, convs, slices = [], iter(vgg.convs), []
        plan = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512]
        cin = 3
        for item in plan:
            if item == "M":
                slices.append(torch.nn.Sequential(*layers))
                layers = [torch.nn.MaxPool2d(2, 2)]
                continue
            conv = torch.nn.Conv2d(cin, item, 3, padding=1)
            w, b = next(convs)
            conv.weight.data.copy_(w)
            conv.bias.data.copy_(b)
            layers += [conv, torch.nn.ReLU(inplace=False)]
            cin = item
        slices.append(torch.nn.Sequential(*layers))
        self.slices = torch.nn.ModuleList(slices)
        self.lins = torch.nn.ModuleList()
        for w in lin:
            conv = torch.nn.Conv2d(len(w), 1, 1, bias=False)
            conv.weight.data.copy_(w.view(1, -1, 1, 1))
            self.lins.append(conv)
        self.register_buffer("shift", torch.tensor([-.030, -.088, -.188]).view(1, 3, 1, 1))
        self.register_buffer("scale", torch.tensor([.458, .448, .450]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def feats(self, x: torch.Tensor) -> list[torch.Tensor]:
        x = (x - self.shift) / self.scale
        out = []
        for s in self.slices:
            x = s(x)
            out.append(x)
        return out

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        total = 0
        for fx, fy, lin in zip(self.feats(x), self.feats(y), self.lins):
            nx = fx / (torch.sqrt(torch.sum(fx ** 2, dim=1, keepdim=True)) + 1e-10)
            ny = fy / (torch.sqrt(torch.sum(fy ** 2, dim=1, keepdim=True)) + 1e-10)
            total = total + lin((nx - ny) ** 2).mean(dim=[2, 3])
        return total.flatten()


def step_time(dist, x0: torch.Tensor, y: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    times, value = [], None
    for i in range(repeats + 1):
        x = x0.clone().requires_grad_(True)
        t0 = time.perf_counter()
        value = dist(x, y)
        value.sum().backward()
        if i:
            times.append(time.perf_counter() - t0)
    return statistics.median(times), value.detach()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=256)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    vgg, lin = random_weights()
    g = torch.Generator().manual_seed(1)
    y = F.avg_pool2d(torch.rand(a.batch, 3, a.size, a.size, generator=g) * 2 - 1, 3, 1, 1)
    x0 = (y + 0.1 * torch.randn(y.shape, generator=g)).clamp(-1, 1)
    variants = {
        "lpips": LPIPS(vgg, lin=lin),
        "lpips, no target cache": LPIPS(vgg, lin=lin, cache_target=False),
        "reference": ReferenceLPIPS(vgg, lin),
        "pixel+ms-ssim": PixelMSSSIM(),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {a.size} px, batch {a.batch}, "
          f"forward + backward, median of {a.repeats}")
    results = {}
    for name, dist in variants.items():
        results[name] = step_time(dist, x0, y, a.repeats)
        print(f"  {name:24s} {results[name][0] * 1000:9.1f} ms")
    ours, ref = results["lpips, no target cache"], results["reference"]
    gap = float((ours[1] - ref[1]).abs().max() / ref[1].abs().max())
    print(f"same values as the reference: max relative difference {gap:.2e}")
    print(f"overhead, same work: ours / reference = {ours[0] / ref[0]:.3f}")
    print(f"with the target cached: lpips / reference = {results['lpips'][0] / ref[0]:.3f}")
    print(f"lpips / pixel+ms-ssim = {results['lpips'][0] / results['pixel+ms-ssim'][0]:.1f}x")


if __name__ == "__main__":
    main()
