"""Issue 8: a long run in one process does not leak (decode and edit 200 batches)."""

import gc
import os

import torch

from gan_latent_lab.nodes.direction_nodes import SeFaDirections
from gan_latent_lab.nodes.edit_nodes import ApplyDirection
from gan_latent_lab.nodes.model_nodes import decode_latent, load_model, sample_latent

from helpers import face_dcgan_path

FACE = "builtin: face DCGAN 64px (gan-face-generate)"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_decode_and_edit_200_batches_without_growth():
    """200 batches through the pack's own nodes: latent from seeds, Apply Direction (SeFa), Decode."""
    face_dcgan_path()
    model = load_model(FACE)
    dirs = SeFaDirections().find(model, "all", 8)[0]
    apply = ApplyDirection()

    def batch(i):
        latent, _ = sample_latent(model, i * 4, 4, 1.0, 0)
        edited = apply.apply(model, latent, dirs, i % 8, (i % 7) - 3.0, 0, -1, False)[0]
        img = decode_latent(model, edited)
        assert img.shape == (4, 64, 64, 3)

    for i in range(20):  # warm-up: allocator pools, lazy inits
        batch(i)
    gc.collect()
    before = _rss_mb()
    for i in range(20, 220):
        batch(i)
    gc.collect()
    after = _rss_mb()
    assert after < before * 1.05, f"resident memory grew from {before:.0f} MB to {after:.0f} MB"


def test_model_cache_reuses_and_releases():
    face_dcgan_path()
    from gan_latent_lab.nodes import model_nodes

    a = load_model(FACE)
    assert load_model(FACE) is a
    key = next(k for k, v in model_nodes._cache.items() if v is a)
    del a
    gc.collect()
    assert key not in model_nodes._cache


def test_a_copy_of_the_same_weights_shares_the_loaded_model(tmp_path, monkeypatch):
    """The cache is keyed by fingerprint too: the same checkpoint under two names is one model in memory,
    and different weights stay apart."""
    import shutil

    from gan_latent_lab.nodes import model_nodes

    monkeypatch.setenv("GAN_LATENT_LAB_MODELS", str(tmp_path))
    (tmp_path / "gan").mkdir()
    shutil.copy(face_dcgan_path(), tmp_path / "gan" / "a.tar")
    shutil.copy(face_dcgan_path(), tmp_path / "gan" / "b.tar")
    a, b = load_model("a.tar"), load_model("b.tar")
    assert a is b
    sd = torch.load(face_dcgan_path(), map_location="cpu", weights_only=True)
    inner = sd.get("netG_state_dict", sd) if isinstance(sd, dict) else sd
    key = next(k for k, v in inner.items() if k.endswith("weight") and v.ndim == 4)
    inner[key] = inner[key] * 1.5
    torch.save(sd, tmp_path / "gan" / "c.pt")
    c = load_model("c.pt")
    assert c is not a and c.fingerprint != a.fingerprint
    key = model_nodes._content_key(c)
    assert model_nodes._by_fingerprint[key] is c
    del c
    gc.collect()
    assert key not in model_nodes._by_fingerprint  # released with the model, never pinned
