"""The generators the Voynov & Babenko code ships: Brock's BigGAN, ptrblck's ProgGAN, SN-GAN ResNets.

Oracles (tests/data/oracles/voynov_models, README there): the official GANLatentDiscovery /
BigGAN-PyTorch code with every parameter and buffer randomized, saved in the layout users have,
and its outputs.  Every file is loaded through ``load_gan`` as saved, with no sidecar."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from gan_latent_lab.directions.ganspace import ganspace
from gan_latent_lab.directions.latent import GANLatent
from gan_latent_lab.directions.sefa import sefa
from gan_latent_lab.directions.voynov import directions_from_official, train_voynov
from gan_latent_lab.errors import CheckpointError, InputError
from gan_latent_lab.loaders import biggan_brock, load_gan, proggan_ptrblck, read_checkpoint, save_converted, sngan
from gan_latent_lab.loaders import families

ROOT = Path(__file__).resolve().parent / "data" / "oracles" / "voynov_models"
FILES = {"biggan": "biggan_brock64.pth", "proggan": "proggan_ptrblck64.pth", "sn_mnist": "sngan_sn_resnet32",
         "sn_anime": "sngan_sn_resnet64"}
# (arch, resolution, z width = code width, slots, classes, image channels)
FACTS = {"biggan": ("biggan-brock", 64, 20, 5, 10, 3), "proggan": ("proggan-ptrblck", 64, 32, 1, 0, 3),
         "sn_mnist": ("sngan-resnet", 32, 128, 1, 0, 1), "sn_anime": ("sngan-resnet", 64, 128, 1, 0, 3)}
TOL = 1e-4


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest deviation relative to the reference's largest value."""
    return float((a - b).abs().max() / b.abs().max())


def io_of(name: str) -> dict[str, torch.Tensor]:
    return load_file(str(ROOT / f"{Path(FILES[name]).stem}_io.safetensors"))


@pytest.fixture(scope="module")
def models() -> dict:
    return {name: load_gan(ROOT / f) for name, f in FILES.items()}


def official_output(name: str, gen) -> torch.Tensor:
    """Our image for the oracle's inputs, fed the way the official code feeds them."""
    io = io_of(name)
    z = io["z"].flatten(1)  # ProgGAN's z is [n, C, 1, 1]
    c = F.one_hot(io["y"], gen.c_dim).float() if "y" in io else None
    with torch.no_grad():
        return gen.synthesis(gen.mapping(z, c), c)


# ----- the oracles ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FILES))
def test_oracle_reproduced_from_the_file_as_saved(models, name):
    gen = models[name]
    arch, res, z_dim, slots, classes, channels = FACTS[name]
    assert (gen.arch, gen.resolution, gen.z_dim, gen.w_dim, gen.num_ws, gen.c_dim, gen.img_channels) == \
        (arch, res, z_dim, z_dim, slots, classes, channels)
    img = official_output(name, gen)
    ref = io_of(name)["img"]
    assert img.shape == ref.shape
    assert rel(img, ref) < TOL


def test_biggan_shapes_give_the_reference_config(models):
    """Everything structural came from the shapes: the oracle's json says G_ch 4 (widths 16,16,8,4,2 x 4),
    attention at 16 px (after block 1), shared_dim 8, dim_z 24 -> 5 chunks of 4."""
    meta = json.loads((ROOT / "biggan_brock64.json").read_text())["config"]
    cfg = models["biggan"].config
    assert cfg["channels"] == [meta["G_ch"] * m for m in (16, 16, 8, 4, 2)]
    assert cfg["attention"] == [1] and meta["G_attn"] == "16"
    assert (cfg["z_chunk"], cfg["z_dim"], cfg["shared_dim"], cfg["n_classes"]) == \
        (meta["z_chunk_size"], meta["dim_z_effective"], meta["shared_dim"], meta["n_classes"])


@pytest.mark.parametrize("name", list(FILES))
def test_converted_copy_round_trips(models, name, tmp_path):
    gen = models[name]
    out = save_converted(gen, tmp_path / f"{name}.safetensors")
    again = load_gan(out)
    assert (again.arch, again.config, again.fingerprint) == (gen.arch, gen.config, gen.fingerprint)
    assert rel(official_output(name, again), io_of(name)["img"]) < TOL


@pytest.mark.parametrize("name", list(FILES))
def test_each_file_is_claimed_by_exactly_one_family(name):
    ckpt = read_checkpoint(ROOT / FILES[name])
    claimed = [f.__name__.rsplit(".", 1)[-1] for f in families() if f.detect(ckpt)]
    assert claimed == [{"biggan": "biggan_brock", "proggan": "proggan_ptrblck"}.get(name, "sngan")]


def test_biggan_deep_and_brock_are_not_mistaken(tmp_path):
    from model_files import biggan_oracle

    _, deep_state, _ = biggan_oracle()
    assert not biggan_brock.detect(read_checkpoint(write_pth(tmp_path / "deep.pth", deep_state)))
    from gan_latent_lab.loaders import biggan

    brock = torch.load(ROOT / FILES["biggan"], weights_only=True)
    assert not biggan.detect(read_checkpoint(ROOT / FILES["biggan"]))
    # BigGAN-PyTorch's own BigGAN-deep (conv1..conv4 per block) is not this layout either
    deepish = {**brock, "blocks.0.0.conv3.weight": torch.zeros(4, 4, 3, 3)}
    with pytest.raises(CheckpointError, match="unknown architecture"):
        load_gan(write_pth(tmp_path / "brock_deep.pth", deepish))


def write_pth(path: Path, state: dict) -> Path:
    torch.save(state, path)
    return path


# ----- BigGAN: hierarchical z as slots, classes, config.json ------------------------------------------
def test_hierarchical_z_slots(models):
    """An edit of every slot is an edit of z; an edit of slot k moves only the chunk block k reads."""
    gen = models["biggan"]
    io = io_of("biggan")
    c = F.one_hot(io["y"], 10).float()
    d = torch.randn(20, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        codes = gen.mapping(io["z"], c)
        assert torch.equal(codes, io["z"][:, None].repeat(1, 5, 1))
        everywhere = gen.synthesis(codes + d, c)
        assert rel(everywhere, gen.synthesis(gen.mapping(io["z"] + d, c), c)) < 1e-6
        for k in (0, 2, 4):
            one = codes.clone()
            one[:, k] += d
            only_chunk = torch.zeros(20)
            only_chunk[4 * k:4 * k + 4] = d[4 * k:4 * k + 4]
            got = gen.synthesis(one, c)
            assert rel(got, gen.synthesis(gen.mapping(io["z"] + only_chunk, c), c)) < 1e-6
            assert rel(got, everywhere) > 1e-3  # the other chunks of d did not move anything


def test_biggan_class_by_index_name_and_mix(models, tmp_path):
    gen = models["biggan"]
    io = io_of("biggan")
    with torch.no_grad():
        img = gen.synthesis(gen.mapping(io["z"][1:2]), gen.make_c(3, 1))
        assert rel(img, io["img"][1:2]) < TOL  # the oracle's second sample is class 3
        mix = gen.make_c("0:0.25, 9:0.75", 1)
        # the shared embedding is linear: a mix embeds to the mix of the two rows
        emb = gen.shared(mix)
        assert torch.allclose(emb, 0.25 * gen.shared.weight[0] + 0.75 * gen.shared.weight[9])
    with pytest.raises(InputError, match="no class-name list"):
        gen.make_c("goldfish", 1)
    # 1000 classes: ImageNet names are built in
    state = torch.load(ROOT / FILES["biggan"], weights_only=True)
    state["shared.weight"] = torch.randn(1000, 8, generator=torch.Generator().manual_seed(0))
    big = load_gan(write_pth(tmp_path / "G_ema.pth", state))
    assert big.c_dim == 1000 and big.class_names[1] == "goldfish"
    assert torch.equal(big.make_c("goldfish", 1), F.one_hot(torch.tensor([1]), 1000).float())


def test_biggan_sample_z_is_truncated_normal(models):
    scipy_stats = pytest.importorskip("scipy.stats")
    import numpy as np

    gen = models["biggan"]
    z = gen.sample_z([0, 7])
    for row, s in zip(z, (0, 7)):
        ref = scipy_stats.truncnorm.rvs(-2, 2, size=20, random_state=np.random.RandomState(s)).astype(np.float32)
        assert torch.allclose(row, torch.from_numpy(ref), atol=1e-6)
    assert float(z.abs().max()) <= 2.0


def official_biggan_config(**change) -> dict:
    meta = json.loads((ROOT / "biggan_brock64.json").read_text())["config"]
    return {**meta, "G_nl": "relu", **change}


def copy_biggan(folder: Path, config: dict | None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / FILES["biggan"], folder / "G_ema.pth")
    if config is not None:
        (folder / "config.json").write_text(json.dumps(config))
    return folder / "G_ema.pth"


def test_biggan_config_json_is_read_and_checked(tmp_path):
    gen = load_gan(copy_biggan(tmp_path / "ok", official_biggan_config(BN_eps=1e-3, class_names=[f"c{i}" for i in range(10)])))
    assert gen.config["bn_eps"] == 1e-3 and gen.class_names[4] == "c4"
    assert rel(official_output("biggan", gen), io_of("biggan")["img"]) > 1e-6  # another epsilon is another network
    assert gen.make_c("c4", 1).argmax() == 4


@pytest.mark.parametrize("change,field", [
    ({"G_ch": 8}, "G_ch"), ({"G_attn": "32"}, "G_attn"), ({"G_attn": "sixteen"}, "G_attn"),
    ({"resolution": 128}, "resolution"), ({"n_classes": 1000}, "n_classes"), ({"shared_dim": 128}, "shared_dim"),
    ({"dim_z": 120}, "dim_z"), ({"hier": False}, "hier"), ({"BN_eps": float("nan")}, "BN_eps"),
    ({"SN_eps": -1}, "SN_eps"), ({"SN_eps": True}, "SN_eps"), ({"G_nl": "leaky_relu"}, "G_nl"),
    ({"G_shared": False}, "G_shared"), ({"norm_style": "in"}, "norm_style"), ({"num_G_SVs": 2}, "num_G_SVs"),
    ({"G_ch": -4}, "G_ch"),
])
def test_biggan_config_json_that_disagrees_is_refused(tmp_path, change, field):
    with pytest.raises(CheckpointError, match=f"'{field}'"):
        load_gan(copy_biggan(tmp_path, official_biggan_config(**change)))


def test_the_released_models_have_the_official_deformator_widths():
    """Built from the published architectures (no weights, meta device): BigGAN 128 px (G_ch 96, dim_z 120,
    6 slots, attention at 64 px), ProgGAN CelebA-HQ 1024 px (18 blocks, z 512), SN-GAN (z 128)."""
    with torch.device("meta"):
        big = biggan_brock.BrockBigGAN({"channels": [96 * m for m in (16, 16, 8, 4, 2, 1)], "attention": [3],
                                        "bottom_width": 4, "z_chunk": 20, "z_dim": 120, "shared_dim": 128,
                                        "n_classes": 1000, "num_svs": 1, "image_channels": 3, "bn_eps": 1e-5,
                                        "sn_eps": 1e-6})
        pro = proggan_ptrblck.PtrblckProgGAN({"z_dim": 512, "channels": [512] * 8 + [256, 256, 128, 128, 64, 64, 32, 32, 16, 16],
                                              "image_channels": 3})
        sn = sngan.SNGANResNet({"z_dim": 128, "channels": [256] * 4, "image_channels": 1, "bottom_width": 4})
    assert (big.resolution, big.w_dim, big.num_ws, big.class_names[0]) == (128, 120, 6, "tench")
    assert "blocks.3.1.gamma" in big.state_dict()
    assert (pro.resolution, pro.w_dim) == (1024, 512)
    assert (sn.resolution, sn.w_dim) == (32, 128)


# ----- SN-GAN folder and args.json -----------------------------------------------------------------
def copy_sngan(tmp_path: Path, name: str = "sn_mnist", args: object = "keep") -> Path:
    folder = tmp_path / "SN_MNIST"
    shutil.copytree(ROOT / FILES[name], folder)
    if args is None:
        (folder / "args.json").unlink()
    elif args != "keep":
        (folder / "args.json").write_text(args if isinstance(args, str) else json.dumps(args))
    return folder


def test_sngan_loads_from_the_folder_or_the_file_and_without_args(tmp_path):
    folder = copy_sngan(tmp_path, args=None)
    gen = load_gan(folder / "generator.pt")
    assert "model" not in gen.config and gen.resolution == 32
    assert rel(official_output("sn_mnist", gen), io_of("sn_mnist")["img"]) < TOL


def test_sngan_duplicate_conv_names_follow_the_official_loader(tmp_path):
    """The official module registers each block conv twice; its loader ends with the ``model.N.model.3`` copy."""
    folder = copy_sngan(tmp_path)
    state = torch.load(folder / "generator.pt", weights_only=True)
    state = {k: v.clone() for k, v in state.items()}
    state["model.2.conv1.weight"] = torch.zeros_like(state["model.2.conv1.weight"])  # ignored
    torch.save(state, folder / "generator.pt")
    assert rel(official_output("sn_mnist", load_gan(folder)), io_of("sn_mnist")["img"]) < TOL
    only_alias = {k: v for k, v in state.items() if not k.startswith("model.3.model.3.")}
    only_alias["model.3.conv1.weight"] = state["model.3.model.3.weight"]
    torch.save(only_alias, folder / "generator.pt")
    assert rel(official_output("sn_mnist", load_gan(folder)), io_of("sn_mnist")["img"]) < TOL


@pytest.mark.parametrize("args,field", [
    ({"model": "sn_resnet128", "latent_dim": 128, "image_channels": 1}, "model"),
    ({"model": "sn_resnet64", "latent_dim": 128, "image_channels": 1}, "model"),
    ({"model": 32, "latent_dim": 128}, "model"),
    ({"model": "sn_resnet32", "latent_dim": 0}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": -128}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": 10**12}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": "128"}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": 128.5}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": float("nan")}, "latent_dim"),
    ({"model": "sn_resnet32", "distribution": ["normal"]}, "distribution"),
    ({"model": "sn_resnet32", "latent_dim": True}, "latent_dim"),
    ({"model": "sn_resnet32", "latent_dim": 64}, "latent_dim"),
    ({"model": "sn_resnet32", "image_channels": 3}, "image_channels"),
    ({"model": "sn_resnet32", "image_channels": 0}, "image_channels"),
    ({"model": "sn_resnet32", "distribution": "uniform"}, "distribution"),
])
def test_bad_args_json_is_refused_naming_file_and_field(tmp_path, args, field):
    folder = copy_sngan(tmp_path, args=args)
    with pytest.raises(CheckpointError, match=f"'args.json': (the training arguments: )?(the )?field '{field}'"):
        load_gan(folder)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", "NaN"])
def test_unreadable_args_json_is_refused(tmp_path, text):
    with pytest.raises(CheckpointError, match="'args.json'"):
        load_gan(copy_sngan(tmp_path, args=text))


def test_one_channel_model_decodes_to_rgb_images():
    from gan_latent_lab.nodes.model_nodes import decode_latent, sample_latent

    gen = load_gan(ROOT / FILES["sn_mnist"])
    latent, _ = sample_latent(gen, 5, 2, 1.0, 0)
    images = decode_latent(gen, latent)
    assert images.shape == (2, 32, 32, 3)
    assert torch.equal(images[..., 0], images[..., 2]) and float(images.min()) >= 0 and float(images.max()) <= 1
    with torch.no_grad():
        raw = gen.synthesis(latent.codes)
    assert torch.allclose(images[..., 1], (raw[:, 0].clamp(-1, 1) + 1) / 2, atol=1e-6)
    from gan_latent_lab.nodes.edit_nodes import DirectionGrid

    (grid,) = DirectionGrid().grid(gen, latent, sefa(gen, "all", k=3), 0, 2, 3.0, 3, 0, -1, False)
    assert grid.ndim == 4 and grid.shape[0] == 1 and grid.shape[-1] == 3 and grid.shape[1] >= 2 * 32


# ----- bad files ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FILES))
def test_truncated_files_are_refused(tmp_path, name):
    src = ROOT / FILES[name]
    data = (src / "generator.pt" if src.is_dir() else src).read_bytes()
    for cut in (100, len(data) // 2, len(data) - 20):
        (tmp_path / "cut.pth").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_gan(tmp_path / "cut.pth")


def edited(name: str, **changes) -> dict:
    path = ROOT / FILES[name]
    state = dict(torch.load(path / "generator.pt" if path.is_dir() else path, weights_only=True))
    for key, value in changes.items():
        key = key.replace("__", ".")
        if value is None:
            del state[key]
        else:
            state[key] = value
    return state


@pytest.mark.parametrize("name,changes,message", [
    ("biggan", {"linear__u0": torch.zeros(1, 5)}, "linear.u0 is"),
    ("biggan", {"blocks__2__0__conv2__weight": torch.zeros(16, 16, 3, 1)}, "blocks.2.0.conv2.weight is"),
    ("biggan", {"blocks__1__0__bn2__gain__weight": None}, "missing blocks.1.0.bn2.gain.weight"),
    ("biggan", {"blocks__5__0__conv1__weight": torch.zeros(4, 8, 3, 3)}, "numbered"),
    ("biggan", {"shared__weight": torch.zeros(0, 8)}, "'n_classes'"),
    ("biggan", {"shared__weight": torch.zeros(10, 20)}, "fewer than"),
    ("biggan", {"linear__weight": torch.zeros(1000, 4)}, "not 64 channels on a square"),
    ("proggan", {"features__4__conv__weight": torch.zeros(16, 8, 3, 3)}, "features.4.conv.weight is"),
    ("proggan", {"features__5__conv__weight": None}, "numbered"),
    ("proggan", {"features__9__conv__weight": None}, "even number"),
    ("proggan", {"features__0__conv__weight": torch.zeros(32, 0, 4, 4)}, "'z_dim'"),
    ("proggan", {"output__wscale__b": torch.zeros(4)}, "output.wscale.b is"),
    ("sn_mnist", {"model__0__weight": torch.zeros(512, 0)}, "'z_dim'"),
    ("sn_mnist", {"model__0__weight": torch.zeros(500, 128)}, "not 32 channels on a square"),
    ("sn_mnist", {"model__3__model__4__running_var": torch.zeros(7)}, "model.3.model.4.running_var is"),
])
def test_wrong_shapes_are_refused_before_building(tmp_path, name, changes, message):
    path = write_pth(tmp_path / "bad.pth", edited(name, **changes))
    with pytest.raises(CheckpointError, match=message):
        load_gan(path)


@pytest.mark.parametrize("config", [
    {"channels": [64, 0, 32], "attention": [], "bottom_width": 4, "z_chunk": 4, "z_dim": 12},
    {"channels": [64, 64], "attention": [5], "bottom_width": 4, "z_chunk": 4, "z_dim": 8},
])
def test_bad_converted_configs_are_refused(config):
    base = {"shared_dim": 8, "n_classes": 10, "num_svs": 1, "image_channels": 3, "bn_eps": 1e-5, "sn_eps": 1e-6}
    with pytest.raises(CheckpointError):
        biggan_brock.check_config({**base, **config})


# ----- methods on every model -------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(FILES))
def test_sefa_ganspace_and_gradients(models, name):
    gen = models[name]
    d = sefa(gen, "all", k=4)
    assert d.vectors.shape == (4, gen.w_dim) and float(d.values[0]) > 0
    g, stats = ganspace(gen, 300, k=3, seed=1, converge=False, regression_samples=300)
    assert g.vectors.shape == (3, gen.z_dim) and stats["layer"] == gen.activation_layers()[0]
    z = gen.sample_z([1, 2]).requires_grad_(True)
    c = gen.make_c(0, 2)
    codes = gen.mapping(z, c)
    gen.synthesis(codes, c).square().mean().backward()
    assert z.grad is not None and float(z.grad.abs().sum()) > 0


def test_biggan_sefa_per_slot_lives_in_its_chunk(models):
    gen = models["biggan"]
    for slot in range(gen.num_ws):
        d = sefa(gen, [slot], k=4)  # a chunk is 4 wide: the top 4 directions span it
        outside = torch.ones(20, dtype=torch.bool)
        outside[4 * slot:4 * slot + 4] = False
        assert float(d.vectors[:, outside].abs().max()) < 1e-6
        assert float(d.values[3]) > 0


@pytest.mark.parametrize("name", list(FILES))
def test_voynov_runs_a_few_steps(models, name):
    gen = models[name]
    dirs, stats = train_voynov(gen, k=4, steps=3, batch_size=2, seed=0, eval_samples=4)
    assert dirs.vectors.shape == (4, gen.w_dim) and stats["steps"] == 3
    assert torch.allclose(dirs.vectors @ dirs.vectors.T, torch.eye(4), atol=1e-5)


@pytest.mark.parametrize("name,state,k", [
    ("biggan", lambda dim: {"log_mat_half": 0.1 * torch.randn(dim, dim, generator=torch.Generator().manual_seed(0))}, 20),
    ("proggan", lambda dim: {"linear.weight": torch.randn(dim, 12, generator=torch.Generator().manual_seed(1)),
                             "linear.bias": torch.zeros(dim)}, 12),
    ("sn_anime", lambda dim: {"linear.weight": torch.randn(dim, 64, generator=torch.Generator().manual_seed(2)),
                              "linear.bias": torch.zeros(dim)}, 64),
])
def test_official_deformators_import_and_apply(models, tmp_path, name, state, k):
    """A deformator state dict of the official layout (``torch.save(deformator.state_dict())``): its columns
    are shifts of z; applied on all slots they give the official ``G(z + eps * A[:, j])``."""
    gen = models[name]
    sd = state(gen.w_dim)
    torch.save(sd, tmp_path / "deformator_100000.pt")
    dirs = directions_from_official(tmp_path / "deformator_100000.pt", gen)
    assert dirs.vectors.shape == (k, gen.w_dim) and dirs.space == "z"
    mat = torch.linalg.matrix_exp(sd["log_mat_half"] - sd["log_mat_half"].T) if "log_mat_half" in sd else sd["linear.weight"]
    col = mat[:, 2] / mat[:, 2].norm()
    z = gen.sample_z([3])
    c = gen.make_c(1, 1)
    latent = GANLatent(codes=gen.mapping(z, c), fingerprint=gen.fingerprint, z=z, c=c, space="z")
    from gan_latent_lab.directions.edit import apply_direction

    moved = apply_direction(latent, dirs, 2, 4.0, model=gen)
    with torch.no_grad():
        assert rel(gen.synthesis(moved.codes, c), gen.synthesis(gen.mapping(z + 4.0 * col, c), c)) < 1e-5
    wrong = {"linear.weight": torch.randn(gen.w_dim + 1, 4)}
    with pytest.raises(InputError, match="wide"):
        directions_from_official(wrong, gen)


@pytest.mark.parametrize("name,change,field", [
    ("sn_anime", {"z_dim": -1}, "z_dim"), ("sn_anime", {"channels": [64, 32, 16, 8, 10**9]}, "channels"),
    ("proggan", {"image_channels": 0}, "image_channels"), ("proggan", {"channels": [32, 32, 32]}, "channels"),
    ("biggan", {"bn_eps": float("nan")}, "bn_eps"), ("biggan", {"z_dim": 21}, "z_dim"),
    ("biggan", {"num_svs": 10**6}, "num_svs"),
])
def test_converted_file_with_a_bad_config_is_refused_naming_it(models, tmp_path, name, change, field):
    from safetensors.torch import load_file as read, save_file

    out = save_converted(models[name], tmp_path / "conv.safetensors")
    from safetensors import safe_open

    with safe_open(str(out), framework="pt") as f:
        meta = dict(f.metadata())
    meta["config"] = json.dumps({**json.loads(meta["config"]), **change})
    save_file(read(str(out)), str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match=f"cannot load 'bad.safetensors': .*'{field}'"):
        load_gan(tmp_path / "bad.safetensors")
