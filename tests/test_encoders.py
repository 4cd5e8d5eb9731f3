"""Issue 16: e4e / pSp image encoders against the official encoders, their refusals, the decoder in
their files, the nodes, and e4e's direction files.

The oracles (tests/data/oracles/encoders, README there) are the official encoder4editing classes with
random weights and narrow widths; each ``.pt`` is loaded exactly as saved.  Stand-in files with a
decoder are written here (tests/model_files.py) with the StyleGAN2 oracle as their rosinality g_ema."""

from __future__ import annotations

import argparse
import copy
import math
import os
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from safetensors.torch import load_file

import model_files as mf
from hostile_corpus import SENTINEL_NAME, _Reduce
from gan_latent_lab.directions import GANLatent, apply_direction, load_directions
from gan_latent_lab.directions.encode import check_target, encode_images
from gan_latent_lab.errors import CheckpointError, InputError, MismatchError, UnsafePickleError
from gan_latent_lab.loaders import load_encoder, load_gan

DATA = Path(__file__).resolve().parent / "data"
ENCODERS = DATA / "oracles" / "encoders"
E4E = DATA / "e4e"
ORACLES = {"e4e_public64": ("e4e", 10, 64), "psp_public32": ("psp", 8, 64)}
TOL = 1e-4


def rel_err(a: torch.Tensor, b: torch.Tensor) -> float:
    assert a.shape == b.shape, (a.shape, b.shape)
    return float((a - b).abs().max() / b.abs().max())


@pytest.fixture(scope="module")
def e4e_file_obj():
    return torch.load(ENCODERS / "e4e_public64.pt", map_location="cpu", weights_only=True)


# ----- the official encoders ---------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ORACLES))
def test_oracle_encoder_is_reproduced(name):
    kind, n_styles, w_dim = ORACLES[name]
    enc = load_encoder(ENCODERS / f"{name}.pt")
    io = load_file(str(ENCODERS / f"{name}_io.safetensors"))
    assert (enc.kind, enc.n_styles, enc.w_dim, enc.adds_latent_avg) == (kind, n_styles, w_dim, True)
    assert enc.decoder is None and enc.source == f"{name}.pt"
    x = io["x"].float()
    with torch.no_grad():
        raw = enc.raw_codes(enc.preprocess(x))
        codes = enc.encode(x)
    assert rel_err(raw, io["raw"]) < TOL
    assert rel_err(codes, io["codes"]) < TOL
    assert codes.shape == (2, n_styles, w_dim)


def test_a_file_saved_on_cuda_loads_on_the_cpu(tmp_path):
    cuda = mf.as_cuda_saved(ENCODERS / "psp_public32.pt", tmp_path / "psp_cuda.pt")
    a, b = load_encoder(ENCODERS / "psp_public32.pt"), load_encoder(cuda)
    sa, sb = a.state_dict(), b.state_dict()
    assert sorted(sa) == sorted(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
    assert b.device.type == "cpu"


def test_opts_saved_as_an_argparse_namespace_are_read(tmp_path, e4e_file_obj):
    """Some training scripts save ``opts`` itself instead of ``vars(opts)``: an inert record, read the same."""
    path = tmp_path / "e4e_namespace.pt"
    torch.save({**e4e_file_obj, "opts": argparse.Namespace(**e4e_file_obj["opts"])}, path)
    enc = load_encoder(path)
    assert (enc.kind, enc.n_styles, enc.w_dim) == ("e4e", 10, 64)
    path = tmp_path / "e4e_namespace_bad.pt"
    torch.save({**e4e_file_obj, "opts": argparse.Namespace(**{**e4e_file_obj["opts"], "stylegan_size": 128})}, path)
    with pytest.raises(CheckpointError, match=r"10 style blocks but the options say stylegan_size = 128 \(12 slots\)"):
        load_encoder(path)


def test_resizing_follows_the_official_pil_transform():
    """The official pipeline: PIL ``resize((256, 256))`` (bilinear), to tensor, to [-1, 1]."""
    enc = load_encoder(ENCODERS / "psp_public32.pt")
    rng = np.random.default_rng(0)
    for h, w in ((96, 80), (600, 520)):
        img = (rng.random((h // 8, w // 8, 3)) * 255).astype(np.uint8)
        img = np.asarray(Image.fromarray(img).resize((w, h), Image.BICUBIC))  # smooth, like a photo
        ref = np.asarray(Image.fromarray(img).resize((256, 256), Image.BILINEAR), dtype=np.float32) / 127.5 - 1
        x = torch.from_numpy(img.astype(np.float32) / 127.5 - 1).permute(2, 0, 1)[None]
        ours = enc.preprocess(x)[0].permute(1, 2, 0).numpy()
        assert ours.shape == (256, 256, 3)
        assert np.abs(ours - ref).max() < 3 / 127.5, (h, w)  # PIL rounds to 8 bits


def test_single_w_encoder_pools_c3_into_one_w_repeated_over_the_slots(tmp_path, e4e_file_obj):
    """pSp's BackboneEncoderUsingLastLayerIntoW on the oracle's body (checked above): mean of c3 over the
    image, EqualLinear (weight / sqrt(fan-in)), the same w in every slot, plus latent_avg's row."""
    g = torch.Generator().manual_seed(1)
    body = {k: v for k, v in e4e_file_obj["state_dict"].items() if k.startswith(("encoder.input_layer.", "encoder.body."))}
    weight, bias = torch.randn(48, 64, generator=g), torch.randn(48, generator=g)
    avg = torch.randn(48, generator=g)
    path = mf.write_encoder_file(tmp_path / "psp_w.pt", {**body, "encoder.linear.weight": weight,
                                                         "encoder.linear.bias": bias},
                                 mf.encoder_opts("psp_w", 256), avg[None])
    enc = load_encoder(path)
    assert (enc.kind, enc.n_styles, enc.w_dim) == ("psp_w", 14, 48)
    x = load_file(str(ENCODERS / "e4e_public64_io.safetensors"))["x"][:1].float()
    with torch.no_grad():
        c3 = enc.body_net(x)[2]
        codes = enc.encode(x)
    w = c3.mean(dim=(2, 3)) @ (weight / 8).T + bias + avg  # fan-in 64
    assert codes.shape == (1, 14, 48)
    assert torch.allclose(codes, w[:, None].expand(-1, 14, -1), atol=1e-5)


# ----- refusals ------------------------------------------------------------------------------------------
def _sd(obj):
    return obj["state_dict"]


def drop(prefix):
    def f(obj):
        for k in [k for k in _sd(obj) if k.startswith(prefix)]:
            del _sd(obj)[k]
    return f


def reshape(key, shape):
    def f(obj):
        _sd(obj)[key] = torch.zeros(shape)
    return f


def set_opt(name, value):
    def f(obj):
        obj["opts"] = {**obj["opts"], name: value}
    return f


def add(key, value):
    def f(obj):
        _sd(obj)[key] = value
    return f


def nan_in(key):
    def f(obj):
        t = _sd(obj)[key].float().clone()
        t.view(-1)[3] = float("nan")
        _sd(obj)[key] = t
    return f


def top(name, value):
    def f(obj):
        obj[name] = value
    return f


REFUSALS = [
    ("missing_style_block", drop("encoder.styles.5."), r"style blocks \[5\] are missing"),
    ("missing_last_blocks", drop("encoder.styles.9."), r"9 style blocks but the options say stylegan_size = 64 \(10 slots\)"),
    ("block_with_too_few_convs", drop("encoder.styles.8.convs.10."), r"style block 8 has convolutions \[0, 2, 4, 6, 8\]"),
    ("unit_width_does_not_chain", reshape("encoder.body.10.res_layer.1.weight", (64, 32, 3, 3)),
     r"unit 10 reads 64 channels"),
    ("stage_changes_width", reshape("encoder.body.9.res_layer.3.weight", (64, 32, 3, 3)), r"res_layer.3.weight is \[64, 32, 3, 3\]"),
    ("missing_unit", drop("encoder.body.12."), r"units \[12\] are missing"),
    ("extra_unit", add("encoder.body.24.res_layer.2.weight", torch.ones(64)), r"also has units \[24\]"),
    ("missing_shortcut", drop("encoder.body.3.shortcut_layer."), r"unit 3 goes from 16 to 32 channels but has no shortcut"),
    ("style_width_differs", reshape("encoder.styles.4.linear.weight", (32, 64)), r"styles.4.linear.weight is \[32, 64\]"),
    ("missing_lateral", drop("encoder.latlayer2."), r"encoder.latlayer2.weight is missing"),
    ("lateral_width", reshape("encoder.latlayer1.weight", (64, 16, 1, 1)), r"latlayer1.weight is \[64, 16, 1, 1\]"),
    ("unknown_tensor", add("encoder.extra.weight", torch.ones(2)), r"tensors a Encoder4Editing does not: \['encoder.extra.weight'\]"),
    ("stylegan_size_disagrees", set_opt("stylegan_size", 1024), r"10 style blocks but the options say stylegan_size = 1024 \(18 slots\)"),
    ("stylegan_size_not_int", set_opt("stylegan_size", "64"), r"the opts: field 'stylegan_size' is str '64', not a number"),
    ("stylegan_size_huge", set_opt("stylegan_size", 2**40), r"field 'stylegan_size' is 1099511627776, outside 4\.\.65536"),
    ("stylegan_size_bool", set_opt("stylegan_size", True), r"field 'stylegan_size' is bool True, not a number"),
    ("stylegan_size_not_pow2", set_opt("stylegan_size", 96), r"field 'stylegan_size' is 96, not a power of two"),
    ("unknown_encoder_type", set_opt("encoder_type", "ResNetBackboneEncoder"),
     r"field 'encoder_type' is 'ResNetBackboneEncoder', not one of 'Encoder4Editing'"),
    ("sketch_input", set_opt("label_nc", 19), r"only RGB image encoders"),
    ("gray_input", set_opt("input_nc", 1), r"only RGB image encoders"),
    ("no_opts", top("opts", None), r"no 'opts'"),
    ("latent_avg_shape", top("latent_avg", torch.zeros(3, 64)), r"latent_avg is \[3, 64\]"),
    ("latent_avg_missing", top("latent_avg", None), r"start_from_latent_avg but the file has no latent_avg"),
    ("nan_weight", nan_in("encoder.body.5.res_layer.3.weight"), r"encoder.body.5.res_layer.3.weight holds NaN"),
    ("nan_stacked", nan_in("encoder.styles.8.convs.2.weight"), r"encoder.styles.8.convs.2.weight holds NaN"),
    ("integer_weight", add("encoder.latlayer1.bias", torch.zeros(64, dtype=torch.int32)), r"holds torch.int32"),
    ("not_an_encoder", top("state_dict", {"g_ema.w": torch.zeros(2)}), r"no encoder.\* tensors"),
]


@pytest.mark.parametrize("name,mutate,match", REFUSALS, ids=[r[0] for r in REFUSALS])
def test_an_encoder_that_does_not_fit_is_refused_naming_the_file(tmp_path, e4e_file_obj, name, mutate, match):
    obj = copy.copy(e4e_file_obj)
    obj["state_dict"] = dict(obj["state_dict"])
    mutate(obj)
    path = tmp_path / f"{name}.pt"
    torch.save(obj, path)
    with pytest.raises(CheckpointError, match=match) as e:
        load_encoder(path)
    assert f"'{name}.pt'" in str(e.value)


def test_a_file_naming_another_global_is_refused_and_nothing_runs(tmp_path, e4e_file_obj):
    sentinel = tmp_path / SENTINEL_NAME
    path = tmp_path / "e4e_hostile.pt"
    torch.save({**e4e_file_obj, "opts": _Reduce(os.system, f"touch {sentinel}")}, path)
    with pytest.raises(UnsafePickleError, match=r"'e4e_hostile.pt'.*'posix.system'|'e4e_hostile.pt'.*system"):
        load_encoder(path)
    assert not sentinel.exists()


def test_a_truncated_file_is_refused(tmp_path):
    blob = (ENCODERS / "psp_public32.pt").read_bytes()
    for cut in (100, len(blob) // 3, len(blob) - 200):
        path = tmp_path / f"psp_cut{cut}.pt"
        path.write_bytes(blob[:cut])
        with pytest.raises(CheckpointError, match=f"psp_cut{cut}.pt"):
            load_encoder(path)


@pytest.fixture(scope="module")
def tiny_encoder_blob(tmp_path_factory):
    """The smallest e4e the layout allows (widths 16, 2 slots): fast to load many times."""
    path = tmp_path_factory.mktemp("tiny") / "tiny_e4e.pt"
    mf.write_encoder_file(path, mf.encoder_state("e4e", (16, 16, 16, 16), 16, 2), mf.encoder_opts("e4e", 4),
                          torch.zeros(2, 16))
    assert load_encoder(path).n_styles == 2
    return path.read_bytes()


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow,
                                                                                  HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_damaged_encoder_files_load_or_are_refused(tmp_path, tiny_encoder_blob, data):
    """Flipped bytes (mostly in the pickle at the front of the archive) and cuts: our error or a working encoder."""
    blob = bytearray(tiny_encoder_blob)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, min(len(blob), 60_000) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.sampled_from([len(blob), data.draw(st.integers(1, len(blob)))]))
    path = tmp_path / "fuzzed.pt"
    path.write_bytes(bytes(blob[:cut]))
    try:
        enc = load_encoder(path)
    except CheckpointError as e:
        assert "'fuzzed.pt'" in str(e)
        return
    assert enc.n_styles == 2 and enc.w_dim == 16


def test_other_containers_are_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"encoder.x": torch.zeros(2)}, str(tmp_path / "enc.safetensors"))
    with pytest.raises(CheckpointError, match="'enc.safetensors': a safetensors file"):
        load_encoder(tmp_path / "enc.safetensors")
    with pytest.raises(CheckpointError, match="no such file"):
        load_encoder(tmp_path / "missing.pt")


# ----- the decoder stored in the file ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def standin(tmp_path_factory):
    d = tmp_path_factory.mktemp("encoders")
    return {"with": mf.write_standin_encoder(d / "e4e_standin.pt", "e4e"),
            "without": mf.write_standin_encoder(d / "e4e_no_decoder.pt", "e4e", with_decoder=False),
            "dir": d}


def test_decoder_is_the_rosinality_g_ema_with_latent_avg_as_mean_w(standin):
    enc = load_encoder(standin["with"])
    dec = enc.decoder
    sd, io, meta = mf.oracle("stylegan2_uncond32")
    assert (dec.arch, dec.num_ws, dec.w_dim, dec.resolution) == ("stylegan2", 8, 32, 32)
    assert dec.source == "e4e_standin.pt (decoder)"
    assert torch.equal(dec.mapping_net.w_avg, sd["mapping.w_avg"])
    # truncation pulls toward the mean w: the official outputs only come back with latent_avg as w_avg
    assert rel_err(dec.mapping(io["z"], truncation_psi=0.7), io["ws_psi07"]) < TOL
    with torch.no_grad():
        assert rel_err(dec.synthesis(io["ws_psi07"], noise_mode="const"), io["img_psi07_const"]) < TOL
    assert enc.decoder_fingerprint == dec.fingerprint and "fingerprint " + dec.fingerprint in enc.summary()
    # the encoder is not a module of the decoder nor the other way round: moving one leaves the other
    assert not any(k.startswith("decoder") for k in enc.state_dict())


def test_decoder_whose_slots_differ_from_the_encoder_is_refused(tmp_path):
    dec, w_avg = mf.standin_decoder()
    path = mf.write_encoder_file(tmp_path / "e4e_10_styles.pt", mf.encoder_state("e4e", n_styles=10),
                                 mf.encoder_opts("e4e", 64), w_avg[None].repeat(10, 1), dec)
    with pytest.raises(CheckpointError, match=r"'e4e_10_styles.pt': the decoder takes 8 codes of 32 but the encoder "
                                              r"writes 10 of 32"):
        load_encoder(path)


def test_the_gan_loader_points_encoder_files_to_the_encoder_loader(standin):
    with pytest.raises(CheckpointError, match="e4e / pSp image encoder checkpoint.*Load Image Encoder"):
        load_gan(standin["with"])


# ----- binding a latent to its generator ------------------------------------------------------------------
def shifted_nvlabs_pickle(path: Path) -> Path:
    """The decoder's weights as NVIDIA's pickle would hold them, with a mean w that differs a little from the
    encoder file's latent_avg: the same network from another file, with another fingerprint."""
    sd, _, meta = mf.oracle("stylegan2_uncond32")
    sd = dict(sd)
    sd["mapping.w_avg"] = sd["mapping.w_avg"] + 0.01
    mf.write_nvlabs_pickle(path, sd, meta["init_kwargs"], mf.HARMLESS_SRC)
    return path


@pytest.fixture(scope="module")
def photos():
    g = torch.Generator().manual_seed(0)
    return torch.rand(2, 72, 64, 3, generator=g)  # ComfyUI IMAGE [B, H, W, C] in [0, 1]


def test_encode_image_node_binds_the_latent_to_its_model(standin, photos, tmp_path):
    from gan_latent_lab.nodes.common import from_image
    from gan_latent_lab.nodes.encoder_nodes import EncodeImage
    from gan_latent_lab.nodes.model_nodes import decode_latent

    enc = load_encoder(standin["with"])
    latent, note = EncodeImage().encode(enc, enc.decoder, photos, False)
    with torch.no_grad():
        direct = enc.encode(photos.permute(0, 3, 1, 2) * 2 - 1)
    assert torch.allclose(latent.codes, direct, atol=1e-6) and latent.codes.shape == (2, 8, 32)
    assert latent.fingerprint == enc.decoder.fingerprint and latent.space == "w" and latent.seeds == []
    assert "own decoder" in note
    assert decode_latent(enc.decoder, latent).shape == (2, 32, 32, 3)
    # NVIDIA's pickle of the same network (another fingerprint): refused unless retargeted, then bound to it
    nv = load_gan(shifted_nvlabs_pickle(tmp_path / "stylegan2-ffhq.pkl"))
    assert nv.fingerprint != enc.decoder.fingerprint
    with pytest.raises(MismatchError, match="turn on retarget"):
        EncodeImage().encode(enc, nv, photos, False)
    moved, note = EncodeImage().encode(enc, nv, photos[:1], True)
    assert moved.fingerprint == nv.fingerprint and "retargeted" in note
    assert torch.allclose(moved.codes, latent.codes[:1], atol=1e-6)
    with pytest.raises(MismatchError, match="made by model"):
        decode_latent(nv, latent)
    # grayscale and RGBA images are converted, not refused
    gray = photos[:1, ..., :1]
    rgba = torch.cat([photos, torch.rand(2, 72, 64, 1, generator=torch.Generator().manual_seed(1))], dim=-1)
    assert torch.equal(from_image(rgba), from_image(photos))
    assert torch.equal(from_image(gray), from_image(gray.expand(-1, -1, -1, 3)))
    gray_latent, _ = EncodeImage().encode(enc, enc.decoder, gray, False)
    with torch.no_grad():
        assert torch.allclose(gray_latent.codes, enc.encode(gray.permute(0, 3, 1, 2).expand(-1, 3, -1, -1) * 2 - 1),
                              atol=1e-6)


def test_bad_images_are_refused_before_any_chunk_runs(standin):
    enc = load_encoder(standin["with"])
    calls = []
    images = torch.zeros(3, 3, 40, 40)
    images[2, 0, 5, 5] = float("nan")
    for bad, match in ((images, "finite RGB"), (torch.zeros(2, 4, 40, 40), "finite RGB"), (torch.zeros(0, 3, 8, 8), "non-empty")):
        with pytest.raises(InputError, match=match):
            encode_images(enc, enc.decoder, bad, chunk=1, on_chunk=calls.append)
    assert calls == []
    with pytest.raises(InputError, match=r"images must be \[n, 3, H, W\]"):
        enc.encode(torch.zeros(1, 40, 40))


def test_a_model_whose_slots_or_width_differ_is_refused_even_retargeted(standin):
    from gan_latent_lab.loaders.stylegan2 import StyleGAN2Generator

    enc = load_encoder(standin["with"])
    for cfg in ({"img_resolution": 16, "w_dim": 32}, {"img_resolution": 32, "w_dim": 16}):
        other = StyleGAN2Generator({"z_dim": 8, "channel_base": 256, "channel_max": 16, "mapping_layers": 1, **cfg})
        for retarget in (False, True):
            with pytest.raises(MismatchError, match=r"writes 8 codes of 32 but stylegan2 .* takes"):
                check_target(enc, other, retarget)


def test_an_encoder_without_decoder_needs_retarget_and_blocks_its_decoder_output(standin, photos, monkeypatch):
    from gan_latent_lab import workflow
    from gan_latent_lab.nodes import bridge
    from gan_latent_lab.nodes.encoder_nodes import EncodeImage, LoadImageEncoder

    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(standin["dir"]))
    (standin["dir"] / "gan_encoders").mkdir(exist_ok=True)
    for key in ("with", "without"):
        target = standin["dir"] / "gan_encoders" / standin[key].name
        if not target.exists():
            target.write_bytes(standin[key].read_bytes())
    assert {"e4e_standin.pt", "e4e_no_decoder.pt"} <= set(bridge.list_files("gan_encoders"))
    enc, decoder, summary = LoadImageEncoder().load("e4e_standin.pt")
    assert decoder is enc.decoder and "decoder: stylegan2 32x32" in summary
    assert LoadImageEncoder().load("e4e_standin.pt")[0] is enc  # cached while in use
    bare, blocked, summary = LoadImageEncoder().load("e4e_no_decoder.pt")
    assert bare.decoder is None and "decoder: none" in summary
    message = bridge.blocked_message(blocked)
    assert message and "e4e_no_decoder.pt holds only an encoder" in message
    with pytest.raises(InputError, match="model: e4e_no_decoder.pt holds only an encoder"):
        EncodeImage().encode(bare, blocked, photos, True)
    with pytest.raises(MismatchError, match="holds no decoder.*turn on retarget"):
        EncodeImage().encode(bare, enc.decoder, photos, False)
    latent, _ = EncodeImage().encode(bare, enc.decoder, photos[:1], True)
    assert latent.fingerprint == enc.decoder.fingerprint
    # in a graph, only a node that reads the missing decoder stops, with the message
    graph = {"nodes": [
        {"id": 1, "type": "GANLabLoadImageEncoder", "inputs": [], "widgets_values": ["e4e_no_decoder.pt"]},
        {"id": 2, "type": "GANLabDecode", "widgets_values": ["const"],
         "inputs": [{"name": "model", "link": 1}, {"name": "latent", "link": 2}]},
        {"id": 3, "type": "GANLabLoadImageEncoder", "inputs": [], "widgets_values": ["e4e_standin.pt"]},
        {"id": 4, "type": "GANLabLatentFromSeed", "inputs": [{"name": "model", "link": 3}],
         "widgets_values": [0, "fixed", 1, 1.0, 0, "0"]},
        {"id": 5, "type": "PreviewImage", "inputs": [{"name": "images", "link": 4}], "widgets_values": []}],
        "links": [[1, 1, 1, 2, 0, "GAN_MODEL"], [2, 4, 0, 2, 1, "GAN_LATENT"], [3, 3, 1, 4, 0, "GAN_MODEL"],
                  [4, 2, 0, 5, 0, "IMAGE"]]}
    with pytest.raises(Exception, match=r"node 2 \(GANLabDecode\): input 'model' is blocked: e4e_no_decoder.pt holds"):
        workflow.run(graph, standin["dir"] / "out")
    graph["links"][0] = [1, 3, 1, 2, 0, "GAN_MODEL"]  # the decoder of the file that has one
    assert len(workflow.run(graph, standin["dir"] / "out").images) == 1


def test_gan_encoders_folder_is_registered_with_comfyui(monkeypatch, tmp_path):
    import sys
    import types

    from gan_latent_lab.nodes import bridge

    fp = types.ModuleType("folder_paths")
    fp.models_dir = str(tmp_path / "models")
    fp.folder_names_and_paths = {"gan_encoders": ([str(tmp_path / "elsewhere")], {".bin"})}
    monkeypatch.setitem(sys.modules, "folder_paths", fp)
    bridge.register_folders()
    paths, exts = fp.folder_names_and_paths["gan_encoders"]
    assert paths == [str(tmp_path / "elsewhere"), os.path.join(fp.models_dir, "gan_encoders")]
    assert {".bin", ".pt", ".pth"} <= exts
    assert fp.folder_names_and_paths["gan"][0] == [os.path.join(fp.models_dir, "gan")]


# ----- e4e's direction files --------------------------------------------------------------------------------
def test_e4e_direction_files_load_as_unit_directions_in_w(tmp_path):
    raw = {n: torch.load(E4E / f"{n}.pt", map_location="cpu", weights_only=True) for n in ("age", "smile", "pose", "ffhq_pca")}
    sets = {n: load_directions(E4E / f"{n}.pt") for n in raw}
    assert [len(sets[n]) for n in ("age", "smile", "pose", "ffhq_pca")] == [1, 1, 1, 80]
    for n, d in sets.items():
        assert d.space == "w" and d.dim == 512 and d.slots is None
        assert torch.allclose(torch.linalg.vector_norm(d.vectors, dim=1), torch.ones(len(d)), atol=1e-6)
    for n in ("age", "smile"):
        assert torch.allclose(sets[n].vectors[0], raw[n][0] / raw[n][0].norm(), atol=1e-7)
        assert sets[n].labels == [n] and sets[n].scale_kind == "none"
    assert torch.allclose(sets["pose"].vectors[0], raw["pose"][0, 7] / raw["pose"][0, 7].norm(), atol=1e-7)
    pca = sets["ffhq_pca"]
    comp = raw["ffhq_pca"]["comp"][:, 0]
    assert pca.method == "ganspace" and pca.scale_kind == "stdev"
    assert torch.allclose(pca.vectors, comp / comp.norm(dim=1, keepdim=True), atol=1e-6)
    assert torch.allclose(pca.values, raw["ffhq_pca"]["std"] * comp.norm(dim=1), rtol=1e-5)
    assert np.allclose(pca.meta["lat_mean"], raw["ffhq_pca"]["mean"].reshape(-1).numpy(), atol=1e-6)
    # the released files were saved on a GPU
    cuda = load_directions(mf.as_cuda_saved(E4E / "ffhq_pca.pt", tmp_path / "ffhq_pca.pt"))
    assert torch.equal(cuda.vectors, pca.vectors) and torch.equal(cuda.values, pca.values)


def test_load_directions_node_lists_and_reads_pt_files(tmp_path, monkeypatch, standin):
    from gan_latent_lab.nodes.direction_nodes import LoadDirections

    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    (tmp_path / "gan_directions").mkdir()
    for n in ("pose", "ffhq_pca"):
        (tmp_path / "gan_directions" / f"{n}.pt").write_bytes((E4E / f"{n}.pt").read_bytes())
    choices = LoadDirections.INPUT_TYPES()["required"]["directions_name"][0]
    assert {"pose.pt", "ffhq_pca.pt"} <= set(choices)
    d, summary = LoadDirections().load("ffhq_pca.pt")
    assert len(d) == 80 and "w space, 512 wide" in summary
    with pytest.raises(MismatchError, match="512 wide but the model's codes are 32 wide"):
        LoadDirections().load("pose.pt", load_encoder(standin["with"]).decoder)


def test_an_e4e_direction_moves_codes_on_every_slot(standin):
    """e4e's InterFaceGAN edit is ``w + factor * d`` on all slots: Apply Direction on slots 0..-1."""
    enc = load_encoder(standin["with"])
    g = torch.Generator().manual_seed(4)
    d = torch.randn(1, 32, generator=g)
    d = d / d.norm()
    path = standin["dir"] / "dir32.pt"
    torch.save(d, path)
    latent = GANLatent(codes=torch.randn(2, 8, 32, generator=g), fingerprint=enc.decoder.fingerprint, space="w")
    edited = apply_direction(latent, load_directions(path), 0, -3.0, 0, -1, model=enc.decoder)
    assert torch.allclose(edited.codes, latent.codes - 3 * d[None], atol=1e-6)


E4E_REFUSALS = [
    ("rows_differ", torch.randn(1, 18, 8), r"the 18 rows of this \[1, 18, 8\] tensor differ"),
    ("two_directions", torch.randn(2, 8), r"rows of this \[2, 8\] tensor differ"),
    ("four_dims", torch.ones(1, 1, 2, 8), r"is \[1, 1, 2, 8\]"),
    ("integers", torch.ones(1, 8, dtype=torch.int64), r"a tensor of torch.int64"),
    ("nan", torch.tensor([[1.0, float("nan")]]), r"NaN"),
    ("zero", torch.zeros(1, 8), r"zero length"),
    ("no_std", {"comp": torch.ones(4, 1, 8)}, r"lacks std"),
    ("std_count", {"comp": torch.ones(4, 1, 8), "std": torch.ones(3)}, r"one value per component \(4\)"),
    ("std_negative", {"comp": torch.ones(4, 1, 8), "std": -torch.ones(4)}, r"not positive"),
    ("mean_width", {"comp": torch.ones(4, 1, 8), "std": torch.ones(4), "mean": torch.ones(1, 7)}, r"mean is \[1, 7\]"),
    ("a_list", [torch.ones(8)], r"holds a list"),
]


@pytest.mark.parametrize("name,obj,match", E4E_REFUSALS, ids=[r[0] for r in E4E_REFUSALS])
def test_e4e_direction_files_of_another_shape_are_refused(tmp_path, name, obj, match):
    torch.save(obj, tmp_path / f"{name}.pt")
    with pytest.raises(CheckpointError, match=match) as e:
        load_directions(tmp_path / f"{name}.pt")
    assert f"'{name}.pt'" in str(e.value)


def test_a_hostile_direction_file_is_refused_and_nothing_runs(tmp_path):
    sentinel = tmp_path / SENTINEL_NAME
    torch.save({"comp": _Reduce(os.system, f"touch {sentinel}"), "std": torch.ones(1)}, tmp_path / "evil.pt")
    with pytest.raises(UnsafePickleError, match="'evil.pt'"):
        load_directions(tmp_path / "evil.pt")
    assert not sentinel.exists()


def test_fan_in_scale_of_the_style_heads_is_one_over_sqrt_width():
    """EqualLinear with learning-rate multiplier 1 divides its weight by sqrt(fan-in) (StyleGAN's equalized lr)."""
    from gan_latent_lab.loaders.encoders import EqualLinear, StyleLevel

    assert math.isclose(EqualLinear(64, 48).scale, 1 / 8) and math.isclose(StyleLevel(3, 16, 64, 4).scale, 1 / 8)
    lvl = StyleLevel(2, 4, 4, 2)
    with torch.no_grad():
        for p in lvl.parameters():
            p.copy_(torch.randn_like(p))
        x = torch.randn(3, 4, 4, 4)
        out = lvl(x)
        for b in range(2):  # each block on its own, as the official GradualStyleBlock runs it
            y = F.leaky_relu(F.conv2d(x, lvl.conv0_weight[4 * b:4 * b + 4], lvl.conv0_bias[4 * b:4 * b + 4], 2, 1), 0.01)
            y = F.leaky_relu(F.conv2d(y, lvl.conv1_weight[4 * b:4 * b + 4], lvl.conv1_bias[4 * b:4 * b + 4], 2, 1), 0.01)
            ref = y.view(3, 4) @ (lvl.linear_weight[b] / 2).T + lvl.linear_bias[b]
            assert torch.allclose(out[:, b], ref, atol=1e-5)
