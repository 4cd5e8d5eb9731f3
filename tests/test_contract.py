"""The generator contract across every family, and the layering rule behind it.

Families whose synthesis network reads the class (BigGAN's embedding in every block, a conditional
DCGAN's or PGGAN's one-hot beside z) need ``c`` in ``synthesis``; the style GANs read it only in the
mapping, so their synthesis works without it and ignores it.  Each family is checked by behaviour:
two different class vectors through ``synthesis`` with the same codes give different images exactly
when the family says it reads the class."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_latent_lab.errors import InputError
from gan_latent_lab.loaders import base
from gan_latent_lab.loaders import biggan_brock, proggan_ptrblck, sngan
from gan_latent_lab.loaders.biggan import BigGANDeep
from gan_latent_lab.loaders.dcgan import DCGANGenerator
from gan_latent_lab.loaders import genforce_pggan, genforce_stylegan, genforce_stylegan2
from gan_latent_lab.loaders.pggan_zoo import ZooPGGAN
from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator
from gan_latent_lab.loaders.stylegan3 import StyleGAN3Generator

ROOT = Path(__file__).resolve().parents[1]
ORACLES = ROOT / "tests" / "data" / "oracles"


def randomized(gen: base.GANGenerator, seed: int = 0) -> base.GANGenerator:
    """Small random weights everywhere (1 + noise for 1-D parameters such as gains and norms)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in gen.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.2 + (1.0 if p.ndim == 1 else 0.0))
    return gen.eval()


def dcgan(c_dim: int) -> DCGANGenerator:
    layers = [{"index": 0, "kind": "convT", "in": 8 + c_dim, "out": 8, "kernel": 4, "stride": 1, "padding": 0,
               "bias": False},
              {"index": 1, "kind": "bn", "features": 8},
              {"index": 3, "kind": "convT", "in": 8, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "bias": False}]
    return DCGANGenerator({"layers": layers, "in_dim": 8 + c_dim, "z_dim": 8, "c_dim": c_dim, "resolution": 8,
                           "img_channels": 3})


def with_sn_vectors(gen: base.GANGenerator) -> base.GANGenerator:
    """Spectral norm's power-iteration vectors (``u0`` buffers, read from a checkpoint in real use) set to
    random unit rows: built from scratch they are zero, which divides by zero."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for name, buf in gen.named_buffers():
            if name.rsplit(".", 1)[-1].startswith("u"):
                buf.copy_(torch.nn.functional.normalize(torch.randn(buf.shape, generator=g), dim=-1))
    return gen


# family -> (builder of a conditional instance with 3 classes, does its synthesis read the class?)
FAMILIES = {
    "stylegan2": (lambda: StyleGAN2Generator({"z_dim": 8, "c_dim": 3, "w_dim": 8, "img_resolution": 8,
                                              "channel_base": 64, "channel_max": 8, "mapping_layers": 2}), False),
    "stylegan3": (lambda: StyleGAN3Generator({"z_dim": 8, "c_dim": 3, "w_dim": 8, "img_resolution": 16,
                                              "channel_base": 256, "channel_max": 16, "num_layers": 4,
                                              "num_critical": 1}), False),
    "stylegan-genforce": (lambda: genforce_stylegan.GenforceStyleGAN({**genforce_stylegan.DEFAULTS, "resolution": 8, "z_space_dim": 8, "w_space_dim": 8,
                                                    "label_size": 3, "mapping_layers": 2, "mapping_fmaps": 8,
                                                    "fmaps_base": 64, "fmaps_max": 8}), False),
    "stylegan2-genforce": (lambda: genforce_stylegan2.GenforceStyleGAN2({**genforce_stylegan2.DEFAULTS, "resolution": 8, "z_space_dim": 8, "w_space_dim": 8,
                                                      "label_size": 3, "mapping_layers": 2, "mapping_fmaps": 8,
                                                      "fmaps_base": 64, "fmaps_max": 8}), False),
    "pggan-genforce": (lambda: genforce_pggan.GenforcePGGAN({**genforce_pggan.DEFAULTS, "resolution": 8, "z_space_dim": 8, "label_size": 3,
                                              "fmaps_base": 64, "fmaps_max": 8}), True),
    "pggan-zoo": (lambda: ZooPGGAN({"latent_dim": 11, "depths": [8, 8], "dim_output": 3, "num_rgb": 2,
                                    "category_dim": 3, "leakyness": 0.2, "normalization": True,
                                    "equalized": True, "tanh": False}), True),
    "dcgan": (lambda: dcgan(3), True),
    "biggan-deep": (lambda: BigGANDeep({"z_dim": 8, "channel_width": 4, "num_classes": 3, "class_embed_dim": 8,
                                        "layers": [[True, 16, 8], [True, 8, 4], [True, 4, 2], [True, 2, 1]],
                                        "attention_layer_position": 9},
                                       with_names=False), True),
    "biggan-brock": (lambda: with_sn_vectors(biggan_brock.BrockBigGAN({"channels": [8, 8, 4], "attention": [], "bottom_width": 4,
                                                       "z_chunk": 4, "z_dim": 12, "shared_dim": 8, "n_classes": 3,
                                                       "num_svs": 1, "image_channels": 3, "bn_eps": 1e-5,
                                                       "sn_eps": 1e-6})), True),
}

# families that have no class at all (c_dim 0): synthesis runs without c
UNCONDITIONAL = {
    "proggan-ptrblck": lambda: proggan_ptrblck.PtrblckProgGAN({"z_dim": 8, "channels": [8, 8, 4, 4],
                                                               "image_channels": 3}),
    "sngan": lambda: sngan.SNGANResNet({"z_dim": 8, "channels": [8, 8], "image_channels": 3, "bottom_width": 4}),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_synthesis_needs_the_class_exactly_when_it_reads_it(family):
    build, reads = FAMILIES[family]
    gen = randomized(build())
    assert gen.c_dim == 3 and gen.synthesis_reads_class is reads
    z = gen.sample_z([1, 2])
    c0, c2 = gen.make_c(0, 2), gen.make_c(2, 2)
    with torch.no_grad():
        codes = gen.mapping(z, c0, truncation_psi=0.7 if family == "biggan-deep" else 1.0)
        a = gen.synthesis(codes, c0, noise_mode="const")
        b = gen.synthesis(codes, c2, noise_mode="const")
        assert torch.isfinite(a).all() and a.shape[:2] == (2, 3)
        if reads:
            assert (a - b).abs().max() > 1e-4, f"{family}: synthesis ignores the class it says it reads"
            with pytest.raises(InputError, match="class vector"):
                gen.synthesis(codes)
            with pytest.raises(InputError, match="entries"):
                gen.synthesis(codes, torch.ones(2, 4))
        else:
            assert torch.equal(a, b), f"{family}: synthesis reads a class it says it ignores"
            assert torch.equal(gen.synthesis(codes, noise_mode="const"), a)
            # for these the class enters in the mapping: there it is required and changes the codes
            assert not torch.equal(gen.mapping(z, c2), codes)
            with pytest.raises(InputError, match="class vector"):
                gen.mapping(z)


@pytest.mark.parametrize("family", sorted(UNCONDITIONAL))
def test_families_without_classes_synthesize_without_c(family):
    gen = randomized(UNCONDITIONAL[family]())
    assert gen.c_dim == 0
    with torch.no_grad():
        codes = gen.mapping(gen.sample_z([1, 2]))
        img = gen.synthesis(codes, noise_mode="const")
    assert torch.isfinite(img).all() and img.shape[:2] == (2, 3) and img.std() > 0


def test_conditional_stylegan2_synthesis_without_class_matches_the_official_output():
    """NVlabs' own conditional StyleGAN2 (oracle): its synthesis network has no class input at all."""
    from gan_latent_lab.loaders import load_gan
    import json

    meta = json.loads((ORACLES / "stylegan2_cond16.json").read_text())
    io = load_file(str(ORACLES / "stylegan2_cond16_io.safetensors"))
    gen = load_gan(ORACLES / "stylegan2_cond16.safetensors", sidecar={"init_kwargs": meta["init_kwargs"]})
    assert gen.c_dim == meta["init_kwargs"]["c_dim"] > 0
    with torch.no_grad():
        img = gen.synthesis(io["ws_psi07"], noise_mode="const")
    assert (img - io["img_psi07_const"]).abs().max() < 1e-4


def test_every_family_in_loaders_is_covered():
    """A new GANGenerator subclass must join FAMILIES (and so declare what its synthesis reads) or
    UNCONDITIONAL."""
    import importlib
    import pkgutil

    from gan_latent_lab import loaders

    found = set()
    for info in pkgutil.iter_modules(loaders.__path__):
        mod = importlib.import_module(f"{loaders.__name__}.{info.name}")
        for obj in vars(mod).values():
            if isinstance(obj, type) and issubclass(obj, base.GANGenerator) and obj is not base.GANGenerator \
                    and obj.__module__ == mod.__name__:
                found.add(obj)
    # a shared base that other families build on (BigGANBase) is covered through them
    found = {cls for cls in found if not any(other is not cls and issubclass(other, cls) for other in found)}
    covered = {type(build()) for build, _ in FAMILIES.values()} | {type(build()) for build in UNCONDITIONAL.values()}
    assert found == covered, f"families without a contract test: {sorted(c.__name__ for c in found - covered)}"


# ----- layering: loaders/ and directions/ never import the node layer -------------------------------
def _imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module as written, relative dots included) for every import in a file."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = "." * node.level + (node.module or "")
            out.append((node.lineno, module))
            if not node.module:  # ``from .. import nodes``
                out += [(node.lineno, module + alias.name) for alias in node.names]
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
                "import_module", "__import__") and node.args and isinstance(node.args[0], ast.Constant):
            out.append((node.lineno, str(node.args[0].value)))
    return out


def _reaches_nodes(module: str, package: str) -> bool:
    """Whether an import written inside ``package`` (loaders / directions) names the nodes package."""
    if module.startswith("."):
        level = len(module) - len(module.lstrip("."))
        rest = module[level:]
        if level == 1:  # a sibling inside loaders/ or directions/
            return False
        return rest == "nodes" or rest.startswith("nodes.")
    parts = module.split(".")
    return "nodes" in parts[:2] or module in ("comfy", "folder_paths", "server") or module.startswith("comfy.")


@pytest.mark.parametrize("package", ["loaders", "directions"])
def test_library_packages_never_import_the_node_layer_or_comfyui(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files
    bad = [f"{p.relative_to(ROOT)}:{line}: {mod}" for p in files for line, mod in _imports(p)
           if _reaches_nodes(mod, package)]
    assert not bad, "library code reaches into the node layer:\n" + "\n".join(bad)


def test_the_import_check_sees_each_way_of_reaching_nodes(tmp_path):
    """The static check above would fail on the import directions/ganspace.py used to have, and others."""
    for text in ("from ..nodes.bridge import check_interrupt\n", "from .. import nodes\n",
                 "import gan_latent_lab.nodes.bridge\n", "from gan_latent_lab.nodes import bridge\n",
                 "import comfy.model_management\n", "import folder_paths\n",
                 "importlib.import_module('gan_latent_lab.nodes')\n"):
        f = tmp_path / "m.py"
        f.write_text(text)
        assert any(_reaches_nodes(m, "directions") for _, m in _imports(f)), text
    for text in ("from .container import Directions\n", "from ..errors import InputError\n",
                 "from ..loaders.base import GANGenerator\n", "import torch\n"):
        f = tmp_path / "m.py"
        f.write_text(text)
        assert not any(_reaches_nodes(m, "directions") for _, m in _imports(f)), text
