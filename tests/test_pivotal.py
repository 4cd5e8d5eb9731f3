"""Pivotal tuning: the tuned copy reproduces photos its parent could not, the parent is left alone, the copy
keeps the parent's latent space (its latents and directions apply), and every family can be tuned, saved
and loaded again."""

from __future__ import annotations

import statistics

import pytest
import torch

from gan_latent_lab.directions import GANLatent, apply_direction, pivotal_tune, sefa
from gan_latent_lab.directions import pivotal
from gan_latent_lab.directions.container import Directions
from gan_latent_lab.directions.edit import check_pair, concat, style_mix
from gan_latent_lab.errors import GANLabError, InputError, MismatchError
from gan_latent_lab.loaders import fingerprint_state, load_gan
from gan_latent_lab.nodes import bridge
from gan_latent_lab.nodes import model_nodes as mn
from gan_latent_lab.nodes import pivotal_nodes as pn
from gan_latent_lab.nodes.common import photos

from families import FAMILIES, build_family
from helpers import face_dcgan_path
from test_bridge import fake_comfy  # noqa: F401 - the stand-in for ComfyUI's memory manager

N_FACES = 4
STEPS = 25


def faces_problem(gen, n=N_FACES, noise=0.3):
    """Targets the DCGAN drew from seeds, and pivots it does not reproduce: the same z, perturbed."""
    seeds = list(range(100, 100 + n))
    z = gen.sample_z(seeds)
    with torch.no_grad():
        target = gen.synthesis(gen.mapping(z))
    zp = z + noise * torch.randn(z.shape, generator=torch.Generator().manual_seed(1))
    return target, GANLatent(codes=gen.mapping(zp), fingerprint=gen.fingerprint, z=zp, seeds=seeds, space="z")


def snapshot(gen):
    return {k: v.detach().clone() for k, v in gen.state_dict().items()}, [p.requires_grad for p in gen.parameters()]


@pytest.fixture(scope="module")
def face():
    return load_gan(face_dcgan_path())


@pytest.fixture(scope="module")
def tuned_face(face):
    target, pivot = faces_problem(face)
    before, flags = snapshot(face)
    fingerprint = face.fingerprint
    tuned, latent, stats = pivotal_tune(face, pivot, target, steps=STEPS)
    return {"target": target, "pivot": pivot, "tuned": tuned, "latent": latent, "stats": stats, "before": before,
            "flags": flags, "fingerprint": fingerprint}


def test_tuning_raises_psnr_on_photos_the_pivot_misses(tuned_face):
    st = tuned_face["stats"]
    before, after = st["psnr_before"], st["psnr_after"]
    assert len(before) == len(after) == N_FACES and st["steps"] == STEPS and st["seconds"] > 0
    assert max(before) < 30, before  # the pivots really miss the photos
    assert all(a > b + 3 for a, b in zip(after, before)), (before, after)
    assert statistics.median(after) > statistics.median(before) + 8
    # the numbers are PSNRs of what the models draw, recomputed here
    with torch.no_grad():
        img = tuned_face["tuned"].synthesis(tuned_face["latent"].codes)
    mse = (img.clamp(-1, 1) - tuned_face["target"]).square().flatten(1).mean(1)
    torch.testing.assert_close(torch.tensor(after), 10 * torch.log10(4 / mse), atol=1e-3, rtol=0)


def test_parent_is_untouched_and_copy_has_its_own_fingerprint(face, tuned_face):
    before, flags = tuned_face["before"], tuned_face["flags"]
    now = face.state_dict()
    assert all(torch.equal(now[k], v) for k, v in before.items())
    assert [p.requires_grad for p in face.parameters()] == flags and face.device.type == "cpu"
    assert face.fingerprint == tuned_face["fingerprint"] == fingerprint_state(now) and face.ancestors == []
    assert not face.training
    tuned = tuned_face["tuned"]
    assert tuned is not face and tuned.fingerprint == fingerprint_state(tuned.state_dict()) != face.fingerprint
    assert tuned.ancestors == [face.fingerprint] and tuned.parent_fingerprint == face.fingerprint
    assert not any(p.requires_grad for p in tuned.parameters()) and not tuned.training
    changed = [k for k, v in tuned.state_dict().items() if not torch.equal(v, before[k])]
    assert changed and all(k.endswith(("weight", "bias")) for k in changed)  # batch-norm statistics stay
    latent = tuned_face["latent"]
    assert latent.fingerprint == tuned.fingerprint and latent.ancestors == [face.fingerprint]
    assert torch.equal(latent.codes, tuned_face["pivot"].codes) and latent.seeds == tuned_face["pivot"].seeds


def test_parent_direction_moves_the_tuned_image_as_much(face, tuned_face):
    tuned, latent = tuned_face["tuned"], tuned_face["latent"]
    dirs = sefa(face, "all", 5)
    assert dirs.fingerprint == face.fingerprint
    ratios = []
    for k in range(3):
        moved = apply_direction(latent, dirs, k, 3.0, model=tuned)  # a set of the parent on the tuned model
        with torch.no_grad():
            d_tuned = (tuned.synthesis(moved.codes) - tuned.synthesis(latent.codes)).abs().mean()
            d_parent = (face.synthesis(moved.codes) - face.synthesis(latent.codes)).abs().mean()
        ratios.append(float(d_tuned / d_parent))
    assert all(0.5 <= r <= 2 for r in ratios), ratios


def test_lineage_decides_what_a_model_accepts(face, tuned_face):
    tuned, latent = tuned_face["tuned"], tuned_face["latent"]
    parent_latent = tuned_face["pivot"]
    parent_latent.check_model(tuned)  # the parent's latents decode on the tuned copy
    with pytest.raises(MismatchError, match=tuned.fingerprint):
        latent.check_model(face)  # the parent does not draw its copy's images
    dirs = sefa(face, "all", 3)
    dirs.check_model(tuned)
    check_pair(latent, dirs)  # without a model: the latent knows its model's ancestors
    stranger = Directions(torch.eye(3, 100), torch.ones(3), "x", space="z", fingerprint="ffffffffffffffff")
    with pytest.raises(MismatchError, match="ffffffffffffffff"):
        stranger.check_model(tuned)
    mixed = concat([parent_latent, latent])  # latents of the parent and of its copy join, bound to the copy
    assert mixed.fingerprint == tuned.fingerprint and mixed.ancestors == [face.fingerprint]
    assert style_mix(parent_latent, latent, 0, 0).fingerprint == tuned.fingerprint
    other = GANLatent(codes=parent_latent.codes, fingerprint="ffffffffffffffff", space="z")
    with pytest.raises(MismatchError, match="ffffffffffffffff"):
        concat([latent, other])


def test_tuning_twice_keeps_the_chain(face, tuned_face):
    tuned, latent = tuned_face["tuned"], tuned_face["latent"]
    again, latent2, _ = pivotal_tune(tuned, latent, tuned_face["target"][:1].expand(N_FACES, -1, -1, -1), steps=1)
    assert again.ancestors == [tuned.fingerprint, face.fingerprint]
    assert len({again.fingerprint, tuned.fingerprint, face.fingerprint}) == 3
    tuned_face["pivot"].check_model(again)  # the grandparent's latent
    sefa(face, "all", 2).check_model(again)
    assert latent2.ancestors == again.ancestors


def test_locality_regulariser_keeps_other_images_closer(face, tuned_face):
    _, _, stats = pivotal_tune(face, tuned_face["pivot"], tuned_face["target"], steps=STEPS, locality=True)
    free = tuned_face["stats"]
    assert stats["locality"] is not None and stats["locality"] > 0 and free["locality"] is None
    assert stats["drift_psnr"] > free["drift_psnr"] + 0.5, (stats["drift_psnr"], free["drift_psnr"])
    assert statistics.median(stats["psnr_after"]) > statistics.median(stats["psnr_before"]) + 8


def test_code_spread_is_the_rms_distance_from_the_mean(face):
    """For DCGAN the codes are z ~ N(0, I) in 100 dimensions: about sqrt(100) = 10 from their mean."""
    assert 9.5 < pivotal.code_spread(face, None) < 10.5


@pytest.mark.parametrize("family", FAMILIES)
def test_every_family_tunes_saves_and_loads_again(family, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path / "models"))
    gen = build_family(family, tmp_path / "src")
    before, _ = snapshot(gen)
    n = 2
    z = gen.sample_z([5, 6])
    c = gen.make_c(1, n)
    with torch.no_grad():
        codes = gen.mapping(z, c, truncation_psi=0.7)
        photos = gen.synthesis(gen.mapping(gen.sample_z([7, 8]), c, truncation_psi=0.7), c)[:, :3].clamp(-1, 1)
    pivot = GANLatent(codes=codes, fingerprint=gen.fingerprint, z=z, c=c, truncation_psi=0.7, space=gen.code_space)
    tuned, latent, stats = pivotal_tune(gen, pivot, photos, steps=1, locality=True)
    assert all(torch.equal(v, before[k]) for k, v in gen.state_dict().items())
    mapping = {k for k, _ in gen.named_parameters()} - {k for k, _ in gen.synthesis_parameters()}
    tuned_sd = tuned.state_dict()
    assert all(torch.equal(tuned_sd[k], before[k]) for k in mapping)  # the mapping network is frozen
    assert any(not torch.equal(tuned_sd[k], before[k]) for k, _ in gen.synthesis_parameters())
    assert tuned.ancestors == [gen.fingerprint] and latent.fingerprint == tuned.fingerprint
    assert len(stats["psnr_after"]) == n and stats["locality"] is not None

    path = mn.SaveGANModel().save(tuned, "tuned", False)[0]
    assert path.endswith("tuned.safetensors") and "tuned.safetensors" in bridge.list_files("gan")
    again, summary = mn.LoadGANModel().load("tuned.safetensors")
    assert again.arch == tuned.arch and again.fingerprint == tuned.fingerprint
    assert again.ancestors == [gen.fingerprint] and gen.fingerprint in summary
    assert again.config == gen.config and again.class_names == gen.class_names  # e.g. the eye DCGAN's classes
    with torch.no_grad():
        assert torch.equal(again.synthesis(latent.codes, c, 0.7), tuned.synthesis(latent.codes, c, 0.7))
    pivot.check_model(again)  # the parent's latent is still accepted after the round trip
    with pytest.raises(GANLabError, match="already exists"):
        mn.SaveGANModel().save(tuned, "tuned", False)
    assert mn.SaveGANModel().save(gen, "tuned", True)[0] == path  # overwrite only when asked
    assert load_gan(path).ancestors == [] and load_gan(path).fingerprint == gen.fingerprint


def test_refused_before_any_work(face, monkeypatch, tmp_path):
    target, pivot = faces_problem(face, n=2)

    def no_copy(self):
        raise AssertionError("the model was copied before the inputs were checked")

    monkeypatch.setattr(type(face), "copy", no_copy)
    nan = target.clone()
    nan[0, 0, 3, 3] = float("nan")
    bad = [
        (dict(images=nan), "NaN"),
        (dict(images=target[:, :, :1, :1]), "1x1"),
        (dict(images=target[:, :, :8, :]), "8x64"),
        (dict(images=target * 127.5 + 127.5), r"\[-1, 1\]"),
        (dict(images=target[:, :1]), r"\[n, 3, H, W\]"),
        (dict(images=(target * 100).to(torch.uint8)), "float"),
        (dict(images=target[:1]), "pivot"),
        (dict(steps=0), "steps"), (dict(steps=pivotal.MAX_STEPS + 1), "steps"), (dict(steps=True), "steps"),
        (dict(lr=0.0), "learning rate"), (dict(lr=float("nan")), "learning rate"), (dict(lr=1.0), "learning rate"),
        (dict(seed=-1), "seed"), (dict(perceptual="lpips"), "distance"),
    ]
    for change, message in bad:
        args = dict(images=target, steps=5, lr=None, seed=0, perceptual=None, **{})
        args.update(change)
        with pytest.raises(InputError, match=message):
            pivotal_tune(face, pivot, **args)
    with pytest.raises(MismatchError, match="ffffffffffffffff"):
        pivotal_tune(face, GANLatent(codes=pivot.codes, fingerprint="ffffffffffffffff", space="z"), target)
    eye = build_family("dcgan-eye", tmp_path)
    classless = GANLatent(codes=eye.mapping(eye.sample_z([1, 2]), eye.make_c(0, 2)), fingerprint=eye.fingerprint,
                          space="z")
    with pytest.raises(InputError, match="class"):
        pivotal_tune(eye, classless, torch.zeros(2, 3, 128, 128))
    monkeypatch.setattr(pivotal, "MAX_IMAGES", 1)
    with pytest.raises(InputError, match=r"1\.\.1"):
        pivotal_tune(face, pivot, target)


def test_other_image_sizes_are_cropped_and_resized(face):
    target, pivot = faces_problem(face, n=1)
    wide = torch.nn.functional.interpolate(target, size=(96, 96), mode="bilinear", align_corners=False)
    wide = torch.cat([torch.zeros(1, 3, 96, 20), wide, torch.zeros(1, 3, 96, 20)], dim=3)  # 96 x 136, centred
    _, _, stats = pivotal_tune(face, pivot, wide.clamp(-1, 1), steps=1)
    with torch.no_grad():
        direct = pivotal.psnr(face.synthesis(pivot.codes), target)
    assert abs(stats["psnr_before"][0] - float(direct)) < 1.0  # the crop found the face: about the same PSNR


def test_custom_distance_is_used_and_left_as_it_was(face):
    target, pivot = faces_problem(face, n=1)

    class Counting(torch.nn.Module):
        name = "counting"

        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))
            self.calls = 0

        def forward(self, x, y):
            self.calls += 1
            return self.scale * (x - y).abs().flatten(1).mean(1)

    dist = Counting()
    _, _, stats = pivotal_tune(face, pivot, target, steps=3, locality=True, perceptual=dist)
    assert dist.calls == 6 and stats["distance"] == "counting"  # reconstruction + locality, every step
    assert dist.scale.requires_grad and dist.scale.grad is None  # never trained


def test_trains_under_inference_mode(face):
    """ComfyUI runs nodes under torch.inference_mode(), with the model's tensors made there."""
    target, pivot = faces_problem(face, n=1)
    with torch.inference_mode():
        gen = load_gan(face_dcgan_path())
        assert next(gen.parameters()).is_inference()
        tuned, latent, stats = pivotal_tune(gen, pivot, target.clone(), steps=2)
    assert next(gen.parameters()).is_inference() and not next(tuned.parameters()).is_inference()
    assert tuned.fingerprint != gen.fingerprint == face.fingerprint


# ----- the node ---------------------------------------------------------------------------------------------
@pytest.fixture()
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    monkeypatch.setenv("GAN_LATENT_LAB_DEVICE", "cpu")
    return tmp_path


def test_node_converts_images_reports_psnr_and_previews(face, models_dir, monkeypatch):
    target, pivot = faces_problem(face, n=2)
    image = ((target + 1) / 2).permute(0, 2, 3, 1)  # ComfyUI IMAGE
    shown = []
    monkeypatch.setattr(bridge.Progress, "set", lambda self, value, preview=None: shown.append((value, preview)))
    tuned, latent, text = pn.PivotalTuning().tune(face, pivot, image, 4, 3e-4, False, 0, None, 2)
    assert tuned.ancestors == [face.fingerprint] and latent.fingerprint == tuned.fingerprint
    assert "PSNR" in text and "->" in text and "4 steps" in text
    assert [v for v, _ in shown] == [1, 2, 3, 4] and [p is not None for _, p in shown] == [False, True, False, True]
    assert shown[-1][1].size == (2 * 128, 2 * 128)  # two photos over their reconstructions
    gray = image.mean(-1, keepdim=True)
    rgba = torch.cat([image, torch.ones_like(gray)], dim=-1)
    for converted in (gray, rgba):
        assert photos(converted, "Pivotal Tuning", 64).shape == (2, 3, 64, 64)
    assert torch.allclose(photos(rgba, "Pivotal Tuning", 64), target, atol=1e-6)
    assert not list(models_dir.rglob("*"))  # tuning writes nothing


def test_node_under_comfyui_inference_mode_with_a_patcher(face, models_dir, fake_comfy, monkeypatch):
    """In ComfyUI the model was loaded under inference mode and carries its ModelPatcher: the node still trains,
    the copy leaves the patcher with the parent."""
    import sys

    monkeypatch.setattr(sys.modules["comfy.model_management"], "throw_exception_if_processing_interrupted",
                        lambda: None, raising=False)
    target, pivot = faces_problem(face, n=1)
    image = ((target + 1) / 2).permute(0, 2, 3, 1)
    with torch.inference_mode():
        gen = load_gan(face_dcgan_path())
        bridge.load_to_device(gen)
        patcher = gen.__dict__[bridge.PATCHER_ATTR]
        tuned, latent, text = pn.PivotalTuning().tune(gen, pivot, image, 2, 3e-4, True, 0)
    assert gen.__dict__[bridge.PATCHER_ATTR] is patcher and bridge.PATCHER_ATTR not in tuned.__dict__
    assert next(gen.parameters()).is_inference() and not next(tuned.parameters()).is_inference()
    assert tuned.ancestors == [gen.fingerprint] and "PSNR" in text


def test_node_interrupt_stops_and_leaves_no_file(face, models_dir):
    target, pivot = faces_problem(face, n=1)
    image = ((target + 1) / 2).permute(0, 2, 3, 1)
    bridge.request_interrupt()
    try:
        with pytest.raises(bridge.Interrupted):
            pn.PivotalTuning().tune(face, pivot, image, 50, 3e-4, True, 0)
    finally:
        bridge.request_interrupt(False)
    assert not list(models_dir.rglob("*"))


def test_node_refuses_bad_widgets_before_work(face, models_dir):
    target, pivot = faces_problem(face, n=1)
    image = ((target + 1) / 2).permute(0, 2, 3, 1)
    with pytest.raises(InputError, match="learning rate"):
        pn.PivotalTuning().tune(face, pivot, image, 5, float("inf"), False, 0)
    with pytest.raises(InputError, match="seed"):
        pn.PivotalTuning().tune(face, pivot, image, 5, 3e-4, False, -3)
    with pytest.raises(InputError, match="1..4 channels"):
        pn.PivotalTuning().tune(face, pivot, torch.cat([image, image[..., :2]], -1), 5, 3e-4, False, 0)
    with pytest.raises(InputError, match="NaN"):
        pn.PivotalTuning().tune(face, pivot, image * float("nan"), 5, 3e-4, False, 0)


@pytest.mark.parametrize("name", ["", "  ", ".", "..", "sub/", "../escape", "/abs/path", ".hidden", "x" * 300])
def test_save_model_refuses_bad_names_before_work(face, models_dir, name):
    with pytest.raises(InputError):
        mn.SaveGANModel().save(face, name, False)
    assert not list(models_dir.rglob("*.safetensors"))


def test_save_model_refuses_a_folder(face, models_dir):
    (models_dir / "gan" / "folder.safetensors").mkdir(parents=True)
    with pytest.raises(InputError, match="folder"):
        mn.SaveGANModel().save(face, "folder", True)


@pytest.mark.parametrize("bad", ['{"x": 1}', '["../../etc"]', "not json", '["' + "a" * 65 + '"]'])
def test_converted_file_with_a_bad_ancestry_is_refused(face, tmp_path, bad):
    from safetensors.torch import load_file, save_file

    from gan_latent_lab.errors import CheckpointError
    from gan_latent_lab.loaders import read_checkpoint, save_converted

    good = save_converted(face, tmp_path / "good.safetensors")
    meta = dict(read_checkpoint(good).metadata, ancestors=bad)
    save_file(load_file(good), str(tmp_path / "bad.safetensors"), metadata=meta)
    with pytest.raises(CheckpointError, match="bad.safetensors.*ancestors"):
        load_gan(tmp_path / "bad.safetensors")
