"""SeFa math against independent references (SVD, numpy eig) and on the real face DCGAN."""

import importlib.util

import numpy as np
import pytest
import torch

from gan_latent_lab.directions.sefa import factorize, sefa, stack_weights
from gan_latent_lab.directions.slots import format_slots, parse_slots, slot_range
from gan_latent_lab.errors import InputError

FACE = "builtin: face DCGAN 64px (gan-face-generate)"


def _weights(seed=0, dim=24, outs=(40, 40, 30)):
    g = torch.Generator().manual_seed(seed)
    # rows of very different scales, so the row normalisation matters
    return [torch.randn(o, dim, generator=g) * (1 + 10 * i) for i, o in enumerate(outs)]


class FakeModel:
    """Just enough of the generator contract for sefa(): facts and sefa_weights."""

    arch, code_space, fingerprint = "fake", "w", "f00d"

    def __init__(self, weights):
        self.per_slot = weights
        self.num_ws, self.w_dim = len(weights), weights[0].shape[1]
        self.asked = None

    def sefa_weights(self, slots):
        self.asked = list(slots)
        return [self.per_slot[s] for s in slots]


# ----- slots -----------------------------------------------------------------------------------
def test_parse_slots_ranges_and_lists():
    assert parse_slots("0-1,4", 8) == [0, 1, 4]
    assert parse_slots(" 2 , 0-1 ,1", 8) == [0, 1, 2]
    assert parse_slots("all", 5) == [0, 1, 2, 3, 4]
    assert parse_slots([3, 1], 4) == [1, 3]
    assert parse_slots(None, 2) == [0, 1]


def test_parse_slots_presets_are_thirds():
    assert parse_slots("coarse", 18) == list(range(0, 6))
    assert parse_slots("middle", 18) == list(range(6, 12))
    assert parse_slots("fine", 18) == list(range(12, 18))
    assert parse_slots("coarse", 1) == [0]


@pytest.mark.parametrize("spec", ["8", "0-8", "3-1", "a", "1-2-3", "", "0,,1", "-1", [9], [1.5]])
def test_parse_slots_rejects_bad_parts(spec):
    with pytest.raises(InputError) as e:
        parse_slots(spec, 8)
    msg = str(e.value)
    assert "0-7" in msg or "backwards" in msg or "empty" in msg or "no slots" in msg or "integer" in msg


def test_out_of_range_message_names_part_and_range():
    with pytest.raises(InputError, match=r"'2-9'.*0-7"):
        parse_slots("0,2-9", 8)


def test_slot_range_and_format():
    assert slot_range(1, 3, 8) == [1, 2, 3]
    assert slot_range(2, -1, 4) == [2, 3]
    with pytest.raises(InputError):
        slot_range(0, 8, 8)
    with pytest.raises(InputError):
        slot_range(3, 1, 8)
    assert format_slots([0, 1, 2, 5, 7, 8]) == "0-2,5,7-8"


# ----- math ------------------------------------------------------------------------------------
def test_vectors_orthonormal_and_sorted():
    values, vectors = factorize(_weights())
    eye = vectors @ vectors.T
    assert torch.allclose(eye, torch.eye(eye.shape[0], dtype=eye.dtype), atol=1e-5)
    assert bool((values[:-1] >= values[1:]).all())


def test_eigenvalues_are_squared_singular_values_of_normalised_stack():
    ws = _weights(1)
    values, _ = factorize(ws)
    a = np.concatenate([w.numpy().astype(np.float64) for w in ws])
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    s = np.linalg.svd(a, compute_uv=False)
    np.testing.assert_allclose(values.numpy(), s ** 2, rtol=1e-4)
    # row normalisation: every row of the stack has unit length
    assert torch.allclose(stack_weights(ws).norm(dim=1), torch.ones(a.shape[0], dtype=torch.float64))


def test_top_direction_maximises_response():
    ws = _weights(2)
    _, vectors = factorize(ws)
    a = stack_weights(ws)
    top = torch.linalg.vector_norm(a @ vectors[0])
    r = torch.randn(1000, a.shape[1], generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    r = r / r.norm(dim=1, keepdim=True)
    assert bool((torch.linalg.vector_norm(r @ a.T, dim=1) <= top + 1e-9).all())


def test_matches_numpy_eig_like_the_official_code():
    """Same normalisation and AᵀA as genforce/sefa, solved by numpy.linalg.eig: equal up to sign."""
    ws = _weights(4)
    values, vectors = factorize(ws)
    a = np.concatenate([w.numpy().astype(np.float64) for w in ws])
    a /= np.linalg.norm(a, axis=1, keepdims=True)
    ev, evec = np.linalg.eig(a.T @ a)
    order = np.argsort(-ev.real)
    np.testing.assert_allclose(values.numpy(), ev.real[order], rtol=1e-6, atol=1e-8)
    dots = np.abs(np.sum(vectors.numpy() * evec.real[:, order].T, axis=1))
    np.testing.assert_allclose(dots[:10], 1.0, atol=1e-6)


def test_sign_is_deterministic():
    _, v = factorize(_weights(5))
    idx = v.abs().argmax(dim=1)
    assert bool((v[torch.arange(v.shape[0]), idx] > 0).all())
    _, v2 = factorize([-w for w in _weights(5)])  # flipping weights flips nothing in AᵀA
    assert torch.equal(v, v2)


def test_sefa_on_model_slots_and_k():
    model = FakeModel(_weights(6, outs=(10, 12, 14, 16)))
    d = sefa(model, "1-2", k=5)
    assert model.asked == [1, 2]
    assert d.vectors.shape == (5, 24) and d.values.shape == (5,)
    assert d.method == "sefa" and d.scale_kind == "eigenvalue" and d.slots == [1, 2]
    assert d.fingerprint == "f00d" and d.space == "w" and d.meta["slots"] == "1-2" and d.meta["k"] == 5
    with pytest.raises(InputError):
        sefa(model, "0-4")
    with pytest.raises(InputError):
        sefa(model, "all", k=25)


# ----- real trained model ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def face():
    if importlib.util.find_spec("gan_face_generate") is None:
        pytest.skip("gan-face-generate not installed")
    from gan_latent_lab.nodes.model_nodes import load_model

    return load_model(FACE)


def test_face_dcgan_top_direction_changes_images_most(face):
    d = sefa(face)
    assert d.vectors.shape == (100, 100)
    z = face.sample_z(range(16))
    codes = face.mapping(z)

    def change(vec):
        v = vec.reshape(1, 1, -1)
        with torch.no_grad():
            plus, minus = face.synthesis(codes + 5 * v), face.synthesis(codes - 5 * v)
        return float((plus - minus).abs().mean())

    top, fiftieth = change(d.vectors[0]), change(d.vectors[49])
    g = torch.Generator().manual_seed(0)
    randoms = []
    for _ in range(4):
        r = torch.randn(100, generator=g)
        randoms.append(change(r / r.norm()))
    assert top > fiftieth
    assert top > max(randoms)


@pytest.mark.parametrize("dim", [100, 300, 512, 515])
def test_gram_of_wide_stacks_equals_the_full_product(dim):
    """The block-triangular AᵀA (wide codes) equals the plain product of the unit-row stack, any width."""
    from gan_latent_lab.directions.sefa import gram, stack_weights

    g = torch.Generator().manual_seed(dim)
    ws = [torch.randn(o, dim, generator=g) for o in (dim, 37, 2 * dim)]
    a = stack_weights(ws)
    expect = a.T @ a
    got = gram(ws)
    assert got.dtype == torch.float64 and got.shape == (dim, dim)
    torch.testing.assert_close(got, expect, rtol=0, atol=1e-5 * float(expect.abs().max()))
    torch.testing.assert_close(got, got.T, rtol=0, atol=0)
