"""Paths and small builders shared by the tests."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"
ORACLES = DATA / "oracles"


def package_file(module: str, filename: str) -> str:
    """A data file of an installed package, found without importing the package."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        pytest.skip(f"{module} is not installed (pip install --no-deps it; see README)")
    path = os.path.join(list(spec.submodule_search_locations)[0], filename)
    if not os.path.isfile(path):
        pytest.skip(f"{path} missing")
    return path


def face_dcgan_path() -> str:
    return package_file("gan_face_generate", "weights.tar")


def eye_dcgan_path() -> str:
    return package_file("omniart_eye_generator", "generator_model_state.pth")


EYE_SIDECAR = {"z_dim": 100, "c_dim": 8,
               "class_names": ["amber", "blue", "brown", "gray", "grayscale", "green", "hazel", "red"]}
