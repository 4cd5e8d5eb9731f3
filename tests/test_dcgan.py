"""DCGAN on the two real trained checkpoints from PyPI, against their packages' own forward."""

import importlib.util
import json
import os
import shutil

import pytest
import torch

from gan_latent_lab.errors import CheckpointError
from gan_latent_lab.loaders import load_gan, save_converted

from helpers import EYE_SIDECAR, eye_dcgan_path, face_dcgan_path


def _reference_module(module: str, filename: str):
    """Import one source file of a package by path (the eye package's __init__ must not run)."""
    spec = importlib.util.find_spec(module)
    path = os.path.join(list(spec.submodule_search_locations)[0], filename)
    s = importlib.util.spec_from_file_location(f"_ref_{module}_{filename[:-3]}", path)
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    return mod


def test_face_dcgan_matches_package_forward():
    path = face_dcgan_path()
    gen = load_gan(path)
    assert gen.info["arch"] == "dcgan"
    assert (gen.z_dim, gen.c_dim, gen.num_ws, gen.resolution) == (100, 0, 1, 64)
    ref_mod = _reference_module("gan_face_generate", "models.py")
    ref = ref_mod.Generator(0, 3, 100, 64)
    ref.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["netG_state_dict"])
    ref.eval()
    z = gen.sample_z(range(5))
    with torch.no_grad():
        ours = gen.synthesis(gen.mapping(z))
        theirs = ref(z[:, :, None, None])
    assert ours.shape == (5, 3, 64, 64)
    assert torch.allclose(ours, theirs, atol=1e-5)


def test_eye_dcgan_with_sidecar_matches_package_forward(tmp_path):
    src = eye_dcgan_path()
    dst = tmp_path / "eyes.pth"
    shutil.copy(src, dst)
    (tmp_path / "eyes.pth.json").write_text(json.dumps(EYE_SIDECAR))
    gen = load_gan(dst)
    assert (gen.z_dim, gen.c_dim, gen.resolution) == (100, 8, 128)
    assert gen.class_names[1] == "blue"
    ref_mod = _reference_module("omniart_eye_generator", "generator.py")
    ref = ref_mod.Generator()
    ref.load_state_dict(torch.load(src, map_location="cpu", weights_only=True))
    ref.eval()
    z = gen.sample_z([7, 8, 9])
    c = torch.nn.functional.one_hot(torch.tensor([0, 3, 7]), 8).float()
    with torch.no_grad():
        ours = gen.synthesis(gen.mapping(z, c), c)
        theirs = ref(z, c)
    assert torch.allclose(ours, theirs, atol=1e-5)
    by_name = gen.make_c("hazel", 2)
    assert by_name[0].argmax().item() == 6


def test_eye_dcgan_without_sidecar_loads_unconditional(tmp_path):
    dst = tmp_path / "eyes.pth"
    shutil.copy(eye_dcgan_path(), dst)
    gen = load_gan(dst)
    assert (gen.z_dim, gen.c_dim) == (108, 0)


def test_sidecar_that_does_not_add_up_is_refused(tmp_path):
    dst = tmp_path / "eyes.pth"
    shutil.copy(eye_dcgan_path(), dst)
    (tmp_path / "eyes.pth.json").write_text(json.dumps({"z_dim": 100, "c_dim": 10}))
    with pytest.raises(CheckpointError, match="eyes.pth"):
        load_gan(dst)


def test_conditional_model_needs_a_class(tmp_path):
    gen = load_gan(eye_dcgan_path(), sidecar=EYE_SIDECAR)
    from gan_latent_lab.errors import InputError

    with pytest.raises(InputError, match="class"):
        gen.mapping(gen.sample_z([0]))


def test_same_seed_same_z_as_numpy():
    import numpy as np

    gen = load_gan(face_dcgan_path())
    z = gen.sample_z([0, 42, 2**32 - 1])
    for row, s in zip(z, [0, 42, 2**32 - 1]):
        assert torch.equal(row, torch.from_numpy(np.random.RandomState(s).randn(100)).float())


def test_converted_safetensors_reload_identically(tmp_path):
    gen = load_gan(face_dcgan_path())
    out = save_converted(gen, tmp_path / "face.safetensors")
    again = load_gan(out)
    assert again.fingerprint == gen.fingerprint
    z = gen.sample_z([3, 4])
    with torch.no_grad():
        assert torch.equal(gen.synthesis(gen.mapping(z)), again.synthesis(again.mapping(z)))




def test_bare_safetensors_with_plain_metadata_and_wrapped_state_dicts(tmp_path):
    """The eye DCGAN as a bare safetensors whose metadata says z_dim / c_dim / class_names loads as the
    sidecar would make it; the tutorial's wrappers (`state_dict`, `generator`) load the same weights;
    unreadable metadata is our error naming the file."""
    from safetensors.torch import save_file

    ref = load_gan(eye_dcgan_path(), sidecar=EYE_SIDECAR)
    raw = torch.load(eye_dcgan_path(), map_location="cpu", weights_only=True)
    sd = raw.get("netG_state_dict", raw) if isinstance(raw, dict) and "netG_state_dict" in raw else raw
    sd = {k: v.contiguous() for k, v in sd.items() if isinstance(v, torch.Tensor)}
    meta = {"z_dim": "100", "c_dim": "8", "class_names": json.dumps(EYE_SIDECAR["class_names"])}
    save_file(sd, str(tmp_path / "eyes.safetensors"), metadata=meta)
    gen = load_gan(tmp_path / "eyes.safetensors")
    assert (gen.z_dim, gen.c_dim, gen.fingerprint) == (100, 8, ref.fingerprint)
    z, c = ref.sample_z([1, 2]), ref.make_c("hazel", 2)
    with torch.no_grad():
        torch.testing.assert_close(gen.synthesis(gen.mapping(z, c), c), ref.synthesis(ref.mapping(z, c), c))
    save_file(sd, str(tmp_path / "bad.safetensors"), metadata={**meta, "c_dim": "eight"})
    with pytest.raises(CheckpointError, match="bad.safetensors"):
        load_gan(tmp_path / "bad.safetensors")
    for wrapper in ("state_dict", "generator"):
        torch.save({wrapper: sd}, tmp_path / f"{wrapper}.pt")
        assert load_gan(tmp_path / f"{wrapper}.pt", sidecar=EYE_SIDECAR).fingerprint == ref.fingerprint


def test_sefa_matrix_is_the_first_layer_as_a_dense_map():
    """main.0 is a ConvTranspose2d on a 1x1 input: the SeFa matrix must be that map written densely
    (z @ Aᵀ equals the layer's output, flattened (channel, h, w))."""
    import torch.nn.functional as F

    gen = load_gan(face_dcgan_path())
    (mat,) = gen.sefa_weights([0])
    sd = torch.load(face_dcgan_path(), map_location="cpu", weights_only=True)
    sd = sd.get("netG_state_dict", sd) if isinstance(sd, dict) else sd
    weight = sd["main.0.weight"]  # [z, out, 4, 4]
    assert mat.shape == (weight.shape[1] * 16, weight.shape[0])
    z = gen.sample_z([0, 1, 2])
    conv = F.conv_transpose2d(z[:, :, None, None], weight)
    torch.testing.assert_close(z @ mat.T, conv.flatten(1), atol=1e-4, rtol=1e-4)
