"""Edit arithmetic: slots are inclusive, edits stack, bad inputs are refused before any work."""

import json
import math
from pathlib import Path

import pytest
import torch

from gan_latent_lab.directions import Directions, GANLatent
from gan_latent_lab.directions.edit import apply_direction, concat, grid_codes, interpolate, slerp, style_mix, sweep
from gan_latent_lab.directions.sefa import sefa
from gan_latent_lab.errors import InputError, MismatchError
from gan_latent_lab.loaders.base import GANGenerator

ORACLES = Path(__file__).resolve().parent / "data" / "oracles"


class TinyStyleGenerator(GANGenerator):
    """A stand-in style GAN: 8 w+ slots, each read by its own affine layer, mixed into a 4x4 image."""

    arch = "tiny-style"
    code_space = "w"

    def __init__(self, seed: int = 0):
        super().__init__()
        torch.manual_seed(seed)
        self.z_dim = self.w_dim = 16
        self.num_ws, self.resolution = 8, 4
        self.mapping_fc = torch.nn.Linear(16, 16)
        self.affines = torch.nn.ModuleList(torch.nn.Linear(16, 12) for _ in range(8))
        self.to_img = torch.nn.Linear(12 * 8, 3 * 16)

    def _mapping(self, z, c, psi, cutoff):
        w = torch.nn.functional.leaky_relu(self.mapping_fc(z), 0.2)
        return w.unsqueeze(1).repeat(1, self.num_ws, 1)

    def _synthesis(self, codes, c, psi, noise_mode):
        styles = torch.cat([torch.tanh(a(codes[:, i])) for i, a in enumerate(self.affines)], dim=1)
        return torch.tanh(self.to_img(styles)).reshape(-1, 3, 4, 4)

    def sefa_weights(self, slots):
        return [self.affines[s].weight for s in slots]


@pytest.fixture(scope="module")
def gen():
    g = TinyStyleGenerator()
    g.eval().requires_grad_(False)
    return g


@pytest.fixture()
def latent(gen):
    z = gen.sample_z([0, 1, 2])
    return GANLatent(codes=gen.mapping(z), fingerprint=gen.fingerprint, z=z, seeds=[0, 1, 2])


def unit(d, seed=0):
    v = torch.randn(d, generator=torch.Generator().manual_seed(seed))
    return v / v.norm()


def one_direction(gen, vec=None, **kw):
    vec = unit(gen.w_dim) if vec is None else vec
    return Directions(vectors=vec[None], values=torch.ones(1), method="test", space="w",
                      fingerprint=kw.pop("fingerprint", gen.fingerprint), **kw)


# ----- the oracle edit -------------------------------------------------------------------------
def test_stylegan2_oracle_edit_layers_1_to_3(tmp_path):
    """img_edit_layers1to3_alpha3: ws_psi07 with ws[:, 1:4] += 3 d, decoded by the official code."""
    pytest.importorskip("gan_latent_lab.loaders.stylegan2")
    from safetensors.torch import load_file, save_file

    from gan_latent_lab.loaders import load_gan

    cfg = json.loads((ORACLES / "stylegan2_uncond32.json").read_text())
    state = load_file(str(ORACLES / "stylegan2_uncond32.safetensors"))
    io = load_file(str(ORACLES / "stylegan2_uncond32_io.safetensors"))
    save_file(state, str(tmp_path / "G.safetensors"))
    (tmp_path / "config.json").write_text(json.dumps(cfg["init_kwargs"]))
    model = load_gan(tmp_path / "G.safetensors")
    assert model.num_ws == cfg["num_ws"]
    lat = GANLatent(codes=io["ws_psi07"], fingerprint=model.fingerprint, space=model.code_space)
    d = Directions(vectors=io["edit_direction"].reshape(1, -1), values=torch.ones(1), method="test",
                   space=model.code_space)
    edited = apply_direction(lat, d, 0, 3.0, 1, 3, model=model)
    with torch.no_grad():
        img = model.synthesis(edited.codes, noise_mode="const")
    want = io["img_edit_layers1to3_alpha3"]
    assert img.shape == want.shape
    assert torch.allclose(img, want, atol=1e-4, rtol=1e-4), float((img - want).abs().max())


# ----- the same arithmetic on the stand-in -------------------------------------------------------
def test_slots_are_inclusive_like_python_slice_1_4(gen, latent):
    d = one_direction(gen)
    edited = apply_direction(latent, d, 0, 3.0, 1, 3, model=gen)
    expect = latent.codes.clone()
    expect[:, 1:4] += 3.0 * d.vectors[0]
    assert torch.allclose(edited.codes, expect, atol=1e-6)
    assert torch.equal(edited.codes[:, 0], latent.codes[:, 0])
    assert torch.equal(edited.codes[:, 4:], latent.codes[:, 4:])
    with torch.no_grad():
        a, b = gen.synthesis(edited.codes), gen.synthesis(expect)
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, gen.synthesis(latent.codes), atol=1e-3)
    assert edited.seeds == latent.seeds and torch.equal(edited.z, latent.z)


def test_edits_chain_and_input_untouched(gen, latent):
    d = Directions(vectors=torch.stack([unit(16, 1), unit(16, 2)]), values=torch.ones(2), method="test")
    before = latent.codes.clone()
    once = apply_direction(latent, d, 0, 2.0, 0, -1)
    twice = apply_direction(once, d, 1, -1.5, 2, 5)
    expect = before.clone()
    expect += 2.0 * d.vectors[0]
    expect[:, 2:6] += -1.5 * d.vectors[1]
    assert torch.allclose(twice.codes, expect, atol=1e-6)
    assert torch.equal(latent.codes, before)


def test_sefa_direction_on_standin_moves_images(gen, latent):
    d = sefa(gen, "1-3", k=4)
    edited = apply_direction(latent, d, 0, 3.0, 1, 3, model=gen)
    with torch.no_grad():
        change = (gen.synthesis(edited.codes) - gen.synthesis(latent.codes)).abs().mean()
    assert change > 1e-3


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -math.inf, "x"])
def test_bad_strength_is_input_error(gen, latent, bad):
    with pytest.raises(InputError, match="strength"):
        apply_direction(latent, one_direction(gen), 0, bad, 0, 0)


@pytest.mark.parametrize("s,e", [(0, 8), (-1, 2), (5, 3), (9, -1)])
def test_bad_slots_are_input_errors(gen, latent, s, e):
    with pytest.raises(InputError, match="slot"):
        apply_direction(latent, one_direction(gen), 0, 1.0, s, e)


def test_bad_index_is_input_error(gen, latent):
    with pytest.raises(InputError, match="index"):
        apply_direction(latent, one_direction(gen), 1, 1.0, 0, 0)


def test_width_mismatch_names_both_widths(gen, latent):
    wide = Directions(vectors=unit(512)[None], values=torch.ones(1), method="interfacegan")
    with pytest.raises(MismatchError, match=r"512.*16"):
        apply_direction(latent, wide, 0, 1.0, 0, 0)


def test_other_model_set_is_refused(gen, latent):
    with pytest.raises(MismatchError):
        apply_direction(latent, one_direction(gen, fingerprint="0123456789abcdef"), 0, 1.0, 0, 0)
    with pytest.raises(MismatchError):
        apply_direction(latent, one_direction(gen, fingerprint="0123456789abcdef"), 0, 1.0, 0, 0, model=gen)


def test_sigma_mode(gen, latent):
    vec = unit(16, 3)
    sd = Directions(vectors=vec[None], values=torch.tensor([2.5]), method="ganspace", scale_kind="stdev")
    edited = apply_direction(latent, sd, 0, 2.0, 0, -1, in_sigma=True)
    assert torch.allclose(edited.codes - latent.codes, (5.0 * vec).expand_as(latent.codes), atol=1e-6)
    eig = Directions(vectors=vec[None], values=torch.tensor([9.0]), method="sefa", scale_kind="eigenvalue")
    with pytest.raises(InputError, match="sigma"):
        apply_direction(latent, eig, 0, 2.0, 0, -1, in_sigma=True)


def test_sweep_runs_minus_to_plus(gen, latent):
    d = one_direction(gen)
    out = sweep(latent, d, 0, 4.0, 5, "2-3")
    assert out.codes.shape == (15, 8, 16)
    steps = out.codes.reshape(3, 5, 8, 16)
    for k, t in enumerate([-4.0, -2.0, 0.0, 2.0, 4.0]):
        delta = steps[:, k] - latent.codes
        assert torch.allclose(delta[:, 2:4], (t * d.vectors[0]).expand(3, 2, 16), atol=1e-5)
        assert torch.equal(delta[:, [0, 1, 4, 5, 6, 7]], torch.zeros(3, 6, 16))
    assert out.seeds == [0] * 5 + [1] * 5 + [2] * 5
    with pytest.raises(InputError):
        sweep(latent, d, 0, float("nan"), 5)
    with pytest.raises(InputError):
        sweep(latent, d, 0, 1.0, 1)


def test_grid_codes_rows_are_directions(gen, latent):
    d = Directions(vectors=torch.stack([unit(16, i) for i in range(3)]), values=torch.ones(3), method="t")
    out = grid_codes(latent, d, [0, 2], 3.0, 4)
    assert out.codes.shape == (8, 8, 16)
    assert torch.allclose(out.codes[4 + 3] - latent.codes[0], 3.0 * d.vectors[2].expand(8, 16), atol=1e-5)


def test_interpolate_lerp_and_slerp(gen, latent):
    a = GANLatent(codes=latent.codes[:1], fingerprint=gen.fingerprint, z=latent.z[:1])
    b = GANLatent(codes=latent.codes[1:2], fingerprint=gen.fingerprint, z=latent.z[1:2])
    lerp = interpolate(a, b, 5, "lerp")
    assert lerp.codes.shape == (5, 8, 16)
    assert torch.allclose(lerp.codes[0], a.codes[0]) and torch.allclose(lerp.codes[-1], b.codes[0], atol=1e-6)
    assert torch.allclose(lerp.codes[2], (a.codes[0] + b.codes[0]) / 2, atol=1e-6)
    sl = interpolate(a, b, 5, "slerp")
    assert torch.allclose(sl.codes[0], a.codes[0], atol=1e-5) and torch.allclose(sl.codes[-1], b.codes[0], atol=1e-5)
    other = GANLatent(codes=latent.codes[:1], fingerprint="ffff")
    with pytest.raises(MismatchError):
        interpolate(a, other, 3)
    with pytest.raises(InputError):
        interpolate(a, b, 3, "cubic")


def test_slerp_keeps_length_on_the_sphere():
    x, y = torch.tensor([[3.0, 0.0]]), torch.tensor([[0.0, 3.0]])
    mid = slerp(x, y, torch.tensor([0.5]))[0, 0]
    assert torch.allclose(mid, torch.tensor([3 / math.sqrt(2), 3 / math.sqrt(2)]), atol=1e-5)
    same = slerp(x, x, torch.tensor([0.3]))[0, 0]  # parallel: no division by zero
    assert torch.allclose(same, x[0])


def test_style_mix_takes_slots_from_b(gen, latent):
    a = GANLatent(codes=latent.codes[:2], fingerprint=gen.fingerprint)
    b = GANLatent(codes=latent.codes[2:3] + 1.0, fingerprint=gen.fingerprint)
    mixed = style_mix(a, b, 2, 4)
    assert torch.equal(mixed.codes[:, 2:5], b.codes[:, 2:5].expand(2, -1, -1))
    assert torch.equal(mixed.codes[:, :2], a.codes[:, :2]) and torch.equal(mixed.codes[:, 5:], a.codes[:, 5:])
    with pytest.raises(MismatchError):
        style_mix(a, GANLatent(codes=latent.codes[:1], fingerprint="ffff"), 0, 1)
    with pytest.raises(InputError):
        style_mix(a, b, 0, 8)


def test_concat_keeps_order_seeds_and_classes(gen, latent):
    a = GANLatent(codes=latent.codes[:2], fingerprint=gen.fingerprint, z=latent.z[:2], seeds=[0, 1])
    b = GANLatent(codes=latent.codes[2:3] + 1.0, fingerprint=gen.fingerprint, z=latent.z[2:3], seeds=[2])
    joined = concat([a, b, None])
    assert torch.equal(joined.codes, torch.cat([latent.codes[:2], latent.codes[2:3] + 1.0]))
    assert joined.seeds == [0, 1, 2] and torch.equal(joined.z, latent.z)
    decoded = gen.synthesis(joined.codes)
    assert torch.allclose(decoded[2], gen.synthesis(b.codes)[0], atol=1e-6)
    ca = GANLatent(codes=latent.codes[:1], fingerprint=gen.fingerprint, c=torch.tensor([[1.0, 0.0]]))
    cb = GANLatent(codes=latent.codes[1:2], fingerprint=gen.fingerprint, c=torch.tensor([[0.0, 1.0]]))
    assert torch.equal(concat([ca, cb]).c, torch.eye(2))


def test_concat_refuses_mixed_models_truncations_and_classes(gen, latent):
    with pytest.raises(MismatchError, match="ffff"):
        concat([latent, GANLatent(codes=latent.codes, fingerprint="ffff")])
    with pytest.raises(MismatchError, match="truncation"):
        concat([latent, latent.with_codes(latent.codes, truncation_psi=0.5)])
    with pytest.raises(MismatchError, match="class"):
        concat([latent, GANLatent(codes=latent.codes, fingerprint=gen.fingerprint, c=torch.ones(3, 2))])
    with pytest.raises(InputError):
        concat([None, None])
