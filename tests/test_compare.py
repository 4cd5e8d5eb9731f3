"""Compare Directions: |cos| matrix, best matches, principal angles, heatmap, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gan_latent_lab  # noqa: F401  (conftest puts this checkout on the path)
from gan_latent_lab.directions.compare import compare_directions, heatmap
from gan_latent_lab.directions.container import Directions
from gan_latent_lab.errors import InputError, MismatchError
from gan_latent_lab.nodes.ganspace_nodes import CompareDirections


def _set(vectors, method="m", fingerprint="f00d", space="w"):
    v = torch.as_tensor(vectors, dtype=torch.float32)
    return Directions(v, torch.ones(v.shape[0]), method, space=space, fingerprint=fingerprint)


def _orthonormal(dim, k, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.linalg.qr(torch.randn(dim, k, generator=g, dtype=torch.float64)).Q.T


def test_identical_sets_give_unit_diagonal_and_zero_angles():
    a = _set(_orthonormal(16, 6))
    abs_cos, angles, report = compare_directions(a, a, 6)
    assert abs_cos.shape == (6, 6)
    assert torch.allclose(abs_cos.diagonal(), torch.ones(6, dtype=torch.float64), atol=1e-6)
    assert torch.allclose(abs_cos - torch.diag(abs_cos.diagonal()), torch.zeros(6, 6, dtype=torch.float64), atol=1e-6)
    assert float(angles.max()) < 0.05
    for i in range(6):
        assert f"A{i:<3} -> B{i:<3} |cos| 1.0000" in report


def test_orthogonal_sets_give_ninety_degrees():
    eye = torch.eye(10)
    abs_cos, angles, report = compare_directions(_set(eye[:4]), _set(eye[4:8]), 4)
    assert torch.allclose(abs_cos, torch.zeros(4, 4, dtype=torch.float64))
    assert torch.allclose(angles, torch.full((4,), 90.0, dtype=torch.float64), atol=1e-6)
    assert "largest 90.00 deg" in report


def test_permuted_and_flipped_set_is_matched():
    q = _orthonormal(12, 5, seed=3)
    perm = [2, 0, 4, 1, 3]
    b = _set(-q[perm])
    abs_cos, angles, report = compare_directions(_set(q), b, 5)
    for j, i in enumerate(perm):  # B_j = -A_i
        assert abs(float(abs_cos[i, j]) - 1) < 1e-6
        assert f"A{i:<3} -> B{j:<3} |cos| 1.0000  (opposite sign)" in report
        assert f"B{j:<3} -> A{i:<3}" in report
    assert float(angles.max()) < 0.05  # same subspace


def test_principal_angles_match_scipy():
    from scipy.linalg import subspace_angles

    a, b = _orthonormal(20, 5, seed=1), _orthonormal(20, 5, seed=2)
    a = a + 0.3 * b  # partly shared subspace, not orthonormal rows
    _, angles, _ = compare_directions(_set(a), _set(b), 5)
    ref = np.sort(np.degrees(subspace_angles(a.numpy().T, b.numpy().T)))
    np.testing.assert_allclose(angles.numpy(), ref, atol=1e-4)


def test_count_takes_the_first_vectors_and_fewer_if_short():
    a, b = _set(_orthonormal(16, 8)), _set(_orthonormal(16, 3, seed=5))
    abs_cos, angles, _ = compare_directions(a, b, 5)
    assert abs_cos.shape == (5, 3) and angles.shape == (3,)


def test_mismatched_sets_are_refused():
    eye = torch.eye(8)
    with pytest.raises(MismatchError, match="widths"):
        compare_directions(_set(eye[:3]), _set(torch.eye(9)[:3]), 3)
    with pytest.raises(MismatchError, match="different models"):
        compare_directions(_set(eye[:3], fingerprint="aaaa"), _set(eye[:3], fingerprint="bbbb"), 3)
    with pytest.raises(MismatchError, match="spaces"):
        compare_directions(_set(eye[:3], space="w"), _set(eye[:3], space="z"), 3)
    with pytest.raises(InputError):
        compare_directions(_set(eye[:3]), _set(eye[:3]), 0)
    # an imported set naming no model can be compared with any set of the same width
    compare_directions(_set(eye[:3], fingerprint=""), _set(eye[:3], fingerprint="bbbb"), 3)


def test_node_returns_image_and_report():
    a = _set(_orthonormal(16, 10), method="ganspace")
    b = _set(_orthonormal(16, 10, seed=9), method="sefa")
    img, report = CompareDirections().compare(a, b, 7)
    assert img.ndim == 4 and img.shape[0] == 1 and img.shape[3] == 3
    assert img.dtype == torch.float32 and 0 <= float(img.min()) and float(img.max()) <= 1
    assert "principal angles" in report and "A6" in report and "A7 " not in report
    img10, _ = CompareDirections().compare(a, b, 10)
    assert img10.shape[1] > img.shape[1] and img10.shape[2] > img.shape[2]
    with pytest.raises(MismatchError):
        CompareDirections().compare(a, _set(torch.eye(5)[:3]), 3)


def test_heatmap_writes_numbers_in_cells():
    m = torch.tensor([[1.0, 0.0], [0.5, 0.25]])
    rgb = heatmap(m, "title")
    assert rgb.dtype == np.uint8 and rgb.shape[2] == 3
    blank = heatmap(m * 0 + 0.6)  # same colour everywhere: any variation inside a cell is text
    cell = 44
    top, left = 30, 48
    inside = blank[top + 8: top + cell - 8, left + 4: left + cell - 4].reshape(-1, 3)
    assert len(np.unique(inside, axis=0)) > 3  # the digits
    # colour follows the value: the 1.0 cell and the 0.0 cell differ
    c1 = rgb[48 + 2, 48 + 2].astype(int)
    c0 = rgb[48 + 2, 48 + cell + 2].astype(int)
    assert np.abs(c1 - c0).sum() > 100
