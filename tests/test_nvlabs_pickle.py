"""NVlabs pickles (PyTorch persistence and TF-era) written here the way NVlabs tools write them.

The pickles name the real globals (``torch_utils.persistence._reconstruct_persistent_obj``,
``dnnlib.util.EasyDict``, ``dnnlib.tflib.network.Network``) through stand-in modules that exist
only while dumping.  Their embedded source text writes a sentinel file if anyone executes it:
loading must reproduce the official outputs and leave no sentinel."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from gan_latent_lab.errors import CheckpointError, UnsafePickleError
from gan_latent_lab.loaders import load_gan
from gan_latent_lab.loaders.files import read_checkpoint
from gan_latent_lab.loaders.nvlabs import extract_nvlabs

from model_files import ada_kwargs, hostile_src, oracle, write_nvlabs_pickle, write_tf_pickle


SEEDS = [0, 1, 42, 2147483647]  # the oracle's seed_z seeds


def check(gen, io):
    """Every output the StyleGAN2 oracle stores, through the pickle-loaded generator."""
    c = io["c"] if io["c"].numel() else None

    def close(a, b, what):
        assert (a - b).abs().max() < 1e-4, what

    with torch.no_grad():
        close(gen.mapping(io["z"], c), io["ws_raw"], "ws_raw")
        close(gen.mapping(io["z"], c, 0.7), io["ws_psi07"], "ws_psi07")
        close(gen.mapping(io["z"], c, 0.5, truncation_cutoff=2), io["ws_psi05_cutoff2"], "ws_psi05_cutoff2")
        close(gen.synthesis(io["ws_psi07"], c), io["img_psi07_const"], "img_psi07_const")
        close(gen.synthesis(io["ws_psi05_cutoff2"], c), io["img_psi05_cutoff2_const"], "img_psi05_cutoff2_const")
        close(gen.synthesis(io["ws_psi07"], c, noise_mode="none"), io["img_psi07_none"], "img_psi07_none")
        ws = io["ws_psi07"].clone()
        ws[:, 1:4] += 3 * io["edit_direction"]
        close(gen.synthesis(ws, c), io["img_edit_layers1to3_alpha3"], "img_edit_layers1to3_alpha3")
    assert torch.equal(gen.sample_z(SEEDS), io["seed_z"])


@pytest.mark.parametrize("name,layout", [("stylegan2_uncond32", "stylegan3-repo"), ("stylegan2_cond16", "ada")])
def test_nvlabs_pickle_matches_oracle_without_running_its_code(tmp_path, name, layout):
    sd, io, meta = oracle(name)
    sentinel = tmp_path / "SENTINEL"
    kw = meta["init_kwargs"] if layout == "stylegan3-repo" else ada_kwargs(meta["init_kwargs"])
    write_nvlabs_pickle(tmp_path / "net.pkl", sd, kw, hostile_src(sentinel))
    net = extract_nvlabs(read_checkpoint(tmp_path / "net.pkl"))
    assert net.class_name == "Generator" and net.module_name == "networks_stylegan2"
    assert sorted(net.state_dict) == sorted(sd)
    assert all(torch.equal(net.state_dict[k], sd[k]) for k in sd)
    gen = load_gan(tmp_path / "net.pkl")
    assert gen.config["conv_clamp"] == meta["init_kwargs"]["conv_clamp"]
    assert gen.num_ws == meta["num_ws"]
    check(gen, io)
    assert not sentinel.exists()


@pytest.mark.parametrize("name", ["stylegan3t_uncond16", "stylegan3r_uncond16"])
def test_stylegan3_pickle_matches_oracle_without_running_its_code(tmp_path, name):
    """A stylegan3-repo pickle (networks_stylegan3 source, flat init kwargs) through load_gan reproduces
    every stored output of the official StyleGAN3 code."""
    from test_stylegan3 import check_all_io

    sd, io, meta = oracle(name)
    sentinel = tmp_path / "SENTINEL"
    write_nvlabs_pickle(tmp_path / "sg3.pkl", sd, meta["init_kwargs"],
                        "class SynthesisInput: pass\n" + hostile_src(sentinel))
    net = extract_nvlabs(read_checkpoint(tmp_path / "sg3.pkl"))
    assert net.module_name == "networks_stylegan3" and sorted(net.state_dict) == sorted(sd)
    gen = load_gan(tmp_path / "sg3.pkl")
    assert gen.arch.startswith("stylegan3") and gen.num_ws == meta["num_ws"]
    check_all_io(gen, io)
    assert not sentinel.exists()


@pytest.mark.parametrize("module,name,arg", [("os", "system", "touch {s}"), ("builtins", "eval", "open({s!r}, 'w')"),
                                             ("subprocess", "Popen", "touch {s}")])
def test_unsafe_globals_are_refused_by_name(tmp_path, module, name, arg):
    sentinel = tmp_path / "SENTINEL"
    call = arg.format(s=str(sentinel)).encode()
    # Hand-written opcodes, as an attacker would: {'G_ema': module.name(arg)}
    data = b"(dS'G_ema'\nc" + module.encode() + b"\n" + name.encode() + b"\n(S" + repr(call.decode()).encode() + b"\ntRs."
    (tmp_path / "evil.pkl").write_bytes(b"\x80\x02" + data)
    with pytest.raises(UnsafePickleError, match=f"{module}.{name}"):
        load_gan(tmp_path / "evil.pkl")
    assert not sentinel.exists()


# ----- TF-era pickles -------------------------------------------------------------------------------
def tf_variables(sd: dict, res: int) -> tuple[list, list, list]:
    """(top, mapping, synthesis) TF variables for NVlabs tensors: the published mapping, inverted."""
    n = lambda t: t.numpy().astype(np.float32)  # noqa: E731
    top = [("dlatent_avg", n(sd["mapping.w_avg"]))]
    mapping, synth = [], []
    i = 0
    while f"mapping.fc{i}.weight" in sd:
        mapping += [(f"Dense{i}/weight", n(sd[f"mapping.fc{i}.weight"]).T), (f"Dense{i}/bias", n(sd[f"mapping.fc{i}.bias"]))]
        i += 1
    if "mapping.embed.weight" in sd:
        mapping += [("LabelEmbed/weight", n(sd["mapping.embed.weight"]).T), ("LabelEmbed/bias", n(sd["mapping.embed.bias"]))]
    synth.append(("4x4/Const/const", n(sd["synthesis.b4.const"])[None]))

    def conv(dst, src, noise_idx, flip=False):
        w = n(sd[f"{src}.weight"]).transpose(2, 3, 1, 0)
        synth.extend([(f"{dst}/weight", np.ascontiguousarray(w[::-1, ::-1] if flip else w)), (f"{dst}/bias", n(sd[f"{src}.bias"])),
                      (f"{dst}/mod_weight", n(sd[f"{src}.affine.weight"]).T), (f"{dst}/mod_bias", n(sd[f"{src}.affine.bias"]) - 1),
                      (f"{dst}/noise_strength", n(sd[f"{src}.noise_strength"])),
                      (f"noise{noise_idx}", n(sd[f"{src}.noise_const"])[None, None])])

    def rgb(dst, src):
        synth.extend([(f"{dst}/weight", n(sd[f"{src}.weight"]).transpose(2, 3, 1, 0)), (f"{dst}/bias", n(sd[f"{src}.bias"])),
                      (f"{dst}/mod_weight", n(sd[f"{src}.affine.weight"]).T), (f"{dst}/mod_bias", n(sd[f"{src}.affine.bias"]) - 1)])

    conv("4x4/Conv", "synthesis.b4.conv1", 0)
    rgb("4x4/ToRGB", "synthesis.b4.torgb")
    for k in range(3, int(math.log2(res)) + 1):
        r = 2 ** k
        conv(f"{r}x{r}/Conv0_up", f"synthesis.b{r}.conv0", 2 * k - 5, flip=True)
        conv(f"{r}x{r}/Conv1", f"synthesis.b{r}.conv1", 2 * k - 4)
        rgb(f"{r}x{r}/ToRGB", f"synthesis.b{r}.torgb")
    return top, mapping, synth


def test_tf_pickle_converts_to_the_oracle(tmp_path):
    sd, io, meta = oracle("stylegan2_uncond32")
    kw = meta["init_kwargs"]
    sentinel = tmp_path / "SENTINEL"
    static = {"latent_size": 32, "dlatent_size": 32, "resolution": 32, "fmap_base": kw["channel_base"] // 2,
              "fmap_max": kw["channel_max"], "mapping_layers": 2, "conv_clamp": 256}
    write_tf_pickle(tmp_path / "tf.pkl", *tf_variables(sd, 32), static, hostile_src(sentinel))
    # TF graphs hard-code the [1, 3, 3, 1] filter, which is also the oracle's.
    taps = torch.tensor([1.0, 3.0, 3.0, 1.0])
    assert all(torch.equal(sd[k], torch.outer(taps, taps) / 64) for k in sd if k.endswith("resample_filter"))
    gen = load_gan(tmp_path / "tf.pkl")
    assert gen.config["channel_base"] == kw["channel_base"] and gen.config["conv_clamp"] == 256
    got = gen.state_dict()
    assert sorted(got) == sorted(sd) and all(torch.equal(got[k], sd[k]) for k in sd)
    check(gen, io)
    assert not sentinel.exists()


def test_v1_labelled_tf_pickle_with_stylegan2_variables_is_refused(tmp_path):
    """A pickle that says G_style but holds StyleGAN2 variables names the first v1 variable it lacks."""
    sd, _, _ = oracle("stylegan2_uncond32")
    top, mapping, synth = tf_variables(sd, 32)
    synth = [(k.replace("mod_weight", "StyleMod/weight"), v) for k, v in synth]
    write_tf_pickle(tmp_path / "v1.pkl", top, mapping, synth, {"resolution": 32}, "# networks_stylegan",
                    funcs=("G_style", "G_mapping", "G_synthesis"))
    with pytest.raises(CheckpointError, match=r"lacks the variable 'synthesis/lod' of a StyleGAN \(v1\) generator"):
        load_gan(tmp_path / "v1.pkl")
