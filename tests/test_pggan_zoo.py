"""pytorch_GAN_zoo PGGAN checkpoints: the genforce PGGAN oracle re-expressed in the zoo layout.

The two layouts compute the same function: pixel norm after every leaky ReLU (genforce applies it
before every block instead), nearest 2x upsampling, He-constant scaling.  They differ in how the
weights are stored: the zoo scales a layer's output *and bias* by sqrt(2 / fan_in) (to-RGB
included), genforce scales only the weight, by sqrt(2) / sqrt(fan_in) (gain 1 for to-RGB); the zoo's
first layer is a dense map to 16 * depth0 values (channel, h, w), genforce's a 4x4 convolution of
the 1x1 latent padded by 3, which reads kernel tap (3 - h, 3 - w).  Mapping the oracle weights
across these facts must reproduce the oracle images.
"""

from __future__ import annotations

import math
import sys
import types
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gan_latent_lab.errors import UnsafePickleError
from gan_latent_lab.loaders import genforce, load_gan, pggan_zoo, read_checkpoint, save_converted
from gan_latent_lab.loaders.safe_pickle import Record

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
TOL = 1e-4
Z, DEPTH = 32, 32


def close(a, b):
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < TOL


@pytest.fixture(scope="module")
def oracle():
    return (load_file(str(ORACLES / "pggan_genforce16.safetensors")),
            load_file(str(ORACLES / "pggan_genforce16_io.safetensors")))


def zoo_weights(sd: dict, old_names: bool = False) -> dict[str, torch.Tensor]:
    """The genforce PGGAN weights stored the way the zoo's GNet stores the same network."""
    mod = "" if old_names else "module."
    out = {}
    he = lambda fan: math.sqrt(2.0 / fan)  # noqa: E731
    w0 = sd["layer0.weight"]  # [depth0, z, 4, 4]
    scale0 = math.sqrt(2.0) / math.sqrt(16 * Z)
    dense = torch.stack([w0[:, :, 3 - h, 3 - w] for h in range(4) for w in range(4)], dim=1)  # [c, 16, z]
    out[f"formatLayer.{mod}weight"] = dense.reshape(16 * DEPTH, Z) * scale0 / he(Z)
    out[f"formatLayer.{mod}bias"] = sd["layer0.bias"].repeat_interleave(16) / he(Z)

    def conv(dst: str, src: str, gain: float) -> None:
        w = sd[f"{src}.weight"]
        fan = w[0].numel()
        out[f"{dst}.{mod}weight"] = w * (gain / math.sqrt(fan)) / he(fan)
        out[f"{dst}.{mod}bias"] = sd[f"{src}.bias"] / he(fan)

    conv("groupScale0.0", "layer1", math.sqrt(2.0))
    for s in range(2):
        conv(f"scaleLayers.{s}.0", f"layer{2 * s + 2}", math.sqrt(2.0))
        conv(f"scaleLayers.{s}.1", f"layer{2 * s + 3}", math.sqrt(2.0))
    for i in range(3):
        conv(f"toRGBLayers.{i}", f"output{i}", 1.0)
    return out


def save_zoo(path: Path, netg: dict, avgg: dict | None = None, **config) -> None:
    """Save like pytorch_GAN_zoo: a ``models.utils.config.BaseConfig`` instance plus state dicts."""
    names = ("models", "models.utils", "models.utils.config")
    saved = {n: sys.modules.get(n) for n in names}
    mods = {n: types.ModuleType(n) for n in names}
    base_config = type("BaseConfig", (), {"__module__": "models.utils.config"})
    mods["models.utils.config"].BaseConfig = base_config
    sys.modules.update(mods)
    try:
        cfg = base_config()
        for k, v in {"depthScale0": DEPTH, "depthOtherScales": [DEPTH, DEPTH], "leakyReluLeak": 0.2,
                     "perChannelNormalization": True, "equalizedlR": True, "lossCriterion": "WGANGP",
                     "categoryVectorDim": 0, "latentVectorDim": Z, "alpha": 0.0, **config}.items():
            setattr(cfg, k, v)
        torch.save({"config": cfg, "netG": netg, "avgG": netg if avgg is None else avgg, "netD": {"x": torch.zeros(1)}}, path)
    finally:
        for n, m in saved.items():
            if m is None:
                sys.modules.pop(n, None)
            else:
                sys.modules[n] = m


@pytest.fixture(scope="module")
def zoo_file(oracle, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("zoo") / "celeba_s3_i1000.pth"
    save_zoo(path, zoo_weights(oracle[0]))
    return path


def test_zoo_checkpoint_reproduces_the_oracle(zoo_file, oracle):
    _, io = oracle
    gen = load_gan(zoo_file)
    assert (gen.arch, gen.resolution, gen.z_dim, gen.num_ws, gen.code_space) == ("pggan-zoo", 16, Z, 1, "z")
    codes = gen.mapping(io["z"])
    close(gen.synthesis(codes), io["img"])
    close(gen.synthesis(codes + 3 * io["edit_direction"]), io["img_edit_alpha3"])


def test_config_object_is_read_as_an_inert_record(zoo_file):
    ckpt = read_checkpoint(zoo_file)
    cfg = ckpt.obj["config"]
    assert isinstance(cfg, Record) and cfg.qualname == "models.utils.config.BaseConfig"
    assert cfg.get("depthOtherScales") == [DEPTH, DEPTH] and cfg.get("lossCriterion") == "WGANGP"


def test_avgG_is_preferred_and_old_key_names_load(oracle, tmp_path):
    sd, io = oracle
    good = zoo_weights(sd, old_names=True)
    broken = {k: torch.zeros_like(v) for k, v in good.items()}
    path = tmp_path / "old.pth"
    save_zoo(path, broken, avgg=good)
    gen = load_gan(path)
    close(gen.synthesis(gen.mapping(io["z"])), io["img"])
    assert "models.utils.config" not in sys.modules


def test_config_fields_change_the_network(oracle, tmp_path):
    sd, io = oracle
    path = tmp_path / "dcgan_loss.pth"
    save_zoo(path, zoo_weights(sd), lossCriterion="DCGAN")
    gen = load_gan(path)
    assert gen.config["tanh"]
    close(gen.synthesis(gen.mapping(io["z"])), torch.tanh(io["img"]))
    path = tmp_path / "leaky.pth"
    save_zoo(path, zoo_weights(sd), leakyReluLeak=0.1)
    gen = load_gan(path)
    assert gen.config["leakyness"] == 0.1
    assert (gen.synthesis(gen.mapping(io["z"])) - io["img"]).abs().max() > 1e-3


def test_unlisted_global_is_still_refused(tmp_path):
    mod = types.ModuleType("evil_pkg")
    evil = type("Payload", (), {"__module__": "evil_pkg"})
    mod.Payload = evil
    sys.modules["evil_pkg"] = mod
    try:
        torch.save({"config": evil(), "netG": {}}, tmp_path / "evil.pth")
    finally:
        del sys.modules["evil_pkg"]
    with pytest.raises(UnsafePickleError, match="evil_pkg.Payload"):
        load_gan(tmp_path / "evil.pth")


def test_sefa_matrix_matches_genforce_up_to_scale(zoo_file, oracle, tmp_path):
    sd, _ = oracle
    zoo = load_gan(zoo_file)
    gf_path = tmp_path / "gf.pth"
    torch.save({"generator_smooth": sd}, gf_path)
    gf = load_gan(gf_path)
    (a,) = zoo.sefa_weights([0])
    (b,) = gf.sefa_weights([0])
    assert a.shape == b.shape == (16 * DEPTH, Z)
    ratio = (math.sqrt(2.0) / math.sqrt(16 * Z)) / math.sqrt(2.0 / Z)
    close(a, b * ratio)


def test_detection_is_exclusive(zoo_file, oracle):
    ckpt = read_checkpoint(zoo_file)
    assert pggan_zoo.detect(ckpt) and not genforce.detect(ckpt)
    assert pggan_zoo.zoo_state({"generator_smooth": oracle[0]}) is None
    assert pggan_zoo.zoo_state({"main.0.weight": torch.zeros(1, 1, 4, 4)}) is None


def test_round_trip_and_activations(zoo_file, tmp_path, oracle):
    gen = load_gan(zoo_file)
    out = save_converted(gen, tmp_path / "zoo.safetensors")
    again = load_gan(out)
    assert again.arch == "pggan-zoo" and again.config == gen.config and again.fingerprint == gen.fingerprint
    codes = gen.mapping(gen.sample_z([5, 6]))
    close(again.synthesis(codes), gen.synthesis(codes))
    seen = []
    layer = gen.activation_layers()[-1]
    handle = gen.activation_module(layer).register_forward_hook(lambda m, i, o: seen.append(o))
    gen.synthesis(codes)
    handle.remove()
    assert seen[0].shape == (2, DEPTH, 16, 16)
    assert gen.slot_names() == ["z (all layers)"]
