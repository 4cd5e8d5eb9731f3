"""Edit latents along directions: apply one, sweep one, or draw a grid of many."""

from __future__ import annotations

import torch

from ..directions.edit import apply_direction, direction_index, grid_codes, sweep, sweep_strengths
from ..directions.grid import direction_label, image_grid, strength_label
from ..errors import InputError
from .common import CATEGORY, DIRECTIONS, LATENT, MAX_IMAGES, MODEL, check_latent, finite
from .model_nodes import decode_latent

SUBCATEGORY = f"{CATEGORY}/edit"


def _slot_inputs(default_end: int = -1) -> dict:
    return {
        "slot_start": ("INT", {"default": 0, "min": 0, "max": 64, "tooltip": "First slot to edit (0 = coarsest)."}),
        "slot_end": ("INT", {"default": default_end, "min": -1, "max": 64,
                             "tooltip": "Last slot to edit, inclusive; -1 = the last slot."}),
    }


class ApplyDirection:
    DESCRIPTION = ("Move latent codes along one direction on a range of slots: codes[:, start..end] += strength * d. "
                   "Chain several to stack edits.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("The edited codes (same seeds, z and class).",)
    FUNCTION = "apply"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator of the latent and the directions."}),
            "latent": (LATENT, {"tooltip": "Codes to edit."}),
            "directions": (DIRECTIONS, {"tooltip": "The direction set."}),
            "index": ("INT", {"default": 0, "min": 0, "max": 4095, "tooltip": "Which direction (0 = strongest)."}),
            "strength": ("FLOAT", {"default": 3.0, "min": -100.0, "max": 100.0, "step": 0.1,
                                   "tooltip": "How far to move, in code units (or in standard deviations, see below)."}),
            **_slot_inputs(),
            "strength_in_sigma": ("BOOLEAN", {"default": False, "tooltip":
                                              "Multiply the strength by the direction's standard deviation "
                                              "(GANSpace sets only)."}),
        }}

    def apply(self, model, latent, directions, index, strength, slot_start, slot_end, strength_in_sigma):
        strength = finite("strength", strength)
        return (apply_direction(latent, directions, index, strength, slot_start, slot_end, model=model,
                                in_sigma=bool(strength_in_sigma)),)


class DirectionSweep:
    DESCRIPTION = "A batch of latents moved from -amplitude to +amplitude along one direction (for animations and strips)."
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT,)
    RETURN_NAMES = ("latent",)
    OUTPUT_TOOLTIPS = ("steps latents per input code, code-major.",)
    FUNCTION = "sweep"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator of the latent and the directions."}),
            "latent": (LATENT, {"tooltip": "Codes to sweep (each gives steps latents)."}),
            "directions": (DIRECTIONS, {"tooltip": "The direction set."}),
            "index": ("INT", {"default": 0, "min": 0, "max": 4095, "tooltip": "Which direction (0 = strongest)."}),
            "amplitude": ("FLOAT", {"default": 5.0, "min": 0.0, "max": 100.0, "step": 0.1,
                                    "tooltip": "Largest strength; the sweep runs from -amplitude to +amplitude."}),
            "steps": ("INT", {"default": 9, "min": 2, "max": 256, "tooltip": "Latents per code."}),
            **_slot_inputs(),
            "strength_in_sigma": ("BOOLEAN", {"default": False, "tooltip": "Amplitude in standard deviations (GANSpace)."}),
        }}

    def sweep(self, model, latent, directions, index, amplitude, steps, slot_start, slot_end, strength_in_sigma):
        amplitude = finite("amplitude", amplitude)
        if len(latent) * int(steps) > MAX_IMAGES:
            raise InputError(f"{len(latent)} codes x {steps} steps is more than {MAX_IMAGES} latents")
        slots = _range_spec(slot_start, slot_end, latent.num_ws)
        return (sweep(latent, directions, index, amplitude, steps, slots, model=model, in_sigma=bool(strength_in_sigma)),)


def _range_spec(slot_start, slot_end, num_ws) -> list[int]:
    from ..directions.slots import slot_range

    return slot_range(slot_start, slot_end, num_ws)


class DirectionGrid:
    DESCRIPTION = ("One labelled image: rows are directions (index and eigenvalue or standard deviation), columns "
                   "strengths from -max to +max, all from the first latent, as in the SeFa paper's figures.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = ("IMAGE",)
    RETURN_NAMES = ("grid",)
    OUTPUT_TOOLTIPS = ("The labelled grid as one image.",)
    FUNCTION = "grid"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "model": (MODEL, {"tooltip": "The generator that decodes the grid."}),
            "latent": (LATENT, {"tooltip": "Its first code is the centre of every row."}),
            "directions": (DIRECTIONS, {"tooltip": "The direction set."}),
            "first_index": ("INT", {"default": 0, "min": 0, "max": 4095, "tooltip": "First direction (row 0)."}),
            "count": ("INT", {"default": 5, "min": 1, "max": 64, "tooltip": "How many directions (rows)."}),
            "max_strength": ("FLOAT", {"default": 5.0, "min": 0.0, "max": 100.0, "step": 0.1,
                                       "tooltip": "Columns run from -max to +max."}),
            "steps": ("INT", {"default": 5, "min": 2, "max": 32, "tooltip": "Columns per row."}),
            **_slot_inputs(),
            "strength_in_sigma": ("BOOLEAN", {"default": False, "tooltip": "Strengths in standard deviations (GANSpace)."}),
        }}

    def grid(self, model, latent, directions, first_index, count, max_strength, steps, slot_start, slot_end,
             strength_in_sigma):
        max_strength = finite("max_strength", max_strength)
        check_latent(model, latent)
        first = direction_index(directions, first_index)
        indices = list(range(first, min(first + int(count), len(directions))))
        if len(indices) * int(steps) > MAX_IMAGES:
            raise InputError(f"{len(indices)} rows x {steps} columns is more than {MAX_IMAGES} images")
        slots = _range_spec(slot_start, slot_end, latent.num_ws)
        codes = grid_codes(latent, directions, indices, max_strength, steps, slots, model=model,
                           in_sigma=bool(strength_in_sigma))
        images = decode_latent(model, codes)  # chunked, with progress and interrupt
        unit = " sd" if strength_in_sigma else ""
        cols = [strength_label(float(t)) + unit for t in sweep_strengths(max_strength, steps)]
        rows = [direction_label(directions, i) for i in indices]
        return (image_grid(images, len(indices), int(steps), rows, cols).to(images.device, torch.float32),)


NODES = {
    "GANLabApplyDirection": (ApplyDirection, "Apply Direction"),
    "GANLabDirectionSweep": (DirectionSweep, "Direction Sweep"),
    "GANLabDirectionGrid": (DirectionGrid, "Direction Grid"),
}
