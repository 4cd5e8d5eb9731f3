"""The exceptions the pack raises, so callers (nodes, CLI, tests) catch one family of errors."""

from __future__ import annotations

import os


class GANLabError(Exception):
    """Base class for every error this pack raises on purpose."""


class CheckpointError(GANLabError):
    """A checkpoint file could not be read or understood; the message names the file and why."""

    def __init__(self, path: str | os.PathLike | None, reason: str):
        self.path = None if path is None else os.fspath(path)
        self.reason = reason
        name = os.path.basename(self.path) if self.path else "<checkpoint>"
        super().__init__(f"cannot load '{name}': {reason}")


class UnsafePickleError(CheckpointError):
    """A pickle asked for a global outside the allow-list; nothing of it was executed."""


class MismatchError(GANLabError):
    """Latents, directions or models that do not belong together (other model, other width)."""


class InputError(GANLabError, ValueError):
    """A user input (slot range, strength, seed, batch size) that is out of bounds or not a number."""
