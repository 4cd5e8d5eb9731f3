"""Direction discovery (SeFa, GANSpace, Voynov), the direction container and edit arithmetic."""

from __future__ import annotations

from .compare import compare_directions
from .container import Directions
from .ganspace import ganspace
from .ganspace_io import load_ganspace_npz, save_ganspace_npz
from .latent import GANLatent

__all__ = ["Directions", "GANLatent", "ganspace", "compare_directions", "save_ganspace_npz", "load_ganspace_npz"]
