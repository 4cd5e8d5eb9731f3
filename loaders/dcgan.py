"""DCGAN in the PyTorch-tutorial layout: ``main.N`` = ConvTranspose2d, BatchNorm2d, ReLU, ..., Tanh.

The configuration is read off the state dict.  A class-conditional DCGAN whose first layer takes
z concatenated with a one-hot class (the OmniArt eye generator: 100 + 8) is declared by a sidecar
``<checkpoint>.json`` or safetensors metadata with ``{"z_dim": 100, "c_dim": 8, "class_names": [...]}``;
without it the whole input is treated as z.  One injection slot: the codes are z.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ..errors import CheckpointError
from ..limits import load_json
from .base import GANGenerator
from .config_check import MAX_DIM, Bool, Choice, Int, Texts, build_bounded, check_config
from .files import Checkpoint, state_dict_of, strip_prefix

ARCHS = ("dcgan",)
WRAPPER_KEYS = ("netG_state_dict", "state_dict", "generator", "netG", "G", "model")
SPEC = {"z_dim": Int(1, MAX_DIM), "c_dim": Int(0, MAX_DIM), "in_dim": Int(1, MAX_DIM), "resolution": Int(1, 8192),
        "img_channels": Int(1, 16), "class_names": Texts(100_000)}
LAYER_SPEC = {"index": Int(0, 1024), "kind": Choice(("convT", "bn")), "in": Int(1, MAX_DIM), "out": Int(1, MAX_DIM),
              "kernel": Int(1, 64), "stride": Int(1, 16), "padding": Int(0, 64), "bias": Bool(), "features": Int(1, MAX_DIM)}
MAX_LAYERS = 64
"""What the settings and each layer of the plan may be (a converted file states them in its metadata)."""


def check_dcgan_config(config: dict) -> dict:
    """The config with every field and layer checked (our error names the field)."""
    cfg = check_config(config, SPEC, where="the DCGAN configuration", required=("z_dim", "in_dim", "layers"))
    layers = cfg["layers"]
    if not isinstance(layers, list) or not 1 <= len(layers) <= MAX_LAYERS:
        raise CheckpointError(None, f"the DCGAN configuration: field 'layers' is not a list of 1..{MAX_LAYERS} layers")
    cfg["layers"] = [check_config(layer, LAYER_SPEC, where=f"the DCGAN configuration's layer {i}",
                                  required=("index", "kind")) for i, layer in enumerate(layers)]
    return cfg


_KEY = re.compile(r"^main\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def _dcgan_state(obj) -> dict[str, torch.Tensor] | None:
    sd = state_dict_of(obj, WRAPPER_KEYS)
    if sd is None:
        return None
    sd = strip_prefix(sd)
    if not sd or not all(_KEY.match(k) for k in sd):
        return None
    first = min(int(_KEY.match(k).group(1)) for k in sd)
    w = sd.get(f"main.{first}.weight")
    return sd if w is not None and w.ndim == 4 else None


def detect(ckpt: Checkpoint) -> bool:
    return _dcgan_state(ckpt.obj) is not None


def infer_config(sd: dict[str, torch.Tensor]) -> dict:
    """Layer plan from the keys: which indices are convs (with stride/padding) and batch norms."""
    idx = sorted({int(_KEY.match(k).group(1)) for k in sd})
    layers: list[dict] = []
    convs = [i for i in idx if sd[f"main.{i}.weight"].ndim == 4]
    for i in idx:
        w = sd[f"main.{i}.weight"]
        if w.ndim == 4:
            first = i == convs[0]
            k = int(w.shape[-1])
            layers.append({"index": i, "kind": "convT", "in": int(w.shape[0]), "out": int(w.shape[1]), "kernel": k,
                           "stride": 1 if first else 2, "padding": 0 if first else (k - 2) // 2,
                           "bias": f"main.{i}.bias" in sd})
        elif w.ndim == 1 and f"main.{i}.running_mean" in sd:
            layers.append({"index": i, "kind": "bn", "features": int(w.shape[0])})
        else:
            raise ValueError(f"main.{i} is neither a transposed convolution nor a batch norm")
    size = 1
    for layer in layers:
        if layer["kind"] == "convT":
            size = (size - 1) * layer["stride"] - 2 * layer["padding"] + layer["kernel"]
    first_in = layers[0]["in"]
    return {"layers": layers, "in_dim": first_in, "z_dim": first_in, "c_dim": 0, "resolution": size,
            "img_channels": layers[-1]["out"] if layers[-1]["kind"] == "convT" else layers[-2]["out"]}


class DCGANGenerator(GANGenerator):
    """z (optionally with a one-hot class) -> image through transposed convolutions."""

    arch = "dcgan"
    code_space = "z"

    def __init__(self, config: dict) -> None:
        super().__init__()
        self.config = config
        self.z_dim = int(config["z_dim"])
        self.c_dim = int(config.get("c_dim", 0))
        if self.z_dim + self.c_dim != config["in_dim"]:
            raise CheckpointError(None, f"z_dim {self.z_dim} + c_dim {self.c_dim} does not equal the first "
                                  f"layer's {config['in_dim']} inputs")
        self.w_dim = self.z_dim
        self.num_ws = 1
        self.resolution = int(config["resolution"])
        self.img_channels = int(config["img_channels"])
        self.class_names = config.get("class_names")
        last = max(layer["index"] for layer in config["layers"])
        mods: list[nn.Module] = [nn.Identity() for _ in range(last + 2)]
        for layer in config["layers"]:
            i = layer["index"]
            if layer["kind"] == "convT":
                mods[i] = nn.ConvTranspose2d(layer["in"], layer["out"], layer["kernel"], layer["stride"],
                                             layer["padding"], bias=layer["bias"])
            else:
                mods[i] = nn.BatchNorm2d(layer["features"])
                mods[i + 1] = nn.ReLU()
        mods[last + 1] = nn.Tanh()
        self.main = nn.Sequential(*mods)

    def slot_names(self) -> list[str]:
        return ["z (all layers)"]

    def _mapping(self, z, c, truncation_psi, truncation_cutoff):
        return (z * truncation_psi).unsqueeze(1)

    def _synthesis(self, codes, c, truncation_psi, noise_mode):
        x = codes[:, 0]
        if self.c_dim:
            x = torch.cat([x, c], dim=1)
        return self.main(x[:, :, None, None])

    def sefa_weights(self, slots):
        w = self.main[self.config["layers"][0]["index"]].weight[: self.z_dim]  # [z, out, k, k]
        return [w.flatten(1).T]  # a 1x1 input through a transposed conv is a dense map z -> out*k*k

    def activation_layers(self) -> list[str]:
        return [f"main.{i}" for i, m in enumerate(self.main) if isinstance(m, nn.ReLU)]

    def activation_module(self, name: str) -> nn.Module:
        if name not in self.activation_layers():
            return super().activation_module(name)
        return self.main[int(name.split(".")[1])]


def _declared(ckpt: Checkpoint) -> dict:
    """What the file or its sidecar says about the input split: safetensors metadata ``dcgan`` (JSON),
    plain metadata keys ``z_dim`` / ``c_dim`` / ``class_names`` (a JSON list), else the sidecar."""
    md = ckpt.metadata or {}
    try:
        if md.get("dcgan"):
            decl = load_json(md["dcgan"], ckpt.path, "the metadata 'dcgan'")
            if not isinstance(decl, dict):
                raise ValueError("not a JSON object")
            return decl
        plain = {k: md[k] for k in ("z_dim", "c_dim", "class_names") if k in md}
        if plain:
            decl = {k: int(plain[k]) for k in ("z_dim", "c_dim") if k in plain}
            if "class_names" in plain:
                decl["class_names"] = load_json(plain["class_names"], ckpt.path, "the metadata 'class_names'")
            return decl
    except (ValueError, TypeError) as e:
        raise ckpt.fail(f"the DCGAN settings in the file's metadata cannot be read ({e})") from None
    return dict(ckpt.sidecar or {})


def build(ckpt: Checkpoint) -> DCGANGenerator:
    sd = _dcgan_state(ckpt.obj)
    config = infer_config(sd)
    decl = _declared(ckpt)
    if not isinstance(decl, dict):
        raise ckpt.fail("the declared DCGAN settings are not a mapping")
    decl = check_config(decl, {k: SPEC[k] for k in ("z_dim", "c_dim", "class_names")}, ckpt.path,
                        "the declared DCGAN settings")
    if "c_dim" in decl or "z_dim" in decl:
        c_dim = int(decl.get("c_dim", config["in_dim"] - int(decl.get("z_dim", config["in_dim"]))))
        z_dim = int(decl.get("z_dim", config["in_dim"] - c_dim))
        if z_dim + c_dim != config["in_dim"] or z_dim <= 0 or c_dim < 0:
            raise ckpt.fail(f"the sidecar says z {z_dim} + classes {c_dim}, but the first layer takes "
                            f"{config['in_dim']} inputs")
        config.update(z_dim=z_dim, c_dim=c_dim)
    names = decl.get("class_names")
    if names is not None:
        if not isinstance(names, list) or len(names) != config["c_dim"]:
            raise ckpt.fail(f"the sidecar lists {len(names) if isinstance(names, list) else '?'} class names "
                            f"for {config['c_dim']} classes")
        config["class_names"] = [str(n) for n in names]
    return from_native(sd, config, "dcgan")


def from_native(state: dict[str, torch.Tensor], config: dict, arch: str = "dcgan") -> DCGANGenerator:
    config = check_dcgan_config(config)
    gen = build_bounded(lambda: DCGANGenerator(config), state, what="the DCGAN configuration")
    gen.load_state_dict(state, strict=True)
    return gen
