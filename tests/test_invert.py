"""Projection of images into every family's latent space (directions/invert.py) and the Invert Image node.

Targets are images the models themselves generated, so a perfect inversion exists and the PSNR
it reaches says how close the search gets.  The small oracles map every z to almost the same w
(their mapping weights are random), so their targets are made from codes moved off the mean w:
one shift for every slot plus a smaller one per slot, which only ``w+`` can follow."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from gan_latent_lab.directions import GANLatent, invert, pivotal_tune
from gan_latent_lab.directions.invert import (MAX_IMAGES, learning_rate, noise_regularizer, plan, prepare_images,
                                              psnr, spaces_for)
from gan_latent_lab.errors import GANLabError, InputError, MismatchError
from gan_latent_lab.loaders import load_gan

from helpers import face_dcgan_path
from model_files import biggan_repaired, oracle, write_biggan_folder

STYLE = {  # oracle -> (how the user's file is laid out, shift of the target codes)
    "stylegan2_uncond32": ("nvlabs", 0.3),
    "stylegan2_cond16": ("nvlabs", 0.3),
    "stylegan3t_uncond16": ("nvlabs", 1.0),
    "stylegan1_genforce16": ("genforce", 0.2),
    "stylegan2_genforce16": ("genforce", 0.3),
}


def build(name: str, root: Path):
    """The model as a user has it on disk, loaded through load_gan."""
    root.mkdir(parents=True, exist_ok=True)
    if name == "biggan":
        config, state, _ = biggan_repaired()
        return load_gan(write_biggan_folder(root / "biggan", state, config))
    sd, _, meta = oracle(name)
    if "genforce" in name:
        torch.save({"generator_smooth": sd}, root / f"{name}.pth")
        return load_gan(root / f"{name}.pth")
    save_file({k: v.contiguous() for k, v in sd.items()}, str(root / "G.safetensors"))
    (root / "config.json").write_text(json.dumps({"init_kwargs": meta["init_kwargs"]}))
    return load_gan(root / "G.safetensors")


@pytest.fixture(scope="module")
def face():
    return load_gan(face_dcgan_path())


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("invert_models")
    cache = {}

    def get(name):
        if name not in cache:
            cache[name] = build(name, root / name)
        return cache[name]

    return get


def generated(model, seeds, shift: float = 0.0, classes=None):
    """Images the model made from seeds (style GANs: codes moved off the mean by ``shift``), in [-1, 1]."""
    g = torch.Generator().manual_seed(sum(seeds) + 1)
    with torch.no_grad():
        z = model.sample_z(seeds)
        c = model.make_c(classes if classes is not None else 0, len(seeds))
        codes = model.mapping(z, c)
        if shift:
            codes = codes + shift * torch.randn(len(seeds), 1, model.w_dim, generator=g)
            codes = codes + 0.3 * shift * torch.randn(codes.shape, generator=g)
        return model.synthesis(codes, c).clamp(-1, 1), c


def decode(model, latent):
    with torch.no_grad():
        return model.synthesis(latent.codes, latent.class_vectors(model)).clamp(-1, 1)


# ----- acceptance on a real trained model ---------------------------------------------------------
@pytest.mark.slow
def test_face_dcgan_defaults_reach_30db_median_and_26db_every_image(face):
    """8 faces the DCGAN made from seeds drawn here, inverted with the defaults."""
    seeds = np.random.default_rng(20260415).integers(0, 2**31, size=8).tolist()
    target, _ = generated(face, seeds)
    latent, stats = invert(face, target)
    values = stats["psnr"]
    assert statistics.median(values) >= 30.0, values
    assert min(values) >= 26.0, values
    # the latent is the model's: codes in z, a shared z, and it decodes to the reported reconstruction
    assert latent.codes.shape == (8, 1, 100) and latent.space == "z" and latent.fingerprint == face.fingerprint
    assert torch.equal(latent.z, latent.codes[:, 0])
    again = psnr(decode(face, latent), target)
    assert torch.allclose(again, torch.tensor(values), atol=1e-3)
    assert [p["name"] for p in stats["phases"]] == ["starts", "z"]
    assert min(stats["phases"][1]["psnr"][i] - stats["start_psnr"][i] for i in range(8)) > 5
    # pivotal tuning with its defaults on these pivots adds at least 3 dB to the median
    tuned, pivot, tuned_stats = pivotal_tune(face, latent, target)
    assert torch.allclose(torch.tensor(tuned_stats["psnr_before"]), torch.tensor(values), atol=1e-3)
    after = psnr(decode(tuned, pivot), target).tolist()
    assert statistics.median(after) >= statistics.median(values) + 3.0, (values, after)
    assert torch.allclose(psnr(decode(face, latent), target), again)  # the parent draws the pivots as before


# ----- every family -----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(STYLE))
def test_style_families_rise_from_w_to_w_plus(models, name):
    model = models(name)
    assert spaces_for(model) == (("w", "w+"), "w+")
    target, _ = generated(model, [3, 4], STYLE[name][1])
    latent, stats = invert(model, target, steps=100, seed=1)
    start, (w, wplus) = stats["start_psnr"], [p["psnr"] for p in stats["phases"]]
    assert [p["name"] for p in stats["phases"]] == ["w", "w+"]
    for i in range(2):
        assert w[i] >= start[i] and wplus[i] >= w[i], (start, w, wplus)
        assert wplus[i] > start[i] + 1.5, (start, w, wplus)
    assert latent.codes.shape == (2, model.num_ws, model.w_dim) and latent.space == "w"
    assert latent.fingerprint == model.fingerprint and latent.z is None
    assert torch.allclose(psnr(decode(model, latent), target), torch.tensor(stats["psnr"]), atol=1e-3)
    assert stats["psnr"] == wplus
    if model.noise_buffers():
        assert sorted(stats["noise"]) == sorted(model.noise_buffers())
        assert all(m.shape[0] == 2 and m.shape[1] == 1 for m in stats["noise"].values())
    if model.c_dim:
        assert latent.c.shape == (2, model.c_dim)


@pytest.mark.parametrize("name", sorted(STYLE))
def test_w_space_gives_one_w_for_every_slot(models, name):
    model = models(name)
    target, _ = generated(model, [5], STYLE[name][1])
    latent, stats = invert(model, target, space="w", steps=20)
    assert [p["space"] for p in stats["phases"]] == ["w"]
    assert torch.equal(latent.codes, latent.codes[:, :1].expand_as(latent.codes))


def test_pggan_z_starts_then_refine(models):
    model = models("pggan_genforce16")
    assert spaces_for(model) == (("z",), "z")
    target, _ = generated(model, [11, 12])
    latent, stats = invert(model, target, steps=60)
    start, (starts, z) = stats["start_psnr"], [p["psnr"] for p in stats["phases"]]
    assert [(p["name"], p["starts"]) for p in stats["phases"]] == [("starts", 8), ("z", 1)]
    for i in range(2):
        assert start[i] <= starts[i] <= z[i] and z[i] > start[i] + 5, (start, starts, z)
    assert latent.codes.shape == (2, 1, model.w_dim) and latent.space == "z" and latent.z is not None


def test_biggan_z_then_per_block_z_with_a_soft_class(models):
    model = models("biggan")
    assert spaces_for(model) == (("z", "z+"), "z+")
    target, _ = generated(model, [21, 22], classes=[3, 7])
    latent, stats = invert(model, target, steps=60)
    start = stats["start_psnr"]
    names = [p["name"] for p in stats["phases"]]
    assert names == ["starts", "z", "z+"]
    starts, z, zplus = [p["psnr"] for p in stats["phases"]]
    for i in range(2):
        assert start[i] <= starts[i] <= z[i] <= zplus[i] and zplus[i] > start[i] + 3, (start, starts, z, zplus)
    assert latent.codes.shape == (2, model.num_ws, model.z_dim)
    assert latent.codes.abs().max() <= model.z_bound  # z stays inside the truncated prior
    # no class given: a soft class (a probability vector per image) was optimised
    assert latent.c.shape == (2, model.c_dim) and torch.allclose(latent.c.sum(1), torch.ones(2))
    assert torch.allclose(psnr(decode(model, latent), target), torch.tensor(stats["psnr"]), atol=1e-3)


def test_biggan_given_class_is_kept_and_shared_z_space(models):
    model = models("biggan")
    target, c = generated(model, [23], classes=4)
    latent, stats = invert(model, target, space="z", steps=24, classes=4)
    assert torch.equal(latent.c, c) and latent.z is not None
    assert torch.equal(latent.codes, latent.codes[:, :1].expand_as(latent.codes))


# ----- refinement from an init latent ----------------------------------------------------------------
def test_init_latent_is_refined_and_a_foreign_one_refused(face):
    target, _ = generated(face, [7, 8])
    z = face.sample_z([7, 8])
    near = GANLatent(codes=(z + 0.3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(0)))[:, None],
                     fingerprint=face.fingerprint, space="z")
    latent, stats = invert(face, target, init=near, steps=40)
    assert [p["name"] for p in stats["phases"]] == ["z"] and stats["steps"] == 40
    assert all(b > a + 3 for a, b in zip(stats["start_psnr"], stats["psnr"])), stats
    assert plan(face, "z", None, refine=True)[0].steps < plan(face, "z", None, refine=False)[0].steps + \
        plan(face, "z", None, refine=False)[1].steps
    foreign = GANLatent(codes=near.codes, fingerprint="0123456789abcdef", space="z")
    with pytest.raises(MismatchError, match="not by"):
        invert(face, target, init=foreign)


# ----- bad input is refused before any work -------------------------------------------------------------
@pytest.fixture
def no_work(face, monkeypatch):
    """The face model with synthesis and mapping that fail the test if anything reaches them."""

    def boom(*a, **k):
        raise AssertionError("work started before the input was checked")

    monkeypatch.setattr(face, "synthesis", boom)
    monkeypatch.setattr(face, "mapping", boom)
    return face


def image(n=1, c=3, h=64, w=64):
    return torch.zeros(n, c, h, w)


@pytest.mark.parametrize("images,kwargs,match", [
    (image().index_fill_(3, torch.tensor([5]), float("nan")), {}, "NaN"),
    (image().index_fill_(2, torch.tensor([0]), float("inf")), {}, "NaN or infinite"),
    (image(h=1, w=1), {}, "too small"),
    (image(n=MAX_IMAGES + 1), {}, "split the batch"),
    (torch.zeros(3, 64, 64), {}, "dimensions"),
    (image(c=5), {}, "channels"),
    (image().to(torch.uint8), {}, "floats"),
    (image() + 250, {}, r"\[-1, 1\]"),
    (image(), {"space": "w"}, "does not fit"),
    (image(), {"space": "bogus"}, "does not fit"),
    (image(), {"steps": 0}, "steps"),
    (image(), {"steps": 10**7}, "steps"),
    (image(), {"steps": 2.5}, "steps"),
    (image(), {"seed": -1}, "seed"),
    (image(), {"perceptual": "lpips"}, "distance"),
])
def test_bad_input_is_refused_before_work(no_work, images, kwargs, match):
    with pytest.raises(InputError, match=match):
        invert(no_work, images, **kwargs)


def test_z_space_on_a_style_gan_is_refused(models):
    model = models("stylegan2_cond16")
    with pytest.raises(InputError, match="choose w, w\\+"):
        invert(model, image(h=16, w=16), space="z")


def test_every_error_is_ours(no_work):
    with pytest.raises(GANLabError):
        invert(no_work, image(n=40))


# ----- image conversion -----------------------------------------------------------------------------
def test_grey_and_rgba_are_converted_not_refused():
    g = torch.rand(2, 1, 32, 32) * 2 - 1
    out = prepare_images(g, 32)
    assert out.shape == (2, 3, 32, 32) and torch.equal(out[:, 0], g[:, 0]) and torch.equal(out[:, 2], g[:, 0])
    rgb = torch.rand(2, 3, 32, 32) * 2 - 1
    opaque = torch.cat([rgb, torch.ones(2, 1, 32, 32)], 1)
    assert torch.allclose(prepare_images(opaque, 32), rgb)
    clear = torch.cat([rgb, -torch.ones(2, 1, 32, 32)], 1)
    assert torch.equal(prepare_images(clear, 32), torch.ones(2, 3, 32, 32))  # transparent: white
    half = torch.cat([-torch.ones(1, 3, 32, 32), torch.zeros(1, 1, 32, 32)], 1)  # black at 50% alpha
    assert torch.allclose(prepare_images(half, 32), torch.zeros(1, 3, 32, 32))  # grey, halfway to white
    grey_alpha = torch.cat([g[:1], torch.ones(1, 1, 32, 32)], 1)
    assert torch.allclose(prepare_images(grey_alpha, 32), g[:1].expand(-1, 3, -1, -1))


def test_non_square_is_centre_cropped_and_downscaling_antialiased():
    wide = -torch.ones(1, 3, 32, 64)
    wide[..., 16:48] = 1.0  # the middle square is white, the sides black
    assert torch.equal(prepare_images(wide, 32), torch.ones(1, 3, 32, 32))
    tall = -torch.ones(1, 3, 64, 32)
    tall[..., 16:48, :] = 1.0
    assert torch.equal(prepare_images(tall, 32), torch.ones(1, 3, 32, 32))
    checker = ((torch.arange(64)[:, None] + torch.arange(64)[None]) % 2).float() * 2 - 1
    small = prepare_images(checker.expand(1, 3, 64, 64), 16)
    assert small.shape == (1, 3, 16, 16) and small.abs().max() < 0.05  # averaged to grey, no aliasing
    big = prepare_images(torch.rand(1, 3, 8, 8) * 2 - 1, 32)
    assert big.shape == (1, 3, 32, 32) and big.abs().max() <= 1


def test_grey_and_rgba_photos_invert(face):
    target, _ = generated(face, [31])
    grey = target.mean(1, keepdim=True)
    _, stats = invert(face, grey, steps=16)
    assert torch.equal(stats["target"], grey.expand(-1, 3, -1, -1))
    rgba = torch.cat([target, torch.ones(1, 1, 64, 64)], 1)
    latent, stats = invert(face, rgba, steps=16)
    assert torch.allclose(stats["target"], target) and latent.codes.shape == (1, 1, 100)


# ----- progress, interrupt, inference mode ------------------------------------------------------------
class Stop(Exception):
    pass


def test_interrupt_propagates_and_leaves_the_model_as_it_was(models):
    model = models("stylegan2_uncond32")
    target, _ = generated(model, [1, 2], 0.3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    buffers = {n: model.noise_buffer(n).data_ptr() for n in model.noise_buffers()}
    fingerprint = model.fingerprint
    calls = []

    def interrupt():
        calls.append(1)
        if len(calls) == 7:  # inside the w phase, while per-image noise maps are swapped in
            raise Stop()

    with pytest.raises(Stop):
        invert(model, target, steps=30, interrupt=interrupt)
    assert len(calls) == 7
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert {n: model.noise_buffer(n).data_ptr() for n in model.noise_buffers()} == buffers
    assert model.fingerprint == fingerprint and not model.training
    assert all(p.grad is None and not p.requires_grad for p in model.parameters())


def test_progress_counts_every_step_with_target_current_previews(face):
    target, _ = generated(face, [41, 42])
    seen = []
    _, stats = invert(face, target, steps=30, progress=lambda s, t, p: seen.append((s, t, p)))
    total = seen[0][1]
    starts = stats["phases"][0]
    assert total == starts["steps"] + stats["phases"][1]["steps"] and [s for s, _, _ in seen] == list(range(1, total + 1))
    previews = [(s, p) for s, _, p in seen if p is not None]
    assert [s for s, _ in previews] == [1, 25, 30]
    s, p = previews[-1]
    assert p.shape == (2, 3, 64, 128) and p.device.type == "cpu"
    assert torch.equal(p[..., :64], stats["target"])  # the left half is the target


def test_runs_inside_inference_mode(face):
    with torch.inference_mode():
        target, _ = generated(face, [51])
        latent, stats = invert(face, target, steps=12)
    assert latent.codes.shape == (1, 1, 100) and not latent.codes.is_inference()


def test_model_made_under_inference_mode_is_refused_with_a_hint():
    with torch.inference_mode():
        model = load_gan(face_dcgan_path())
    with pytest.raises(InputError, match="inference_mode"):
        invert(model, image(), steps=1)


def test_any_callable_distance_is_used(face):
    target, _ = generated(face, [61])
    calls = []

    def l1(x, y):
        calls.append(x.shape[0])
        return (x - y).abs().flatten(1).mean(1)

    _, stats = invert(face, target, steps=8, perceptual=l1)
    assert stats["distance"] == "l1" and len(calls) >= 8

    with pytest.raises(InputError, match="one number per image"):
        invert(face, target, steps=2, perceptual=lambda x, y: (x - y).abs().mean())


# ----- pieces ---------------------------------------------------------------------------------------
def test_schedule_warms_up_and_ramps_down_like_the_stylegan2_projector():
    assert learning_rate(0.0) == 0.0
    assert learning_rate(0.025) == pytest.approx(0.5)  # linear warm-up over the first 5%
    assert learning_rate(0.05) == pytest.approx(1.0) and learning_rate(0.5) == pytest.approx(1.0)
    assert learning_rate(0.875) == pytest.approx(0.5)  # half-way down the cosine over the last 25%
    assert learning_rate(0.999) < 1e-4


def test_noise_regularizer_is_small_for_white_noise_and_large_for_structure():
    g = torch.Generator().manual_seed(0)
    white = torch.randn(2, 1, 32, 32, generator=g)
    smooth = torch.nn.functional.interpolate(torch.randn(2, 1, 4, 4, generator=g), size=32, mode="bilinear")
    smooth = (smooth - smooth.mean()) / smooth.std()
    w, s = noise_regularizer([white]), noise_regularizer([smooth])
    assert w.shape == (2,) and (w < 0.01).all() and (s > 0.3).all()


def test_noise_maps_replace_the_stored_noise_per_image_and_are_put_back(models):
    model = models("stylegan2_uncond32")
    names = model.noise_buffers()
    assert names[0] == "synthesis.b4.conv1.noise_const" and len(names) == 7
    codes = model.mapping(model.sample_z([0, 0]))
    with torch.no_grad():
        stored = model.synthesis(codes)
        same = {n: model.noise_buffer(n).expand(2, -1, -1, -1) for n in names}
        with model.noise_maps(same):
            assert torch.allclose(model.synthesis(codes), stored, atol=1e-6)
        other = {n: torch.cat([model.noise_buffer(n), torch.randn_like(model.noise_buffer(n))]) for n in names}
        with model.noise_maps(other):
            out = model.synthesis(codes)
        assert torch.allclose(out[0], stored[0], atol=1e-6) and not torch.allclose(out[1], stored[1], atol=1e-3)
        assert torch.equal(model.synthesis(codes), stored)
    with pytest.raises(InputError, match="must be"):
        with model.noise_maps({names[0]: torch.zeros(2, 4, 4)}):
            pass
    with pytest.raises(InputError, match="not a noise input"):
        with model.noise_maps({"mapping.w_avg": torch.zeros(1, 1, 4, 4)}):
            pass


def test_genforce_noise_inputs_are_listed(models):
    assert models("stylegan1_genforce16").noise_buffers()[0] == "synthesis.layer0.apply_noise.noise"
    assert models("stylegan2_genforce16").noise_buffers()[0] == "synthesis.layer0.noise"
    assert models("stylegan3t_uncond16").noise_buffers() == []
    assert models("biggan").noise_buffers() == []


# ----- the node --------------------------------------------------------------------------------------
def test_invert_node_outputs_latent_reconstruction_and_psnr(face):
    from gan_latent_lab.nodes.invert_nodes import InvertImage
    from gan_latent_lab.nodes.model_nodes import decode_latent

    target, _ = generated(face, [71, 72])
    photo = ((target + 1) / 2).permute(0, 2, 3, 1)  # ComfyUI IMAGE
    with torch.inference_mode():  # as ComfyUI runs nodes
        latent, recon, text = InvertImage().invert(face, photo, "auto", 30, 0)
    assert latent.codes.shape == (2, 1, 100) and latent.fingerprint == face.fingerprint
    assert recon.shape == (2, 64, 64, 3) and 0 <= recon.min() and recon.max() <= 1
    assert torch.allclose(recon, decode_latent(face, latent), atol=1e-5)
    values = psnr(recon.permute(0, 3, 1, 2) * 2 - 1, target)
    for v in values.tolist():
        assert f"{v:.1f}" in text
    assert "PSNR" in text and "z of dcgan" in text


def test_invert_node_refuses_before_moving_the_model(face, monkeypatch):
    from gan_latent_lab.nodes import bridge
    from gan_latent_lab.nodes.invert_nodes import InvertImage

    def no_move(model):
        raise AssertionError("the model was moved before the input was checked")

    monkeypatch.setattr(bridge, "load_to_device", no_move)
    with pytest.raises(InputError, match=f"GAN Invert Image: {MAX_IMAGES + 1} images; it takes 1..{MAX_IMAGES}"):
        InvertImage().invert(face, torch.zeros(MAX_IMAGES + 1, 64, 64, 3), "auto", 10, 0)
    with pytest.raises(InputError, match="does not fit"):
        InvertImage().invert(face, torch.zeros(1, 64, 64, 3), "w+", 10, 0)
    with pytest.raises(InputError, match="IMAGE is"):
        InvertImage().invert(face, torch.zeros(64, 64), "auto", 10, 0)
    with pytest.raises(InputError, match="1x1 px"):
        InvertImage().invert(face, torch.zeros(1, 1, 1, 3), "auto", 10, 0)
    nan = torch.zeros(1, 64, 64, 3)
    nan[0, 5, 5, 1] = float("nan")
    with pytest.raises(InputError, match="NaN"):
        InvertImage().invert(face, nan, "auto", 10, 0)
    with pytest.raises(InputError, match="floating-point"):
        InvertImage().invert(face, torch.zeros(1, 64, 64, 3, dtype=torch.uint8), "auto", 10, 0)
    with pytest.raises(InputError, match=r"0 to 255; an IMAGE is in \[0, 1\]"):
        InvertImage().invert(face, torch.full((1, 64, 64, 3), 255.0).index_fill_(1, torch.tensor([0]), 0.0),
                             "auto", 10, 0)
    with pytest.raises(InputError, match="steps must be a whole number"):
        InvertImage().invert(face, torch.zeros(1, 64, 64, 3), "auto", float("nan"), 0)


def test_invert_node_converts_grey_and_rgba(face):
    """Grayscale and RGBA photos are converted (grey repeated, alpha dropped), not refused."""
    from gan_latent_lab.nodes.invert_nodes import InvertImage

    target, _ = generated(face, [5])
    rgb = ((target + 1) / 2).permute(0, 2, 3, 1)
    grey = rgb.mean(-1, keepdim=True)
    rgba = torch.cat([rgb, torch.full_like(grey, 0.5)], dim=-1)
    with torch.inference_mode():
        _, from_rgba, _ = InvertImage().invert(face, rgba, "auto", 4, 0)
        _, from_rgb, _ = InvertImage().invert(face, rgb, "auto", 4, 0)
        _, from_grey, text = InvertImage().invert(face, grey, "auto", 4, 0)
    assert torch.equal(from_rgba, from_rgb)  # the alpha channel is dropped, as LoadImage's RGB output is
    assert from_grey.shape == (1, 64, 64, 3) and "PSNR" in text


@pytest.mark.parametrize("family", ["dcgan-eye", "stylegan3-r", "pggan-zoo"])
def test_remaining_families_project(family, tmp_path):
    """The families the tests above do not cover (a conditional DCGAN with its soft class, StyleGAN3-R,
    pytorch_GAN_zoo's PGGAN), loaded as their users have them: the search ends closer than it started."""
    from families import build_family

    model = build_family(family, tmp_path)
    target, _ = generated(model, [9], 0.3 if model.code_space == "w" else 0.0, classes=2 if model.c_dim else None)
    latent, stats = invert(model, target, steps=40)
    curve = [stats["start_psnr"][0]] + [p["psnr"][0] for p in stats["phases"]]
    assert all(b >= a for a, b in zip(curve, curve[1:])) and curve[-1] > curve[0] + 2, curve
    if model.c_dim:  # no class given: a soft class is optimised
        assert latent.c.shape == (1, model.c_dim) and torch.allclose(latent.c.sum(1), torch.ones(1))
