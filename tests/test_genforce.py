"""genforce / SeFa StyleGAN, StyleGAN2 and PGGAN against the official implementation's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file

from gan_latent_lab.errors import CheckpointError, InputError
from gan_latent_lab.loaders import genforce, load_gan, read_checkpoint, save_converted

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
NAMES = {"stylegan": "stylegan1_genforce16", "stylegan2": "stylegan2_genforce16", "pggan": "pggan_genforce16"}
TOL = 1e-4


def oracle(kind: str) -> tuple[dict, dict, dict]:
    name = NAMES[kind]
    meta = json.loads((ORACLES / f"{name}.json").read_text())
    return load_file(str(ORACLES / f"{name}.safetensors")), load_file(str(ORACLES / f"{name}_io.safetensors")), meta


@pytest.fixture(scope="module")
def pth(tmp_path_factory) -> dict[str, Path]:
    """The file a genforce user has: ``{"generator_smooth": state_dict}`` saved with torch."""
    root = tmp_path_factory.mktemp("genforce")
    out = {}
    for kind in NAMES:
        sd, _, _ = oracle(kind)
        out[kind] = root / f"{kind}.pth"
        torch.save({"generator_smooth": sd}, out[kind])
    return out


def close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() < TOL


def test_stylegan_matches_official(pth):
    _, io, meta = oracle("stylegan")
    gen = load_gan(pth["stylegan"])
    assert gen.arch == "stylegan-genforce" and gen.num_ws == meta["num_layers"] == 6
    assert (gen.resolution, gen.z_dim, gen.w_dim) == (16, 32, 32)
    close(gen.mapping(io["z"])[:, 0], io["w"])
    wp = gen.mapping(io["z"], truncation_psi=0.7, truncation_cutoff=4)
    close(wp, io["wp_psi07_layers4"])
    close(gen.synthesis(wp), io["img"])
    edit = wp.clone()
    edit[:, 1:4] += 3 * io["edit_direction"]
    close(gen.synthesis(edit), io["img_edit_layers1to3_alpha3"])


def test_stylegan2_matches_official(pth):
    _, io, meta = oracle("stylegan2")
    gen = load_gan(pth["stylegan2"])
    assert gen.arch == "stylegan2-genforce" and gen.num_ws == meta["num_layers"]
    assert gen.config["architecture"] == "skip" and gen.config["mapping_layers"] == 2
    close(gen.mapping(io["z"])[:, 3], io["w"])
    wp = gen.mapping(io["z"], truncation_psi=0.5)
    close(wp, io["wp_psi05_all"])
    close(gen.synthesis(wp), io["img"])
    edit = wp.clone()
    edit[:, 1:4] += 3 * io["edit_direction"]
    close(gen.synthesis(edit), io["img_edit_layers1to3_alpha3"])


def test_pggan_matches_official(pth):
    _, io, _ = oracle("pggan")
    gen = load_gan(pth["pggan"])
    assert (gen.arch, gen.code_space, gen.num_ws, gen.resolution) == ("pggan-genforce", "z", 1, 16)
    codes = gen.mapping(io["z"])
    z = io["z"]
    close(codes[:, 0], z / z.square().mean(1, keepdim=True).sqrt())
    close(gen.synthesis(codes), io["img"])
    close(gen.synthesis(codes + 3 * io["edit_direction"]), io["img_edit_alpha3"])


def test_inferred_config_matches_official_init_kwargs(pth):
    for kind in NAMES:
        _, _, meta = oracle(kind)
        gen = load_gan(pth[kind])
        for key, value in meta["init_kwargs"].items():
            assert gen.config[key] == value, (kind, key)


def test_wrappers_and_preference(tmp_path):
    sd, io, _ = oracle("stylegan")
    broken = {k: torch.zeros_like(v) for k, v in sd.items()}
    torch.save({"generator": broken, "generator_smooth": sd}, tmp_path / "both.pth")
    torch.save({"generator": sd}, tmp_path / "plain.pth")
    torch.save(sd, tmp_path / "bare.pth")
    for name in ("both.pth", "plain.pth", "bare.pth"):
        gen = load_gan(tmp_path / name)
        close(gen.synthesis(io["wp_psi07_layers4"]), io["img"])


def test_sidecar_config_is_used_and_checked(tmp_path):
    sd, io, meta = oracle("pggan")
    path = tmp_path / "pg.pth"
    torch.save({"generator_smooth": sd}, path)
    (tmp_path / "pg.json").write_text(json.dumps({"init_kwargs": {**meta["init_kwargs"], "final_tanh": True}}))
    gen = load_gan(path)
    close(gen.synthesis(gen.mapping(io["z"])), torch.tanh(io["img"]))
    (tmp_path / "pg.json").write_text(json.dumps({"fmaps_max": 64}))
    with pytest.raises(CheckpointError, match="pg.pth"):
        load_gan(path)


def test_detect_tells_families_apart_and_claims_no_others():
    for kind, arch in (("stylegan", "stylegan-genforce"), ("stylegan2", "stylegan2-genforce"), ("pggan", "pggan-genforce")):
        sd, _, _ = oracle(kind)
        assert genforce.family_of(sd) == arch
    nvlabs = {"mapping.fc0.weight": torch.zeros(4, 4), "synthesis.b4.const": torch.zeros(4, 4, 4),
              "synthesis.b4.conv1.affine.weight": torch.zeros(4, 4)}
    dcgan = {"main.0.weight": torch.zeros(100, 64, 4, 4), "main.1.weight": torch.zeros(64),
             "main.1.running_mean": torch.zeros(64)}
    zoo = {"formatLayer.module.weight": torch.zeros(64, 8), "toRGBLayers.0.module.weight": torch.zeros(3, 4, 1, 1)}
    for sd in (nvlabs, dcgan, zoo, {"netG": zoo}):
        assert genforce.genforce_state(sd) is None


def test_fused_upsampling_is_upsample_then_conv_with_flipped_kernel():
    """A stride-2 transposed conv of the 4-tap summed kernel equals nearest 2x upsampling followed by
    a 3x3 correlation with the spatially flipped kernel, so the fused path (used from 128 px) is
    checked against the oracle-verified unfused path."""
    sd, io, _ = oracle("stylegan")
    cfg = genforce.infer_stylegan(sd)
    plain = genforce.from_native(sd, {**cfg, "fused_scale": False}, "stylegan-genforce")
    flipped = {k: v.flip(2, 3) if k in ("synthesis.layer2.weight", "synthesis.layer4.weight") else v for k, v in sd.items()}
    fused = genforce.from_native(flipped, {**cfg, "fused_scale": True}, "stylegan-genforce")
    with torch.no_grad():
        close(fused.synthesis(io["wp_psi07_layers4"]), plain.synthesis(io["wp_psi07_layers4"]))
    sd, io, _ = oracle("pggan")
    cfg = genforce.infer_pggan(sd)
    plain = genforce.from_native(sd, cfg, "pggan-genforce")
    turned = {k: v.transpose(0, 1).flip(2, 3) if k in ("layer2.weight", "layer4.weight") else v for k, v in sd.items()}
    fused = genforce.from_native(turned, {**cfg, "fused_scale": True}, "pggan-genforce")
    with torch.no_grad():
        codes = plain.mapping(io["z"])
        close(fused.synthesis(codes), plain.synthesis(codes))


def test_sefa_weights_follow_official_factorize(pth):
    sd, _, _ = oracle("stylegan")
    gen = load_gan(pth["stylegan"])
    mats = gen.sefa_weights([0, 2, 5])
    for m, i in zip(mats, (0, 2, 5)):
        assert torch.equal(m, sd[f"synthesis.layer{i}.style.weight"]) and m.shape == (64, 32)
    sd, _, _ = oracle("stylegan2")
    gen = load_gan(pth["stylegan2"])
    mats = gen.sefa_weights([1, 4, 5])  # the last slot is read from the final to-RGB's affine
    assert torch.equal(mats[0], sd["synthesis.layer1.style.weight"])
    assert torch.equal(mats[1], sd["synthesis.layer4.style.weight"])
    assert torch.equal(mats[2], sd["synthesis.output2.style.weight"])
    with pytest.raises(InputError):
        gen.sefa_weights([6])


def test_pggan_sefa_matrix_is_the_dense_projection_of_z(pth):
    """layer0 is a 4x4 conv padded by 3 on a 1x1 input; the SeFa matrix must reproduce it as a
    dense map with rows ordered (channel, h, w)."""
    sd, io, _ = oracle("pggan")
    gen = load_gan(pth["pggan"])
    (mat,) = gen.sefa_weights([0])
    assert mat.shape == (32 * 16, 32)
    z = io["z"]
    conv = F.conv2d(z[:, :, None, None], sd["layer0.weight"], padding=3)
    assert conv.shape[-2:] == (4, 4)
    close(z @ mat.T, conv.flatten(1))
    with pytest.raises(InputError):
        gen.sefa_weights([1])


def test_slot_names_and_activation_layers(pth):
    for kind in NAMES:
        gen = load_gan(pth[kind])
        assert len(gen.slot_names()) == gen.num_ws
        layers = gen.activation_layers()
        assert layers
        seen = []
        handle = gen.activation_module(layers[0]).register_forward_hook(lambda m, i, o: seen.append(o))
        gen.synthesis(gen.mapping(gen.sample_z([1, 2])))
        handle.remove()
        assert seen and seen[0].shape[0] == 2 and seen[0].shape[-1] == 4
        with pytest.raises(InputError):
            gen.activation_module("nope")


def test_round_trip_through_converted_file(pth, tmp_path):
    for kind in NAMES:
        gen = load_gan(pth[kind])
        out = save_converted(gen, tmp_path / f"{kind}.safetensors")
        assert read_checkpoint(out).metadata["arch"] == gen.arch
        again = load_gan(out)
        assert again.arch == gen.arch and again.config == gen.config and again.fingerprint == gen.fingerprint
        codes = gen.mapping(gen.sample_z([3]), truncation_psi=0.8)
        close(again.synthesis(codes), gen.synthesis(codes))


def test_sample_z_is_numpy_randomstate(pth):
    gen = load_gan(pth["pggan"])
    z = gen.sample_z([7, 11])
    assert torch.allclose(z[1], torch.from_numpy(np.random.RandomState(11).randn(32)).float())


def test_noise_modes(pth):
    _, io, _ = oracle("stylegan")
    gen = load_gan(pth["stylegan"])
    wp = io["wp_psi07_layers4"]
    torch.manual_seed(0)
    assert (gen.synthesis(wp, noise_mode="random") - io["img"]).abs().max() > 1e-3
    assert (gen.synthesis(wp, noise_mode="none") - io["img"]).abs().max() > 1e-3
    with pytest.raises(InputError):
        gen.synthesis(wp[:, :5])


def test_conditional_label_inputs(tmp_path):
    """genforce's label embedding: dense0 reads [z, c @ label_weight]; PGGAN concatenates c to z."""
    sd, io, _ = oracle("stylegan")
    sd = dict(sd)
    torch.manual_seed(1)
    sd["mapping.label_weight"] = torch.randn(5, 32)
    sd["mapping.dense0.weight"] = torch.randn(512, 64) / 0.01  # stored divided by the lr multiplier
    torch.save({"generator_smooth": sd}, tmp_path / "cond.pth")
    gen = load_gan(tmp_path / "cond.pth")
    assert (gen.c_dim, gen.z_dim) == (5, 32)
    with pytest.raises(InputError):
        gen.mapping(io["z"])
    a, b = gen.mapping(io["z"], gen.make_c(0, 3)), gen.mapping(io["z"], gen.make_c(3, 3))
    assert a.shape == (3, 6, 32) and (a - b).abs().max() > 1e-5  # float noise here is ~1e-9
    sd, io, meta = oracle("pggan")
    sd = dict(sd)
    sd["layer0.weight"] = torch.randn(32, 36, 4, 4)
    torch.save({"generator_smooth": sd}, tmp_path / "pgcond.pth")
    gen = load_gan(tmp_path / "pgcond.pth", sidecar={"label_size": 4})
    assert (gen.z_dim, gen.c_dim) == (32, 4)
    c = gen.make_c(1, 3)
    img = gen.synthesis(gen.mapping(io["z"], c), c)
    assert img.shape == (3, 3, 16, 16)


def test_pggan_sefa_and_ganspace_give_unit_z_directions(tmp_path):
    """SeFa on PGGAN's first projection, and GANSpace's activation PCA + regression on layer0 (linear in
    the pixel-normalised z, then a leaky ReLU) recover that projection's right singular vectors."""
    from z_methods import check_ganspace_linear_first_layer, check_sefa_in_z, with_decaying_spectrum

    sd, _, _ = oracle("pggan")
    sd = dict(sd)
    w = sd["layer0.weight"]  # [out, z, 4, 4]; as a dense map the rows are (out, h, w) up to a permutation
    out_ch, z_dim = w.shape[:2]
    dense = with_decaying_spectrum(w.permute(0, 2, 3, 1).reshape(-1, z_dim), slice(0, z_dim))
    sd["layer0.weight"] = dense.reshape(out_ch, 4, 4, z_dim).permute(0, 3, 1, 2).contiguous()
    torch.save({"generator_smooth": sd}, tmp_path / "pggan.pth")
    gen = load_gan(tmp_path / "pggan.pth")
    check_sefa_in_z(gen, "all")
    check_ganspace_linear_first_layer(gen, "layer0", gen.sefa_weights([0])[0])
