"""Model files the tests and the thumbnail script write: the layouts users have, built from the oracles.

NVlabs pickles name the real globals (``torch_utils.persistence._reconstruct_persistent_obj``,
``dnnlib.util.EasyDict``, ``dnnlib.tflib.network.Network``) through stand-in modules that exist
only while dumping; BigGAN folders hold ``pytorch_model.bin`` and ``config.json``."""

from __future__ import annotations

import collections
import contextlib
import io
import json
import math
import pickle
import struct
import sys
import types
import zipfile
from pathlib import Path

import numpy as np
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


def write_tf_pickle(path: Path, top, mapping, synth, static_kwargs, src,
                    funcs=("G_main", "G_mapping", "G_synthesis_stylegan2"), g_vars=None, d_vars=None,
                    protocol: int = 4) -> None:
    """A TF-era ``(G, D, Gs)`` pickle of ``dnnlib.tflib.network.Network`` objects, each pickling the state
    dnnlib's ``Network.__getstate__`` returns: variables relative to the network, components by role.

    ``G`` and ``D`` are ``Gs`` itself unless ``g_vars`` / ``d_vars`` give them variables of their own."""
    with stand_in_modules() as ns:
        def net(name, func, variables, components=None):
            return ns.Network({"version": 4, "name": name, "static_kwargs": dict(static_kwargs), "build_module_src": src,
                               "build_func_name": func, "components": ns.EasyDict(components or {}), "variables": variables})

        gs = net("G", funcs[0], top, {"mapping": net("G_mapping", funcs[1], mapping),
                                      "synthesis": net("G_synthesis", funcs[2], synth)})
        g = gs if g_vars is None else net("G", funcs[0], g_vars)
        d = gs if d_vars is None else net("D", "D_basic", d_vars)
        path.write_bytes(pickle.dumps((g, d, gs), protocol=protocol))


def stylegan1_tf_variables(sd: dict) -> tuple[list, list, list]:
    """(Gs, G_mapping, G_synthesis) variables of NVlabs' networks_stylegan.py for genforce StyleGAN tensors.

    The names and layouts are genforce's published TF -> PyTorch table, written here in the other
    direction: dense ``[out, in]`` -> ``[in, out]``, conv ``[out, in, kh, kw]`` -> ``[kh, kw, in, out]``."""
    import numpy as np

    n = lambda t: t.numpy().astype(np.float32)  # noqa: E731
    conv = lambda t: np.ascontiguousarray(n(t).transpose(2, 3, 1, 0))  # noqa: E731
    top = [("dlatent_avg", n(sd["truncation.w_avg"]))]
    mapping = []
    i = 0
    while f"mapping.dense{i}.weight" in sd:
        mapping += [(f"Dense{i}/weight", np.ascontiguousarray(n(sd[f"mapping.dense{i}.weight"]).T)),
                    (f"Dense{i}/bias", n(sd[f"mapping.dense{i}.bias"]))]
        i += 1
    if "mapping.label_weight" in sd:
        mapping.append(("LabelConcat/weight", n(sd["mapping.label_weight"])))
    synth = [("lod", np.float32(0.0))]
    layers = sum(1 for k in sd if k.endswith(".style.weight"))
    blocks = layers // 2
    for b in range(blocks):
        r = 4 * 2**b
        for layer, name in ((2 * b, "Const" if b == 0 else "Conv0_up"), (2 * b + 1, "Conv" if b == 0 else "Conv1")):
            g = f"synthesis.layer{layer}"
            if name == "Const":
                synth.append((f"{r}x{r}/Const/const", n(sd[f"{g}.const"])))
            else:
                synth.append((f"{r}x{r}/{name}/weight", conv(sd[f"{g}.weight"])))
            synth += [(f"{r}x{r}/{name}/Noise/weight", n(sd[f"{g}.apply_noise.weight"])),
                      (f"{r}x{r}/{name}/bias", n(sd[f"{g}.bias"])),
                      (f"{r}x{r}/{name}/StyleMod/weight", np.ascontiguousarray(n(sd[f"{g}.style.weight"]).T)),
                      (f"{r}x{r}/{name}/StyleMod/bias", n(sd[f"{g}.style.bias"])),
                      (f"noise{layer}", n(sd[f"{g}.apply_noise.noise"]))]
        lod = blocks - 1 - b
        synth += [(f"ToRGB_lod{lod}/weight", conv(sd[f"synthesis.output{b}.weight"])),
                  (f"ToRGB_lod{lod}/bias", n(sd[f"synthesis.output{b}.bias"]))]
    return top, mapping, synth


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


# ----- rosinality StyleGAN2 and e4e / pSp encoder files --------------------------------------------
def nvlabs_to_rosinality(sd: dict[str, torch.Tensor], w_dim: int) -> dict[str, torch.Tensor]:
    """The rosinality/stylegan2-pytorch names for NVlabs tensors (written for the tests, independently of the loader)."""
    out: dict[str, torch.Tensor] = {}
    i = 0
    while f"mapping.fc{i}.weight" in sd:
        out[f"style.{i + 1}.weight"] = sd[f"mapping.fc{i}.weight"]
        out[f"style.{i + 1}.bias"] = sd[f"mapping.fc{i}.bias"]
        i += 1
    res = max(int(k.split(".")[1][1:]) for k in sd if k.startswith("synthesis.b"))
    out["input.input"] = sd["synthesis.b4.const"][None]

    def styled(dst, src, noise_idx):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.noise.weight"] = sd[f"{src}.noise_strength"].reshape(1)
        out[f"{dst}.activate.bias"] = sd[f"{src}.bias"]
        out[f"noises.noise_{noise_idx}"] = sd[f"{src}.noise_const"][None, None]

    def rgb(dst, src):
        out[f"{dst}.conv.weight"] = sd[f"{src}.weight"][None]
        out[f"{dst}.conv.modulation.weight"] = sd[f"{src}.affine.weight"]
        out[f"{dst}.conv.modulation.bias"] = sd[f"{src}.affine.bias"]
        out[f"{dst}.bias"] = sd[f"{src}.bias"].reshape(1, -1, 1, 1)

    styled("conv1", "synthesis.b4.conv1", 0)
    rgb("to_rgb1", "synthesis.b4.torgb")
    for j, k in enumerate(range(3, int(math.log2(res)) + 1)):
        b = f"synthesis.b{2 ** k}"
        styled(f"convs.{2 * j}", f"{b}.conv0", 2 * j + 1)
        styled(f"convs.{2 * j + 1}", f"{b}.conv1", 2 * j + 2)
        out[f"convs.{2 * j}.conv.blur.kernel"] = sd[f"{b}.conv0.resample_filter"] * 4
        rgb(f"to_rgbs.{j}", f"{b}.torgb")
        out[f"to_rgbs.{j}.upsample.kernel"] = sd[f"{b}.resample_filter"] * 4
    return out


IRSE_STAGES = (3, 4, 14, 3)


def _bn(out: dict, prefix: str, width: int, g: torch.Generator) -> None:
    out[f"{prefix}.weight"] = 1 + 0.1 * torch.randn(width, generator=g)
    out[f"{prefix}.bias"] = 0.1 * torch.randn(width, generator=g)
    out[f"{prefix}.running_mean"] = 0.1 * torch.randn(width, generator=g)
    out[f"{prefix}.running_var"] = 0.5 + torch.rand(width, generator=g)
    out[f"{prefix}.num_batches_tracked"] = torch.tensor(7)


def _conv(out: dict, key: str, o: int, i: int, k: int, g: torch.Generator, bias: bool = False) -> None:
    out[f"{key}.weight"] = torch.randn(o, i, k, k, generator=g) / math.sqrt(i * k * k)
    if bias:
        out[f"{key}.bias"] = 0.1 * torch.randn(o, generator=g)


def encoder_state(kind: str = "e4e", widths=(16, 16, 32, 32), w_dim: int = 32, n_styles: int = 8,
                  seed: int = 0, se_hidden: int | None = None) -> dict[str, torch.Tensor]:
    """Random ``encoder.*`` tensors laid out as the official e4e / pSp encoders name them.

    ``widths`` are the IR-SE-50 stage depths (the stem has the first); squeeze-excitation reduces by 16
    (``se_hidden`` sets its width instead, so that stages narrower than 16 are possible).
    ``kind``: "e4e" / "psp" (GradualStyleBlocks: 4, 5, 6 convolutions for slots 0-2, 3-6, 7+, FPN
    laterals) or "psp_w" (one equalized linear layer on the pooled last features)."""
    g = torch.Generator().manual_seed(seed)
    out: dict[str, torch.Tensor] = {}
    stem = widths[0]
    _conv(out, "encoder.input_layer.0", stem, 3, 3, g)
    _bn(out, "encoder.input_layer.1", stem, g)
    out["encoder.input_layer.2.weight"] = 0.25 + 0.05 * torch.randn(stem, generator=g)
    in_ch, unit = stem, 0
    for count, depth in zip(IRSE_STAGES, widths):
        for _ in range(count):
            p = f"encoder.body.{unit}"
            if in_ch != depth:
                _conv(out, f"{p}.shortcut_layer.0", depth, in_ch, 1, g)
                _bn(out, f"{p}.shortcut_layer.1", depth, g)
            _bn(out, f"{p}.res_layer.0", in_ch, g)
            _conv(out, f"{p}.res_layer.1", depth, in_ch, 3, g)
            out[f"{p}.res_layer.2.weight"] = 0.25 + 0.05 * torch.randn(depth, generator=g)
            _conv(out, f"{p}.res_layer.3", depth, depth, 3, g)
            _bn(out, f"{p}.res_layer.4", depth, g)
            hidden = depth // 16 if se_hidden is None else se_hidden
            _conv(out, f"{p}.res_layer.5.fc1", hidden, depth, 1, g)
            _conv(out, f"{p}.res_layer.5.fc2", depth, hidden, 1, g)
            in_ch, unit = depth, unit + 1
    c1, c2, c3 = widths[1], widths[2], widths[3]
    if kind == "psp_w":
        out["encoder.linear.weight"] = torch.randn(w_dim, c3, generator=g)
        out["encoder.linear.bias"] = 0.1 * torch.randn(w_dim, generator=g)
        return out
    for i in range(n_styles):
        convs = 4 if i < 3 else 5 if i < 7 else 6
        for j in range(convs):
            _conv(out, f"encoder.styles.{i}.convs.{2 * j}", w_dim, c3 if j == 0 else w_dim, 3, g, bias=True)
        out[f"encoder.styles.{i}.linear.weight"] = torch.randn(w_dim, w_dim, generator=g)
        out[f"encoder.styles.{i}.linear.bias"] = 0.1 * torch.randn(w_dim, generator=g)
    _conv(out, "encoder.latlayer1", c3, c2, 1, g, bias=True)
    _conv(out, "encoder.latlayer2", c3, c1, 1, g, bias=True)
    return out


ENCODER_TYPES = {"e4e": "Encoder4Editing", "psp": "GradualStyleEncoder", "psp_w": "BackboneEncoderUsingLastLayerIntoW"}


def encoder_opts(kind: str, size: int, **extra) -> dict:
    """``opts`` as the official training saves them (a dict of its command-line options)."""
    opts = {"encoder_type": ENCODER_TYPES[kind], "stylegan_size": size, "output_size": size,
            "start_from_latent_avg": True, "input_nc": 3, "label_nc": 0, "checkpoint_path": None,
            "dataset_type": "ffhq_encode", "learn_in_w": kind == "psp_w", "lpips_lambda": 0.8}
    opts.update(extra)
    return opts


def write_encoder_file(path: Path, encoder: dict, opts, latent_avg: torch.Tensor | None,
                       decoder: dict | None = None, **top) -> Path:
    """An e4e / pSp checkpoint: ``{"state_dict": encoder.* + decoder.*, "opts", "latent_avg"}``."""
    sd = dict(encoder)
    sd.update({f"decoder.{k}": v for k, v in (decoder or {}).items()})
    obj = {"state_dict": sd, "opts": opts, **top}
    if latent_avg is not None:
        obj["latent_avg"] = latent_avg
    torch.save(obj, path)
    return Path(path)


def standin_decoder() -> tuple[dict, torch.Tensor]:
    """The StyleGAN2 oracle (32 px, w 32, 8 slots) in rosinality names, and its mean w."""
    sd, _, meta = oracle("stylegan2_uncond32")
    return nvlabs_to_rosinality(sd, meta["init_kwargs"]["w_dim"]), sd["mapping.w_avg"]


def write_standin_encoder(path: Path, kind: str = "e4e", with_decoder: bool = True, seed: int = 0) -> Path:
    """A random e4e / pSp of real topology and small widths whose decoder is the StyleGAN2 oracle."""
    dec, w_avg = standin_decoder()
    latent_avg = w_avg[None].repeat(8, 1) if kind != "psp_w" else w_avg[None]
    return write_encoder_file(path, encoder_state(kind, seed=seed), encoder_opts(kind, 32), latent_avg,
                              dec if with_decoder else None)


def as_cuda_saved(src: Path, dst: Path) -> Path:
    """A copy of a torch zip file whose tensors say they were saved on ``cuda:0``, as released checkpoints do."""
    blob = Path(src).read_bytes()
    zin = zipfile.ZipFile(io.BytesIO(blob))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in zin.namelist():
            data = zin.read(name)
            if name.endswith("data.pkl"):
                cpu = b"X" + struct.pack("<I", 3) + b"cpu"
                assert cpu in data, "no 'cpu' storage location in the pickle"
                data = data.replace(cpu, b"X" + struct.pack("<I", 6) + b"cuda:0")
            z.writestr(name, data)
    Path(dst).write_bytes(out.getvalue())
    return Path(dst)


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
    "edit_a_photo": {4: {"steps": 40}, 5: {"steps": 40}},
}


def write_example_models(models_root: Path) -> Path:
    """``models_root/gan`` with the StyleGAN2 pickle and the BigGAN folder the examples name, and
    ``gan_encoders/e4e_ffhq_encode.pt`` (a random e4e of small widths whose decoder is the StyleGAN2
    oracle) with an ``age.pt`` of its width in ``gan_directions``."""
    gan = Path(models_root) / "gan"
    gan.mkdir(parents=True, exist_ok=True)
    sd, _, meta = oracle("stylegan2_uncond32")
    write_nvlabs_pickle(gan / "stylegan2-ffhq-1024x1024.pkl", sd, meta["init_kwargs"], HARMLESS_SRC)
    config, state, _ = biggan_repaired()
    write_biggan_folder(gan / "biggan-deep-128", state, config)
    encoders = Path(models_root) / "gan_encoders"
    encoders.mkdir(parents=True, exist_ok=True)
    write_standin_encoder(encoders / "e4e_ffhq_encode.pt", "e4e")
    directions = Path(models_root) / "gan_directions"
    directions.mkdir(parents=True, exist_ok=True)
    age = torch.randn(1, 32, generator=torch.Generator().manual_seed(3))
    torch.save(age / age.norm(), directions / "age.pt")  # e4e's layout: one unit row, here of the stand-in's width
    return gan


def write_example_inputs(input_dir: Path) -> Path:
    """ComfyUI's ``input/`` for the examples that load an image: ``example.png``, a smooth 112x96 picture
    (a stand-in for the sample drawing ComfyUI ships), and the photos this repository's ``input/`` folder
    carries for the examples (``astronaut.png``), copied as a user copies them."""
    import shutil

    from PIL import Image

    input_dir = Path(input_dir)
    input_dir.mkdir(parents=True, exist_ok=True)
    for photo in sorted((Path(__file__).resolve().parents[1] / "input").glob("*.png")):
        shutil.copyfile(photo, input_dir / photo.name)
    yy, xx = np.mgrid[0:96, 0:112].astype(np.float32)
    rgb = np.stack([128 + 100 * np.sin(xx / 13), 128 + 100 * np.cos(yy / 17), 255 * (xx + yy) / 206], axis=-1)
    Image.fromarray(np.clip(rgb, 0, 255).astype(np.uint8)).save(input_dir / "example.png")
    return input_dir / "example.png"
