"""One-pass inversion: images -> a GANLatent of one generator, through an e4e / pSp encoder.

An encoder is trained against one StyleGAN2 (the decoder stored in its file) and writes w+ codes for
it.  The latent it produces is bound to the generator it is for: the generator must have as many
slots and the same code width, and be the encoder's own decoder (same fingerprint).  The same
weights loaded another way (NVIDIA's pickle of the FFHQ model instead of the rosinality copy in the
encoder file) have another fingerprint; ``retarget=True`` says "use it anyway" for a generator whose
shapes fit.  An encoder file without a decoder names no generator, so it always needs ``retarget``.
"""

from __future__ import annotations

from typing import Callable

import torch

from ..errors import InputError, MismatchError
from .latent import GANLatent

ENCODE_CHUNK = 8


def check_target(encoder, model, retarget: bool = False) -> str:
    """Refuse a generator the encoder's codes do not fit; a one-line note on what was accepted."""
    if getattr(model, "code_space", "w") != "w":
        raise MismatchError(f"the encoder writes w+ codes, but {model.arch} takes {model.code_space} codes")
    if (model.num_ws, model.w_dim) != (encoder.n_styles, encoder.w_dim):
        raise MismatchError(f"the encoder writes {encoder.n_styles} codes of {encoder.w_dim} but {model.arch} "
                            f"({model.fingerprint}) takes {model.num_ws} of {model.w_dim}: it is for another "
                            "generator")
    own = encoder.decoder_fingerprint
    if own and own == model.fingerprint:
        return f"codes for the encoder's own decoder ({own})"
    if not retarget:
        if not own:
            raise MismatchError(f"{encoder.source or 'this encoder'} holds no decoder, so nothing says which generator "
                                f"its codes are for; if {model.arch} ({model.fingerprint}) is the one it was trained "
                                "with, turn on retarget")
        raise MismatchError(f"the encoder was trained with the generator {own}, not with the given {model.arch} "
                            f"({model.fingerprint}); if that is the same network loaded from another file (e.g. "
                            "NVIDIA's pickle), turn on retarget")
    return (f"codes retargeted to {model.arch} {model.fingerprint} (the encoder's decoder is "
            f"{own or 'not in its file'})")


def encode_images(encoder, model, images: torch.Tensor, retarget: bool = False, chunk: int = ENCODE_CHUNK,
                  on_chunk: Callable[[int], None] | None = None) -> tuple[GANLatent, str]:
    """Encode ``[n, 3, H, W]`` images in [-1, 1] into a latent of ``model`` (space w), ``chunk`` at a time.

    ``on_chunk(done)`` is called after each chunk (progress, interrupt).  Refused before any work
    when the generator does not fit (see :func:`check_target`)."""
    note = check_target(encoder, model, retarget)
    if not isinstance(images, torch.Tensor) or images.ndim != 4 or images.shape[0] == 0:
        raise InputError(f"images must be a non-empty batch [n, 3, H, W], got "
                         f"{list(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__}")
    if images.shape[1] != 3 or not images.is_floating_point() or not torch.isfinite(images).all():
        raise InputError(f"images must be finite RGB [n, 3, H, W] in [-1, 1], got {list(images.shape)} {images.dtype}")
    encoder.check_images(images)  # the encoder's own limits (image sides), for every chunk before the first
    chunk = max(1, int(chunk))
    parts = []
    with torch.no_grad():
        for start in range(0, images.shape[0], chunk):
            parts.append(encoder.encode(images[start:start + chunk]).to("cpu", torch.float32))
            if on_chunk is not None:
                on_chunk(min(start + chunk, images.shape[0]))
    codes = torch.cat(parts)
    latent = GANLatent(codes=codes, fingerprint=model.fingerprint, space="w")
    return latent, f"{codes.shape[0]} images -> [{codes.shape[1]} x {codes.shape[2]}] w+ codes; {note}"


__all__ = ["encode_images", "check_target"]
