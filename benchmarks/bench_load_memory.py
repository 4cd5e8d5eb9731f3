"""Peak memory of loading an NVIDIA training snapshot (G, D and G_ema) with ``load_gan``.

``--format tf``: the same for a TF-era StyleGAN2 pickle, the tuple ``(G, D, Gs)`` of ``dnnlib``
networks whose variables are numpy arrays (written with pickle protocol 3, as those tools did); the
ratio is against the bytes of the converted generator's tensors, and only ``Gs`` is read.

A real NVlabs snapshot pickle holds three networks: the generator ``G``, the discriminator ``D`` and
the averaged generator ``G_ema`` that is used.  This script writes one with config-f 1024 px shapes
and random weights into a temporary folder, the way NVlabs tools write it (each tensor a
``torch.storage._load_from_bytes`` payload inside ``torch_utils.persistence`` records), then loads
it in fresh subprocesses and reports the peak resident-memory growth over the process's state
just before the call, divided by the bytes of G_ema's tensors (target <= 1.3):

- ours: ``load_gan(path)``, which reads only G_ema's tensors, each straight from the file;
- baseline: the same restricted unpickler reading every payload into memory first
  (``safe_pickle.load_pickle(path)``, what loading did before), then the build.

    python3 benchmarks/bench_load_memory.py [--resolution 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import subprocess
import sys
import tempfile

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "tests")
sys.path.insert(0, TESTS)
import conftest  # noqa: E402,F401  (imports the package from this checkout)

from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator  # noqa: E402

CONFIG_F = {"z_dim": 512, "w_dim": 512, "channel_base": 32768, "channel_max": 512, "mapping_layers": 8}


def discriminator_state(res: int) -> dict[str, torch.Tensor]:
    """Tensors with the shapes of the NVlabs config-f (resnet) discriminator at ``res`` px."""
    ch = {r: min(32768 // r, 512) for r in [2 ** i for i in range(2, int.bit_length(res))]}
    g = torch.Generator().manual_seed(1)
    sd: dict[str, torch.Tensor] = {}

    def add(key, *shape):
        sd[key] = torch.randn(*shape, generator=g)

    r = res
    add(f"b{r}.fromrgb.weight", ch[r], 3, 1, 1)
    add(f"b{r}.fromrgb.bias", ch[r])
    while r > 4:
        cin, cout = ch[r], ch[r // 2]
        add(f"b{r}.conv0.weight", cin, cin, 3, 3)
        add(f"b{r}.conv0.bias", cin)
        add(f"b{r}.conv1.weight", cout, cin, 3, 3)
        add(f"b{r}.conv1.bias", cout)
        add(f"b{r}.skip.weight", cout, cin, 1, 1)
        sd[f"b{r}.resample_filter"] = torch.full((4, 4), 1 / 16)
        r //= 2
    add("b4.conv.weight", ch[4], ch[4] + 1, 3, 3)
    add("b4.conv.bias", ch[4])
    add("b4.fc.weight", ch[4], ch[4] * 16)
    add("b4.fc.bias", ch[4])
    add("b4.out.weight", 1, ch[4])
    add("b4.out.bias", 1)
    return sd


def write_snapshot(path: str, res: int) -> int:
    """An NVlabs snapshot {G, D, G_ema} of random config-f weights; returns G_ema's tensor bytes."""
    from model_files import HARMLESS_SRC, persistent_tree, stand_in_modules

    torch.manual_seed(0)
    g_ema = {k: v.contiguous() for k, v in StyleGAN2Generator({**CONFIG_F, "img_resolution": res}).state_dict().items()}
    g = {k: (v + 0.01 if v.is_floating_point() else v) for k, v in g_ema.items()}
    kwargs = {"z_dim": 512, "c_dim": 0, "w_dim": 512, "img_resolution": res, "img_channels": 3,
              "mapping_kwargs": {"num_layers": 8}, "channel_base": 32768, "channel_max": 512, "conv_clamp": 256}
    with stand_in_modules() as ns:
        kw = ns.EasyDict({k: (ns.EasyDict(v) if isinstance(v, dict) else v) for k, v in kwargs.items()})
        data = {"G": persistent_tree(g, ns, HARMLESS_SRC, "Generator", kw),
                "D": persistent_tree(discriminator_state(res), ns, HARMLESS_SRC, "Discriminator",
                                     ns.EasyDict(c_dim=0, img_resolution=res, img_channels=3)),
                "G_ema": persistent_tree(g_ema, ns, HARMLESS_SRC, "Generator", kw),
                "augment_pipe": None, "training_set_kwargs": ns.EasyDict(resolution=res)}
        with open(path, "wb") as f:
            pickle.dump(data, f, protocol=4)
    return sum(v.numel() * v.element_size() for v in g_ema.values())


def write_tf_snapshot(path: str, res: int) -> int:
    """A TF-era ``(G, D, Gs)`` pickle of random config-f weights; returns the converted Gs tensor bytes."""
    import numpy as np

    from model_files import write_tf_pickle
    from test_nvlabs_pickle import tf_variables

    torch.manual_seed(0)
    gs = {k: v.contiguous() for k, v in StyleGAN2Generator({**CONFIG_F, "img_resolution": res}).state_dict().items()}
    top, mapping, synth = tf_variables(gs, res)
    g_vars = [(k, np.ascontiguousarray(v) + np.float32(0.01)) for k, v in top + mapping + synth]
    d_vars = [(k, v.numpy()) for k, v in discriminator_state(res).items()]
    static = {"latent_size": 512, "dlatent_size": 512, "resolution": res, "fmap_base": 16384, "fmap_max": 512,
              "mapping_layers": 8}

    class _File:
        def write_bytes(self, data: bytes) -> None:
            with open(path, "wb") as f:
                f.write(data)

    write_tf_pickle(_File(), top, mapping, synth, static, "# networks_stylegan2.py\n", g_vars=g_vars, d_vars=d_vars,
                    protocol=3)
    return sum(v.numel() * v.element_size() for v in gs.values())


CHILD = """
import json, sys
sys.path.insert(0, {tests!r})
import conftest
import torch
from gan_latent_lab.loaders import families, load_gan
from gan_latent_lab.loaders import safe_pickle
def status(key):  # VmRSS / VmHWM of this process (VmHWM starts afresh at exec, unlike ru_maxrss)
    with open('/proc/self/status') as f:
        return next(int(l.split()[1]) * 1024 for l in f if l.startswith(key + ':'))
families()
torch.zeros(1).add_(1)
before = status('VmRSS')
if {mode!r} == "ours":
    gen = load_gan({path!r})
    total = float(sum(p.double().sum() for p in gen.state_dict().values()))  # touch every weight page
elif {mode!r} == "eager_build":  # the loader before issue 17b: every array read, then converted and built
    from gan_latent_lab.loaders import build_generator
    from gan_latent_lab.loaders.files import Checkpoint
    gen = build_generator(Checkpoint({path!r}, "pickle", safe_pickle.load_pickle({path!r})))
else:
    obj = safe_pickle.load_pickle({path!r})
print(json.dumps({{"before": before, "peak": status('VmHWM'), "after": status('VmRSS')}}))
"""


def measure(path: str, mode: str) -> dict:
    code = CHILD.format(tests=TESTS, path=path, mode=mode)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolution", type=int, default=1024)
    ap.add_argument("--format", choices=("nvlabs", "tf"), default="nvlabs")
    a = ap.parse_args()
    tf = a.format == "tf"
    used = "Gs" if tf else "G_ema"
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "snapshot.pkl")
        nbytes = (write_tf_snapshot if tf else write_snapshot)(path, a.resolution)
        size = os.path.getsize(path)
        print(f"{'TF (G, D, Gs) pickle' if tf else 'NVlabs snapshot'} {a.resolution}px config-f: file "
              f"{size / 2**20:.1f} MiB, {used} tensors {nbytes / 2**20:.1f} MiB")
        modes = [("ours", f"load_gan ({used} read from the file)"),
                 ("eager", "baseline: every payload read (safe_pickle.load_pickle)")]
        if tf:
            modes.append(("eager_build", "baseline: every payload read, then converted and built (the previous load_gan)"))
        for mode, label in modes:
            r = measure(path, mode)
            growth = r["peak"] - r["before"]
            print(f"  {label}: peak RSS growth {growth / 2**20:.1f} MiB = {growth / nbytes:.2f}x {used} tensor bytes"
                  + (" (target <= 1.3)" if mode == "ours" and not tf else ""))


if __name__ == "__main__":
    main()
