"""Direction discovery (SeFa, GANSpace, Voynov), the direction container and edit arithmetic."""

from __future__ import annotations

from .container import Directions
from .latent import GANLatent
from .voynov import directions_from_official, load_voynov, train_voynov

__all__ = ["Directions", "GANLatent", "train_voynov", "load_voynov", "directions_from_official"]
