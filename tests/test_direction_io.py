"""Direction and latent files: our format, InterFaceGAN / GANSpace / ComfyUI-StyleGan imports, bad files."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from gan_latent_lab.directions import Directions, GANLatent
from gan_latent_lab.directions.io import (import_ganspace, load_directions, load_for_model, load_latent,
                                          save_directions, save_latent)
from gan_latent_lab.errors import CheckpointError, GANLabError, MismatchError

INTERFACEGAN = Path(__file__).resolve().parent / "data" / "interfacegan"
FACE = "builtin: face DCGAN 64px (gan-face-generate)"


def small_set(k=3, dim=8, **kw):
    v = torch.linalg.qr(torch.randn(dim, dim, generator=torch.Generator().manual_seed(0)))[0][:k]
    return Directions(vectors=v, values=torch.arange(k, 0, -1).float(), method="sefa", space="w", slots=[0, 1],
                      scale_kind="eigenvalue", fingerprint="abcd", meta={"slots": "0-1", "k": k}, **kw)


# ----- InterFaceGAN ------------------------------------------------------------------------------
def test_five_interfacegan_boundaries_import_as_single_unit_directions():
    files = sorted(INTERFACEGAN.glob("*.npy"))
    assert len(files) == 5
    for f in files:
        d = load_directions(f)
        raw = np.load(f, allow_pickle=False)
        assert raw.shape == (1, 512)
        assert len(d) == 1 and d.dim == 512 and d.method == "interfacegan"
        assert abs(float(d.vectors[0].norm()) - 1.0) < 1e-6
        np.testing.assert_allclose(d.vectors[0].numpy(), raw[0] / np.linalg.norm(raw[0]), atol=1e-7)
        assert d.space == ("z" if f.name.startswith("pggan") else "w"), f.name
        assert d.labels and d.labels[0] in f.name


def test_512_wide_set_refused_on_100_wide_face_dcgan():
    if importlib.util.find_spec("gan_face_generate") is None:
        pytest.skip("gan-face-generate not installed")
    from gan_latent_lab.nodes.model_nodes import load_model

    model = load_model(FACE)
    with pytest.raises(MismatchError) as e:
        load_for_model(INTERFACEGAN / "stylegan_ffhq_age_boundary.npy", model)
    assert "512" in str(e.value) and "100" in str(e.value)


# ----- GANSpace ----------------------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(4, 1, 6), (4, 6)])
def test_ganspace_npz(tmp_path, shape):
    rng = np.random.RandomState(0)
    comp = rng.randn(*shape).astype(np.float32)
    comp /= np.linalg.norm(comp.reshape(4, 6), axis=1).reshape((4,) + (1,) * (len(shape) - 1))
    stdev = np.array([3.0, 2.0, 1.5, 0.5], dtype=np.float32)
    path = tmp_path / "StyleGAN2-ffhq_style_ipca_c4_n1000_w.npz"
    np.savez(path, lat_comp=comp, lat_stdev=stdev, lat_mean=rng.randn(1, 6).astype(np.float32),
             act_comp=rng.randn(4, 10).astype(np.float32))
    d = load_directions(path)
    assert d.method == "ganspace" and d.scale_kind == "stdev" and d.space == "w"
    assert d.vectors.shape == (4, 6)
    np.testing.assert_allclose(d.vectors.numpy(), comp.reshape(4, 6), atol=1e-6)
    np.testing.assert_allclose(d.values.numpy(), stdev, rtol=1e-6)


def test_our_ganspace_export_reloads_in_its_space_for_its_model(tmp_path):
    """A z-space set (DCGAN, PGGAN, BigGAN) exported as .npz comes back as z, tied to its model."""
    from gan_latent_lab.directions.ganspace_io import load_ganspace_npz, save_ganspace_npz

    vecs = torch.linalg.qr(torch.randn(6, 6, dtype=torch.float64))[0][:3]
    d = Directions(vectors=vecs, values=torch.tensor([3.0, 2.0, 1.0]), method="ganspace", space="z",
                   fingerprint="f00d", scale_kind="stdev")
    path = tmp_path / "face_dcgan_ganspace.npz"  # a name that says nothing about the space
    save_ganspace_npz(d, path)
    for back in (load_directions(path), load_ganspace_npz(path)):
        assert back.space == "z" and back.fingerprint == "f00d"
        torch.testing.assert_close(back.vectors.double(), vecs, atol=1e-6, rtol=0)
    with np.load(path) as data:  # still a GANSpace dump for the official tools
        assert data["lat_comp"].shape == (3, 1, 6) and data["lat_stdev"].shape == (3,)


def test_ganspace_missing_keys_and_object_arrays(tmp_path):
    p = tmp_path / "nocomp.npz"
    np.savez(p, something=np.zeros(3))
    with pytest.raises(CheckpointError, match="nocomp.npz"):
        load_directions(p)
    q = tmp_path / "pickled.npz"
    np.savez(q, lat_comp=np.array([{"a": 1}], dtype=object), lat_stdev=np.ones(1))
    with pytest.raises(CheckpointError, match="pickled.npz"):
        import_ganspace(q)
    r = tmp_path / "count.npz"
    np.savez(r, lat_comp=np.eye(3), lat_stdev=np.ones(2))
    with pytest.raises(CheckpointError, match="count.npz"):
        load_directions(r)


# ----- ComfyUI-StyleGan (dfl) ------------------------------------------------------------------
def test_dfl_component_file(tmp_path):
    comps = torch.linalg.qr(torch.randn(8, 8))[0][:3]
    tensors = {f"component_{i:02d}": comps[i].clone() for i in (2, 0, 1)}  # key order must not matter
    path = tmp_path / "model_sefa_directions.safetensors"
    save_file(tensors, str(path), metadata={"method": "sefa", "num_components": "3", "w_dim": "8",
                                             "component_order": json.dumps([f"component_{i:02d}" for i in range(3)])})
    d = load_directions(path)
    assert d.method == "sefa" and len(d) == 3 and d.dim == 8
    assert torch.allclose(d.vectors, comps, atol=1e-6)
    assert d.labels == ["component_00", "component_01", "component_02"]
    bad = tmp_path / "lying.safetensors"
    save_file(tensors, str(bad), metadata={"method": "sefa", "w_dim": "512"})
    with pytest.raises(CheckpointError, match="lying.safetensors"):
        load_directions(bad)


# ----- our format ------------------------------------------------------------------------------
def test_round_trip(tmp_path):
    d = small_set(labels=["a", "b", "c"])
    path = save_directions(d, tmp_path / "set.safetensors")
    e = load_directions(path)
    assert torch.equal(e.vectors, d.vectors) and torch.equal(e.values, d.values)
    assert (e.method, e.space, e.slots, e.scale_kind, e.fingerprint, e.labels) == \
           ("sefa", "w", [0, 1], "eigenvalue", "abcd", ["a", "b", "c"])
    assert e.meta == {"slots": "0-1", "k": 3}


def test_no_overwrite_keeps_old_file_byte_for_byte(tmp_path):
    path = tmp_path / "set.safetensors"
    save_directions(small_set(2), path)
    before = path.read_bytes()
    with pytest.raises(GANLabError, match="exists"):
        save_directions(small_set(3), path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["set.safetensors"]  # no temporary left behind
    save_directions(small_set(3), path, overwrite=True)
    assert len(load_directions(path)) == 3


@pytest.mark.parametrize("content,name", [
    (b"", "empty.safetensors"),
    (b"\x00" * 64, "zeros.safetensors"),
    (b"\x93NUMPY garbage", "broken.npy"),
    (b"PK\x03\x04 not really a zip", "broken.npz"),
])
def test_bad_files_name_the_file(tmp_path, content, name):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
        load_directions(p)


def test_bad_npy_arrays(tmp_path):
    cases = {"wide.npy": np.ones((2, 512)), "ints.npy": np.ones((1, 512), dtype=np.int64),
             "nan.npy": np.full((1, 4), np.nan), "zero.npy": np.zeros((1, 4)),
             "obj.npy": np.array([None, 1], dtype=object)}
    for name, arr in cases.items():
        np.save(tmp_path / name, arr, allow_pickle=True)
        with pytest.raises(CheckpointError, match=name.replace(".", r"\.")):
            load_directions(tmp_path / name)


def test_safetensors_that_is_not_a_set(tmp_path):
    p = tmp_path / "weights.safetensors"
    save_file({"w": torch.zeros(2, 2)}, str(p))
    with pytest.raises(CheckpointError, match="weights.safetensors"):
        load_directions(p)
    with pytest.raises(CheckpointError, match="missing.npy"):
        load_directions(tmp_path / "missing.npy")


# ----- latents ---------------------------------------------------------------------------------
def test_latent_round_trip_and_no_overwrite(tmp_path):
    lat = GANLatent(codes=torch.randn(3, 4, 8), fingerprint="f1", z=torch.randn(3, 8), c=torch.eye(3),
                    seeds=[5, 6, 7], truncation_psi=0.7, space="w")
    p = tmp_path / "lat.safetensors"
    save_latent(lat, p)
    back = load_latent(p)
    assert torch.equal(back.codes, lat.codes) and torch.equal(back.z, lat.z) and torch.equal(back.c, lat.c)
    assert (back.seeds, back.truncation_psi, back.fingerprint, back.space) == ([5, 6, 7], 0.7, "f1", "w")
    before = p.read_bytes()
    with pytest.raises(GANLabError):
        save_latent(GANLatent(codes=torch.zeros(1, 4, 8), fingerprint="f2"), p)
    assert p.read_bytes() == before
    d = tmp_path / "dirs.safetensors"
    save_directions(small_set(), d)
    with pytest.raises(CheckpointError, match="dirs.safetensors"):
        load_latent(d)


def test_ganspace_readers_agree_on_unnormalised_rows_and_the_z_name_rule(tmp_path):
    """Load Directions and load_ganspace_npz are one reader: rows renormalised with the stdev scaled by the
    row length (a sigma step moves lat_comp * lat_stdev * sigma, as GANSpace does), '_z' names are z."""
    from gan_latent_lab.directions.ganspace_io import load_ganspace_npz

    comp = np.array([[3.0, 4.0, 0.0], [0.0, 0.0, 0.5]], dtype=np.float32)
    path = tmp_path / "biggan_gen_z_ipca_z.npz"
    np.savez(path, lat_comp=comp[:, None, :], lat_stdev=np.array([2.0, 4.0], dtype=np.float32))
    for d in (load_directions(path), load_ganspace_npz(path)):
        assert d.space == "z"
        np.testing.assert_allclose(d.vectors.numpy(), [[0.6, 0.8, 0.0], [0.0, 0.0, 1.0]], atol=1e-6)
        np.testing.assert_allclose(d.values.numpy(), [10.0, 2.0], rtol=1e-6)
        step = (d.vectors * d.values[:, None]).numpy()  # one sigma, as the edit nodes apply it
        np.testing.assert_allclose(step, comp * np.array([[2.0], [4.0]]), atol=1e-5)
    assert load_ganspace_npz(path, space="w").space == "w"
