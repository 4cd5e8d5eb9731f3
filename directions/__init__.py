"""Direction discovery (SeFa, GANSpace, Voynov), the direction container and edit arithmetic."""

from __future__ import annotations

from .container import Directions
from .latent import GANLatent

__all__ = ["Directions", "GANLatent"]
