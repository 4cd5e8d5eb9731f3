"""The generator contract: the one face every architecture family presents to methods and nodes.

A family subclasses :class:`GANGenerator`, sets the facts in ``__init__`` and implements
``_mapping`` / ``_synthesis`` (and the SeFa / GANSpace hooks).  The public ``mapping`` and
``synthesis`` wrappers validate shapes once here, so families stay short.
"""

from __future__ import annotations

import contextlib
import copy as _copy
import hashlib
from typing import Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch

from ..errors import InputError

SEED_MAX = 2**32 - 1


def fingerprint_state(state: dict[str, torch.Tensor]) -> str:
    """A short stable hash of a state dict's names, shapes and values (same weights, same print)."""
    h = hashlib.sha256()
    for key in sorted(state):
        t = state[key]
        if not isinstance(t, torch.Tensor):
            continue
        t = t.detach().to("cpu").contiguous()
        h.update(key.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(str(t.dtype).encode())
        if t.numel():
            h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:16]


def check_seeds(seeds: Iterable[int]) -> list[int]:
    """Seeds as Python ints in the unsigned 32-bit range NVlabs tools accept."""
    out = []
    for s in seeds:
        if isinstance(s, (bool, float)) or not isinstance(s, (int, np.integer)):
            raise InputError(f"seed {s!r} is not an integer")
        if not 0 <= int(s) <= SEED_MAX:
            raise InputError(f"seed {s} is outside 0..{SEED_MAX} (the 32-bit range numpy seeds accept)")
        out.append(int(s))
    return out


class GANGenerator(torch.nn.Module):
    """Base of every loaded generator.

    Facts (set by subclasses): ``arch``, ``z_dim``, ``c_dim``, ``w_dim`` (code width), ``num_ws``
    (injection slots), ``resolution``, ``code_space`` ("w" for style GANs, "z" otherwise),
    ``config`` (JSON-able constructor settings, enough to rebuild from ``state_dict()``),
    ``class_names`` (optional list for conditional models), ``ancestors`` (fingerprints of the models
    this one was fine-tuned from, parent first; empty for a model read from its original file), ``z_bound`` (z models whose prior is
    truncated: every entry of z lies in ``[-z_bound, z_bound]``; None for an untruncated normal).
    """

    arch: str = "unknown"
    code_space: str = "w"
    # Whether the synthesis network itself reads the class vector.  Style GANs read the class only in
    # the mapping (it is folded into w), so their synthesis ignores ``c``; BigGAN (class embedding in every
    # block) and conditional DCGAN / PGGAN (a one-hot concatenated to z) need it there too.  True is the
    # safe default for a new family: it asks for the class rather than silently dropping it.
    synthesis_reads_class: bool = True
    mapping_prefixes: tuple[str, ...] = ("mapping.",)
    """Parameter-name prefixes of the mapping network (z -> codes); every other parameter is synthesis."""
    z_bound: float | None = None

    def __init__(self) -> None:
        super().__init__()
        self.z_dim = 0
        self.c_dim = 0
        self.w_dim = 0
        self.num_ws = 1
        self.resolution = 0
        self.img_channels = 3
        self.config: dict = {}
        self.class_names: list[str] | None = None
        self.source: str = ""
        self.ancestors: list[str] = []
        self._fingerprint: str | None = None

    # ----- facts -------------------------------------------------------------------------
    @property
    def fingerprint(self) -> str:
        if self._fingerprint is None:
            self._fingerprint = fingerprint_state(self.state_dict())
        return self._fingerprint

    @property
    def parent_fingerprint(self) -> str:
        """The fingerprint of the model this one was fine-tuned from ("" for an original)."""
        return self.ancestors[0] if self.ancestors else ""

    def lineage(self) -> list[str]:
        """This model's fingerprint, then its ancestors' (parent first): whatever was made on any of them
        (latents, direction sets) applies to this model."""
        return [self.fingerprint, *self.ancestors]

    def forget_fingerprint(self) -> None:
        """Drop the cached fingerprint after the weights changed, so it is recomputed from them."""
        self._fingerprint = None

    @property
    def info(self) -> dict:
        return {
            "arch": self.arch,
            "z_dim": self.z_dim,
            "c_dim": self.c_dim,
            "w_dim": self.w_dim,
            "num_ws": self.num_ws,
            "resolution": self.resolution,
            "code_space": self.code_space,
            "fingerprint": self.fingerprint,
        }

    @property
    def device(self) -> torch.device:
        for p in self.parameters():
            return p.device
        for b in self.buffers():
            return b.device
        return torch.device("cpu")

    def slot_names(self) -> list[str]:
        """What each injection slot feeds, for summaries (coarse to fine)."""
        return [f"slot {i}" for i in range(self.num_ws)]

    def summary(self) -> str:
        i = self.info
        lines = [
            f"{self.arch}  {i['resolution']}x{i['resolution']}  z {i['z_dim']}  code {self.code_space} {i['w_dim']}"
            f"  slots {i['num_ws']}  classes {i['c_dim']}  fingerprint {i['fingerprint']}",
        ]
        if self.source:
            lines.append(f"file: {self.source}")
        if self.ancestors:
            lines.append("fine-tuned from " + " <- ".join(self.ancestors))
        lines.append("slots: " + "; ".join(f"{k}={n}" for k, n in enumerate(self.slot_names())))
        layers = self.activation_layers()
        if layers:
            lines.append("layers (GANSpace activation mode): " + ", ".join(layers))
        return "\n".join(lines)

    def synthesis_parameters(self) -> Iterator[tuple[str, torch.nn.Parameter]]:
        """Named parameters of the synthesis network (everything but the mapping network): what
        fine-tuning the image side of the generator changes."""
        for name, p in self.named_parameters():
            if not name.startswith(self.mapping_prefixes):
                yield name, p

    def copy(self) -> "GANGenerator":
        """A deep copy with its own weights and facts.

        Objects a host application attached to the generator (anything in ``__dict__`` that is neither
        module state nor a plain fact, such as ComfyUI's model patcher) belong to the original: the
        copy leaves them out instead of duplicating them.  Called outside inference mode, the copy's
        tensors are ordinary ones that autograd accepts."""
        plain = (str, int, float, bool, type(None), list, dict, tuple, set, torch.Tensor, torch.device, torch.dtype,
                 torch.nn.Module)
        attached = [k for k, v in self.__dict__.items() if not isinstance(v, plain)]
        memo = {id(self.__dict__[k]): None for k in attached}
        out = _copy.deepcopy(self, memo)
        for k in attached:
            out.__dict__.pop(k, None)
        return out

    # ----- latents -----------------------------------------------------------------------
    def sample_z(self, seeds: Sequence[int]) -> torch.Tensor:
        """z from integer seeds the NVlabs way: ``np.random.RandomState(seed).randn(z_dim)``."""
        seeds = check_seeds(seeds)
        z = np.stack([np.random.RandomState(s).randn(self.z_dim) for s in seeds]) if seeds else np.zeros((0, self.z_dim))
        return torch.from_numpy(z).to(torch.float32).to(self.device)

    def make_c(self, classes, n: int) -> torch.Tensor | None:
        """Class vectors ``[n, c_dim]`` from an index, a list of indices, a {index: weight} mix or names.

        Unconditional models return None (and ignore ``classes``)."""
        if self.c_dim == 0:
            return None
        from .classes import class_vector

        return class_vector(classes, self.c_dim, n, self.class_names).to(self.device)

    def _check_c(self, c: torch.Tensor | None, n: int) -> torch.Tensor | None:
        if self.c_dim == 0:
            return None
        if c is None:
            raise InputError(f"{self.arch} is conditional on {self.c_dim} classes: give a class vector")
        c = torch.as_tensor(c, dtype=torch.float32, device=self.device)
        if c.ndim == 1:
            c = c.unsqueeze(0)
        if c.shape[-1] != self.c_dim:
            raise InputError(f"class vector has {c.shape[-1]} entries, the model has {self.c_dim} classes")
        if c.shape[0] == 1 and n != 1:
            c = c.expand(n, -1)
        if c.shape[0] != n:
            raise InputError(f"{c.shape[0]} class vectors for {n} latents")
        return c

    def mapping(self, z: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                truncation_cutoff: int | None = None) -> torch.Tensor:
        """z ``[n, z_dim]`` -> codes ``[n, num_ws, w_dim]``, the editable representation."""
        z = torch.as_tensor(z, dtype=torch.float32, device=self.device)
        if z.ndim != 2 or z.shape[1] != self.z_dim:
            raise InputError(f"z must be [n, {self.z_dim}], got {list(z.shape)}")
        c = self._check_c(c, z.shape[0])
        codes = self._mapping(z, c, float(truncation_psi), truncation_cutoff)
        assert codes.shape[1:] == (self.num_ws, self.w_dim), codes.shape
        return codes

    def synthesis(self, codes: torch.Tensor, c: torch.Tensor | None = None, truncation_psi: float = 1.0,
                  noise_mode: str = "const") -> torch.Tensor:
        """codes ``[n, num_ws, w_dim]`` -> images ``[n, C, H, W]`` in about [-1, 1] (not clamped).

        ``c`` is required (and checked) only for families whose synthesis reads the class
        (``synthesis_reads_class``); the others ignore it, since the class is already in the codes."""
        codes = torch.as_tensor(codes, dtype=torch.float32, device=self.device)
        if codes.ndim != 3 or tuple(codes.shape[1:]) != (self.num_ws, self.w_dim):
            raise InputError(f"codes must be [n, {self.num_ws}, {self.w_dim}], got {list(codes.shape)}")
        if noise_mode not in ("const", "random", "none"):
            raise InputError(f"noise_mode must be const, random or none, not {noise_mode!r}")
        c = self._check_c(c, codes.shape[0]) if self.synthesis_reads_class else None
        return self._synthesis(codes, c, float(truncation_psi), noise_mode)

    # ----- family hooks ------------------------------------------------------------------
    def _mapping(self, z, c, truncation_psi, truncation_cutoff):  # pragma: no cover - abstract
        raise NotImplementedError

    def _synthesis(self, codes, c, truncation_psi, noise_mode):  # pragma: no cover - abstract
        raise NotImplementedError

    def sefa_weights(self, slots: Sequence[int]) -> list[torch.Tensor]:
        """The weight matrices ``[out, w_dim]`` that read the given slots (what SeFa factorizes)."""
        raise NotImplementedError(f"{self.arch} does not expose SeFa weights")

    def activation_layers(self) -> list[str]:
        """Names of layers whose activations GANSpace can hook (first is the default)."""
        return []

    def activation_module(self, name: str) -> torch.nn.Module:
        """The module whose forward output is the named layer's activation."""
        raise InputError(f"{self.arch} has no layer {name!r}; layers: {', '.join(self.activation_layers()) or 'none'}")

    def z_to_codes(self, z: torch.Tensor) -> torch.Tensor:
        """Codes for z with no truncation: what gradients flow through when training in z."""
        return self.mapping(z)

    # ----- per-pixel noise inputs (style GANs) ---------------------------------------------
    def noise_buffers(self) -> list[str]:
        """Names (state-dict keys) of the stored per-pixel noise maps that ``synthesis`` adds with
        ``noise_mode="const"``, coarse to fine; empty for families without noise inputs.

        Each map is one square ``r x r`` image per layer, stored as ``[r, r]`` or ``[1, 1, r, r]``.
        Projection optimises a map per image through :meth:`noise_maps`."""
        return []

    def _buffer_owner(self, name: str) -> tuple[torch.nn.Module, str]:
        """The module holding a buffer and the buffer's own name (walks ``_modules`` by name: the
        contract's ``mapping`` / ``synthesis`` methods hide submodules of the same names)."""
        *path, leaf = name.split(".")
        module: torch.nn.Module = self
        for part in path:
            module = module._modules[part]
        return module, leaf

    def noise_buffer(self, name: str) -> torch.Tensor:
        """A stored noise map as ``[1, 1, r, r]`` (a view of the buffer)."""
        module, leaf = self._buffer_owner(name)
        t = module._buffers[leaf]
        return t.view(1, 1, *t.shape[-2:])

    @contextlib.contextmanager
    def noise_maps(self, maps: Mapping[str, torch.Tensor]) -> Iterator[None]:
        """While the context lasts, ``synthesis(..., noise_mode="const")`` reads the given maps in place of
        the stored ones: ``{name: [n, 1, r, r]}`` (one map per image of the batch, or ``[1, 1, r, r]`` for
        all), for any subset of :meth:`noise_buffers`.  The maps may require grad (they are used as given,
        not copied), which is how projection optimises them.  The stored buffers are put back on exit,
        also when the body raises; the fingerprint is computed before the swap."""
        known = set(self.noise_buffers())
        swaps = []
        for name, t in maps.items():
            if name not in known:
                raise InputError(f"{name!r} is not a noise input of this {self.arch}; it has "
                                 f"{', '.join(sorted(known)) or 'none'}")
            r = int(self.noise_buffer(name).shape[-1])
            if t.ndim != 4 or tuple(t.shape[1:]) != (1, r, r):
                raise InputError(f"noise map {name} must be [n, 1, {r}, {r}], got {list(t.shape)}")
            swaps.append((*self._buffer_owner(name), t))
        _ = self.fingerprint  # of the stored weights, never of the maps swapped in
        saved = []
        try:
            for module, leaf, t in swaps:
                saved.append((module, leaf, module._buffers[leaf]))
                module._buffers[leaf] = t
            yield
        finally:
            for module, leaf, old in reversed(saved):
                module._buffers[leaf] = old
