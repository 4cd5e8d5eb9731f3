"""Load -> Latent -> Decode through the node classes, without ComfyUI."""

import pytest
import torch

from gan_latent_lab.errors import InputError, MismatchError
from gan_latent_lab.nodes.model_nodes import GANDecode, GANLatentFromSeed, LoadGANModel, model_choices

from helpers import face_dcgan_path

FACE = "builtin: face DCGAN 64px (gan-face-generate)"


@pytest.fixture(scope="module")
def face():
    face_dcgan_path()
    assert FACE in model_choices()
    model, summary = LoadGANModel().load(FACE)
    assert "dcgan" in summary and "64x64" in summary
    return model


def test_load_latent_decode_shapes_and_repeatability(face):
    latent, note = GANLatentFromSeed().sample(face, 11, 8, 1.0, 0, "0")
    assert latent.codes.shape == (8, 1, 100) and latent.seeds == list(range(11, 19))
    (img,) = GANDecode().decode(face, latent, "const")
    assert img.shape == (8, 64, 64, 3) and img.dtype == torch.float32
    assert img.min() >= 0 and img.max() <= 1
    latent2, _ = GANLatentFromSeed().sample(face, 11, 8, 1.0, 0, "0")
    (img2,) = GANDecode().decode(face, latent2, "const")
    assert torch.equal(img, img2)
    other, _ = GANLatentFromSeed().sample(face, 12, 1, 1.0, 0, "0")
    assert not torch.equal(img[1:2], img[0:1]) and torch.equal(GANDecode().decode(face, other, "const")[0], img[1:2])


def test_unconditional_model_notes_ignored_class(face):
    _, note = GANLatentFromSeed().sample(face, 0, 1, 1.0, 0, "5")
    assert "ignored" in note


@pytest.mark.parametrize("kwargs,match", [
    (dict(seed=-1), "seed"),
    (dict(seed=2**32), "seed"),
    (dict(batch_size=0), "batch size"),
    (dict(batch_size=10_000), "batch size"),
    (dict(truncation_psi=float("nan")), "truncation_psi"),
    (dict(seed=2**32 - 2, batch_size=4), "seeds"),
])
def test_bad_latent_inputs(face, kwargs, match):
    args = dict(seed=0, batch_size=2, truncation_psi=1.0, truncation_cutoff=0, class_label="0")
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        GANLatentFromSeed().sample(face, **args)


def test_latent_from_other_model_is_refused(face):
    latent, _ = GANLatentFromSeed().sample(face, 0, 1, 1.0, 0, "0")
    latent.fingerprint = "0000000000000000"
    with pytest.raises(MismatchError, match="another|not by"):
        GANDecode().decode(face, latent, "const")
