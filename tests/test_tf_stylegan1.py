"""NVIDIA's StyleGAN (v1) TF pickles, read without TensorFlow and without running their source.

There is no TensorFlow here, so the pickle is built the way dnnlib writes it (``Network`` records
holding the TF variable names of networks_stylegan.py) from the genforce StyleGAN oracle's weights,
with genforce's published name table inverted (tests/model_files.py).  Loading it must give the
genforce network back and reproduce the official genforce outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_latent_lab.errors import CheckpointError
from gan_latent_lab.loaders import load_gan, save_converted

from model_files import hostile_src, oracle, stylegan1_tf_variables, write_tf_pickle

V1_FUNCS = ("G_style", "G_mapping", "G_synthesis")
STATIC = {"num_channels": 3, "resolution": 16, "label_size": 0, "fmap_base": 256, "fmap_max": 32,
          "latent_size": 32, "dlatent_size": 32, "mapping_layers": 3}


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).abs().max() / b.abs().max())


def write_v1(path, sd, static=STATIC, src="# networks_stylegan.py\n", edit=None):
    top, mapping, synth = stylegan1_tf_variables(sd)
    if edit is not None:
        top, mapping, synth = edit(top, mapping, synth)
    write_tf_pickle(path, top, mapping, synth, static, src, funcs=V1_FUNCS)
    return path


def check_oracle(gen, io) -> None:
    assert gen.arch == "stylegan-genforce" and gen.num_ws == 6 and (gen.resolution, gen.z_dim, gen.w_dim) == (16, 32, 32)
    with torch.no_grad():
        assert rel(gen.mapping(io["z"])[:, 0], io["w"]) < 1e-4
        wp = gen.mapping(io["z"], truncation_psi=0.7, truncation_cutoff=4)
        assert rel(wp, io["wp_psi07_layers4"]) < 1e-4
        assert rel(gen.synthesis(wp), io["img"]) < 1e-4
        edit = wp.clone()
        edit[:, 1:4] += 3 * io["edit_direction"]
        assert rel(gen.synthesis(edit), io["img_edit_layers1to3_alpha3"]) < 1e-4


def test_v1_tf_pickle_reproduces_the_genforce_oracle_without_running_its_code(tmp_path):
    sd, io, _ = oracle("stylegan1_genforce16")
    sentinel = tmp_path / "SENTINEL"
    gen = load_gan(write_v1(tmp_path / "karras2019stylegan-test.pkl", sd, src=hostile_src(sentinel)))
    got = gen.state_dict()
    assert sorted(got) == sorted(sd)
    assert all(torch.equal(got[k], sd[k]) for k in sd), [k for k in sd if not torch.equal(got[k], sd[k])]
    check_oracle(gen, io)
    assert gen.config["fused_scale"] == "auto" and gen.config["mapping_lr_mul"] == 0.01
    assert not sentinel.exists()


def test_v1_tf_pickle_with_scope_prefixed_names_and_converted_copy(tmp_path):
    """Variables named with their TF scope (``G_mapping/Dense0/weight``) load the same, and the converted
    safetensors file (no pickle) reproduces the oracle too."""
    sd, io, _ = oracle("stylegan1_genforce16")

    def scoped(top, mapping, synth):
        return top, [(f"G_mapping/{k}", v) for k, v in mapping], [(f"G_synthesis/{k}", v) for k, v in synth]

    gen = load_gan(write_v1(tmp_path / "scoped.pkl", sd, edit=scoped))
    check_oracle(gen, io)
    out = save_converted(gen, tmp_path / "v1.safetensors")
    again = load_gan(out)
    assert again.fingerprint == gen.fingerprint
    check_oracle(again, io)


def test_v1_static_kwargs_are_read(tmp_path):
    """``fused_scale`` from the TF graph's kwargs changes the network (a fused 2x layer is another op),
    ``mapping_lrmul`` the mapping."""
    sd, io, _ = oracle("stylegan1_genforce16")
    gen = load_gan(write_v1(tmp_path / "fused.pkl", sd, static={**STATIC, "fused_scale": True, "mapping_lrmul": 0.02}))
    assert gen.config["fused_scale"] is True and gen.config["mapping_lr_mul"] == 0.02
    with torch.no_grad():
        assert rel(gen.mapping(io["z"])[:, 0], io["w"]) > 1e-2


@pytest.mark.parametrize("static,edit,message", [
    ({**STATIC, "use_pixel_norm": True}, None, "use_pixel_norm=True"),
    ({**STATIC, "nonlinearity": "relu"}, None, "nonlinearity='relu'"),
    ({**STATIC, "blur_filter": [1, 3, 3, 1]}, None, r"blurs with \[1, 3, 3, 1\]"),
    ({**STATIC, "fused_scale": "sometimes"}, None, "field 'fused_scale' is 'sometimes'"),
    ({**STATIC, "resolution": 32}, None, "field 'resolution' is 32, but the variables make 16"),
    ({**STATIC, "latent_size": 0}, None, "field 'latent_size' is 0"),
    ({**STATIC, "mapping_lrmul": float("nan")}, None, "field 'mapping_lrmul' is nan"),
    ({**STATIC, "use_wscale": "False"}, None, "field 'use_wscale'"),
    (STATIC, lambda t, m, s: (t, m, [(k, np.float32(1.0) if k == "lod" else v) for k, v in s]), "level of detail is"),
    (STATIC, lambda t, m, s: (t, m, [(k, v) for k, v in s if k != "noise3"]), "lacks the variable 'synthesis/noise3'"),
    (STATIC, lambda t, m, s: (t, m, [(k.replace("4x4/Const/const", "4x4/Dense/weight"), v) for k, v in s]),
     "dense map of w instead of a constant input"),
    (STATIC, lambda t, m, s: (t, m, [(k.replace("16x16/", "32x32/"), v) for k, v in s]), "not every power of two"),
    (STATIC, lambda t, m, s: (t, m, [(k, v[:, :, :, :2] if k == "8x8/Conv1/weight" else v) for k, v in s]),
     "do not fit"),
])
def test_unsupported_or_broken_v1_pickles_are_refused(tmp_path, static, edit, message):
    sd, _, _ = oracle("stylegan1_genforce16")
    path = write_v1(tmp_path / "bad.pkl", sd, static=static, edit=edit)
    with pytest.raises(CheckpointError, match=message):
        load_gan(path)


def test_truncated_v1_pickle_is_refused(tmp_path):
    sd, _, _ = oracle("stylegan1_genforce16")
    data = write_v1(tmp_path / "full.pkl", sd).read_bytes()
    for cut in (len(data) // 3, len(data) - 9):
        (tmp_path / "cut.pkl").write_bytes(data[:cut])
        with pytest.raises(CheckpointError):
            load_gan(tmp_path / "cut.pkl")


@pytest.mark.parametrize("protocol", [3, 4])
def test_only_gs_arrays_are_read_from_a_g_d_gs_pickle(tmp_path, monkeypatch, protocol):
    """A TF pickle holds G, D and Gs; only Gs is converted, so only its arrays are read from the file
    (G's and D's stay on disk): the bytes read are Gs's, not the 2 x 3 MB of the others."""
    from gan_latent_lab.loaders import safe_pickle

    sd, io, _ = oracle("stylegan1_genforce16")
    top, mapping, synth = stylegan1_tf_variables(sd)
    big = [(f"Dense{i}/weight", np.full((768, 1024), 0.5, np.float32)) for i in range(3)]
    write_tf_pickle(tmp_path / "gdgs.pkl", top, mapping, synth, STATIC, "# networks_stylegan.py\n", funcs=V1_FUNCS,
                    g_vars=big, d_vars=[(k, v + 1) for k, v in big], protocol=protocol)
    read = []
    original = safe_pickle._Source.readinto_at

    def counting(self, offset, buf):
        read.append(len(buf))
        return original(self, offset, buf)

    monkeypatch.setattr(safe_pickle._Source, "readinto_at", counting)
    gen = load_gan(tmp_path / "gdgs.pkl")
    check_oracle(gen, io)
    gs_bytes = sum(v.nbytes for _, v in top + mapping + synth)
    assert 0 < sum(read) <= gs_bytes, (sum(read), gs_bytes)
