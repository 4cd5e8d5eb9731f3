"""Model files the tests and the thumbnail script write: the layouts users have, built from the oracles.

NVlabs pickles name the real globals (``torch_utils.persistence._reconstruct_persistent_obj``,
``dnnlib.util.EasyDict``, ``dnnlib.tflib.network.Network``) through stand-in modules that exist
only while dumping; BigGAN folders hold ``pytorch_model.bin`` and ``config.json``."""

from __future__ import annotations

import collections
import contextlib
import json
import pickle
import sys
import types
from pathlib import Path

import torch
from safetensors.torch import load_file

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
DATA = Path(__file__).resolve().parent / "data"
BUFFERS = ("w_avg", "resample_filter", "noise_const",  # StyleGAN2
           "transform", "freqs", "phases", "up_filter", "down_filter", "magnitude_ema")  # StyleGAN3
HARMLESS_SRC = "class SynthesisBlock: pass\ndef modulated_conv2d(): pass\n"


def oracle(name: str):
    return (load_file(str(ORACLES / f"{name}.safetensors")), load_file(str(ORACLES / f"{name}_io.safetensors")),
            json.loads((ORACLES / f"{name}.json").read_text()))


def hostile_src(sentinel: Path) -> str:
    return (f"open({str(sentinel)!r}, 'w').write('executed')\n"
            "raise SystemExit('module_src must never be executed')\n"
            "class SynthesisBlock: pass\ndef modulated_conv2d(): pass\n")


@contextlib.contextmanager
def stand_in_modules():
    """Fake ``torch_utils.persistence`` / ``dnnlib`` modules so pickle records their global names."""
    mods = {n: types.ModuleType(n) for n in ("torch_utils", "torch_utils.persistence", "dnnlib", "dnnlib.util",
                                             "dnnlib.tflib", "dnnlib.tflib.network")}

    def _reconstruct_persistent_obj(meta):  # never called: only its name goes into the pickle
        raise AssertionError("stand-in called")

    _reconstruct_persistent_obj.__module__ = "torch_utils.persistence"
    _reconstruct_persistent_obj.__qualname__ = "_reconstruct_persistent_obj"
    mods["torch_utils.persistence"]._reconstruct_persistent_obj = _reconstruct_persistent_obj

    class EasyDict(dict):
        pass

    EasyDict.__module__, EasyDict.__qualname__ = "dnnlib.util", "EasyDict"
    mods["dnnlib.util"].EasyDict = EasyDict

    class Network:
        def __init__(self, state):
            self._state = state

        def __getstate__(self):
            return self._state

    Network.__module__, Network.__qualname__ = "dnnlib.tflib.network", "Network"
    mods["dnnlib.tflib.network"].Network = Network
    saved = {n: sys.modules.get(n) for n in mods}
    sys.modules.update(mods)
    try:
        yield types.SimpleNamespace(reconstruct=_reconstruct_persistent_obj, EasyDict=EasyDict, Network=Network)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


class Persistent:
    """Pickles as ``_reconstruct_persistent_obj(meta)``, exactly like an NVlabs persistent class."""

    def __init__(self, fn, meta):
        self.fn, self.meta = fn, meta

    def __reduce__(self):
        return (self.fn, (self.meta,))


def persistent_tree(sd, ns, src, class_name, init_kwargs):
    """Module records (params as Parameters, buffers as tensors) from flat NVlabs keys."""
    tree: dict = {}
    for key, t in sd.items():
        node = tree
        *path, leaf = key.split(".")
        for p in path:
            node = node.setdefault(p, {})
        node[leaf] = t

    def make(node, name, kwargs):
        state = {"training": False, "_parameters": collections.OrderedDict(), "_buffers": collections.OrderedDict(),
                 "_non_persistent_buffers_set": set(), "_modules": collections.OrderedDict(),
                 "_init_args": (), "_init_kwargs": kwargs}
        for k, v in node.items():
            if isinstance(v, dict):
                state["_modules"][k] = make(v, k, ns.EasyDict())
            elif k in BUFFERS:
                state["_buffers"][k] = v.clone()
            else:
                state["_parameters"][k] = torch.nn.Parameter(v.clone(), requires_grad=False)
        meta = dict(type="class", version=4, module_src=src, class_name=name, state=state)
        return Persistent(ns.reconstruct, meta)

    return make(tree, class_name, init_kwargs)


def write_nvlabs_pickle(path: Path, sd, init_kwargs, src) -> None:
    with stand_in_modules() as ns:
        kw = ns.EasyDict({k: (ns.EasyDict(v) if isinstance(v, dict) else v) for k, v in init_kwargs.items()})
        g = persistent_tree(sd, ns, src, "Generator", kw)
        data = {"G": g, "D": None, "G_ema": g, "training_set_kwargs": ns.EasyDict(resolution=32), "augment_pipe": None}
        path.write_bytes(pickle.dumps(data, protocol=pickle.HIGHEST_PROTOCOL))


def ada_kwargs(kw: dict) -> dict:
    """stylegan2-ada-pytorch nests the synthesis settings under ``synthesis_kwargs``."""
    syn = {k: kw[k] for k in ("channel_base", "channel_max", "num_fp16_res", "conv_clamp")}
    rest = {k: v for k, v in kw.items() if k not in syn}
    return {**rest, "synthesis_kwargs": syn}


def biggan_oracle() -> tuple[dict, dict, dict]:
    """The shared BigGAN oracle: config.json, state dict, stored (NaN) outputs."""
    meta = json.loads((ORACLES / "biggan_hf32.json").read_text())
    return meta["config.json"], load_file(ORACLES / "biggan_hf32.safetensors"), load_file(ORACLES / "biggan_hf32_io.safetensors")


def biggan_repaired() -> tuple[dict, dict, dict]:
    """The oracle's weights with spectral-norm vectors that give finite images, and the reference's outputs."""
    config, state, _ = biggan_oracle()
    io = load_file(DATA / "biggan_hf32_repaired_io.safetensors")
    state = dict(state)
    for key in [k for k in io if k.endswith((".weight_u", ".weight_v"))]:
        assert key in state
        state[key] = io[key]
    return config, state, io


def write_biggan_folder(folder: Path, state: dict, config: dict | None) -> Path:
    """The layout pytorch-pretrained-biggan users have: pytorch_model.bin (+ config.json) in a folder."""
    folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, folder / "pytorch_model.bin")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder


# ----- the example workflows, by key (scripts/build_examples.py names the files) ---------------------
_BUILDER = None


def examples_builder():
    """scripts/build_examples.py as a module (the one place that knows each example's file name)."""
    global _BUILDER
    if _BUILDER is None:
        import importlib.util

        path = Path(__file__).resolve().parents[1] / "scripts" / "build_examples.py"
        spec = importlib.util.spec_from_file_location("_gll_build_examples", path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
        spec.loader.exec_module(module)
        _BUILDER = module
    return _BUILDER


def example_path(key: str) -> Path:
    """The workflow file of the example with this key (e.g. "sample_and_decode")."""
    return Path(examples_builder().path_of(key))


def example_key(path) -> str:
    return examples_builder().key_of(path)


# ----- stand-ins for the example workflows that need a checkpoint a fresh install lacks -------------
# The files are written under the names the examples use; the overrides (by example key) are widget
# values (never edits of the workflow files) that fit the small stand-ins: the StyleGAN2 oracle has 8 w+
# slots instead of 18, the BigGAN oracle 10 unnamed classes instead of ImageNet's 1000.  Long runs are
# shortened the same way.
STANDIN_OVERRIDES = {
    "layerwise_edit": {5: {"slot_end": 5}, 6: {"slot_start": 6}},
    "biggan_class_edit": {2: {"class_label": "3"}, 6: {"class_label": "3:0.5, 7:0.5"}},
    "ganspace_vs_sefa": {2: {"samples": 2000}},
    "voynov_train_save_apply": {2: {"steps": 2, "batch_size": 2, "checkpoint_every": 1}},
}


def write_example_models(models_root: Path) -> Path:
    """``models_root/gan`` with the StyleGAN2 pickle and the BigGAN folder the examples name."""
    gan = Path(models_root) / "gan"
    gan.mkdir(parents=True, exist_ok=True)
    sd, _, meta = oracle("stylegan2_uncond32")
    write_nvlabs_pickle(gan / "stylegan2-ffhq-1024x1024.pkl", sd, meta["init_kwargs"], HARMLESS_SRC)
    config, state, _ = biggan_repaired()
    write_biggan_folder(gan / "biggan-deep-128", state, config)
    return gan
