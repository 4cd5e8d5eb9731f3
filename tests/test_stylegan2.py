"""StyleGAN2 against the official NVlabs outputs, loaded from the file layouts users have.

Layouts: a bare safetensors state dict (config from shapes, or a sidecar config.json), a
rosinality ``.pt`` (names converted the other way here, independently of the loader), and our
converter's output.  Every image is compared with the official forward pass to 1e-4."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_latent_lab.errors import CheckpointError, InputError
from gan_latent_lab.loaders import load_gan, save_converted
from model_files import nvlabs_to_rosinality

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
NAMES = ("stylegan2_uncond32", "stylegan2_cond16")
TOL = 1e-4


def oracle(name: str):
    sd = load_file(str(ORACLES / f"{name}.safetensors"))
    io = load_file(str(ORACLES / f"{name}_io.safetensors"))
    meta = json.loads((ORACLES / f"{name}.json").read_text())
    return sd, io, meta


def assert_close(a: torch.Tensor, b: torch.Tensor, tol: float = TOL) -> None:
    assert a.shape == b.shape, (a.shape, b.shape)
    err = (a - b).abs().max().item()
    assert err < tol, err


def check_against_oracle(gen, io, meta) -> None:
    """Every io tensor of the oracle, reproduced through the public generator contract."""
    c = io["c"] if io["c"].numel() else None
    assert gen.num_ws == meta["num_ws"]
    assert_close(gen.mapping(io["z"], c), io["ws_raw"])
    assert_close(gen.mapping(io["z"], c, truncation_psi=0.7), io["ws_psi07"])
    assert_close(gen.mapping(io["z"], c, truncation_psi=0.5, truncation_cutoff=2), io["ws_psi05_cutoff2"])
    with torch.no_grad():
        assert_close(gen.synthesis(io["ws_psi07"], c, noise_mode="const"), io["img_psi07_const"])
        assert_close(gen.synthesis(io["ws_psi05_cutoff2"], c, noise_mode="const"), io["img_psi05_cutoff2_const"])
        assert_close(gen.synthesis(io["ws_psi07"], c, noise_mode="none"), io["img_psi07_none"])
        ws = io["ws_psi07"].clone()
        ws[:, 1:4] += 3 * io["edit_direction"]
        assert_close(gen.synthesis(ws, c), io["img_edit_layers1to3_alpha3"])
    assert_close(gen.sample_z([0, 1, 42, 2147483647]), io["seed_z"], 1e-6)


@pytest.mark.parametrize("name", NAMES)
def test_bare_safetensors_with_sidecar_matches_oracle(tmp_path, name):
    sd, io, meta = oracle(name)
    save_file(sd, str(tmp_path / "G.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps({"init_kwargs": meta["init_kwargs"]}))
    gen = load_gan(tmp_path / "G.safetensors")
    assert gen.arch == "stylegan2"
    assert gen.config["conv_clamp"] == meta["init_kwargs"]["conv_clamp"]
    assert sorted(gen.state_dict()) == sorted(sd)
    check_against_oracle(gen, io, meta)


@pytest.mark.parametrize("name", NAMES)
def test_bare_safetensors_infers_config_from_shapes(tmp_path, name):
    sd, io, meta = oracle(name)
    save_file(sd, str(tmp_path / "weights.safetensors"))
    gen = load_gan(tmp_path / "weights.safetensors")
    kw = meta["init_kwargs"]
    assert (gen.z_dim, gen.c_dim, gen.w_dim, gen.resolution) == (kw["z_dim"], kw["c_dim"], kw["w_dim"], kw["img_resolution"])
    assert gen.config["mapping_layers"] == kw["mapping_kwargs"]["num_layers"]
    assert gen.config["conv_clamp"] is None and gen.config["architecture"] == "skip"
    check_against_oracle(gen, io, meta)  # these weights never reach the clamp, so None matches too


@pytest.mark.parametrize("name", NAMES)
def test_converted_file_reloads_identically(tmp_path, name):
    sd, io, meta = oracle(name)
    save_file(sd, str(tmp_path / "G.safetensors"))
    gen = load_gan(tmp_path / "G.safetensors", sidecar={"init_kwargs": meta["init_kwargs"]})
    out = save_converted(gen, tmp_path / "out" / "conv.safetensors")
    again = load_gan(out)
    assert again.config == gen.config and again.fingerprint == gen.fingerprint
    c = io["c"] if io["c"].numel() else None
    with torch.no_grad():
        assert torch.equal(again.synthesis(io["ws_psi07"], c), gen.synthesis(io["ws_psi07"], c))
    check_against_oracle(again, io, meta)


def test_rosinality_checkpoint_matches_oracle(tmp_path):
    sd, io, meta = oracle("stylegan2_uncond32")
    ros = nvlabs_to_rosinality(sd, meta["init_kwargs"]["w_dim"])
    args = argparse.Namespace(size=32, latent=32, n_mlp=2, channel_multiplier=2)
    torch.save({"g_ema": ros, "g": ros, "latent_avg": sd["mapping.w_avg"], "args": args}, tmp_path / "ros.pt")
    gen = load_gan(tmp_path / "ros.pt", sidecar={"conv_clamp": 256})
    check_against_oracle(gen, io, meta)


def test_rosinality_without_latent_avg_estimates_mean_w(tmp_path):
    sd, io, meta = oracle("stylegan2_uncond32")
    torch.save({"g_ema": nvlabs_to_rosinality(sd, 32)}, tmp_path / "ros.pt")
    gen = load_gan(tmp_path / "ros.pt")
    assert_close(gen.mapping(io["z"]), io["ws_raw"])
    z = torch.randn(20000, 32, generator=torch.Generator().manual_seed(5))
    assert_close(gen.mapping_net.w_avg, gen.mapping(z)[:, 0].mean(0), 0.1)


def test_slots_and_sefa_weights_follow_the_layer_order(tmp_path):
    sd, io, meta = oracle("stylegan2_uncond32")
    save_file(sd, str(tmp_path / "G.safetensors"))
    gen = load_gan(tmp_path / "G.safetensors")
    names = gen.slot_names()
    assert names[0] == "b4.conv1" and names[1] == "b4.torgb + b8.conv0" and names[-1] == "b32.torgb"
    ws = gen.sefa_weights([0, 1, 7])
    gain = 1 / math.sqrt(32)
    assert torch.allclose(ws[0], sd["synthesis.b4.conv1.affine.weight"] * gain)
    assert torch.allclose(ws[1], sd["synthesis.b8.conv0.affine.weight"] * gain)
    assert torch.allclose(ws[2], sd["synthesis.b32.torgb.affine.weight"] * gain)
    with pytest.raises(InputError):
        gen.sefa_weights([8])
    assert gen.activation_layers()[0] == "synthesis.b4"
    assert gen.activation_module("synthesis.b16") is gen.synthesis_net.b16
    # the Load node's summary shows the facts and this slot map
    from gan_latent_lab.nodes.model_nodes import LoadGANModel

    text = gen.summary()
    assert "32x32" in text and "slots 8" in text and "code w 32" in text and gen.fingerprint in text
    assert "0=b4.conv1; 1=b4.torgb + b8.conv0;" in text and "7=b32.torgb" in text
    assert LoadGANModel.RETURN_NAMES == ("model", "summary")


def test_resnet_and_orig_architectures_build_and_run():
    from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator

    for arch in ("resnet", "orig"):
        gen = StyleGAN2Generator({"z_dim": 8, "w_dim": 8, "img_resolution": 16, "channel_base": 64,
                                  "channel_max": 8, "mapping_layers": 2, "architecture": arch})
        img = gen.synthesis(gen.mapping(torch.randn(2, 8)))
        assert img.shape == (2, 3, 16, 16) and torch.isfinite(img).all()
        assert any(k.endswith("skip.weight") for k in gen.state_dict()) == (arch == "resnet")


def test_wrong_shapes_and_bad_inputs_are_clear_errors(tmp_path):
    sd, io, meta = oracle("stylegan2_uncond32")
    bad = dict(sd)
    bad["synthesis.b8.conv0.weight"] = torch.zeros(32, 16, 3, 3)
    save_file(bad, str(tmp_path / "bad.safetensors"))
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_gan(tmp_path / "bad.safetensors")
    save_file(sd, str(tmp_path / "G.safetensors"))
    gen = load_gan(tmp_path / "G.safetensors")
    with pytest.raises(InputError):
        gen.synthesis(torch.zeros(1, 7, 32))
    with pytest.raises(InputError):
        gen.synthesis(io["ws_psi07"], noise_mode="sometimes")
