"""Train Voynov directions inside ComfyUI (progress, preview, interrupt, resume) and load finished runs."""

from __future__ import annotations

import os

import torch

from ..directions.deformators import KINDS as DEFORMATORS
from ..directions.reconstructors import KINDS as RECONSTRUCTORS
from ..directions.slots import parse_slots as shared_parse_slots
from ..directions.voynov import (DEFAULT_BATCH, DEFAULT_STEPS, check_settings, directions_from_official, load_voynov,
                                 train_voynov)
from ..errors import InputError
from . import bridge
from .bridge import autograd_ready
from .common import CATEGORY, DIRECTIONS, MODEL, SEED_MAX, finite, seed, whole
from .paths import output_path

SUBCATEGORY = f"{CATEGORY}/directions"
EXT = ".voynov"


def parse_slots(text: str, num_ws: int) -> list[int] | None:
    """``all`` (None: every slot), else the pack's slot grammar: ``3``, ``0-5`` (inclusive), ``0,2,4``,
    ``coarse`` / ``middle`` / ``fine``, the same as Apply Direction's slot widgets."""
    t = str(text).strip().lower()
    if t in ("", "all", "*"):
        return None
    return shared_parse_slots(t, num_ws)


def run_path(name: str) -> str:
    """The run file for a run name, inside models/gan_directions."""
    return output_path(bridge.folder("gan_directions"), name, EXT, overwrite=True)


def describe(stats: dict, k: int, name: str) -> str:
    acc, err = stats.get("accuracy"), stats.get("shift_error")
    text = f"Voynov directions: K={k}, {stats.get('steps')} steps"
    if stats.get("resumed_from"):
        text += f" (resumed at step {stats['resumed_from']})"
    if acc is not None:
        text += f"; held-out direction accuracy {acc:.1%} (chance {1 / k:.1%}); magnitude error {err:.2f} (|shift| 0.5..6)"
    if stats.get("steps_per_s"):
        text += f"; {stats['steps_per_s']:.2f} steps/s"
    return text + f"; run file {name}"


class VoynovTrain:
    DESCRIPTION = ("Discover interpretable directions without labels (Voynov & Babenko, ICML 2020): train a "
                   "deformator and a reconstructor through the frozen generator. Shows progress with a preview "
                   "grid, stops cleanly on interrupt (the run is saved first) and resumes when run again with "
                   "the same run name; a finished run is just loaded. CPU defaults: 2,000 steps at batch 8; "
                   "the paper used 100,000 steps at batch 32 on a GPU.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "summary")
    OUTPUT_TOOLTIPS = ("K unit directions in the model's code space (z or w), for the edit nodes.",
                       "Held-out direction accuracy, magnitude error, steps and speed.")
    FUNCTION = "train"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator to find directions for (it stays frozen)."}),
            "directions": ("INT", {"default": 16, "min": 1, "max": 1024,
                                   "tooltip": "How many directions K to discover (at most the code width)."}),
            "steps": ("INT", {"default": DEFAULT_STEPS, "min": 1, "max": 1_000_000,
                              "tooltip": "Training steps in total (a resumed run continues up to this). "
                                         "2,000 suits a CPU; the paper used 100,000 on a GPU."}),
            "batch_size": ("INT", {"default": DEFAULT_BATCH, "min": 2, "max": 256,
                                   "tooltip": "Samples per step (8 on a CPU, 32 as in the paper on a GPU)."}),
            "learning_rate": ("FLOAT", {"default": 1e-4, "min": 1e-6, "max": 0.1, "step": 1e-5, "round": False,
                                        "tooltip": "Adam learning rate for both networks (paper: 1e-4)."}),
            "deformator": (list(DEFORMATORS), {"default": "ortho", "tooltip":
                           "ortho: orthonormal directions (matrix exponential); linear: free matrix; proj: unit "
                           "columns; random / identity: untrained baselines."}),
            "slots": ("STRING", {"default": "all", "tooltip":
                      "Style models: which w+ slots the shift goes into ('all', '0-5' inclusive, '0,2', 'coarse'). "
                      "z-coded models have their z in every slot."}),
            "seed": ("INT", {"default": 0, "min": 0, "max": SEED_MAX,
                             "tooltip": "Seeds every random number of the run; same seed, same directions."}),
            "run_name": ("STRING", {"default": "voynov_run", "tooltip":
                         "File name in models/gan_directions (.voynov added). The same name resumes the run."}),
            "checkpoint_every": ("INT", {"default": 250, "min": 1, "max": 100_000,
                                         "tooltip": "Save the run every N steps (it is also saved on interrupt)."}),
        }, "optional": {
            "reconstructor": (list(RECONSTRUCTORS), {"default": "auto", "tooltip":
                              "auto: LeNet for images up to 64 px, ResNet-18 above."}),
            "preview_every": ("INT", {"default": 200, "min": 0, "max": 100_000,
                                      "tooltip": "Show a preview grid of the current directions every N steps (0 = never)."}),
        }}

    def train(self, model, directions, steps, batch_size, learning_rate, deformator, slots, seed, run_name,
              checkpoint_every, reconstructor="auto", preview_every=200):
        dirs, stats = train_voynov_node(model, directions, steps, batch_size, learning_rate, deformator, slots, seed,
                                        run_name, checkpoint_every, reconstructor, preview_every)
        return (dirs, describe(stats, len(dirs), os.path.basename(run_path(run_name))))


def train_voynov_node(model, k, steps, batch, lr, deformator, slots, seed_value, run_name, checkpoint_every,
                      reconstructor="auto", preview_every=200):
    """Validate widget values, then train (or resume / load) with progress, preview and interrupt."""
    lr = finite("learning rate", lr)
    if deformator not in DEFORMATORS:
        raise InputError(f"deformator must be one of {', '.join(DEFORMATORS)}, not {deformator!r}")
    path = run_path(run_name)
    slot_list = parse_slots(slots, model.num_ws)
    seed_value = seed(seed_value)
    k, steps, batch = whole("directions", k), whole("steps", steps), whole("batch size", batch)
    checkpoint_every, preview_every = whole("checkpoint every", checkpoint_every), whole("preview every", preview_every)
    if int(steps) < 1:
        raise InputError(f"steps ({steps}) must be at least 1")
    # every setting is checked before the model is moved or copied: a bad K, batch or seed costs nothing
    check_settings(model, int(k), int(steps), int(batch), lr, deformator, slot_list, seed_value, reconstructor,
                   int(checkpoint_every))
    bridge.load_to_device(model)
    bar = bridge.Progress(int(steps))
    every = max(int(preview_every), 0)

    def on_step(step: int, total: int, info: dict) -> None:
        preview = info["preview"]() if every and (step % every == 0 or step == total) else None
        bar.set(step, preview)
        bridge.check_interrupt()

    # ComfyUI runs every node under torch.inference_mode(): training needs autograd back, and tensors the
    # model was loaded or moved with there cannot enter autograd, so it trains on a normal copy then.
    with torch.inference_mode(False), torch.enable_grad():
        gen = autograd_ready(model)
        return train_voynov(gen, int(k), steps=int(steps), batch_size=int(batch), lr=lr, deformator=deformator,
                            slots=slot_list, seed=seed_value, checkpoint=path,
                            checkpoint_every=int(checkpoint_every), reconstructor=reconstructor, progress=on_step)


def run_choices() -> list[str]:
    names = [n for n in bridge.list_files("gan_directions") if n.lower().endswith(EXT)]
    return names or ["(no .voynov runs in models/gan_directions)"]


class VoynovLoad:
    DESCRIPTION = "Load the directions of a Voynov training run (.voynov file in models/gan_directions)."
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "summary")
    OUTPUT_TOOLTIPS = ("The run's unit directions (checked against the model when used).",
                       "Steps trained, whether the run finished, held-out accuracy and magnitude error.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"run": (run_choices(), {"tooltip": "A .voynov run file written by Voynov Directions (train)."})}}

    def load(self, run):
        path = bridge.full_path("gan_directions", run)
        if path is None or not path.lower().endswith(EXT):
            raise InputError(f"no Voynov run {run!r} in models/gan_directions")
        dirs, summary = load_voynov(path)
        if summary["done"] and summary["stats"]:
            text = describe(summary["stats"], len(dirs), run)
        else:
            text = (f"Voynov directions: K={len(dirs)}, unfinished run at step {summary['step']} of "
                    f"{summary['target']} (run the training node with the same run name to continue); run file {run}")
        return (dirs, text)


class VoynovImportOfficial:
    DESCRIPTION = ("Import a deformator saved by the official GANLatentDiscovery code (a state dict with "
                   "'log_mat_half', 'ortho_mat' or 'linear.weight'), for the model it was trained on.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (DIRECTIONS, "STRING")
    RETURN_NAMES = ("directions", "summary")
    OUTPUT_TOOLTIPS = ("The deformator's columns as unit directions.", "What was imported.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        files = [n for n in bridge.list_files("gan_directions") if n.lower().endswith((".pt", ".pth"))]
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator the deformator was trained for (its code width must match)."}),
            "file": (files or ["(put deformator .pt files into models/gan_directions)"],
                     {"tooltip": "The official deformator state dict (.pt)."}),
            "slots": ("STRING", {"default": "all", "tooltip": "Slots the directions apply to ('all', '0-5', ...)."}),
        }}

    def load(self, model, file, slots):
        path = bridge.full_path("gan_directions", file)
        if path is None:
            raise InputError(f"no file {file!r} in models/gan_directions")
        dirs = directions_from_official(path, model, slots=parse_slots(slots, model.num_ws))
        return (dirs, f"imported {len(dirs)} {dirs.meta['deformator']} directions from {file} (no model fingerprint "
                      f"in official files: only the width {dirs.dim} is checked)")


NODES = {
    "GANLabVoynovTrain": (VoynovTrain, "Voynov Directions (train)"),
    "GANLabVoynovLoad": (VoynovLoad, "Load Voynov Directions"),
    "GANLabVoynovImportOfficial": (VoynovImportOfficial, "Import Official Voynov Deformator"),
}
