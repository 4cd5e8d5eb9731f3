"""One generator of every family the pack loads, each written in the layout its users have and loaded
through the public loader: the real DCGANs from PyPI, and the small oracles of the other families."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from gan_latent_lab.loaders import load_gan

from helpers import EYE_SIDECAR, eye_dcgan_path, face_dcgan_path
from model_files import biggan_repaired, oracle, write_biggan_folder

FAMILIES = ("dcgan-face", "dcgan-eye", "stylegan2", "stylegan2-cond", "stylegan3-t", "stylegan3-r",
            "genforce-stylegan", "genforce-stylegan2", "genforce-pggan", "biggan-deep", "pggan-zoo")
"""Small enough to run a few optimiser steps on each in a test."""

_NVLABS = {"stylegan2": "stylegan2_uncond32", "stylegan2-cond": "stylegan2_cond16",
           "stylegan3-t": "stylegan3t_uncond16", "stylegan3-r": "stylegan3r_uncond16"}
_GENFORCE = {"genforce-stylegan": "stylegan1_genforce16", "genforce-stylegan2": "stylegan2_genforce16",
             "genforce-pggan": "pggan_genforce16"}


def build_family(name: str, folder: Path):
    """The family's generator, loaded from a file written into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    if name == "dcgan-face":
        return load_gan(face_dcgan_path())
    if name == "dcgan-eye":
        return load_gan(eye_dcgan_path(), sidecar=EYE_SIDECAR)
    if name in _NVLABS:
        sd, _, meta = oracle(_NVLABS[name])
        path = folder / f"{name}.safetensors"
        save_file({k: v.contiguous() for k, v in sd.items()}, str(path))
        return load_gan(path, sidecar={"init_kwargs": meta["init_kwargs"]})
    if name in _GENFORCE:
        sd, _, _ = oracle(_GENFORCE[name])
        path = folder / f"{name}.pth"
        torch.save({"generator_smooth": sd}, path)
        return load_gan(path)
    if name == "biggan-deep":
        config, state, _ = biggan_repaired()
        return load_gan(write_biggan_folder(folder / "biggan", state, config))
    if name == "pggan-zoo":
        from test_pggan_zoo import save_zoo, zoo_weights

        sd, _, _ = oracle("pggan_genforce16")
        path = folder / "zoo.pth"
        save_zoo(path, zoo_weights(sd))
        return load_gan(path)
    raise KeyError(name)


def family_meta(name: str) -> dict:
    """The oracle's description (empty for the DCGANs)."""
    src = {**_NVLABS, **_GENFORCE}.get(name)
    return json.loads((Path(__file__).resolve().parent / "data" / "oracles" / f"{src}.json").read_text()) if src else {}
