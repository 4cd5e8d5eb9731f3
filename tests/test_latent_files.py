"""Latents other tools read and write: NVIDIA's projected_w.npz, TF-era dlatents.npz, .npy arrays,
rosinality's projector .pt and e4e / PTI latent tensors; bound to a model, widths checked."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from gan_latent_lab.directions import GANLatent, load_latent, save_latent
from gan_latent_lab.errors import CheckpointError, GANLabError, InputError, MismatchError, UnsafePickleError
from gan_latent_lab.nodes import bridge
from gan_latent_lab.nodes import latent_nodes as ln

from families import build_family


@pytest.fixture(scope="module")
def gen(tmp_path_factory):
    """The StyleGAN2 oracle: 8 w+ slots, 32 wide."""
    g = build_family("stylegan2", tmp_path_factory.mktemp("sg2"))
    assert (g.num_ws, g.w_dim) == (8, 32)
    return g


@pytest.fixture(scope="module")
def latent(gen):
    z = gen.sample_z([3, 4, 5])
    return GANLatent(codes=gen.mapping(z, truncation_psi=0.7), fingerprint=gen.fingerprint, z=z, seeds=[3, 4, 5],
                     truncation_psi=0.7)


def w_plus(n, seed=0, slots=8, dim=32):
    return torch.randn(n, slots, dim, generator=torch.Generator().manual_seed(seed))


def test_projected_w_npz_has_nvidia_layout(latent, tmp_path):
    path = save_latent(latent, tmp_path / "projected_w.npz")
    with np.load(path, allow_pickle=False) as data:  # what generate.py --projected-w does: np.load(f)["w"]
        w = data["w"]
    assert w.dtype == np.float32 and w.shape == (3, 8, 32)
    np.testing.assert_array_equal(w, latent.codes.numpy())
    with pytest.raises(GANLabError, match="already exists"):
        save_latent(latent, path)


def test_our_npz_and_safetensors_come_back_without_a_model(latent, tmp_path):
    tagged = GANLatent(codes=latent.codes, fingerprint="0123456789abcdef", z=latent.z, seeds=latent.seeds,
                       truncation_psi=0.7, ancestors=["fedcba9876543210"])
    for name in ("ours.npz", "ours.safetensors"):
        back = load_latent(save_latent(tagged, tmp_path / name))
        assert torch.equal(back.codes, tagged.codes) and torch.equal(back.z, tagged.z)
        assert back.seeds == [3, 4, 5] and back.truncation_psi == 0.7 and back.space == "w"
        assert back.fingerprint == "0123456789abcdef" and back.ancestors == ["fedcba9876543210"]


def test_our_file_is_checked_against_the_model(gen, latent, tmp_path):
    path = save_latent(latent, tmp_path / "mine.npz")
    assert load_latent(path, gen).fingerprint == gen.fingerprint
    other = GANLatent(codes=latent.codes, fingerprint="ffffffffffffffff")
    with pytest.raises(MismatchError, match="ffffffffffffffff"):
        load_latent(save_latent(other, tmp_path / "other.npz"), gen)


def test_nvidia_file_written_elsewhere_loads_bound_to_the_model(gen, tmp_path):
    w = w_plus(1).numpy()
    np.savez(tmp_path / "projected_w.npz", w=w)  # projector.py: w=projected_w.unsqueeze(0), [1, num_ws, w_dim]
    back = load_latent(tmp_path / "projected_w.npz", gen)
    assert back.codes.shape == (1, 8, 32) and np.array_equal(back.codes.numpy(), w)
    assert back.fingerprint == gen.fingerprint and back.space == "w" and back.z is None and back.seeds == []
    with torch.no_grad():
        gen.synthesis(back.codes)  # it decodes


def test_tf_dlatents_npz(gen, tmp_path):
    w = w_plus(2, seed=1).numpy().astype(np.float64)  # TF projectors wrote float64 too
    np.savez(tmp_path / "dlatents.npz", dlatents=w)
    back = load_latent(tmp_path / "dlatents.npz", gen)
    assert back.codes.dtype == torch.float32 and torch.allclose(back.codes, torch.from_numpy(w).float())


@pytest.mark.parametrize("shape, expect", [((32,), (1, 8, 32)), ((3, 32), (3, 8, 32)), ((8, 32), (1, 8, 32)),
                                           ((2, 8, 32), (2, 8, 32)), ((2, 1, 32), (2, 8, 32))])
def test_npy_shapes(gen, tmp_path, shape, expect):
    arr = np.random.RandomState(0).randn(*shape).astype(np.float32)
    np.save(tmp_path / "codes.npy", arr)
    back = load_latent(tmp_path / "codes.npy", gen)
    assert back.codes.shape == expect
    flat = arr.reshape(-1, 32)
    if expect[0] * expect[1] == flat.shape[0]:  # one w per slot given
        assert np.array_equal(back.codes.reshape(-1, 32).numpy(), flat)
    else:  # one w per image, repeated into every slot
        assert np.array_equal(back.codes.numpy(), np.repeat(arr.reshape(expect[0], 1, 32), 8, axis=1))


def test_rosinality_projector_files(gen, tmp_path):
    """projector.py saves {input_name: {"img", "latent", "noise"}}: latent [512] (w) or [n_latent, 512] (--w_plus)."""
    ws = torch.randn(2, 32, generator=torch.Generator().manual_seed(2))
    record = lambda w: {"img": torch.rand(3, 32, 32), "latent": w, "noise": [torch.randn(1, 1, 4, 4)]}  # noqa: E731
    torch.save({"face_a.png": record(ws[0]), "face_b.png": record(ws[1])}, tmp_path / "faces.pt")
    back = load_latent(tmp_path / "faces.pt", gen)
    assert back.codes.shape == (2, 8, 32) and torch.equal(back.codes, ws[:, None].expand(2, 8, 32))
    plus = w_plus(2, seed=3)
    torch.save({"a.png": record(plus[0]), "b.png": record(plus[1])}, tmp_path / "plus.pt")
    assert torch.equal(load_latent(tmp_path / "plus.pt", gen).codes, plus)
    torch.save(record(plus[0]), tmp_path / "single.pt")  # one record without the name level
    assert torch.equal(load_latent(tmp_path / "single.pt", gen).codes, plus[:1])


def test_e4e_latents_tensor(gen, tmp_path):
    codes = w_plus(3, seed=4)
    torch.save(codes, tmp_path / "latents.pt")  # e4e's inference script: one [n, num_ws, w_dim] tensor
    back = load_latent(tmp_path / "latents.pt", gen)
    assert torch.equal(back.codes, codes) and back.fingerprint == gen.fingerprint


@pytest.mark.parametrize("writer", ["npz", "npy", "e4e", "rosinality"])
def test_other_widths_are_refused_naming_both_shapes(gen, tmp_path, writer):
    ffhq = np.zeros((1, 18, 512), np.float32)  # a file for the FFHQ StyleGAN2
    path = tmp_path / {"npz": "projected_w.npz", "npy": "w.npy", "e4e": "latents.pt", "rosinality": "r.pt"}[writer]
    if writer == "npz":
        np.savez(path, w=ffhq)
    elif writer == "npy":
        np.save(path, ffhq)
    elif writer == "e4e":
        torch.save(torch.from_numpy(ffhq), path)
    else:
        torch.save({"x.png": {"latent": torch.zeros(18, 512), "noise": []}}, path)
    with pytest.raises(CheckpointError, match=r"18, 512\].*\[n, 8, 32\]"):
        load_latent(path, gen)


def test_foreign_file_without_a_model_is_a_clear_error(tmp_path):
    np.savez(tmp_path / "projected_w.npz", w=np.zeros((1, 8, 32), np.float32))
    with pytest.raises(CheckpointError, match="projected_w.npz.*model"):
        load_latent(tmp_path / "projected_w.npz")


def test_unreadable_and_hostile_files_are_refused(gen, tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"w": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(CheckpointError, match="objects.npy"):
        load_latent(tmp_path / "objects.npy", gen)
    np.savez(tmp_path / "other.npz", lat_comp=np.zeros((2, 32), np.float32))
    with pytest.raises(CheckpointError, match="'w'.*'dlatents'"):
        load_latent(tmp_path / "other.npz", gen)
    np.save(tmp_path / "ints.npy", np.zeros((1, 32), np.int64))
    with pytest.raises(CheckpointError, match="int64 are not read"):
        load_latent(tmp_path / "ints.npy", gen)
    np.save(tmp_path / "nan.npy", np.full((1, 32), np.nan, np.float32))
    with pytest.raises(CheckpointError, match="NaN"):
        load_latent(tmp_path / "nan.npy", gen)
    torch.save({"config": {"lr": 1}}, tmp_path / "not_a_latent.pt")
    with pytest.raises(CheckpointError, match="not a latent"):
        load_latent(tmp_path / "not_a_latent.pt", gen)

    class Boom:
        def __reduce__(self):
            return (eval, ("1",))

    torch.save({"latent": torch.zeros(32), "x": Boom()}, tmp_path / "evil.pt", pickle_module=pickle)
    with pytest.raises(UnsafePickleError, match="evil.pt"):
        load_latent(tmp_path / "evil.pt", gen)
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(CheckpointError, match="junk.npz"):
        load_latent(tmp_path / "junk.npz", gen)


def test_repeating_one_w_into_every_slot_is_bounded_by_the_file(gen, tmp_path, monkeypatch):
    """A single w per image is repeated into every slot: that expansion may take at most 4x the file
    (plus the stated slack, set to 0 here), so a small file cannot become a huge latent; w+ files, which
    need no expansion, are not affected."""
    from gan_latent_lab import limits

    monkeypatch.setattr(limits, "VIEW_SLACK", 0)
    np.save(tmp_path / "ws.npy", np.ones((100, 32), np.float32))  # 12.9 KB -> 100 x 8 x 32 floats = 102 KB
    with pytest.raises(CheckpointError, match=r"ws.npy.*once repeated into 8 slots.*split the file"):
        load_latent(tmp_path / "ws.npy", gen)
    np.save(tmp_path / "wplus.npy", np.ones((100, 8, 32), np.float32))
    assert load_latent(tmp_path / "wplus.npy", gen).codes.shape == (100, 8, 32)
    monkeypatch.undo()
    assert load_latent(tmp_path / "ws.npy", gen).codes.shape == (100, 8, 32)


def test_latents_that_could_not_be_read_back_are_not_saved(latent, tmp_path):
    import dataclasses

    for change in ({"codes": torch.full((3, 8, 32), float("nan"))}, {"truncation_psi": float("nan")},
                   {"z": torch.full((3, 32), float("inf"))}):
        bad = dataclasses.replace(latent, **change)
        for name in ("bad.npz", "bad.safetensors"):
            with pytest.raises(InputError, match="not saved"):
                save_latent(bad, tmp_path / name)
    assert not list(tmp_path.iterdir())


# ----- nodes ----------------------------------------------------------------------------------------------
@pytest.fixture()
def models_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    return tmp_path


def test_load_latent_node_lists_and_binds_foreign_files(gen, latent, models_dir):
    folder = models_dir / "gan_latents"
    folder.mkdir()
    np.savez(folder / "projected_w.npz", w=w_plus(1).numpy())
    np.save(folder / "w.npy", np.zeros((2, 32), np.float32))
    torch.save(w_plus(2), folder / "latents.pt")
    assert {"projected_w.npz", "w.npy", "latents.pt"} <= set(bridge.list_files("gan_latents"))
    back, summary = ln.LoadLatent().load("projected_w.npz", gen)
    assert back.fingerprint == gen.fingerprint and "1 latents [8 slots x 32]" in summary
    assert ln.LoadLatent().load("latents.pt", gen)[0].codes.shape == (2, 8, 32)
    with pytest.raises(CheckpointError, match="model"):
        ln.LoadLatent().load("w.npy")
    path = ln.SaveLatent().save(latent, "mine.npz", False)[0]
    assert path.endswith("mine.npz") and np.load(path)["w"].shape == (3, 8, 32)
    assert ln.LoadLatent().load("mine.npz")[0].fingerprint == gen.fingerprint  # ours: no model needed
    assert ln.SaveLatent().save(latent, "mine", False)[0].endswith("mine.safetensors")


@pytest.mark.parametrize("name", ["", " ", ".", "..", "../up", "/etc/x"])
def test_save_latent_node_refuses_bad_names(latent, models_dir, name):
    with pytest.raises(InputError):
        ln.SaveLatent().save(latent, name, False)
    assert not list(models_dir.rglob("*.*"))
