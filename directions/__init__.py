"""Direction discovery (SeFa, GANSpace, Voynov), the direction container, edit arithmetic, and FFHQ face alignment."""

from __future__ import annotations

from .align import align_face, align_from_landmarks, find_landmarks
from .compare import compare_directions
from .container import Directions
from .e4e_io import import_e4e
from .edit import apply_direction, concat, grid_codes, interpolate, style_mix, sweep
from .ganspace import ganspace
from .ganspace_io import load_ganspace_npz, save_ganspace_npz
from .invert import invert
from .io import (import_dfl, import_ganspace, import_interfacegan, load_directions, load_for_model, load_latent,
                 save_directions, save_latent)
from .latent import GANLatent
from .pivotal import pivotal_tune
from .sefa import sefa
from .slots import parse_slots
from .voynov import directions_from_official, load_voynov, train_voynov

__all__ = ["Directions", "GANLatent", "sefa", "parse_slots", "apply_direction", "concat", "sweep", "grid_codes", "interpolate",
           "style_mix", "load_directions", "load_for_model", "save_directions", "import_interfacegan",
           "import_ganspace", "import_dfl", "import_e4e", "save_latent", "load_latent",
           "ganspace", "compare_directions", "save_ganspace_npz", "load_ganspace_npz",
           "train_voynov", "load_voynov", "directions_from_official", "pivotal_tune",
           "align_face", "align_from_landmarks", "find_landmarks", "invert"]
