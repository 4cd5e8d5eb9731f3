"""Load an e4e / pSp image encoder and encode photos into latents of its StyleGAN2."""

from __future__ import annotations

import os

from ..directions.encode import ENCODE_CHUNK, check_target, encode_images
from ..errors import InputError
from ..loaders.base import GANGenerator
from ..loaders.encoders import MAX_SIDE, ImageEncoder, load_encoder
from . import bridge
from .common import CATEGORY, ENCODER, LATENT, MAX_IMAGES, MODEL, FileCache, from_image
from .common import check_image as common_check_image

SUBCATEGORY = f"{CATEGORY}/photo"
NO_DECODER = ("{name} holds only an encoder, no StyleGAN2: connect a GAN model from Load GAN Model instead of "
              "Load Image Encoder's decoder output (and turn on retarget in Encode Image)")


def encoder_choices() -> list[str]:
    return bridge.list_files("gan_encoders") or ["(put e4e / pSp checkpoints into models/gan_encoders)"]


# Encoders live as long as a graph or ComfyUI's output cache holds them (weakly cached by file identity).
_cache = FileCache()


def load_encoder_file(name: str) -> ImageEncoder:
    """Load by widget name from models/gan_encoders, reusing the encoder in memory for an unchanged file.

    The name must be text naming a file inside the folder (``..``, absolute paths, NUL bytes and
    over-long names are refused by :func:`.paths.safe_join` before anything is opened)."""
    if not isinstance(name, str):
        raise InputError(f"encoder_name must be a file name, not {type(name).__name__}")
    path = bridge.full_path("gan_encoders", name)
    if path is None:
        raise InputError(f"no encoder {name[:200]!r} in models/gan_encoders")
    if os.path.isdir(path):
        raise InputError(f"{name[:200]!r} in models/gan_encoders is a folder, not an encoder file")
    return _cache.load(path, load_encoder)


def check_image(image) -> None:
    """Refuse an IMAGE Encode Image cannot take (see :func:`.common.check_image`) before anything is
    converted or moved; sides up to the encoder's ``MAX_SIDE`` (it resizes to 256)."""
    common_check_image(image, "Encode Image", MAX_IMAGES, MAX_SIDE)


class LoadImageEncoder:
    DESCRIPTION = ("Load an e4e or pSp image encoder (.pt from models/gan_encoders), read without running any code "
                   "it contains. It turns a photo into w+ codes in one pass. The file also holds the StyleGAN2 the "
                   "encoder was trained with: the decoder output, usable as any GAN model. A file without one gives "
                   "an error only if something uses the decoder output.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (ENCODER, MODEL, "STRING")
    RETURN_NAMES = ("encoder", "decoder", "summary")
    OUTPUT_TOOLTIPS = ("The image encoder, for Encode Image.",
                       "The StyleGAN2 stored in the encoder's file (its codes fit it); an error if the file has none.",
                       "Encoder type, slots and width, and the decoder.")
    FUNCTION = "load"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {"encoder_name": (encoder_choices(), {
            "tooltip": "An e4e / pSp checkpoint in models/gan_encoders (e.g. e4e_ffhq_encode.pt, psp_ffhq_encode.pt)."})}}

    def load(self, encoder_name):
        enc = load_encoder_file(encoder_name)
        decoder = enc.decoder if enc.decoder is not None else bridge.blocked_output(NO_DECODER.format(name=encoder_name))
        return (enc, decoder, enc.summary())


class EncodeImage:
    DESCRIPTION = ("Invert photos in one forward pass: an e4e / pSp encoder turns each image into w+ codes for its "
                   "StyleGAN2 (images are resized to 256x256; faces should be aligned like FFHQ). The latent is bound "
                   "to the given model, which must be the encoder's own decoder unless retarget is on.")
    CATEGORY = SUBCATEGORY
    RETURN_TYPES = (LATENT, "STRING")
    RETURN_NAMES = ("latent", "summary")
    OUTPUT_TOOLTIPS = ("One w+ code per image, for the edit nodes and Decode.", "What was encoded, for which model.")
    FUNCTION = "encode"

    @classmethod
    def INPUT_TYPES(cls):
        return {"required": {
            "encoder": (ENCODER, {"tooltip": "From Load Image Encoder."}),
            "model": (MODEL, {"tooltip": "The StyleGAN2 the codes are for: the encoder's decoder output, or (with "
                                         "retarget) the same generator loaded from another file."}),
            "image": ("IMAGE", {"tooltip": "Photos to encode (grayscale and RGBA are converted to RGB)."}),
            "retarget": ("BOOLEAN", {"default": False, "tooltip":
                                     "Accept a model that is not the encoder's own decoder but has the same slots and "
                                     "width (e.g. the same FFHQ weights from NVIDIA's pickle). Off: such a model is "
                                     "refused."}),
        }}

    def encode(self, encoder, model, image, retarget):
        for name, value in (("encoder", encoder), ("model", model)):
            message = bridge.blocked_message(value)
            if message is not None:
                raise InputError(f"{name}: {message}")
        if not isinstance(encoder, ImageEncoder):
            raise InputError(f"encoder must be an image encoder from Load Image Encoder, not {type(encoder).__name__}")
        if not isinstance(model, GANGenerator):
            raise InputError(f"model must be a GAN model, not {type(model).__name__}")
        check_image(image)
        images = from_image(image)
        check_target(encoder, model, bool(retarget))  # refuse a model that does not fit before moving anything
        bridge.load_to_device(encoder)
        bar = bridge.Progress(images.shape[0])

        def step(done: int) -> None:
            bar.set(done)
            bridge.check_interrupt()

        bridge.check_interrupt()
        return encode_images(encoder, model, images, retarget=bool(retarget), chunk=ENCODE_CHUNK, on_chunk=step)


NODES = {
    "GANLabLoadImageEncoder": (LoadImageEncoder, "Load Image Encoder"),
    "GANLabEncodeImage": (EncodeImage, "Encode Image"),
}
