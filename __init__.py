"""GAN Latent Lab: a ComfyUI node pack for exploring and editing the latent spaces of pretrained GANs."""

from __future__ import annotations

from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
from .nodes.bridge import register_folders

register_folders()

__version__ = "0.1.0"
__all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "__version__"]
