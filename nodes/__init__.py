"""Thin ComfyUI node classes.  Each module exports ``NODES = {id: (class, display name)}``."""

from __future__ import annotations

import importlib

NODE_MODULES = ("model_nodes", "direction_nodes", "edit_nodes", "ganspace_nodes", "voynov_nodes", "latent_nodes",
                "invert_nodes")


def collect() -> tuple[dict, dict]:
    classes, names = {}, {}
    for mod_name in NODE_MODULES:
        try:
            mod = importlib.import_module(f".{mod_name}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{mod_name}":
                continue
            raise
        for node_id, (cls, display) in mod.NODES.items():
            classes[node_id] = cls
            names[node_id] = display
    return classes, names


NODE_CLASS_MAPPINGS, NODE_DISPLAY_NAME_MAPPINGS = collect()
