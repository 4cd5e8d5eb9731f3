"""GANSpace: W-space PCA against scikit-learn, regression recovery, real DCGAN, interrupt, npz files."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
import torch
from torch import nn

import gan_latent_lab  # noqa: F401  (conftest puts this checkout on the path)
from gan_latent_lab.directions import ganspace as gs_mod_fn  # the function re-exported by the package
from gan_latent_lab.directions.ganspace import component_table, ganspace, z_stream
from gan_latent_lab.directions.ganspace_io import load_ganspace_npz, save_ganspace_npz
from gan_latent_lab.errors import GANLabError, InputError, MismatchError
from gan_latent_lab.loaders.base import GANGenerator
from gan_latent_lab.nodes import bridge

NO_INTERRUPT = None  # use the bridge's own check; tests below clear it first


class TinyStyle(GANGenerator):
    """A style-like generator: a random nonlinear MLP mapping (2nd-moment norm, lrelu), w broadcast."""

    arch = "tinystyle"
    code_space = "w"

    def __init__(self, z_dim=16, w_dim=24, num_ws=4, seed=0):
        super().__init__()
        self.z_dim, self.w_dim, self.num_ws, self.resolution = z_dim, w_dim, num_ws, 4
        g = torch.Generator().manual_seed(seed)
        dims = [z_dim, 32, 32, w_dim]
        self.layers = nn.ModuleList()
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            lin = nn.Linear(a, b)
            with torch.no_grad():
                # decaying column scales give a spread spectrum, like a trained mapping network
                scale = torch.logspace(0, -1.2, a)[None, :] if i == 0 else 1.0
                lin.weight.copy_(torch.randn(b, a, generator=g) / a ** 0.5 * scale * 1.5)
                lin.bias.copy_(torch.randn(b, generator=g) * 0.3)
            self.layers.append(lin)
        self.to_img = nn.Linear(w_dim, 3 * 4 * 4)

    def _mapping(self, z, c, psi, cutoff):
        x = z * torch.rsqrt(z.square().mean(1, keepdim=True) + 1e-8)
        for i, lin in enumerate(self.layers):
            x = lin(x)
            if i < len(self.layers) - 1:
                x = nn.functional.leaky_relu(x, 0.2)
        return x.unsqueeze(1).repeat(1, self.num_ws, 1)

    def _synthesis(self, codes, c, psi, noise_mode):
        return torch.tanh(self.to_img(codes.mean(1))).reshape(-1, 3, 4, 4)


class LinearFirst(GANGenerator):
    """z-space generator whose hooked first layer is exactly A z + b (regression must find A^T u_k)."""

    arch = "linearfirst"
    code_space = "z"

    def __init__(self, z_dim=8, act_dim=24, seed=1):
        super().__init__()
        self.z_dim = self.w_dim = z_dim
        self.num_ws, self.resolution = 1, 2
        g = torch.Generator().manual_seed(seed)
        q1, _ = torch.linalg.qr(torch.randn(act_dim, z_dim, generator=g, dtype=torch.float64))
        q2, _ = torch.linalg.qr(torch.randn(z_dim, z_dim, generator=g, dtype=torch.float64))
        s = torch.tensor([5.0, 3.5, 2.6, 1.9, 1.4, 1.0, 0.7, 0.5], dtype=torch.float64)[:z_dim]
        self.first = nn.Linear(z_dim, act_dim)
        with torch.no_grad():
            self.first.weight.copy_((q1 * s) @ q2.T)
            self.first.bias.copy_(torch.randn(act_dim, generator=g))
        self.head = nn.Linear(act_dim, 3 * 2 * 2)

    def _mapping(self, z, c, psi, cutoff):
        return (z * psi).unsqueeze(1)

    def _synthesis(self, codes, c, psi, noise_mode):
        return torch.tanh(self.head(torch.relu(self.first(codes[:, 0])))).reshape(-1, 3, 2, 2)

    def activation_layers(self):
        return ["first"]

    def activation_module(self, name):
        return self.first if name == "first" else super().activation_module(name)


@pytest.fixture(autouse=True)
def _clear_interrupt():
    bridge.request_interrupt(False)
    yield
    bridge.request_interrupt(False)


def _abs_cos(a, b):
    a = torch.as_tensor(a, dtype=torch.float64)
    b = torch.as_tensor(b, dtype=torch.float64)
    return ((a * b).sum(-1) / (a.norm(dim=-1) * b.norm(dim=-1))).abs()


# ----- W-space PCA ----------------------------------------------------------------------------
def test_w_pca_matches_sklearn_full_pca():
    from sklearn.decomposition import PCA

    model = TinyStyle().eval()
    n, seed = 20_000, 7
    d, stats = ganspace(model, n, k=model.w_dim, seed=seed, converge=False, chunk=4096)
    assert stats["samples"] == n and not stats["converged"]
    # replay the same z with another chunk size: the stream does not depend on it
    with torch.no_grad():
        w = torch.cat([model.mapping(z)[:, 0] for z in z_stream(model.z_dim, n, seed, 1000)]).double().numpy()
    ref = PCA(svd_solver="full").fit(w)
    ev = ref.explained_variance_
    gaps = np.minimum(np.abs(np.diff(ev, prepend=np.inf)), np.abs(np.diff(ev, append=-np.inf))) / ev
    well_separated = np.where(gaps > 0.01)[0]
    assert len(well_separated) >= 10
    cos = _abs_cos(d.vectors[well_separated], ref.components_[well_separated])
    assert float(cos.min()) >= 0.9999, cos
    np.testing.assert_allclose(d.values.double().numpy(), np.sqrt(ev), rtol=1e-3)
    np.testing.assert_allclose(stats["explained_variance_ratio"], ref.explained_variance_ratio_, rtol=2e-3, atol=1e-6)
    np.testing.assert_allclose(d.meta["lat_mean"], w.mean(0), atol=1e-4)
    assert torch.allclose(d.vectors.norm(dim=1), torch.ones(len(d)), atol=1e-5)
    assert (d.method, d.space, d.scale_kind, d.fingerprint) == ("ganspace", "w", "stdev", model.fingerprint)
    assert d.meta["n_samples"] == n and d.meta["seed"] == seed
    assert "20000 samples used" in component_table(d, stats)


def test_w_pca_is_deterministic_and_chunk_independent():
    model = TinyStyle().eval()
    d1, _ = ganspace(model, 6000, k=5, seed=3, converge=False, chunk=512)
    d2, _ = ganspace(model, 6000, k=5, seed=3, converge=False, chunk=2048)
    d3, _ = ganspace(model, 6000, k=5, seed=4, converge=False, chunk=2048)
    assert torch.allclose(d1.vectors, d2.vectors, atol=1e-5)  # same signs too
    assert not torch.allclose(d1.vectors, d3.vectors, atol=1e-5)


def test_convergence_stops_early_and_agrees_with_full_run():
    model = TinyStyle().eval()
    cap = 400_000
    dc, sc = ganspace(model, cap, k=3, seed=11, converge=True, tol=0.02, chunk=4096)
    assert sc["converged"] and sc["samples"] < cap
    assert sc["last_angle"] < 0.02
    assert dc.meta["n_samples"] == sc["samples"]
    assert f"{sc['samples']} samples used" in component_table(dc, sc)
    full, _ = ganspace(model, 100_000, k=3, seed=12, converge=False, chunk=8192)
    from gan_latent_lab.directions.ganspace import principal_angles

    assert float(principal_angles(dc.vectors, full.vectors).max()) < 0.06


# ----- activation PCA + regression ------------------------------------------------------------
@pytest.mark.parametrize("wide", [False, True])
def test_regression_recovers_At_u(monkeypatch, wide):
    from gan_latent_lab.directions import ganspace as _  # noqa: F401
    import sys

    mod = sys.modules["gan_latent_lab.directions.ganspace"]
    if wide:  # force the sample-matrix + randomized SVD path on this narrow layer
        monkeypatch.setattr(mod, "COV_MAX_DIM", 4)
    model = LinearFirst().eval()
    k = 5
    d, stats = ganspace(model, 20_000, k=k, seed=2, converge=False, regression_samples=10_000)
    assert stats["solver"] == ("randomized SVD" if wide else "covariance eigh")
    a = model.first.weight.detach().double()
    u, _, _ = torch.linalg.svd(a, full_matrices=False)  # activation PCs of A z are A's left singular vectors
    expected = (a.T @ u[:, :k]).T
    cos = _abs_cos(d.vectors, expected)
    assert float(cos.min()) > 0.999, cos
    assert d.space == "z" and d.scale_kind == "stdev" and d.dim == model.z_dim
    assert torch.allclose(d.values, torch.ones(k), atol=0.05)  # z ~ N(0, I): unit spread along any direction
    assert len(d.meta["lat_mean"]) == model.z_dim
    assert d.meta["layer"] == "first"


def _face_dcgan():
    spec = importlib.util.find_spec("gan_face_generate")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("gan-face-generate is not installed")
    from gan_latent_lab import loaders

    return loaders.load_gan(os.path.join(list(spec.submodule_search_locations)[0], "weights.tar")).eval()


def test_face_dcgan_first_direction_moves_more_than_30th():
    model = _face_dcgan()
    d, stats = gs_mod_fn(model, 2048, k=30, seed=1, regression_samples=2048)
    assert stats["mode"] == "activation" and stats["layer"] == model.activation_layers()[0]
    assert len(d) == 30 and d.dim == model.z_dim
    z = model.sample_z(list(range(100, 108)))

    def change(j):
        step = 2 * d.values[j] * d.vectors[j]
        with torch.no_grad():
            return float((model.synthesis(model.mapping(z + step)) - model.synthesis(model.mapping(z - step))).abs().mean())

    assert change(0) > 1.5 * change(29)


def test_wide_layer_sample_cap_is_reported(monkeypatch):
    import sys

    gs = sys.modules["gan_latent_lab.directions.ganspace"]
    model = _face_dcgan()
    monkeypatch.setattr(gs, "SAMPLE_MATRIX_BYTES", 4 * 8192 * 600)  # room for 600 samples of the 8192-wide layer
    d, stats = ganspace(model, 2000, k=4, seed=0, regression_samples=512)
    assert stats["activation_dim"] == 8192 and stats["samples"] == stats["cap"] == 600
    assert stats["requested_samples"] == 2000
    assert "lowered from 2000" in component_table(d, stats)


# ----- errors, interrupt, files ---------------------------------------------------------------
def test_bad_inputs_are_refused():
    style, zmodel = TinyStyle(), LinearFirst()
    with pytest.raises(InputError, match="no layer"):
        ganspace(style, 1000, 3, layer="nope")
    with pytest.raises(InputError, match="no learned w"):
        ganspace(zmodel, 1000, 3, layer="w")
    with pytest.raises(InputError):
        ganspace(style, 1, 3)
    with pytest.raises(InputError):
        ganspace(style, 1000, 0)
    with pytest.raises(InputError):
        ganspace(style, 1000, 3, tol=float("nan"))


def test_interrupt_check_passed_in_stops_sampling():
    """The caller's interrupt check runs after every chunk; what it raises ends the run there."""
    seen = []

    class Stop(Exception):
        pass

    def interrupt():
        if seen and seen[-1] >= 2048:
            raise Stop

    with pytest.raises(Stop):
        ganspace(TinyStyle(), 100_000, 3, seed=0, chunk=1024, converge=False,
                 progress=lambda done, total: seen.append(done), interrupt=interrupt)
    assert seen[-1] == 2048


def test_the_library_does_not_consult_the_node_layer_interrupt():
    """directions/ never reaches into nodes/: a pending bridge interrupt does not stop a library call."""
    bridge.request_interrupt()
    d, stats = ganspace(TinyStyle(), 4096, 3, seed=0, chunk=1024, converge=False)
    assert stats["samples"] == 4096 and d.vectors.shape[0] == 3


def test_interrupted_node_leaves_no_file(monkeypatch, tmp_path):
    from gan_latent_lab.nodes import ganspace_nodes

    monkeypatch.setattr(bridge, "folder", lambda kind: str(tmp_path))

    class Stopper:
        def __init__(self, total):
            self.total = total

        def set(self, value, preview=None):
            if value > 0:
                bridge.request_interrupt()

    monkeypatch.setattr(bridge, "Progress", Stopper)
    with pytest.raises(bridge.Interrupted):
        ganspace_nodes.GANSpaceDirections().find(TinyStyle(), 50_000, 5, 0, "auto", True, "0", "partial")
    assert os.listdir(tmp_path) == []


def test_node_exports_npz_and_refuses_existing(monkeypatch, tmp_path):
    from gan_latent_lab.nodes import ganspace_nodes

    monkeypatch.setattr(bridge, "folder", lambda kind: str(tmp_path))
    model = TinyStyle().eval()
    d, table = ganspace_nodes.GANSpaceDirections().find(model, 4000, 6, 5, "auto", False, "0", "faces")
    assert len(d) == 6 and "4000 samples used" in table and "explained" in table
    with np.load(tmp_path / "faces.npz", allow_pickle=False) as f:
        assert f["lat_comp"].shape == (6, 1, model.w_dim)
        assert f["lat_mean"].shape == (1, model.w_dim)
        assert f["lat_stdev"].shape == (6,)
        np.testing.assert_allclose(f["lat_comp"][:, 0], d.vectors.numpy(), atol=1e-7)
    with pytest.raises(InputError, match="already exists"):
        ganspace_nodes.GANSpaceDirections().find(model, 4000, 6, 5, "auto", False, "0", "faces")
    with pytest.raises(InputError):
        ganspace_nodes.GANSpaceDirections().find(model, 4000, 6, 5, "auto", False, "0", "../outside")


def test_npz_round_trip(tmp_path):
    g = torch.Generator().manual_seed(0)
    vecs = torch.linalg.qr(torch.randn(10, 4, dtype=torch.float64, generator=g)).Q.T.float()
    from gan_latent_lab.directions.container import Directions

    d = Directions(vecs, torch.tensor([3.0, 2.0, 1.0, 0.5]), "ganspace", space="w", scale_kind="stdev",
                   meta={"lat_mean": list(range(10))})
    path = tmp_path / "g.npz"
    save_ganspace_npz(d, path)
    with np.load(path, allow_pickle=False) as f:
        assert set(f.files) >= {"lat_comp", "lat_mean", "lat_stdev"}
        np.testing.assert_array_equal(f["lat_mean"], np.arange(10, dtype=np.float32)[None])
    back = load_ganspace_npz(path, fingerprint="abc")
    # values come back times each stored row's length, which float32 rounding leaves within 1 ulp of 1
    assert torch.allclose(back.vectors, d.vectors, atol=1e-6)
    assert torch.allclose(back.values, d.values, rtol=2e-7, atol=0)
    assert back.fingerprint == "abc" and back.scale_kind == "stdev" and back.meta["lat_mean"] == list(range(10))
    with pytest.raises(GANLabError):
        save_ganspace_npz(d, path)  # no silent overwrite
    assert sorted(os.listdir(tmp_path)) == ["g.npz"]
    with pytest.raises(MismatchError):
        save_ganspace_npz(d, tmp_path / "h.npz", lat_mean=torch.zeros(3))


def test_npz_reader_refuses_bad_files(tmp_path):
    from gan_latent_lab.errors import CheckpointError

    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(3))
    with pytest.raises(CheckpointError, match="lat_comp"):
        load_ganspace_npz(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip")
    with pytest.raises(CheckpointError):
        load_ganspace_npz(junk)
    odd = tmp_path / "odd.npz"
    np.savez(odd, lat_comp=np.ones((3, 1, 5), np.float32), lat_stdev=np.ones(2, np.float32))
    with pytest.raises(CheckpointError, match="standard deviations"):
        load_ganspace_npz(odd)


def test_chunks_follow_free_memory_and_memory_stays_o_dim_squared(monkeypatch):
    """auto_chunk: a quarter of free memory, whole z blocks, capped; W-PCA keeps one chunk of samples at a
    time and a dim x dim float64 scatter, never an n x dim matrix."""
    import importlib

    g = importlib.import_module("gan_latent_lab.directions.ganspace")  # the module, not the function
    monkeypatch.setattr(g, "free_memory", lambda device: 64 << 20)  # 64 MiB free
    chunk = g.auto_chunk(torch.device("cpu"), 4096)
    assert chunk == (16 << 20) // 4096 // g.Z_BLOCK * g.Z_BLOCK and chunk % g.Z_BLOCK == 0
    monkeypatch.setattr(g, "free_memory", lambda device: 1 << 40)
    assert g.auto_chunk(torch.device("cpu"), 4096) == 8192  # CPU cap
    assert g.auto_chunk(torch.device("cuda"), 4096) == 65536  # GPU cap
    monkeypatch.setattr(g, "free_memory", lambda device: 1000)
    assert g.auto_chunk(torch.device("cpu"), 4096) == g.Z_BLOCK  # never below one block

    rows, shapes = [], set()
    real_update = g.RunningCovariance.update

    def spy(self, x):
        rows.append(x.shape[0])
        shapes.add(tuple(self.scatter.shape))
        return real_update(self, x)

    monkeypatch.setattr(g.RunningCovariance, "update", spy)
    model = TinyStyle().eval()
    _, stats = ganspace(model, 20_000, k=3, seed=0, converge=False, chunk=1024)
    assert stats["samples"] == 20_000 and sum(rows) == 20_000
    assert max(rows) <= 1024 and shapes == {(model.w_dim, model.w_dim)}
