"""The latent that travels between nodes: codes plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..errors import MismatchError


@dataclass
class GANLatent:
    """Codes ``[n, num_ws, dim]`` with their z, class vectors, seeds and the model fingerprint.

    ``ancestors`` are the fingerprints of the models the latent's model was fine-tuned from (parent
    first; empty for an original model), so a latent of a pivotal-tuned model still meets direction
    sets and latents made on its parent.  Kept on the CPU in float32 so latents are cheap to pass
    around, save and compare."""

    codes: torch.Tensor
    fingerprint: str
    z: torch.Tensor | None = None
    c: torch.Tensor | None = None
    seeds: list[int] = field(default_factory=list)
    truncation_psi: float = 1.0
    space: str = "w"
    ancestors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.codes = self.codes.detach().to("cpu", torch.float32)
        if self.codes.ndim != 3:
            raise MismatchError(f"latent codes must be [n, slots, dim], got {list(self.codes.shape)}")
        if self.z is not None:
            self.z = self.z.detach().to("cpu", torch.float32)
        if self.c is not None:
            self.c = self.c.detach().to("cpu", torch.float32)

    def __len__(self) -> int:
        return self.codes.shape[0]

    @property
    def num_ws(self) -> int:
        return self.codes.shape[1]

    @property
    def dim(self) -> int:
        return self.codes.shape[2]

    def with_codes(self, codes: torch.Tensor, **changes) -> "GANLatent":
        """A copy with new codes (same length keeps z, c and seeds; otherwise repeats them as needed)."""
        n = codes.shape[0]
        z, c, seeds = self.z, self.c, list(self.seeds)
        if n != len(self):
            z = None if z is None else _repeat_rows(z, n)
            c = None if c is None else _repeat_rows(c, n)
            seeds = [seeds[i % len(seeds)] for i in range(n)] if seeds else []
        return replace(self, codes=codes, z=z, c=c, seeds=seeds, **changes)

    def lineage(self) -> list[str]:
        """The latent's model fingerprint, then those of the models it was fine-tuned from."""
        return [self.fingerprint, *self.ancestors]

    def check_model(self, gen) -> None:
        """Refuse a latent made by another model, naming both.

        A model accepts latents of its own and of the models it was fine-tuned from (a pivotal-tuned
        copy decodes its parent's codes); a parent does not accept its tuned copy's latents."""
        if self.fingerprint not in _lineage(gen):
            tuned = f" (fine-tuned from {', '.join(gen.ancestors)})" if getattr(gen, "ancestors", None) else ""
            raise MismatchError(f"this latent was made by model {self.fingerprint}, not by the loaded "
                                f"{gen.arch} ({gen.fingerprint}){tuned}; draw a new latent from this model")
        if (self.num_ws, self.dim) != (gen.num_ws, gen.w_dim):
            raise MismatchError(f"latent codes are [{self.num_ws} slots, {self.dim} wide]; the model wants "
                                f"[{gen.num_ws}, {gen.w_dim}]")

    def bound_to(self, gen) -> "GANLatent":
        """The same codes tied to ``gen`` (its fingerprint and ancestors), after :meth:`check_model`."""
        self.check_model(gen)
        return replace(self, fingerprint=gen.fingerprint, ancestors=list(getattr(gen, "ancestors", [])))

    def class_vectors(self, gen) -> torch.Tensor | None:
        return None if self.c is None or gen.c_dim == 0 else self.c.to(gen.device)


def _lineage(gen) -> list[str]:
    lineage = getattr(gen, "lineage", None)
    return lineage() if callable(lineage) else [gen.fingerprint]


def common_model(latents) -> tuple[str, list[str]]:
    """The fingerprint and ancestors of the one model every latent belongs to: the most fine-tuned of
    their models, provided every other latent's model is that one or one of its ancestors."""
    latents = list(latents)
    j = max(range(len(latents)), key=lambda k: len(latents[k].ancestors))
    best = latents[j]
    lineage = best.lineage()
    for i, other in enumerate(latents):
        if other.fingerprint not in lineage:
            first, second = sorted((i, j))
            raise MismatchError(f"latent {second + 1} comes from model {latents[second].fingerprint}, latent "
                                f"{first + 1} from {latents[first].fingerprint}: latents of different models do not mix")
    return best.fingerprint, list(best.ancestors)


def _repeat_rows(t: torch.Tensor, n: int) -> torch.Tensor:
    idx = torch.arange(n) % t.shape[0]
    return t[idx]
