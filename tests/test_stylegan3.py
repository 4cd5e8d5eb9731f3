"""StyleGAN3 T and R against the official implementation's own outputs (the oracles).

Every check loads a file a user could have on disk through ``load_gan``: a bare safetensors of the
NVlabs state dict with its init kwargs in a ``config.json`` or ``<file>.json``, the same file with
no config at all (settings read off the shapes), and our own converted safetensors.
"""

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from gan_latent_lab.errors import CheckpointError, InputError
from gan_latent_lab.loaders import load_gan, save_converted
from gan_latent_lab.loaders import stylegan3 as sg3

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"
NAMES = {"stylegan3-t": "stylegan3t_uncond16", "stylegan3-r": "stylegan3r_uncond16"}
SEEDS = [0, 1, 42, 2147483647]


def _oracle(name):
    meta = json.loads((ORACLES / f"{name}.json").read_text())
    return load_file(ORACLES / f"{name}.safetensors"), load_file(ORACLES / f"{name}_io.safetensors"), meta


@pytest.fixture(scope="module", params=sorted(NAMES))
def oracle(request):
    state, io, meta = _oracle(NAMES[request.param])
    return request.param, state, io, meta


def assert_close(got, ref, what):
    """1e-4 absolute and 1e-3 of the reference's peak (StyleGAN3 images are dim)."""
    assert got.shape == ref.shape, what
    err = (got - ref).abs().max().item()
    peak = ref.abs().max().item()
    assert err < 1e-4 and err < 1e-3 * peak, f"{what}: max error {err:.3g} (peak {peak:.3g})"


def check_all_io(gen, io):
    with torch.no_grad():
        assert_close(gen.mapping(io["z"]), io["ws_raw"], "ws_raw")
        assert_close(gen.mapping(io["z"], truncation_psi=0.7), io["ws_psi07"], "ws_psi07")
        assert_close(gen.mapping(io["z"], truncation_psi=0.5, truncation_cutoff=2), io["ws_psi05_cutoff2"],
                     "ws_psi05_cutoff2")
        assert_close(gen.synthesis(io["ws_psi07"], noise_mode="const"), io["img_psi07_const"], "img_psi07_const")
        assert_close(gen.synthesis(io["ws_psi05_cutoff2"], noise_mode="const"), io["img_psi05_cutoff2_const"],
                     "img_psi05_cutoff2_const")
        edited = io["ws_psi07"].clone()
        edited[:, 1:4] += 3 * io["edit_direction"]
        assert_close(gen.synthesis(edited), io["img_edit_layers1to3_alpha3"], "img_edit_layers1to3_alpha3")
    assert torch.equal(gen.sample_z(SEEDS), io["seed_z"])


def check_some_io(gen, io):
    """The mapping and one image: enough to tell a second layout read the same model."""
    with torch.no_grad():
        assert_close(gen.mapping(io["z"], truncation_psi=0.7), io["ws_psi07"], "ws_psi07")
        assert_close(gen.synthesis(io["ws_psi07"][:2]), io["img_psi07_const"][:2], "img_psi07_const")


def write_bare(folder, state, name="G.safetensors"):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    save_file({k: v.contiguous() for k, v in state.items()}, str(path))
    return path


@pytest.fixture(scope="module")
def loaded(oracle, tmp_path_factory):
    arch, state, io, meta = oracle
    folder = tmp_path_factory.mktemp(arch)
    path = write_bare(folder, state)
    (folder / "config.json").write_text(json.dumps(meta["init_kwargs"]))
    return load_gan(path), io, meta, state


def test_config_json_beside_the_file_reproduces_the_oracle(loaded):
    gen, io, meta, _ = loaded
    assert gen.arch == ("stylegan3-r" if meta["architecture"].endswith("R") else "stylegan3-t")
    assert (gen.num_ws, gen.w_dim, gen.z_dim, gen.resolution) == (meta["num_ws"], 16, 16, 16)
    check_all_io(gen, io)


def test_named_sidecar_with_init_kwargs_and_bare_shapes_both_load(oracle, tmp_path):
    arch, state, io, meta = oracle
    named = write_bare(tmp_path / "named", state, "model.safetensors")
    (tmp_path / "named" / "model.safetensors.json").write_text(json.dumps({"init_kwargs": meta["init_kwargs"]}))
    check_some_io(load_gan(named), io)
    bare = write_bare(tmp_path / "bare", state)  # no config anywhere: widths, depth, kernel from shapes
    gen = load_gan(bare)
    assert gen.arch == arch and gen.config == sg3.normalize_init_kwargs(meta["init_kwargs"])
    check_some_io(gen, io)


def test_converted_file_round_trips(loaded, tmp_path):
    gen, io, _, _ = loaded
    out = save_converted(gen, tmp_path / "converted.safetensors")
    again = load_gan(out)
    assert again.arch == gen.arch and again.config == gen.config and again.fingerprint == gen.fingerprint
    check_all_io(again, io)


def test_nvlabs_kwargs_nested_or_flat_build_the_same(oracle):
    _, state, io, meta = oracle
    kw = dict(meta["init_kwargs"])
    top = {k: kw.pop(k) for k in ("z_dim", "c_dim", "w_dim", "img_resolution", "img_channels", "mapping_kwargs")}
    nested = sg3.from_nvlabs({**top, "synthesis_kwargs": kw}, state)
    flat = sg3.from_nvlabs(meta["init_kwargs"], state)
    assert nested.config == flat.config
    assert [k for k in nested.state_dict()] == [k for k in flat.state_dict()]


def test_designed_filters_equal_the_official_buffers(oracle):
    _, state, _, meta = oracle
    fresh = sg3.StyleGAN3Generator(meta["init_kwargs"]).state_dict()
    keys = [k for k in state if k.endswith("_filter")]
    assert keys and set(keys) == {k for k in fresh if k.endswith("_filter")}
    for k in keys:
        assert fresh[k].shape == state[k].shape, k
        assert (fresh[k] - state[k]).abs().max().item() < 1e-6, k


def test_state_without_filters_gets_designed_ones(oracle):
    _, state, io, meta = oracle
    gen = sg3.from_nvlabs(meta["init_kwargs"], {k: v for k, v in state.items() if not k.endswith("_filter")})
    with torch.no_grad():
        assert_close(gen.synthesis(io["ws_psi07"][:1]), io["img_psi07_const"][:1], "designed filters")


def test_noise_modes_are_all_the_same(loaded):
    gen, io, _, _ = loaded
    ws = io["ws_psi07"][:1]
    with torch.no_grad():
        ref = gen.synthesis(ws, noise_mode="const")
        for mode in ("random", "none"):
            assert torch.equal(gen.synthesis(ws, noise_mode=mode), ref)


def test_a_sample_does_not_depend_on_its_batch(loaded):
    gen, io, _, _ = loaded
    with torch.no_grad():
        batch = gen.synthesis(io["ws_psi07"][:2])
        alone = gen.synthesis(io["ws_psi07"][1:2])
    assert (batch[1:2] - alone).abs().max().item() < 1e-6


def test_each_slot_feeds_its_layer_and_sefa_reads_that_affine(loaded):
    gen, io, _, state = loaded
    net = gen.synthesis_net
    affines = [net.input.affine] + [getattr(net, n).affine for n in net.layer_names]
    seen = {}
    hooks = [m.register_forward_hook(lambda mod, args, out, i=i: seen.__setitem__(i, args[0])) for i, m in enumerate(affines)]
    ws = torch.randn(1, gen.num_ws, gen.w_dim)
    with torch.no_grad():
        gen.synthesis(ws)
    for h in hooks:
        h.remove()
    assert len(seen) == gen.num_ws == 16
    for slot in range(gen.num_ws):
        assert torch.equal(seen[slot], ws[:, slot]), slot
    names = ["input"] + list(net.layer_names)
    mats = gen.sefa_weights(range(gen.num_ws))
    for slot, (name, mat) in enumerate(zip(names, mats)):
        raw = state[f"synthesis.{name}.affine.weight"] / gen.w_dim ** 0.5
        if slot == gen.num_ws - 1:  # ToRGB styles carry 1/sqrt(fan_in)
            raw = raw / raw.shape[0] ** 0.5
        assert torch.allclose(mat, raw), name
    assert names[-1].startswith("L14_16_3") and gen.slot_names()[-1].startswith("L14 ToRGB")


def test_activation_layers_name_real_modules(loaded):
    gen, io, _, _ = loaded
    name = gen.activation_layers()[0]
    assert name.startswith("synthesis.L0_")
    out = {}
    h = gen.activation_module(name).register_forward_hook(lambda m, a, o: out.setdefault("x", o))
    with torch.no_grad():
        gen.synthesis(io["ws_psi07"][:1])
    h.remove()
    assert out["x"].shape[:2] == (1, int(name.split("_")[-1]))
    with pytest.raises(InputError):
        gen.activation_module("synthesis.nope")


def test_wrong_shapes_raise_checkpoint_error(oracle, tmp_path):
    arch, state, _, meta = oracle
    bad = dict(state)
    key = next(k for k in state if k.startswith("synthesis.L3_") and k.endswith(".weight") and "affine" not in k)
    bad[key] = bad[key][:, :-1].contiguous()
    with pytest.raises(CheckpointError, match="L3_"):
        load_gan(write_bare(tmp_path / "shape", bad))
    folder = tmp_path / "cfg"
    path = write_bare(folder, state)
    (folder / "config.json").write_text(json.dumps({**meta["init_kwargs"], "channel_max": 8}))
    with pytest.raises(CheckpointError, match="do not fit"):
        load_gan(path)
    with pytest.raises(CheckpointError):
        sg3.from_nvlabs({**meta["init_kwargs"], "w_dim": 32}, state)


def test_other_state_dicts_are_not_taken_for_stylegan3():
    from gan_latent_lab.loaders.files import Checkpoint

    dcgan = {"main.0.weight": torch.zeros(100, 64, 4, 4)}
    assert not sg3.detect(Checkpoint(path="x.pth", format="torch-zip", obj=dcgan))
    sg2_like = {"synthesis.b4.const": torch.zeros(8, 4, 4), "mapping.fc0.weight": torch.zeros(8, 8)}
    assert not sg3.detect(Checkpoint(path="x.pth", format="torch-zip", obj=sg2_like))


def test_conditional_config_embeds_the_class():
    gen = sg3.StyleGAN3Generator({"z_dim": 8, "c_dim": 3, "w_dim": 8, "img_resolution": 16, "channel_base": 256,
                                  "channel_max": 16, "num_layers": 4, "num_critical": 1}).eval()
    assert gen.state_dict()["mapping.embed.weight"].shape == (8, 3)
    assert gen.state_dict()["mapping.fc0.weight"].shape == (8, 16)
    assert gen.num_ws == 6 and len(gen.slot_names()) == 6
    z = gen.sample_z([1, 1])
    with torch.no_grad():
        ws = gen.mapping(z, torch.eye(3)[[0, 2]])
        assert not torch.allclose(ws[0], ws[1])
        assert gen.synthesis(ws, torch.eye(3)[[0, 2]]).shape == (2, 3, 16, 16)
    with pytest.raises(InputError):
        gen.mapping(z)
