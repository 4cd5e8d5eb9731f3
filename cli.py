"""Command line: run a workflow, draw a demo grid, convert a checkpoint to safetensors.

    python -m gan_latent_lab run WORKFLOW.json --out DIR [--input DIR] [--set NODE.INPUT=VALUE ...]
    python -m gan_latent_lab demo [--out demo.png]
    python -m gan_latent_lab convert IN OUT.safetensors [--overwrite]

Everything goes through the library, so this works without ComfyUI."""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .errors import GANLabError

DEMO_MODEL = "face DCGAN 64px (gan-face-generate)"
DEMO_SEEDS = tuple(range(8))


def cmd_run(args: argparse.Namespace) -> int:
    from .workflow import run

    result = run(args.workflow, args.out, overrides=parse_sets(args.set or []), input_dir=args.input)
    for path in result.images:
        print(path)
    if not result.images:
        print("the workflow saved no images (no SaveImage / PreviewImage node)", file=sys.stderr)
    return 0


def parse_sets(items: Sequence[str]) -> dict[str, dict]:
    """``["2.samples=2000", "4.class_label=goldfish"]`` -> ``{"2": {"samples": 2000, "class_label": "goldfish"}}``.

    Values are read as JSON (numbers, true/false, quoted strings) and otherwise kept as text."""
    import json

    out: dict[str, dict] = {}
    for item in items:
        target, eq, text = item.partition("=")
        node, dot, name = target.partition(".")
        if not (eq and dot and node.strip() and name.strip()):
            raise GANLabError(f"--set {item!r}: write NODE_ID.INPUT=VALUE, for example 2.samples=2000")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        out.setdefault(node.strip(), {})[name.strip()] = value
    return out


def demo_grid(seeds: Sequence[int] = DEMO_SEEDS, columns: int = 4):
    """A PIL image: the built-in face DCGAN decoded for ``seeds``, laid out ``columns`` wide."""
    import einops
    import torch
    from PIL import Image

    from .loaders import load_gan
    from .nodes.common import to_image
    from .nodes.model_nodes import builtin_path
    from .workflow import image_to_uint8

    found = builtin_path(DEMO_MODEL)
    if found is None:
        raise GANLabError("the demo needs the face DCGAN: pip install --no-deps gan-face-generate==1.1.1")
    path, sidecar = found
    gen = load_gan(path, sidecar=sidecar)
    with torch.no_grad():
        codes = gen.mapping(gen.sample_z(list(seeds)))
        images = to_image(gen.synthesis(codes))
    rows = -(-len(seeds) // columns)
    pad = rows * columns - len(seeds)
    if pad:
        images = torch.cat([images, images.new_zeros((pad, *images.shape[1:]))])
    grid = einops.rearrange(images, "(r c) h w ch -> (r h) (c w) ch", c=columns)
    return Image.fromarray(image_to_uint8(grid))


def cmd_demo(args: argparse.Namespace) -> int:
    from .atomic import atomic_write

    img = demo_grid()
    with atomic_write(args.out, overwrite=True) as tmp:
        img.save(tmp, format="PNG")
    print(args.out)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    from .loaders import load_gan, save_converted

    gen = load_gan(args.input)
    save_converted(gen, args.output, overwrite=args.overwrite)
    print(f"{args.output}: {gen.arch} {gen.resolution}px, fingerprint {gen.fingerprint}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="gan_latent_lab", description="GAN Latent Lab without ComfyUI.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run a UI-format workflow JSON and save its images")
    r.add_argument("workflow", help="workflow .json saved by ComfyUI (UI format)")
    r.add_argument("--out", default="out", help="folder for SaveImage / PreviewImage files (default: out)")
    r.add_argument("--input", default=None, help="folder LoadImage reads from (default: $GAN_LATENT_LAB_INPUT, else ./input)")
    r.add_argument("--set", action="append", metavar="NODE.INPUT=VALUE",
                   help="replace a widget value, e.g. --set 2.samples=2000 (repeatable)")
    r.set_defaults(func=cmd_run)
    d = sub.add_parser("demo", help="eight faces from the built-in DCGAN as one PNG grid")
    d.add_argument("--out", default="demo.png", help="PNG to write (default: demo.png)")
    d.set_defaults(func=cmd_demo)
    c = sub.add_parser("convert", help="checkpoint -> safetensors with architecture metadata (no code)")
    c.add_argument("input", help="checkpoint file or BigGAN folder")
    c.add_argument("output", help="OUT.safetensors")
    c.add_argument("--overwrite", action="store_true", help="replace OUT if it exists")
    c.set_defaults(func=cmd_convert)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except GANLabError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
