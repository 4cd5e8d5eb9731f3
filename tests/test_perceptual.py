"""The weight-free image distance: SSIM and MS-SSIM against independent implementations, L1 mix, errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gan_latent_lab.directions.perceptual import PixelMSSSIM, gaussian_window, image_distance, ms_ssim, ssim_terms
from gan_latent_lab.errors import InputError


def _pair(size: int, seed: int = 0, grey: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(2, 1 if grey else 3, size, size, generator=g) * 2 - 1
    x = torch.nn.functional.avg_pool2d(x, 3, 1, 1)  # some structure, not pure noise
    y = (x + 0.2 * torch.randn(x.shape, generator=g)).clamp(-1, 1)
    if grey:
        x, y = x.expand(-1, 3, -1, -1).contiguous(), y.expand(-1, 3, -1, -1).contiguous()
    return x, y


def test_single_scale_ssim_equals_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    x, y = _pair(48)
    full, _ = ssim_terms(x, y, gaussian_window(11, 1.5))
    for i in range(2):
        ref = metrics.structural_similarity((x[i].numpy() + 1) / 2, (y[i].numpy() + 1) / 2, channel_axis=0, data_range=1.0,
                                            gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        assert float(full[i]) == pytest.approx(ref, abs=2e-5)


def test_five_scale_ms_ssim_equals_pytorch_msssim():
    pm = pytest.importorskip("pytorch_msssim")
    x, y = _pair(192, seed=1, grey=True)  # identical channels: per-channel averaging cannot differ
    ours = ms_ssim(x, y)
    ref = pm.ms_ssim((x + 1) / 2, (y + 1) / 2, data_range=1.0, size_average=False)
    assert torch.allclose(ours, ref.float(), atol=1e-4), (ours, ref)


def test_distance_is_zero_for_identical_images_and_grows_with_noise():
    d = image_distance()
    x, _ = _pair(64)
    assert torch.allclose(d(x, x), torch.zeros(2), atol=1e-5)
    g = torch.Generator().manual_seed(3)
    noise = torch.randn(x.shape, generator=g)
    small, large = d(x + 0.05 * noise, x), d(x + 0.3 * noise, x)
    assert (small > 0).all() and (large > small).all()


def test_distance_is_per_image_and_differentiable():
    d = PixelMSSSIM()
    x, y = _pair(64)
    both = d(x, y)
    assert both.shape == (2,)
    assert torch.allclose(both[1:], d(x[1:], y[1:]), atol=1e-6)  # image 0 does not change image 1's number
    x = x.clone().requires_grad_(True)
    d(x, y).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0


def test_l1_term_is_half_the_mean_absolute_difference_in_minus_one_to_one():
    x, y = _pair(64, seed=5)
    d = PixelMSSSIM(alpha=0.0)
    assert torch.allclose(d(x, y), (x - y).abs().mean((1, 2, 3)) / 2, atol=1e-6)


def test_small_images_use_fewer_scales_and_tiny_ones_pixels_only():
    x, y = _pair(24)
    assert torch.isfinite(ms_ssim(x, y)).all()  # 24 px: two scales of an 11 px window
    tiny_x, tiny_y = _pair(8)
    assert torch.allclose(PixelMSSSIM()(tiny_x, tiny_y), (tiny_x - tiny_y).abs().mean((1, 2, 3)) / 2)
    with pytest.raises(InputError, match="at least 11 px"):
        ms_ssim(tiny_x, tiny_y)


def test_mismatched_batches_are_refused():
    x, y = _pair(32)
    with pytest.raises(InputError, match="one shape"):
        image_distance()(x, y[:, :, :16])
    with pytest.raises(InputError):
        image_distance()(x[:, :1], y[:, :1])
    assert np.isfinite(float(image_distance()(x, y).sum()))
