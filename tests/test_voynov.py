"""Voynov & Babenko direction discovery: deformators, shift sampling, training, checkpoints, nodes."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch

from gan_latent_lab.directions.deformators import Deformator, matrix_from_official
from gan_latent_lab.directions.voynov import (directions_from_official, load_voynov, normalise_slots, sample_shifts,
                                              train_voynov)
from gan_latent_lab.directions.voynov_ckpt import read_run
from gan_latent_lab.errors import CheckpointError, InputError, MismatchError
from gan_latent_lab.loaders.base import GANGenerator
from gan_latent_lab.loaders.dcgan import DCGANGenerator
from gan_latent_lab.nodes import bridge


# ----- small models --------------------------------------------------------------------------
def toy_dcgan(weight_seed: int = 0, z_dim: int = 12) -> DCGANGenerator:
    """A 16 px DCGAN with random weights: fast enough for many training steps in a test."""
    layers = [{"index": 0, "kind": "convT", "in": z_dim, "out": 16, "kernel": 4, "stride": 1, "padding": 0, "bias": False},
              {"index": 1, "kind": "bn", "features": 16},
              {"index": 3, "kind": "convT", "in": 16, "out": 8, "kernel": 4, "stride": 2, "padding": 1, "bias": False},
              {"index": 4, "kind": "bn", "features": 8},
              {"index": 6, "kind": "convT", "in": 8, "out": 3, "kernel": 4, "stride": 2, "padding": 1, "bias": False}]
    gen = DCGANGenerator({"layers": layers, "in_dim": z_dim, "z_dim": z_dim, "c_dim": 0, "resolution": 16,
                          "img_channels": 3})
    g = torch.Generator().manual_seed(weight_seed)
    with torch.no_grad():
        for p in gen.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * 0.3 + (1.0 if p.ndim == 1 else 0.0))
    return gen.eval().requires_grad_(False)


class ToyStyle(GANGenerator):
    """A w-coded toy with 4 slots that remembers the codes it was asked to draw."""

    arch = "toy-style"
    code_space = "w"

    def __init__(self) -> None:
        super().__init__()
        self.z_dim = self.w_dim = 8
        self.num_ws, self.resolution = 4, 16
        g = torch.Generator().manual_seed(3)
        self.proj = torch.nn.Parameter(torch.randn(4 * 8, 3 * 16 * 16, generator=g) * 0.1, requires_grad=False)
        self.seen: list[torch.Tensor] = []

    def _mapping(self, z, c, psi, cutoff):
        return z.unsqueeze(1).repeat(1, self.num_ws, 1) * psi

    def _synthesis(self, codes, c, psi, noise_mode):
        assert noise_mode == "const"
        self.seen.append(codes.detach().clone())
        return torch.tanh(codes.flatten(1) @ self.proj).view(-1, 3, 16, 16)


def face_dcgan():
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gan-face-generate is not installed (pip install --no-deps gan-face-generate==1.1.1)")
    from gan_latent_lab.loaders import load_gan

    return load_gan(os.path.join(list(spec.submodule_search_locations)[0], "weights.tar"))


def raw_matrix(path) -> torch.Tensor:
    """The deformator matrix stored in a run file, rebuilt independently of the training code."""
    rec = read_run(path)
    cfg = rec["config"]
    d = Deformator(cfg["deformator"], cfg["dim"], cfg["k"])
    d.load_state_dict(rec["deformator"])
    return d.matrix().detach()


# ----- sampling and deformators --------------------------------------------------------------
def test_shift_magnitudes_and_indices_follow_the_paper():
    idx, eps = sample_shifts(20000, 16, torch.Generator().manual_seed(1))
    assert eps.abs().min() >= 0.5 and eps.abs().max() <= 6.0
    assert set(idx.tolist()) == set(range(16))
    assert 0.45 < (eps > 0).float().mean() < 0.55
    # values that fell inside (-0.5, 0.5) were pushed to +-0.5: about 0.5 / 6 of all draws
    assert 0.07 < (eps.abs() == 0.5).float().mean() < 0.097
    # the rest is uniform: about a quarter of the draws above 4.5 in magnitude
    assert 0.22 < (eps.abs() > 4.5).float().mean() < 0.28


def test_deformator_shift_is_eps_times_column():
    d = Deformator("linear", 10, 4)
    with torch.no_grad():
        d.weight.copy_(torch.randn(10, 4))
    shift = d(torch.tensor([2, 0]), torch.tensor([1.5, -3.0]))
    torch.testing.assert_close(shift[0], 1.5 * d.weight[:, 2])
    torch.testing.assert_close(shift[1], -3.0 * d.weight[:, 0])


def test_ortho_deformator_stays_orthonormal_after_training(tmp_path):
    gen = toy_dcgan()
    path = tmp_path / "o.voynov"
    start = Deformator("ortho", 12, 6, generator=torch.Generator().manual_seed(0)).matrix().detach()
    dirs, _ = train_voynov(gen, 6, steps=25, batch_size=4, lr=3e-2, seed=0, checkpoint=path, eval_samples=8)
    mat = raw_matrix(path)
    assert mat.shape == (12, 6)
    assert (mat - start).abs().max() > 0.05  # it did train
    torch.testing.assert_close(mat.T @ mat, torch.eye(6), atol=1e-5, rtol=0)
    torch.testing.assert_close(dirs.vectors, mat.T, atol=1e-6, rtol=0)


def test_proj_columns_are_unit_and_baselines_do_not_train(tmp_path):
    gen = toy_dcgan()
    train_voynov(gen, 5, steps=10, batch_size=4, lr=3e-2, deformator="proj", checkpoint=tmp_path / "p.voynov",
                 eval_samples=8)
    mat = raw_matrix(tmp_path / "p.voynov")
    torch.testing.assert_close(mat.norm(dim=0), torch.ones(5), atol=1e-6, rtol=0)
    assert (mat - torch.eye(12, 5)).abs().max() > 1e-3
    for kind in ("identity", "random"):
        before = Deformator(kind, 12, 5, generator=torch.Generator().manual_seed(0)).matrix()
        dirs, _ = train_voynov(gen, 5, steps=5, batch_size=4, deformator=kind, eval_samples=8)
        torch.testing.assert_close(dirs.vectors, before.T, atol=1e-7, rtol=0)
        torch.testing.assert_close(dirs.vectors @ dirs.vectors.T, torch.eye(5), atol=1e-5, rtol=0)


def test_official_deformator_import_matches_scipy_expm():
    scipy_linalg = pytest.importorskip("scipy.linalg")
    gen = toy_dcgan()
    p = torch.randn(12, 12, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    expected = scipy_linalg.expm((p - p.T).numpy())
    dirs = directions_from_official({"log_mat_half": p.float()}, gen)
    np.testing.assert_allclose(dirs.vectors.numpy(), expected.T, atol=1e-5)
    assert dirs.fingerprint == "" and len(dirs) == 12
    with pytest.raises(InputError, match="12 wide"):
        matrix_from_official({"ortho_mat": torch.eye(20, 4)}, 12)
    with pytest.raises(InputError, match="not an official deformator"):
        matrix_from_official({"weight": torch.eye(12)}, 12)


# ----- training semantics --------------------------------------------------------------------
def test_style_model_shift_lands_only_in_chosen_slots():
    gen = ToyStyle()
    dirs, _ = train_voynov(gen, 3, steps=1, batch_size=4, slots=[1, 2], eval_samples=0)
    base, shifted = gen.seen[0], gen.seen[1]
    moved = (shifted - base).abs().amax(dim=(0, 2))
    assert moved[[0, 3]].max() == 0 and moved[[1, 2]].min() > 0.4
    assert dirs.space == "w" and dirs.slots == [1, 2] and dirs.method == "voynov"
    assert not any(p.requires_grad for p in gen.parameters())
    assert normalise_slots(gen, None) == [0, 1, 2, 3]
    with pytest.raises(InputError, match="outside"):
        normalise_slots(gen, [4])


@pytest.mark.parametrize("kwargs, match", [
    ({"k": 13}, "K=13"), ({"k": 4, "batch_size": 1}, "batch size"), ({"k": 4, "deformator": "fc"}, "deformator"),
    ({"k": 4, "reconstructor": "vgg"}, "reconstructor"), ({"k": 4, "steps": -1}, "steps"),
])
def test_bad_settings_are_refused(kwargs, match):
    with pytest.raises(InputError, match=match):
        train_voynov(toy_dcgan(), **kwargs)


def test_resumed_run_equals_uninterrupted_run(tmp_path):
    gen = toy_dcgan()
    full, _ = train_voynov(gen, 6, steps=20, batch_size=4, lr=1e-2, seed=7, checkpoint=tmp_path / "full.voynov",
                           checkpoint_every=5, eval_samples=8)

    def stop_at_13(step, total, info):
        if step == 13:
            bridge.request_interrupt()
        bridge.check_interrupt()

    path = tmp_path / "cut.voynov"
    with pytest.raises(bridge.Interrupted):
        train_voynov(gen, 6, steps=20, batch_size=4, lr=1e-2, seed=7, checkpoint=path, checkpoint_every=5,
                     progress=stop_at_13, eval_samples=8)
    rec = read_run(path)
    assert rec["step"] == 13 and not rec["done"]  # saved on interrupt: no step lost
    resumed, stats = train_voynov(gen, 6, steps=20, batch_size=4, lr=1e-2, seed=7, checkpoint=path,
                                  checkpoint_every=5, eval_samples=8)
    assert stats["resumed_from"] == 13 and stats["steps"] == 20
    torch.testing.assert_close(raw_matrix(path), raw_matrix(tmp_path / "full.voynov"), atol=1e-6, rtol=0)
    torch.testing.assert_close(resumed.vectors, full.vectors, atol=1e-6, rtol=0)
    # a different seed gives different directions (the comparison above can fail)
    other, _ = train_voynov(gen, 6, steps=20, batch_size=4, lr=1e-2, seed=8, eval_samples=8)
    assert (other.vectors - full.vectors).abs().max() > 1e-3


def test_crash_loses_only_steps_since_last_checkpoint(tmp_path):
    gen = toy_dcgan()
    path = tmp_path / "crash.voynov"

    class Crash(Exception):
        pass

    def crash(step, total, info):
        if step == 8:
            raise Crash()

    with pytest.raises(Crash):
        train_voynov(gen, 4, steps=12, batch_size=4, checkpoint=path, checkpoint_every=5, progress=crash, eval_samples=8)
    assert read_run(path)["step"] == 8
    # a hard kill (no exception handler runs) at step 7 finds what the periodic save at step 5 wrote
    on_disk = {}

    def look_then_crash(step, total, info):
        if step == 7:
            on_disk["step"] = read_run(tmp_path / "b.voynov")["step"]
            raise Crash()

    with pytest.raises(Crash):
        train_voynov(gen, 4, steps=12, batch_size=4, checkpoint=tmp_path / "b.voynov", checkpoint_every=5,
                     progress=look_then_crash, eval_samples=8)
    assert on_disk["step"] == 5
    assert read_run(tmp_path / "b.voynov")["step"] == 7  # and the exception path saved step 7 on top


def test_checkpoint_of_another_model_or_settings_is_refused(tmp_path):
    a, b = toy_dcgan(0), toy_dcgan(1)
    path = tmp_path / "a.voynov"
    train_voynov(a, 4, steps=3, batch_size=4, checkpoint=path, eval_samples=8)
    with pytest.raises(MismatchError) as err:
        train_voynov(b, 4, steps=6, batch_size=4, checkpoint=path, eval_samples=8)
    assert a.fingerprint in str(err.value) and b.fingerprint in str(err.value)
    with pytest.raises(MismatchError, match="batch_size"):
        train_voynov(a, 4, steps=6, batch_size=6, checkpoint=path, eval_samples=8)


def test_truncated_or_foreign_checkpoint_is_refused(tmp_path):
    gen = toy_dcgan()
    path = tmp_path / "t.voynov"
    train_voynov(gen, 4, steps=2, batch_size=4, checkpoint=path, eval_samples=8)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        train_voynov(gen, 4, steps=4, batch_size=4, checkpoint=path)
    path.write_bytes(b"\x00" * 100)
    with pytest.raises(CheckpointError, match="t.voynov"):
        load_voynov(path)
    torch.save({"step": 3}, tmp_path / "f.voynov")
    with pytest.raises(CheckpointError, match="not a Voynov run"):
        load_voynov(tmp_path / "f.voynov")


# ----- real model --------------------------------------------------------------------------------
@pytest.mark.slow
def test_face_dcgan_directions_become_recognisable():
    """K=16 on the real 64 px face DCGAN (chance 1/16), paper settings (lr 1e-4), 100 steps at batch 8.

    The CPU default is 2,000 steps; this is 1/20 of it.  Measured on this CPU (seed 0, held-out
    samples fixed): 50 steps 0.07, 100 steps 0.10, 150 steps 0.11 held-out accuracy, so the bound
    is 1.25x chance (0.078), with the untrained reconstructor at chance.  About 40-60 s on 2 cores."""
    gen = face_dcgan()
    dirs, stats = train_voynov(gen, 16, steps=100, batch_size=8, seed=0, eval_samples=256)
    assert dirs.vectors.shape == (16, 100) and dirs.space == "z" and dirs.fingerprint == gen.fingerprint
    torch.testing.assert_close(dirs.vectors @ dirs.vectors.T, torch.eye(16), atol=1e-5, rtol=0)
    assert stats["accuracy"] >= 1.25 / 16, stats


# ----- nodes -----------------------------------------------------------------------------------
def test_train_node_writes_resumes_and_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    from gan_latent_lab.nodes import voynov_nodes as vn

    gen = toy_dcgan()
    node = vn.VoynovTrain()
    args = dict(model=gen, directions=4, steps=6, batch_size=4, learning_rate=1e-3, deformator="ortho", slots="all",
                seed=0, run_name="sub/run1", checkpoint_every=2, preview_every=3)
    bridge.request_interrupt()  # stops after the first step, saving first
    with pytest.raises(bridge.Interrupted):
        node.train(**args)
    path = tmp_path / "gan_directions" / "sub" / "run1.voynov"
    assert read_run(path)["step"] == 1
    dirs, text = node.train(**args)
    assert "resumed at step 1" in text and "accuracy" in text and "magnitude error" in text
    assert len(dirs) == 4 and dirs.dim == 12
    again, text2 = node.train(**args)  # finished: just loads
    assert "resumed at step 6" in text2
    torch.testing.assert_close(again.vectors, dirs.vectors)
    assert "sub/run1.voynov" in vn.run_choices()
    loaded, text3 = vn.VoynovLoad().load("sub/run1.voynov")
    torch.testing.assert_close(loaded.vectors, dirs.vectors)
    assert loaded.fingerprint == gen.fingerprint and "accuracy" in text3
    with pytest.raises(InputError, match="outside|may not"):
        node.train(**{**args, "run_name": "../escape"})
    with pytest.raises(InputError, match="slot"):
        node.train(**{**args, "slots": "3"})


def test_train_node_works_under_comfyui_inference_mode(tmp_path, monkeypatch):
    """ComfyUI executes nodes inside torch.inference_mode(), and loads models there too."""
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    from gan_latent_lab.nodes import voynov_nodes as vn

    with torch.inference_mode():
        gen = toy_dcgan()
        assert next(gen.parameters()).is_inference()
        dirs, text = vn.VoynovTrain().train(model=gen, directions=3, steps=3, batch_size=2, learning_rate=1e-3,
                                            deformator="ortho", slots="all", seed=0, run_name="inf",
                                            checkpoint_every=1, preview_every=0)
    assert len(dirs) == 3 and torch.isfinite(dirs.vectors).all()
    assert read_run(tmp_path / "gan_directions" / "inf.voynov")["step"] == 3
    assert next(gen.parameters()).is_inference()  # the shared model is left as it was


def test_parse_slots_and_node_declarations():
    from gan_latent_lab.nodes import voynov_nodes as vn

    assert vn.parse_slots("all", 8) is None
    assert vn.parse_slots("0-2, 5", 8) == [0, 1, 2, 5]
    assert vn.parse_slots("fine", 9) == [6, 7, 8]  # the same grammar as Apply Direction's slot widgets
    for bad in ("x", "4:", "0-8", "5-2"):
        with pytest.raises(InputError):
            vn.parse_slots(bad, 8)
    for cls, _ in vn.NODES.values():
        assert cls.DESCRIPTION and len(cls.OUTPUT_TOOLTIPS) == len(cls.RETURN_TYPES)
        spec = cls.INPUT_TYPES()
        for group in spec.values():
            for name, (_, opts) in group.items():
                assert opts.get("tooltip"), name


def test_preview_grid_shape():
    from gan_latent_lab.directions.voynov import preview_grid

    gen = toy_dcgan()
    img = preview_grid(gen, torch.eye(12)[:3], [0], shifts=(-3, 0, 3), tile=16)
    assert img.size == (48, 48)


def test_resnet_reconstructor_trains_the_deformator(tmp_path):
    """The ResNet-18-shaped reconstructor (used above 64 px) on a 16 px toy: shapes, and gradients reach G's input."""
    from gan_latent_lab.directions.reconstructors import build_reconstructor

    net = build_reconstructor("resnet", 5, 16)
    a, b = torch.rand(3, 3, 16, 16) * 2 - 1, torch.rand(3, 3, 16, 16) * 2 - 1
    logits, magnitude = net(a, b)
    assert logits.shape == (3, 5) and magnitude.shape == (3,)
    assert sum(p.numel() for p in net.parameters()) > 10_000_000  # ResNet-18 sized, not the LeNet
    gen = toy_dcgan()
    path = tmp_path / "r.voynov"
    start = Deformator("ortho", 12, 5, generator=torch.Generator().manual_seed(0)).matrix().detach()
    dirs, stats = train_voynov(gen, 5, steps=3, batch_size=4, lr=3e-2, reconstructor="resnet", checkpoint=path,
                               eval_samples=8)
    assert read_run(path)["config"]["reconstructor"] == "resnet"
    assert (raw_matrix(path) - start).abs().max() > 1e-3
    assert 0.0 <= stats["accuracy"] <= 1.0 and np.isfinite(stats["shift_error"])


def test_train_node_sends_preview_images_to_the_progress_bar(tmp_path, monkeypatch):
    """ComfyUI's progress bar (the only stand-in here) receives a preview grid every preview_every steps."""
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    from PIL import Image

    from gan_latent_lab.nodes import voynov_nodes as vn

    calls = []

    class Bar:
        def __init__(self, total):
            self.total = total

        def set(self, value, preview=None):
            calls.append((value, preview))

    monkeypatch.setattr(bridge, "Progress", Bar)
    vn.VoynovTrain().train(model=toy_dcgan(), directions=3, steps=5, batch_size=2, learning_rate=1e-3,
                           deformator="ortho", slots="all", seed=0, run_name="pv", checkpoint_every=5,
                           preview_every=2)
    assert [v for v, _ in calls] == [1, 2, 3, 4, 5]
    with_preview = [v for v, p in calls if p is not None]
    assert with_preview == [2, 4, 5]
    assert all(isinstance(p, Image.Image) and p.size[0] >= 16 for _, p in calls if p is not None)


@pytest.mark.parametrize("kwargs, match", [
    ({"directions": 13}, "K=13"),          # the toy's code is 12 wide
    ({"batch_size": 1}, "batch size"),
    ({"seed": 2**32}, "seed"),
    ({"learning_rate": float("nan")}, "learning rate"),
    ({"slots": "0:4"}, "slot"),
])
def test_train_node_refuses_bad_settings_before_touching_the_model(kwargs, match, tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    from gan_latent_lab.nodes import voynov_nodes as vn

    def no_work(*a, **k):
        raise AssertionError("the model was moved or copied before the settings were checked")

    monkeypatch.setattr(bridge, "load_to_device", no_work)
    monkeypatch.setattr(vn, "autograd_ready", no_work)
    args = dict(model=toy_dcgan(), directions=4, steps=3, batch_size=2, learning_rate=1e-3, deformator="ortho",
                slots="all", seed=0, run_name="bad", checkpoint_every=1, preview_every=0)
    with pytest.raises(InputError, match=match):
        vn.VoynovTrain().train(**{**args, **kwargs})
    assert not (tmp_path / "gan_directions" / "bad.voynov").exists()


def test_loss_is_cross_entropy_plus_quarter_l1_and_adam_runs_at_the_given_rate():
    """The paper's objective: CE on the direction index + 0.25 x L1 on the shift magnitude; Adam on both nets."""
    import torch.nn.functional as F

    from gan_latent_lab.directions.voynov import _Run, check_settings

    gen = toy_dcgan()
    run = _Run(gen, check_settings(gen, 4, 1, 6, 2e-3))
    assert isinstance(run.opt_def, torch.optim.Adam) and isinstance(run.opt_rec, torch.optim.Adam)
    assert run.opt_def.param_groups[0]["lr"] == run.opt_rec.param_groups[0]["lr"] == 2e-3
    seen = {}
    real_pair = run._pair

    def pair(codes, c, index, eps):
        logits, magnitude = real_pair(codes, c, index, eps)
        seen.update(logits=logits.detach(), magnitude=magnitude.detach(), index=index, eps=eps)
        return logits, magnitude

    run._pair = pair
    run.train_step()
    expect = F.cross_entropy(seen["logits"], seen["index"]) + 0.25 * (seen["magnitude"] - seen["eps"]).abs().mean()
    assert abs(run.last_loss - float(expect)) < 1e-5
    assert run.step == 1 and seen["index"].shape == (6,)


# ----- issue 17: a killed run resumes exactly; one trainer per run name -------------------------------
KILL_SCRIPT = r"""
import os, signal, sys
sys.path.insert(0, {tests!r})
import conftest  # noqa: F401  (the package from this checkout)
import torch
torch.set_num_threads(1)
from test_voynov import toy_dcgan
from gan_latent_lab.directions.voynov import train_voynov

mode, path = sys.argv[1], sys.argv[2]

def kill_at_7(step, total, info):
    if step == 7:
        os.kill(os.getpid(), signal.SIGKILL)  # no handler, no save: what a crash or an OOM kill leaves

dirs, stats = train_voynov(toy_dcgan(), 6, steps=20, batch_size=4, lr=1e-2, seed=7, checkpoint=path,
                           checkpoint_every=5, progress=kill_at_7 if mode == "kill" else None, eval_samples=8)
torch.save({{"vectors": dirs.vectors, "resumed_from": stats["resumed_from"]}}, path + ".out")
"""


@pytest.mark.slow
def test_resume_after_kill_9_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    import signal
    import subprocess
    import sys

    script = tmp_path / "run.py"
    script.write_text(KILL_SCRIPT.format(tests=os.path.dirname(os.path.abspath(__file__))))

    def run(mode, path):
        return subprocess.run([sys.executable, str(script), mode, str(path)], capture_output=True, text=True, timeout=300)

    full = tmp_path / "full.voynov"
    assert run("full", full).returncode == 0
    cut = tmp_path / "cut.voynov"
    killed = run("kill", cut)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-1000:]
    assert read_run(cut)["step"] == 5 and os.path.exists(str(cut) + ".lock")  # the dead trainer's lock remains
    resumed = run("resume", cut)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    a, b = torch.load(str(full) + ".out"), torch.load(str(cut) + ".out")
    assert b["resumed_from"] == 5
    assert torch.equal(a["vectors"], b["vectors"])
    assert not os.path.exists(str(cut) + ".lock")
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".tmp-")]


def test_a_second_trainer_of_a_held_run_is_refused_and_a_stale_lock_is_taken(tmp_path):
    import json
    import socket
    import subprocess
    import sys

    from gan_latent_lab.directions.voynov_ckpt import run_lock
    from gan_latent_lab.errors import GANLabError

    gen = toy_dcgan()
    path = tmp_path / "r.voynov"
    with run_lock(path):
        with pytest.raises(GANLabError, match=f"process {os.getpid()}"):
            train_voynov(gen, 2, steps=3, batch_size=4, checkpoint=path, eval_samples=8)
    assert not os.path.exists(path) and not os.path.exists(str(path) + ".lock")
    # a live process elsewhere holds it
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (tmp_path / "r.voynov.lock").write_text(json.dumps({"pid": sleeper.pid, "host": socket.gethostname()}))
        with pytest.raises(GANLabError, match="being trained"):
            train_voynov(gen, 2, steps=3, batch_size=4, checkpoint=path, eval_samples=8)
    finally:
        sleeper.kill()
        sleeper.wait()
    # now that process is gone: the lock is stale and the run proceeds (and releases it)
    _, stats = train_voynov(gen, 2, steps=3, batch_size=4, checkpoint=path, eval_samples=8)
    assert stats["steps"] == 3 and read_run(path)["done"] and not os.path.exists(str(path) + ".lock")


@pytest.mark.parametrize("step,target", [(-10**9, 10), (50, 10), (3, 10**12)])
def test_a_run_file_with_an_impossible_step_is_refused(tmp_path, step, target):
    gen = toy_dcgan()
    path = tmp_path / "s.voynov"
    train_voynov(gen, 2, steps=3, batch_size=4, checkpoint=path, eval_samples=8)
    rec = torch.load(path, weights_only=True)
    rec.update(step=step, target=target)
    torch.save(rec, path)
    with pytest.raises(CheckpointError, match="step"):
        train_voynov(gen, 2, steps=5, batch_size=4, checkpoint=path, eval_samples=8)
