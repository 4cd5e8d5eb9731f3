"""The latent that travels between nodes: codes plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import torch

from ..errors import MismatchError


@dataclass
class GANLatent:
    """Codes ``[n, num_ws, dim]`` with their z, class vectors, seeds and the model fingerprint.

    Kept on the CPU in float32 so latents are cheap to pass around, save and compare."""

    codes: torch.Tensor
    fingerprint: str
    z: torch.Tensor | None = None
    c: torch.Tensor | None = None
    seeds: list[int] = field(default_factory=list)
    truncation_psi: float = 1.0
    space: str = "w"

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

    def check_model(self, gen) -> None:
        """Refuse a latent made by another model, naming both."""
        if self.fingerprint != gen.fingerprint:
            raise MismatchError(f"this latent was made by model {self.fingerprint}, not by the loaded "
                                f"{gen.arch} ({gen.fingerprint}); draw a new latent from this model")
        if (self.num_ws, self.dim) != (gen.num_ws, gen.w_dim):
            raise MismatchError(f"latent codes are [{self.num_ws} slots, {self.dim} wide]; the model wants "
                                f"[{gen.num_ws}, {gen.w_dim}]")

    def class_vectors(self, gen) -> torch.Tensor | None:
        return None if self.c is None or gen.c_dim == 0 else self.c.to(gen.device)


def _repeat_rows(t: torch.Tensor, n: int) -> torch.Tensor:
    idx = torch.arange(n) % t.shape[0]
    return t[idx]
