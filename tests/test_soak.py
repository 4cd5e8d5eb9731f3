"""Issue 8: a long run in one process does not leak (decode and edit 200 batches)."""

import gc
import os

import torch

from gan_latent_lab.nodes.model_nodes import decode_latent, load_model, sample_latent

from helpers import face_dcgan_path

FACE = "builtin: face DCGAN 64px (gan-face-generate)"


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _edit(latent, direction, strength):
    return latent.with_codes(latent.codes + strength * direction)


def test_decode_and_edit_200_batches_without_growth():
    face_dcgan_path()
    model = load_model(FACE)
    direction = torch.nn.functional.normalize(torch.randn(1, 1, model.w_dim), dim=-1)

    def batch(i):
        latent, _ = sample_latent(model, i * 4, 4, 1.0, 0)
        img = decode_latent(model, _edit(latent, direction, (i % 7) - 3.0))
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
