"""GAN Latent Lab: a ComfyUI node pack for exploring and editing the latent spaces of pretrained GANs."""

from __future__ import annotations

__version__ = "0.1.0"

# ComfyUI and pip import this file as a package.  pytest may import it bare (no parent package) while
# collecting a checkout whose folder name is not an identifier; then there is nothing to register.
if __package__:
    from .nodes import NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS
    from .nodes.bridge import register_folders

    register_folders()
    # web/template_order.js: lists this pack's example workflows in the template browser by file name
    WEB_DIRECTORY = "./web"
    __all__ = ["NODE_CLASS_MAPPINGS", "NODE_DISPLAY_NAME_MAPPINGS", "WEB_DIRECTORY", "__version__"]
